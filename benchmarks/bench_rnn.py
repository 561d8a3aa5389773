"""RNN speed: a full trace (T = 1000, H = 256), a time-slider redraw in the real panel, real decoders.

1. ``trace``: ``cell.trace(x)`` for each cell type at T = 1000, H = 256,
   input 64 (float64, every term kept). Target: < 100 ms.
2. ``slider``: the RNN panel offscreen at 1100 × 640 (a 1280 × 720 window);
   each sample moves the time slider to a random step (``QSlider.setValue``,
   what a drag does) and runs the event loop until the repaint is done.
   Target: p95 ≤ 16 ms. Measured for the default view (the trained LSTM on the
   memory task), for a large custom cell (LSTM, H = 256, T = 1000), and for
   real captioner decoders handed over as in the app: the bundled attention
   decoder taught from boxes (I = 32 + 64 = 96, H = 128) and an attention
   decoder of the same design with I = 64 + 512 = 576, H = 256 (random weights).
3. ``hand-over``: :func:`decoder_recurrence` (replaying the caption through a
   float64 twin of the decoder) beside the captioner's own ``caption`` call
   that made the caption, on the same image.

Wall-clock and CPU time of this process are both reported: on a shared
machine (load above the core count) wall time mostly measures waiting for a core.

    python benchmarks/bench_rnn.py [--repeats 20] [--moves 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's explorer, not an installed one


def stats(samples) -> str:
    import numpy as np

    ms = np.asarray(samples) * 1e3
    return f"p50 {np.percentile(ms, 50):7.2f}  p95 {np.percentile(ms, 95):7.2f}  max {ms.max():7.2f} ms"


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_trace(repeats: int) -> None:
    import numpy as np

    from explorer.engine.rnn.cells import random_cell
    from explorer.engine.rnn.update import KINDS

    x = np.random.default_rng(0).standard_normal((1000, 64))
    print("full trace, T = 1000, H = 256, input 64 (float64):")
    for kind in KINDS:
        cell = random_cell(kind, 64, 256, seed=0)
        cell.trace(x)  # warm-up
        runs = [timed(lambda: cell.trace(x)) for _ in range(repeats)]
        print(f"  {kind:9s} wall {stats([w for w, _ in runs])}   |  cpu {stats([c for _, c in runs])}")


def real_decoders():
    """(label, captioner, image): the decoders whose recurrence the slider benchmark steps through."""
    import numpy as np
    import torch
    from PIL import Image

    from explorer.engine import captioning
    from explorer.engine.captioning.loading import SceneCaptioner
    from explorer.engine.captioning.networks import ModelConfig, build
    from explorer.engine.infra import scenes

    boxes = captioning.load("attention_boxes")
    torch.manual_seed(0)
    wide = build(ModelConfig(vocab_size=len(boxes.vocab), channels=512, embed=64, hidden=256, feed="context")).eval()
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8))
    scene = scenes.generate(scenes.split_seed("val", 900123), size=256).image
    return [("bundled attention decoder (boxes), I = 96, H = 128", boxes, scene),
            ("attention decoder, I = 576, H = 256 (random weights)", SceneCaptioner(wide, boxes.vocab, {}, "wide"), photo)]


def bench_handover(repeats: int) -> list:
    """Time the hand-over beside the caption it replays; return the recurrences for the slider benchmark."""
    from explorer.engine.captioning.recurrence import decoder_recurrence

    print("hand-over: decoder_recurrence (float64 replay) beside captioner.caption (beam 1), same image:")
    out = []
    for label, captioner, image in real_decoders():
        trace = captioner.caption(image)
        own = [timed(lambda: captioner.caption(image)) for _ in range(repeats)]
        ours = [timed(lambda: decoder_recurrence(captioner, image, trace)) for _ in range(repeats)]
        rec = decoder_recurrence(captioner, image, trace)
        print(f"  {label}, {rec.length} steps, max |Δh| vs the model {rec.max_error(rec.trace()):.1e}")
        print(f"    caption  wall {stats([w for w, _ in own])}")
        print(f"    hand-over wall {stats([w for w, _ in ours])}")
        out.append((label, rec))
    return out


def bench_slider(moves: int, width: int, height: int, real: list) -> None:
    import numpy as np
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication

    from explorer.assets import sample_image_paths
    from explorer.engine.infra.images import load_image
    from explorer.ui.context import AppContext
    from explorer.ui.panels.rnn.panel import RNNPanel
    from explorer.ui.theme import apply_theme
    from explorer.ui.workers import active_tasks

    app = QApplication.instance() or QApplication([])
    apply_theme(app, "light")
    settings = Path("/tmp/bench_rnn.ini")
    settings.unlink(missing_ok=True)  # the panel restores its settings: start from the defaults every run
    context = AppContext(QSettings(str(settings), QSettings.Format.IniFormat))
    path, _ = sample_image_paths()[0]
    context.set_image(load_image(path), path.name)
    panel = RNNPanel(context)
    panel.resize(width, height)
    panel.show()
    panel.start()
    deadline = time.monotonic() + 60
    while (active_tasks() or panel.state.trace is None) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)

    def measure(label: str) -> None:
        rng = np.random.default_rng(1)
        T = panel.state.trace.length
        for _ in range(20):  # warm-up
            panel.slider.setValue(int(rng.integers(T)))
            app.processEvents()
        runs = []
        for _ in range(moves):
            t = int(rng.integers(T))
            if t == panel.state.step:
                t = (t + 1) % T

            def move(t=t):
                panel.slider.setValue(t)
                app.processEvents()

            runs.append(timed(move))
        print(f"  {label}")
        print(f"    wall {stats([w for w, _ in runs])}   |  cpu {stats([c for _, c in runs])}")

    print(f"time-slider redraw (move + paint), panel {width} × {height}:")
    measure(f"default: {panel.state.cell.title}, H = {panel.state.cell.hidden_size}, T = {panel.state.trace.length} ({panel.state.sequence.source})")
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("custom"))
    panel.input_combo.setCurrentIndex(panel.input_combo.findData("sine"))
    panel.kind_combo.setCurrentIndex(panel.kind_combo.findData("lstm"))
    panel.hidden_spin.setValue(256)
    panel.steps_spin.setValue(1000)
    deadline = time.monotonic() + 60
    while (active_tasks() or panel.state.trace.length != 1000 or panel.state.trace.hidden_size != 256) and time.monotonic() < deadline:
        app.processEvents()  # the large trace runs in a worker
        time.sleep(0.01)
    measure(f"large: {panel.state.cell.title}, H = {panel.state.cell.hidden_size}, T = {panel.state.trace.length} (sine)")
    for label, rec in real:
        panel.receive(rec)
        app.processEvents()
        measure(f"real: {label}, T = {panel.state.trace.length}")
    panel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=640)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"torch threads {args.threads}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    bench_trace(args.repeats)
    real = bench_handover(args.repeats)
    bench_slider(args.moves, args.width, args.height, real)


if __name__ == "__main__":
    main()
