"""A seeded random session across every panel stays clean: no uncaught exception, no piling up.

About 1,000 actions (clicks, typing good and bad values, drags over plots,
panel, theme and zoom switches, good and broken files). After a warm-up that
visits every panel, the number of widgets and of pyqtgraph items may move
(a menu opens, a run adds its snapshots) but must not grow with the session.
``benchmarks/bench_soak.py`` runs 10,000 actions with memory figures.
"""

from __future__ import annotations

import sys

import pyqtgraph as pg
import pytest

from explorer.ui import errors
from explorer.ui.widgets.heatmap import MAX_ANNOTATED_CELLS
from tests.ui.soak import RandomUser, file_pool, largest_label_pool, plot_item_count, text_item_count, widget_count

SEED = 20261201
WARM_UP = 200
ACTIONS = 1000
#: Cell labels of every map at once: a dozen maps of up to MAX_ANNOTATED_CELLS labels each.
TEXT_ITEMS_AT_MOST = 12 * MAX_ANNOTATED_CELLS


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


def census(window):
    """Widgets by class, and by the panel they sit in (menus of plots sit in none)."""
    from collections import Counter

    from PyQt6.QtWidgets import QApplication, QWidget

    counts = Counter(type(w).__name__ for w in QApplication.allWidgets())
    for page in window.pages:
        counts[f"in {page.spec.key}"] = len(page.findChildren(QWidget))
        for view in page.findChildren(pg.GraphicsView):
            for item in view.scene().items():
                counts[f"{page.spec.key} {type(item).__name__}"] += 1
    return counts


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
    user.warm_up(lambda: wait_for_tasks(60_000))
    for _ in range(WARM_UP):
        user.step()
    settle(user, qtbot, wait_for_tasks)
    user.close_boxes()
    qtbot.wait(50)
    widgets, items, censuses, texts = [widget_count()], [plot_item_count(window)], [census(window)], []
    for n in range(ACTIONS):
        user.step()
        if n % 100 == 99:
            settle(user, qtbot, wait_for_tasks)
            user.close_boxes()
            qtbot.wait(20)
            widgets.append(widget_count())
            items.append(plot_item_count(window))
            censuses.append(census(window))
            texts.append(text_item_count(window))
    unexpected = [m for m in errors.MESSAGES if m.title == "Unexpected error"]
    top = max(range(len(widgets)), key=widgets.__getitem__)
    grown = dict(censuses[top] - censuses[0])
    top_items = max(range(len(items)), key=items.__getitem__)
    grown_items = {k: v for k, v in (censuses[top_items] - censuses[0]).items() if " " in k and not k.startswith("in ")}
    context = f"seed {SEED}; actions by kind {user.counts.by_kind}; grown at the peak: {grown}"
    assert not uncaught, f"{len(uncaught)} exceptions reached the global hook, first: {uncaught[0]!r}; {context}"
    assert not unexpected, f"'Unexpected error' shown: {unexpected[0].text}\n{unexpected[0].detail}; {context}"
    # What is shown moves the counts (a dialog opens, a run adds its snapshots, a clip's attention has
    # more frames than an image's), so the bound is on growth: the second half of the session may not
    # climb over the first half's peak, nor end far above its start.
    assert largest_label_pool(window) <= MAX_ANNOTATED_CELLS
    assert max(texts) <= TEXT_ITEMS_AT_MOST, f"text items: {texts}; {context}"
    half = len(widgets) // 2
    for name, counts, slack in (("widgets", widgets, 150), ("plot items", items, 400)):
        context += f"; plot items grown at their peak: {grown_items}" if name == "plot items" else ""
        assert max(counts[half:]) - max(counts[:half]) <= slack, f"{name} grew: {counts}; {context}"
        assert counts[-1] - counts[0] <= 2 * slack, f"{name} grew: {counts}; {context}"
