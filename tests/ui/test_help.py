"""In-app help: every panel has a guide that F1 opens, the cheatsheet opens panels, shortcuts are listed."""

from __future__ import annotations

from PyQt6.QtWidgets import QApplication

from explorer.ui.help.cheatsheet import topics, worked_example_html
from explorer.ui.help.dialogs import HelpDialog
from explorer.ui.help.guides import GUIDES
from explorer.ui.panels import PANELS


def test_every_panel_has_a_guide_in_three_parts():
    assert {spec.key for spec in PANELS} == set(GUIDES)
    for guide in GUIDES.values():
        for part in (guide.shows, guide.read, guide.misleads):
            assert len(part) > 80, f"{guide.panel}: a guide part is too thin to help"


def test_f1_opens_the_guide_of_the_panel_shown(window, qtbot):
    window.set_panel("video")
    dialog = window.show_guide()
    assert dialog.isVisible() and dialog.current_title == "Video"
    assert "Where it misleads" in dialog.browser.toPlainText()


def test_help_windows_do_not_pile_up(window, qtbot):
    for _ in range(5):
        window.show_guide()
        window.show_cheatsheet()
    QApplication.sendPostedEvents(None, 0)  # run the deleteLater calls
    qtbot.waitUntil(lambda: len(window.findChildren(HelpDialog)) == 1, timeout=5_000)


def test_the_worked_example_is_computed_by_the_engine():
    html = worked_example_html()
    assert "[1, 0, 1]" in html and "[0.707, 0, 0.707]" in html
    assert "[0.401, 0.198, 0.401]" in html and "[0.802, 0.599]" in html


def test_each_cheatsheet_topic_opens_its_panel(window, qtbot):
    dialog = window.show_cheatsheet()
    assert dialog.list.count() == len(topics())
    for row, topic in enumerate(topics()):
        dialog.list.setCurrentRow(row)
        assert dialog.action_button.isVisible() or not dialog.isVisible()
        dialog.action_button.click()
        assert window.current_key() == topic.panel, topic.title


def test_shortcuts_list_the_menus_and_the_panels_keys(window):
    text = window.show_shortcuts().browser.toPlainText()
    for expected in ("F1", "Ctrl+O", "Ctrl+E", "Next panel", "play / pause"):
        assert expected in text


def test_the_vit_guide_says_what_each_method_answers_and_where_it_misleads():
    vit = GUIDES["vit"]
    for method in ("Relevance", "rollout", "Head ablation", "All heads at a glance", "logit lens"):
        assert method in vit.methods, method
    assert "<h3>What each method answers</h3>" in vit.html()
    assert "What each method answers" not in GUIDES["rnn"].html()  # a guide without the part leaves it out
