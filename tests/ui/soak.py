"""A seeded random user: clicks, types, drags, switches panels and themes, opens good and bad files.

Used by ``tests/ui/test_soak.py`` (about 1,000 actions, in CI) and by
``benchmarks/bench_soak.py`` (10,000, with memory and stall figures). It finds
its targets at run time among the visible, enabled widgets of the panel
shown, so it covers whatever the panels are, without a list to keep in step.

What it never does: open modal loops. File dialogs are answered from a pool
of paths (a photo, a broken file, a folder, a text file, "cancel"), menus of
tool buttons are triggered action by action instead of popping up, and the
window's own menus are used through their actions (About, a modal box, is
left out).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PyQt6.QtCore import QEvent, QModelIndex, QPoint, QPointF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QWidget,
)

#: What a user types into text fields and number cells, good and bad.
TYPED = ("0.5", "-2", "3", "abc", "", "nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "0", "7", "1,5", "  2  ", "999999")
KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Space, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Up, Qt.Key.Key_Down)


def file_pool(folder: Path) -> list[str]:
    """Paths a random user might pick: a photo, a tiny image, broken and wrong files, a folder, cancel."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(folder / "noise.png")
    Image.fromarray(np.full((3, 2, 3), 200, np.uint8)).save(folder / "tiny.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "notes.txt").write_text("not an image, not weights")
    (folder / "weights.safetensors").write_bytes(b"\x00" * 16)
    (folder / "empty.pt").write_bytes(b"")
    (folder / "frames").mkdir(exist_ok=True)
    from explorer.assets import sample_image_paths

    samples = [str(p) for p, _ in sample_image_paths()]
    return [*samples[:2], str(folder / "noise.png"), str(folder / "tiny.png"), str(folder / "broken.png"),
            str(folder / "notes.txt"), str(folder / "weights.safetensors"), str(folder / "empty.pt"),
            str(folder / "frames"), str(folder / "missing.png"), ""]


@dataclass
class Counts:
    actions: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    longest_stall_ms: float = 0.0
    longest_stall_action: str = ""


class RandomUser:
    """Drives ``window`` with actions drawn from a seeded generator."""

    def __init__(self, window, seed: int, files: list[str]) -> None:
        self.window = window
        self.rng = random.Random(seed)
        self.files = files
        self.counts = Counts()
        self.actions = [
            (3, "switch panel", self.switch_panel),
            (1, "theme", self.toggle_theme),
            (1, "zoom", self.zoom),
            (12, "button", self.click_button),
            (8, "combo", self.set_combo),
            (8, "spin", self.set_spin),
            (5, "check", self.toggle_check),
            (6, "slider", self.set_slider),
            (4, "tab", self.switch_tab),
            (5, "type", self.type_text),
            (6, "cell", self.edit_cell),
            (8, "plot", self.poke_plot),
            (5, "key", self.press_key),
            (1, "open image", self.open_image),
            (2, "close boxes", self.close_boxes),
        ]
        self.weights = [w for w, _, _ in self.actions]

    # -- the file dialogs answer from the pool -------------------------------------------------
    def answer_dialogs(self, monkeypatch) -> None:
        choose = lambda *a, **k: (self.rng.choice(self.files), "")  # noqa: E731
        monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(choose))
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: self.rng.choice(self.files)))
        monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: None))
        monkeypatch.setattr(QMessageBox, "exec", lambda self_, *a: 0)
        monkeypatch.setattr(QDialog, "exec", lambda self_, *a: 0)
        for name in ("getText", "getItem", "getInt", "getDouble", "getMultiLineText"):
            monkeypatch.setattr(QInputDialog, name, staticmethod(lambda *a, **k: ("", False)))

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> str:
        _, kind, action = self.rng.choices(self.actions, weights=self.weights)[0]
        self.last_target = ""
        start = time.perf_counter()
        action()
        QApplication.processEvents()
        # processEvents() leaves deleteLater() to the event loop, which this drive replaces: run them here
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        elapsed = (time.perf_counter() - start) * 1000
        if elapsed > self.counts.longest_stall_ms:
            self.counts.longest_stall_ms = elapsed
            self.counts.longest_stall_action = f"{kind} {self.last_target} in {self.window.current_key()}"
        self.counts.actions += 1
        self.counts.by_kind[kind] = self.counts.by_kind.get(kind, 0) + 1
        return kind

    # -- what is on screen --------------------------------------------------------------------------
    def panel(self) -> QWidget:
        page = self.window.current_page()
        return page.panel or page

    def visible(self, kind) -> list:
        return [w for w in self.panel().findChildren(kind) if w.isVisible() and w.isEnabled()]

    def pick(self, kind):
        widgets = self.visible(kind)
        widget = self.rng.choice(widgets) if widgets else None
        self.last_target = describe(widget)
        return widget

    def warm_up(self, settle) -> None:
        """Build what is built once: every panel, every tab of each, the Models library dialog.

        Counts taken afterwards then move only with what is shown, not with first visits.
        ``settle()`` waits for the work a visit starts.
        """
        from explorer.ui import library
        from explorer.ui.panels import PANELS

        for spec in PANELS:
            self.window.set_panel(spec.key)
            settle()
            for tabs in self.panel().findChildren(QTabWidget):
                for index in range(tabs.count()):
                    tabs.setCurrentIndex(index)
                    settle()
        library.show_library(self.window.context, "", self.window)
        settle()
        self.close_boxes()

    # -- actions ------------------------------------------------------------------------------------
    def switch_panel(self) -> None:
        from explorer.ui.panels import PANELS

        self.window.set_panel(self.rng.choice(PANELS).key)

    def toggle_theme(self) -> None:
        self.window.set_theme("dark" if self.window.context.theme == "light" else "light")

    def zoom(self) -> None:
        self.window.context.set_zoom(self.rng.choice((1.0, 1.0, 1.15, 1.5, 0.87)))

    def click_button(self) -> None:
        button = self.pick(QAbstractButton)
        if button is None or isinstance(button, QCheckBox):
            return
        menu = button.menu() if isinstance(button, (QToolButton, QPushButton)) else None
        if menu is not None:  # pressing it would pop the menu up in a modal loop: trigger an entry instead
            actions = [a for a in menu.actions() if a.isEnabled() and not a.isSeparator()]
            if actions:
                self.rng.choice(actions).trigger()
            return
        button.click()

    def set_combo(self) -> None:
        combo = self.pick(QComboBox)
        if combo is not None and combo.count():
            combo.setCurrentIndex(self.rng.randrange(combo.count()))

    def set_spin(self) -> None:
        spin = self.pick(QAbstractSpinBox)
        if isinstance(spin, QSpinBox):
            spin.setValue(self.rng.choice((spin.minimum(), spin.maximum(), self.rng.randint(spin.minimum(), spin.maximum()))))
        elif isinstance(spin, QDoubleSpinBox):
            spin.setValue(self.rng.uniform(spin.minimum(), min(spin.maximum(), spin.minimum() + 1e6)))
        elif spin is not None:  # a typed entry
            spin.lineEdit().setText(self.rng.choice(TYPED))
            spin.editingFinished.emit()

    def toggle_check(self) -> None:
        box = self.pick(QCheckBox)
        if box is not None:
            box.click()

    def set_slider(self) -> None:
        slider = self.pick(QAbstractSlider)
        if slider is not None and slider.maximum() >= slider.minimum():
            slider.setValue(self.rng.randint(slider.minimum(), slider.maximum()))

    def switch_tab(self) -> None:
        tabs = self.pick(QTabWidget)
        if tabs is not None and tabs.count():
            tabs.setCurrentIndex(self.rng.randrange(tabs.count()))

    def type_text(self) -> None:
        edit = self.pick(QLineEdit)
        if edit is None or edit.isReadOnly() or isinstance(edit.parent(), (QAbstractSpinBox, QComboBox)):
            return
        edit.setText(self.rng.choice(TYPED + ("hello world", "a" * 300)))
        edit.editingFinished.emit()
        edit.returnPressed.emit()

    def edit_cell(self) -> None:
        view = self.pick(QAbstractItemView)
        model = view.model() if view is not None else None
        if model is None:
            return
        root = QModelIndex()
        try:
            columns = model.columnCount(root)
        except TypeError:  # a list model keeps columnCount private in PyQt6: one column
            columns = 1
        if model.rowCount(root) == 0 or columns == 0:
            return
        index = model.index(self.rng.randrange(model.rowCount(root)), self.rng.randrange(columns))
        if model.flags(index) & Qt.ItemFlag.ItemIsEditable:
            model.setData(index, self.rng.choice(TYPED), Qt.ItemDataRole.EditRole)
        else:
            view.setCurrentIndex(index)

    def poke_plot(self) -> None:
        view = self.pick(pg.GraphicsView)
        if view is None or view.width() < 4 or view.height() < 4:
            return
        at = QPoint(self.rng.randrange(view.width()), self.rng.randrange(view.height()))
        QTest.mouseMove(view.viewport(), at)
        if self.rng.random() < 0.5:
            self._click(view.viewport(), at)

    def _click(self, widget: QWidget, at: QPoint) -> None:
        for kind in (QMouseEvent.Type.MouseButtonPress, QMouseEvent.Type.MouseButtonRelease):
            event = QMouseEvent(kind, QPointF(at), widget.mapToGlobal(QPointF(at)), Qt.MouseButton.LeftButton,
                                Qt.MouseButton.LeftButton if kind == QMouseEvent.Type.MouseButtonPress else Qt.MouseButton.NoButton,
                                Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(widget, event)

    def press_key(self) -> None:
        QTest.keyClick(self.panel(), self.rng.choice(KEYS))

    def open_image(self) -> None:
        path = self.rng.choice(self.files)
        if path:
            self.window.open_path(path, background=self.rng.random() < 0.5)

    def stop_jobs(self) -> None:
        """What a user does before walking away: cancel whatever still runs.

        A training run goes on for as many steps as it was given (up to a million) and a
        paused one waits for ever, so a session cannot just wait for the work to end.
        """
        from superqt.utils import WorkerBase

        from explorer.ui.workers import Task

        for page in self.window.pages:
            cancel = getattr(getattr(page.panel, "state", None), "cancel", None)
            if callable(cancel):
                cancel()
        for worker in list(WorkerBase._worker_set):
            if isinstance(worker, Task):
                worker.cancel()

    def close_boxes(self) -> None:
        """Close every box and dialog left open, and let the ones that delete themselves go."""
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, (QMessageBox, QDialog)) and widget.isVisible():
                widget.close()
        QApplication.processEvents()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def describe(widget) -> str:
    """A short name for a widget in reports: its class and the text or tooltip that identifies it."""
    if widget is None:
        return ""
    text = ""
    for getter in ("text", "currentText", "toolTip", "objectName"):
        value = getattr(widget, getter, None)
        if callable(value):
            try:
                text = str(value())
            except TypeError:
                continue
            if text:
                break
    return f"{type(widget).__name__}({text[:40]!r})"


def widget_count() -> int:
    return len(QApplication.allWidgets())


def plot_item_count(window) -> int:
    """pyqtgraph items in every view, less the text labels (counted by :func:`text_item_count`).

    Maps print a label per cell when cells are large enough, and keep the labels of the largest
    grid they annotated for reuse: hundreds of items that come and go with what is shown.
    """
    return sum(1 for view in window.findChildren(pg.GraphicsView) for item in view.scene().items()
               if not _is_text(item))


def text_item_count(window) -> int:
    return sum(1 for view in window.findChildren(pg.GraphicsView) for item in view.scene().items()
               if isinstance(item, pg.TextItem))


def _is_text(item) -> bool:
    return isinstance(item, pg.TextItem) or isinstance(item.parentItem(), pg.TextItem)


def largest_label_pool(window) -> int:
    from explorer.ui.widgets.heatmap import Heatmap

    return max((len(heatmap._texts) for heatmap in window.findChildren(Heatmap)), default=0)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan
