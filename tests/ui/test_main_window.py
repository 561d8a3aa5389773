"""The main window: panels switch, images arrive by dialog, drop, paste and command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent, QImage
from PyQt6.QtWidgets import QApplication, QFileDialog

from explorer.ui import errors
from explorer.ui.panels import PANELS


@pytest.fixture
def red_png(tmp_path) -> Path:
    path = tmp_path / "red.png"
    Image.new("RGB", (32, 24), (255, 0, 0)).save(path)
    return path


@pytest.fixture
def blue_png(tmp_path) -> Path:
    path = tmp_path / "blue.png"
    Image.new("RGB", (10, 12), (0, 0, 255)).save(path)
    return path


def test_window_opens_with_every_panel(window):
    assert window.isVisible()
    assert [window.nav.item(i).text().split("\n")[0] for i in range(window.nav.count())] == [
        spec.title for spec in PANELS
    ]


def test_panels_switch_and_build(window, qtbot):
    for spec in PANELS:
        window.set_panel(spec.key)
        assert window.current_key() == spec.key
        assert window.stack.currentWidget() is window.current_page()
        qtbot.waitUntil(lambda: window.current_page().built, timeout=60_000)
        assert not window.current_page().failed, errors.MESSAGES


def test_next_previous_wrap(window):
    window.set_panel(PANELS[-1].key)
    window.next_panel()
    assert window.current_key() == PANELS[0].key
    window.previous_panel()
    assert window.current_key() == PANELS[-1].key


def test_every_listed_panel_exists(window):
    assert all(page.spec.available() for page in window.pages), [p.spec.key for p in window.pages if not p.spec.available()]


@pytest.mark.parametrize("module", ["explorer.ui.panels.not_written_yet.panel", "explorer.ui.panels.not_written_yet"])
def test_unbuilt_panel_says_what_will_be_there(qtbot, context, module):
    """A panel whose module (or whole package) does not exist yet gets a page that says what it will show."""
    from explorer.ui.pages import LazyPage
    from explorer.ui.panels import PanelSpec

    spec = PanelSpec("later", "Later", "a future panel", module, "LaterPanel",
                     "A view that shows what a future panel will show, in words first.")
    assert not spec.available()
    page = LazyPage(spec, context)
    qtbot.addWidget(page)
    assert page.built  # nothing to build: the page is final
    page.build()
    assert page.panel is None and not page.failed
    assert page._body.text() == "This panel is not built yet. When it is, it will show:\n\n" + spec.promise


def test_open_by_dialog(window, qtbot, monkeypatch, red_png, wait_for_tasks):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(red_png), ""))
    window.open_dialog()
    wait_for_tasks()
    assert window.context.image.name == "red.png"
    assert window.context.image.image.size == (32, 24)
    assert "red.png" in window.image_status.text() and "32 × 24" in window.image_status.text()
    assert str(red_png.resolve()) in window.context.recent_files()


def _drop(window, mime: QMimeData) -> None:
    event = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)


def test_open_by_drop(window, red_png, wait_for_tasks):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(red_png))])
    _drop(window, mime)
    wait_for_tasks()
    assert window.context.image.name == "red.png"


def test_drop_of_image_data(window):
    mime = QMimeData()
    qimage = QImage(7, 5, QImage.Format.Format_RGB32)
    qimage.fill(Qt.GlobalColor.green)
    mime.setImageData(qimage)
    _drop(window, mime)
    assert window.context.image.image.size == (7, 5)
    assert tuple(np.asarray(window.context.image.image)[0, 0]) == (0, 255, 0)


def test_paste_image(window):
    qimage = QImage(6, 4, QImage.Format.Format_RGB32)
    qimage.fill(Qt.GlobalColor.blue)
    QApplication.clipboard().setImage(qimage)
    window.paste_image()
    assert window.context.image.name == "pasted image"
    assert window.context.image.image.size == (6, 4)


def test_bad_file_keeps_previous_image(window, red_png, tmp_path, wait_for_tasks):
    window.open_path(red_png, background=False)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    window.open_path(bad)
    wait_for_tasks()
    assert window.context.image.name == "red.png"
    assert errors.MESSAGES and "broken.png" in errors.MESSAGES[-1].text
    assert "broken.png" in window.statusBar().currentMessage()


@pytest.mark.parametrize("name, content", [("empty.jpg", b""), ("notes.png", b"hello"), ("half.png", None)])
def test_every_bad_case_keeps_image(window, red_png, tmp_path, name, content, wait_for_tasks):
    window.open_path(red_png, background=False)
    path = tmp_path / name
    if content is None:  # a PNG cut short: seeded noise (Pillow's effect_noise is not seedable)
        Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    window.open_path(path)
    wait_for_tasks()
    assert window.context.image.name == "red.png"
    assert name in errors.MESSAGES[-1].text


def test_settings_persist(qtbot, settings, red_png, blue_png):
    from explorer.ui.main_window import MainWindow

    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.set_panel("vit")
    first.set_theme("dark")
    first.resize(700, 500)  # the offscreen screen is 800 × 600
    first.open_path(red_png, background=False)
    first.open_path(blue_png, background=False)
    first.close()
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    assert second.current_key() == "vit"
    assert second.context.theme == "dark" and second.theme_actions["dark"].isChecked()
    assert (second.size().width(), second.size().height()) == (700, 500)
    assert [Path(p).name for p in second.context.recent_files()[:2]] == ["blue.png", "red.png"]
    assert second.recent_menu.actions()[0].text() == "blue.png"


def test_shortcuts_exist(window):
    shortcuts = {a.text().replace("&", ""): [s.toString() for s in a.shortcuts()] for m in window.menuBar().actions() for a in m.menu().actions()}
    assert "Ctrl+O" in shortcuts["Open image…"]
    assert "Ctrl+PgDown" in shortcuts["Next panel"]
    assert "Ctrl+PgUp" in shortcuts["Previous panel"]
    assert "Ctrl+Q" in shortcuts["Quit"]


def test_about_names_versions(window):
    import torch
    from PyQt6.QtCore import QT_VERSION_STR

    text = window.about_text()
    assert "0.1.0" in text and torch.__version__ in text and QT_VERSION_STR in text


def test_samples_menu_opens_sample(window, wait_for_tasks):
    actions = window.samples_menu.actions()
    assert len(actions) >= 4
    actions[1].trigger()
    wait_for_tasks()
    assert window.context.image.name == "chelsea.png"


def test_an_offer_switches_panel_and_hands_over_the_payload(window, qtbot, monkeypatch):
    from explorer.ui.panels.rnn.panel import RNNPanel

    received = []
    monkeypatch.setattr(RNNPanel, "receive", lambda self, payload: received.append(payload))
    window.set_panel("attention")
    window.context.offer("rnn", "a recurrence")
    assert window.current_key() == "rnn"
    assert received == ["a recurrence"]


def test_an_offer_a_panel_cannot_show_becomes_a_message(window):
    window.context.offer("training", object())
    assert window.current_key() == "training"
    assert errors.MESSAGES and "cannot show object" in errors.MESSAGES[-1].text
