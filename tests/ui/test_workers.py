"""Background work: results, progress, cancel, and errors that reach the user as messages."""

from __future__ import annotations

import time

from explorer.engine.infra.progress import Reporter
from explorer.ui import errors
from explorer.ui.workers import active_tasks, run_task


def slow_sum(n: int, reporter: Reporter) -> int:
    total = 0
    for i in range(n):
        total += i
        reporter.report((i + 1) / n, f"{i + 1}/{n}")
        time.sleep(0.002)
    return total


def test_result_and_progress(qtbot):
    seen = []
    with qtbot.waitSignal(run_task(slow_sum, 20, on_progress=lambda f, t: seen.append(f)).finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: active_tasks() == 0)
    assert seen and seen[-1] == 1.0


def test_result_value(qtbot):
    results = []
    task = run_task(slow_sum, 10, on_result=results.append)
    qtbot.waitUntil(lambda: task.done, timeout=10_000)
    assert results == [45]


def test_cancel_stops_work(qtbot):
    cancelled, results = [], []
    task = run_task(slow_sum, 5000, on_result=results.append, on_cancelled=lambda: cancelled.append(True))
    task.cancel()
    qtbot.waitUntil(lambda: task.done, timeout=10_000)
    assert cancelled == [True] and results == []


def boom(x):
    raise ValueError(f"the value {x} is not allowed")


def test_error_reaches_user_as_message(qtbot):
    task = run_task(boom, 7, description="checking a value")
    qtbot.waitUntil(lambda: task.done, timeout=10_000)
    assert errors.MESSAGES, "no message shown"
    assert errors.MESSAGES[-1].text == "the value 7 is not allowed"
    assert "checking a value" in errors.MESSAGES[-1].title.lower()
    assert "Traceback" in errors.MESSAGES[-1].detail


def test_custom_error_handler(qtbot):
    caught = []
    task = run_task(boom, 3, on_error=caught.append)
    qtbot.waitUntil(lambda: task.done, timeout=10_000)
    assert isinstance(caught[0], ValueError) and not errors.MESSAGES


def test_excepthook_shows_without_crashing(qtbot, qapp):
    import sys

    from explorer.ui.errors import install_excepthook

    saved = sys.excepthook
    try:
        install_excepthook()
        try:
            raise RuntimeError("unexpected thing")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: bool(errors.MESSAGES), timeout=5_000)
        assert "unexpected thing" in errors.MESSAGES[-1].text
    finally:
        sys.excepthook = saved
