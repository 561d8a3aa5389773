"""A seeded random session across every panel stays clean: no uncaught exception, no piling up.

About 1,000 actions (clicks, typing good and bad values, drags over plots,
panel, theme and zoom switches, good and broken files). After a warm-up that
visits every panel, the number of widgets and of pyqtgraph items may move
(a menu opens, a run adds its snapshots) but must not grow with the session.
``benchmarks/bench_soak.py`` runs 10,000 actions with memory figures.
"""

from __future__ import annotations

import sys

import pytest

from explorer.ui import errors
from explorer.ui.panels import PANELS
from tests.ui.soak import RandomUser, file_pool, plot_item_count, widget_count

SEED = 20261201
WARM_UP = 200
ACTIONS = 1000


@pytest.fixture
def uncaught(monkeypatch):
    """Every exception that reaches the global hook (the app shows those as "Unexpected error")."""
    seen = []
    previous = sys.excepthook

    def hook(kind, exc, tb):
        seen.append(exc)
        previous(kind, exc, tb)

    monkeypatch.setattr(sys, "excepthook", hook)
    return seen


def settle(user, qtbot, wait_for_tasks) -> None:
    """Let the work started end (its results drawn), cancelling what would run on for long."""
    from pytestqt.exceptions import TimeoutError as WaitTimeout

    try:
        wait_for_tasks(10_000)
    except WaitTimeout:
        user.stop_jobs()
        wait_for_tasks(120_000)


def test_a_long_random_session_stays_clean(window, qtbot, wait_for_tasks, tmp_path, monkeypatch, uncaught):
    user = RandomUser(window, SEED, file_pool(tmp_path / "files"))
    user.answer_dialogs(monkeypatch)
    window.resize(1280, 720)
    for spec in PANELS:  # warm-up: every panel built and shown once
        window.set_panel(spec.key)
        wait_for_tasks(60_000)
    for _ in range(WARM_UP):
        user.step()
    settle(user, qtbot, wait_for_tasks)
    user.close_boxes()
    qtbot.wait(50)
    widgets, items = [widget_count()], [plot_item_count(window)]
    for n in range(ACTIONS):
        user.step()
        if n % 100 == 99:
            settle(user, qtbot, wait_for_tasks)
            user.close_boxes()
            qtbot.wait(20)
            widgets.append(widget_count())
            items.append(plot_item_count(window))
    unexpected = [m for m in errors.MESSAGES if m.title == "Unexpected error"]
    context = f"seed {SEED}; actions by kind {user.counts.by_kind}"
    assert not uncaught, f"{len(uncaught)} exceptions reached the global hook, first: {uncaught[0]!r}; {context}"
    assert not unexpected, f"'Unexpected error' shown: {unexpected[0].text}\n{unexpected[0].detail}; {context}"
    assert max(widgets) - widgets[0] <= max(100, widgets[0] // 20), f"widgets grew: {widgets}; {context}"
    assert max(items) - items[0] <= max(300, items[0] // 10), f"plot items grew: {items}; {context}"
