"""A long seeded random session: memory every 1,000 actions, the longest stall, theme-switch time.

Usage: ``PYTHONPATH=. python benchmarks/bench_soak.py [ACTIONS] [SEED]`` (default 10,000 and
20261201). The random user is ``tests/ui/soak.py``'s (clicks, typing good and bad values, drags
over plots, panel / theme / zoom switches, good and broken files), offscreen at 1280 × 720.

What it reports:

- resident memory (RSS) after the warm-up (every panel built and shown once) and after every
  1,000 actions, with the growth per 1,000 (goal ≤ 50 MB after the first 1,000);
- the widget and pyqtgraph-item counts at the same points (they must not grow with the session);
- the longest stall: the time from an action to the event loop being idle again, over actions
  during which no worker-backed job (model run, training, decoding) was running or started,
  since those draw their results in pieces as the worker delivers them (goal ≤ 100 ms), and
  the longest one with a worker job, for comparison;
- the theme switch (light ↔ dark, visible panel restyled, events processed): median and
  maximum over several switches before and after the session, so a switch that grows with
  the session shows (goal ≤ 150 ms).

The figures depend on the machine's load: the README quotes one run and its conditions.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from explorer.runtime import configure_numeric_libraries  # noqa: E402

configure_numeric_libraries()

from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

THEME_SWITCHES = 8


class Answers:
    """The monkeypatch ``RandomUser.answer_dialogs`` expects, for a script: plain setattr."""

    def setattr(self, target, name, value) -> None:
        setattr(target, name, value)


def settle(app, user=None, patience_s: float = 10.0, timeout_s: float = 180.0) -> None:
    """Wait until no worker job runs and its callbacks ran; after ``patience_s``, cancel what still runs."""
    from explorer.ui.workers import active_tasks

    start = time.monotonic()
    stopped = False
    while active_tasks() and time.monotonic() < start + timeout_s:
        if user is not None and not stopped and time.monotonic() > start + patience_s:
            user.stop_jobs()
            stopped = True
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()


def theme_switches(app, window) -> list[float]:
    """Milliseconds per light ↔ dark switch of the visible panel, events processed."""
    times = []
    for _ in range(THEME_SWITCHES):
        start = time.perf_counter()
        window.set_theme("dark" if window.context.theme == "light" else "light")
        app.processEvents()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main(actions: int = 10_000, seed: int = 20261201) -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from explorer.ui import errors
    from explorer.ui.main_window import MainWindow
    from explorer.ui.workers import active_tasks
    from tests.ui.soak import (
        RandomUser,
        file_pool,
        plot_item_count,
        rss_mb,
        widget_count,
    )

    folder = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    window = MainWindow(settings=QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 720)
    window.show()
    window.start_engine()
    while not window.engine.is_ready:
        app.processEvents()
        time.sleep(0.02)
    user = RandomUser(window, seed, file_pool(folder / "files"))
    user.answer_dialogs(Answers())
    uncaught = []
    sys.excepthook = lambda kind, exc, tb: uncaught.append(exc)
    user.warm_up(lambda: settle(app, user))  # every panel and tab built once, the library dialog too
    window.set_panel("attention")
    settle(app)
    before = theme_switches(app, window)
    print(f"seed {seed}, {actions} actions, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"theme switch (attention), before: median {statistics.median(before):.0f} ms, max {max(before):.0f} ms "
          f"({', '.join(f'{t:.0f}' for t in before)})", flush=True)
    print("| actions | RSS MB | Δ MB | widgets | plot items | stall (no job) ms | stall (job) ms | minutes |", flush=True)
    print("|---|---|---|---|---|---|---|---|", flush=True)
    rows = [(0, rss_mb(), widget_count(), plot_item_count(window))]
    print(f"| 0 | {rows[0][1]:.0f} | | {rows[0][2]} | {rows[0][3]} | | | 0 |", flush=True)
    stall = {False: (0.0, ""), True: (0.0, "")}
    t0 = time.monotonic()
    for n in range(1, actions + 1):
        busy_before = active_tasks() > 0
        user.counts.longest_stall_ms = 0.0
        user.step()
        with_job = busy_before or active_tasks() > 0 or user.counts.longest_stall_action.startswith("open image")
        if user.counts.longest_stall_ms > stall[with_job][0]:
            stall[with_job] = (user.counts.longest_stall_ms, user.counts.longest_stall_action)
        if n % 100 == 0:
            settle(app, user)
            user.close_boxes()
            app.processEvents()
        if n % 1000 == 0:
            rss = rss_mb()
            rows.append((n, rss, widget_count(), plot_item_count(window)))
            print(f"| {n} | {rss:.0f} | {rss - rows[-2][1]:+.0f} | {rows[-1][2]} | {rows[-1][3]} | "
                  f"{stall[False][0]:.0f} | {stall[True][0]:.0f} | {(time.monotonic() - t0) / 60:.1f} |", flush=True)
    window.set_panel("attention")
    settle(app, user)
    after = theme_switches(app, window)
    print(f"theme switch (attention), after: median {statistics.median(after):.0f} ms, max {max(after):.0f} ms "
          f"({', '.join(f'{t:.0f}' for t in after)})")
    print(f"longest stall without a worker job: {stall[False][0]:.0f} ms ({stall[False][1]})")
    print(f"longest stall with a worker job: {stall[True][0]:.0f} ms ({stall[True][1]})")
    if len(rows) > 2:
        growth = [(b[1] - a[1]) for a, b in zip(rows[1:], rows[2:])]
        print(f"RSS growth per 1,000 after the first 1,000: mean {statistics.mean(growth):+.1f} MB, max {max(growth):+.1f} MB")
    unexpected = [m for m in errors.MESSAGES if m.title == "Unexpected error"]
    print(f"uncaught exceptions: {len(uncaught)}; 'Unexpected error' boxes: {len(unexpected)}; actions by kind {user.counts.by_kind}")
    for exc in uncaught[:5]:
        print(f"  {exc!r}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
