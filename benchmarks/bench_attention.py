"""How long one edit takes in the real Attention panel: edit → attend() → every view redrawn.

Drives the panel offscreen at n_q = n_k = d_k = d_v = 64 (the largest size):
each step scrubs one random cell of Q, K or V through the editor's own path
(``MatrixEditor.apply_value``, what a drag or wheel turn calls), which emits
``edited`` → ``QKVState.edit`` → ``attend`` → the state's ``view`` event →
``QKVView.redraw``: the heatmaps, bars, formula and notes update; then the Qt
event loop runs until the queued repaints are painted.

Reported per edit (milliseconds, p50 / p95 / max):

* ``update``  — recompute and set every view's data (no painting);
* ``frame``   — update plus the event loop painting what changed (what a user waits for);
* ``repaint`` — update plus a forced synchronous repaint of the whole panel (worst case).

Each as wall-clock time and as CPU time of the GUI thread: on a shared machine
(load above the core count) wall time mostly measures waiting for a core.

Target (issue 3): frame p95 ≤ 8 ms. Usage::

    python benchmarks/bench_attention.py [--size 64] [--edits 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def percentiles(samples: list[float]) -> str:
    import numpy as np

    ms = np.array(samples) * 1e3
    return f"p50 {np.percentile(ms, 50):6.2f}  p95 {np.percentile(ms, 95):6.2f}  max {ms.max():6.2f} ms"


def report(name: str, measured: tuple[list[float], list[float]]) -> None:
    wall, cpu = measured
    print(f"  {name:8s} wall {percentiles(wall)}   |  cpu {percentiles(cpu)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="n_q = n_k = d_k = d_v (default 64)")
    parser.add_argument("--edits", type=int, default=300, help="timed edits per measure (default 300, at least 200)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--width", type=int, default=1100, help="panel width in pixels (1280×720 window ≈ 1100×640 panel)")
    parser.add_argument("--height", type=int, default=640)
    args = parser.parse_args()

    import numpy as np
    import torch
    from PyQt6.QtWidgets import QApplication

    torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication([])
    from explorer.ui.context import AppContext
    from explorer.ui.panels.attention.panel import AttentionPanel
    from explorer.ui.theme import apply_theme

    apply_theme(app, "light")
    panel = AttentionPanel(AppContext(None))
    panel.resize(args.width, args.height)
    panel.show()
    app.processEvents()
    qkv, state = panel.qkv, panel.state.qkv
    n = args.size
    state.set_sizes(n_q=n, n_k=n, d_k=n, d_v=n)
    state.randomise()
    qkv.mask_check.setChecked(True)
    state.set_causal()
    state.select_query(n // 2)
    qkv._on_hover(n // 2, n // 3)  # a hovered weight: its row, column and V row stay lit
    app.processEvents()
    assert qkv.weights_map.values.shape == (n, n)

    rng = np.random.default_rng(0)
    editors = (qkv.q_editor, qkv.k_editor, qkv.v_editor)

    def one_edit() -> None:
        editor = editors[int(rng.integers(3))]
        rows, cols = editor.shape()
        r, c = int(rng.integers(rows)), int(rng.integers(cols))
        editor.apply_value(r, c, float(rng.normal()))

    def measure(after) -> tuple[list[float], list[float]]:
        """Wall-clock and CPU time (this thread) per edit; CPU time is what a shared machine's load does not inflate."""
        for _ in range(20):  # warm-up
            one_edit()
            after()
        wall, cpu = [], []
        for _ in range(max(args.edits, 200)):
            start, start_cpu = time.perf_counter(), time.thread_time()
            one_edit()
            after()
            cpu.append(time.thread_time() - start_cpu)
            wall.append(time.perf_counter() - start)
        return wall, cpu

    print(f"Attention panel, n_q = n_k = d_k = d_v = {n}, panel {args.width}×{args.height}, "
          f"torch threads {args.threads}, {max(args.edits, 200)} edits each, offscreen Qt")
    print(f"  load average before {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    report("update", measure(lambda: None))
    report("frame", measure(app.processEvents))
    report("repaint", measure(lambda: (panel.repaint(), app.processEvents())))
    engine = []
    from explorer.engine.attention.core import attend

    q, k, v = (e.matrix() for e in editors)
    for _ in range(200):
        start = time.perf_counter()
        attend(q, k, v, mask=state.mask)
        engine.append(time.perf_counter() - start)
    print(f"  attend() alone {percentiles(engine)}")
    print(f"  load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
