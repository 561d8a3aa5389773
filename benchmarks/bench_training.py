"""Training in the app vs the same loop in a script, and the GUI's responsiveness meanwhile.

For one registered task: (1) `train()` called directly, as the training scripts do;
(2) the real Training panel (offscreen) running the same config in its worker while a
5 ms QTimer ticks; the longest gap between ticks is the worst event-loop stall.

    python benchmarks/bench_training.py [--task rnn_memory_lstm] [--steps 150]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from explorer.runtime import configure_numeric_libraries, share_interpreter_with_gui  # noqa: E402

configure_numeric_libraries()  # as the app runs
share_interpreter_with_gui()


def main() -> None:
    from explorer.engine.training.registry import available_tasks

    tasks = available_tasks()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default=next(iter(tasks)), choices=sorted(tasks))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the script run (default: torch's)")
    args = parser.parse_args()
    entry = tasks[args.task]
    config = entry.default_config(steps=args.steps, report_every=10, snapshot_every=0, warmup_steps=0, threads=args.threads)

    from explorer.engine.training.loop import train

    script = train(entry.make(), config)
    script_rate = script.samples_per_second

    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from explorer.ui.context import AppContext
    from explorer.ui.panels.training import panel as training
    from explorer.ui.theme import apply_theme

    app = QApplication.instance() or QApplication([])
    apply_theme(app, "light")
    panel = training.TrainingPanel(AppContext(None))
    panel.resize(1280, 760)
    panel.show()
    panel.task_combo.setCurrentIndex(panel.task_combo.findData(args.task))
    panel.steps.setValue(args.steps)
    panel.snapshot_every.setValue(0)
    gaps: list[float] = []
    stamps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        stamps.append(now)
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    from PyQt6.QtCore import QEventLoop

    loop = QEventLoop()  # the app's own event loop, not a polling loop that would steal the GIL
    panel.start_training()
    panel.worker.finished.connect(loop.quit)
    loop.exec()
    app.processEvents()
    timer.stop()
    t_end = time.perf_counter()
    app_rate = panel.result.samples_per_second
    worst = sorted(zip(gaps[1:], stamps[1:]), reverse=True)[:3]
    t_start = stamps[0] if stamps else t_end
    gaps_ms = sorted(g * 1000 for g in gaps[1:])
    print(f"task {args.task}: {args.steps} steps, batch {config.batch_size}, torch threads {__import__('torch').get_num_threads()}")
    print(f"script  {script_rate:9.0f} samples/s")
    print(f"in app  {app_rate:9.0f} samples/s  ({app_rate / script_rate:.1%} of the script)")
    print(f"GUI timer gaps: median {gaps_ms[len(gaps_ms) // 2]:.1f} ms, p99 {gaps_ms[int(len(gaps_ms) * 0.99)]:.1f} ms, "
          f"max {gaps_ms[-1]:.1f} ms (goal: no stall over 50 ms)")
    print("worst gaps: " + ", ".join(f"{g * 1000:.0f} ms ending {t - t_start:.2f} s after start" for g, t in worst)
          + f" (run took {t_end - t_start:.2f} s)")


if __name__ == "__main__":
    main()
