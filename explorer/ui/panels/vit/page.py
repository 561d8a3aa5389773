"""What every page of the ViT walk shares: it draws one step from the state and redraws on its events."""

from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QWidget

from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.selection import Selection
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.widgets.heatmap import Heatmap


def note(text: str = "") -> QLabel:
    """The explanation at the top of a page (rich text, wraps)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("role", "note")
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class Page(QWidget):
    """One step of the walk: :meth:`show` draws a result with a patch selected.

    The page redraws when the state's result changes and when another patch
    is selected (:meth:`show_selection`, by default the same drawing); a click
    on a patch goes to the state, which tells every page.
    """

    title = ""

    def __init__(self, state: ViTState) -> None:
        super().__init__()
        self.state = state
        state.events.result.connect(self.redraw)
        state.events.selection.connect(self._selection_changed)

    def redraw(self) -> None:
        if self.state.result is not None:
            self.show(self.state.result, self.state.selection.patch)

    def _selection_changed(self, new: Selection, old: Selection) -> None:
        if self.state.result is not None and new.patch != old.patch:
            self.show_selection(self.state.result, new.patch)

    def show(self, result: ViTResult, selected: int) -> None:
        raise NotImplementedError

    def show_selection(self, result: ViTResult, selected: int) -> None:
        self.show(result, selected)

    def apply_theme(self) -> None:
        for child in self.findChildren((Heatmap,)):
            child.apply_theme()
        for child in self.findChildren(pg.GraphicsLayoutWidget):
            if hasattr(child, "apply_theme"):
                child.apply_theme()
