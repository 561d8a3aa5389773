"""Widgets steps 8–11 share: the class and query boxes, a captioned map over the image, the export button.

Each binds to the :class:`~explorer.ui.panels.vit.state.ViTState` both ways and
draws only what the state holds; none computes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QFileDialog, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from explorer.engine.vit import analysis as va
from explorer.ui.errors import show_error
from explorer.ui.panels.vit.explain_maps import ExplainMap
from explorer.ui.panels.vit.selection import POOL_QUERY
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.panels.vit.views import PatchImageView

NUMBERS_FILTER = "NumPy array (*.npy);;CSV table (*.csv)"


def fill(combo: QComboBox, items: list[str], index: int) -> None:
    """Set a combo box's items (only if they changed) and its current index, without signals."""
    combo.blockSignals(True)
    if [combo.itemText(i) for i in range(combo.count())] != items:
        combo.clear()
        combo.addItems(items)
    combo.setCurrentIndex(index)
    combo.blockSignals(False)


class ClassBox(QComboBox):
    """The class explained: one of the top-5 (with its probability), bound to ``state.explain_class``."""

    def __init__(self, state: ViTState) -> None:
        super().__init__()
        self.state = state
        self.setToolTip("The class whose logit is explained (any of the top-5)")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(20)  # ImageNet names run to 40 letters: the open list shows them whole
        self._indices: list[int] = []
        self.currentIndexChanged.connect(self._chosen)
        for name in ("result", "explain_class"):
            getattr(state.events, name).connect(self.sync)

    def _chosen(self, row: int) -> None:
        if 0 <= row < len(self._indices):
            self.state.set_explain_class(self._indices[row])

    def sync(self, *_args) -> None:
        choices = self.state.class_choices() if self.state.result is not None else []
        self._indices = [index for _n, _p, index in choices]
        self.setEnabled(bool(choices))
        labels = [f"{name} ({p:.1%})" for name, p, _i in choices] or ["no classifier head"]
        target = self.state.explain_target
        fill(self, labels, self._indices.index(target) if target in self._indices else 0)


class QueryBox(QComboBox):
    """Which token's row is read: a special token, the pooling probe, or the selected patch (as step 6)."""

    def __init__(self, state: ViTState, probe: bool = True) -> None:
        super().__init__()
        self.state, self.probe = state, probe
        self._values: list[int | None] = []
        self.currentIndexChanged.connect(self._chosen)
        for name in ("result", "selection"):
            getattr(state.events, name).connect(self.sync)

    def _chosen(self, row: int) -> None:
        if 0 <= row < len(self._values):
            self.state.set_query(self._values[row])

    def sync(self, *_args) -> None:
        layout = self.state.layout
        items = [(f"from {name}", i) for i, name in enumerate(layout.special)] if layout else []
        if self.probe and self.state.pooled:
            items.append(("from the pooling probe", POOL_QUERY))
        items.append(("from the selected patch", None))
        self._values = [value for _label, value in items]
        query = self.state.selection.query
        if not self.probe and query == POOL_QUERY:
            query = None
        fill(self, [label for label, _v in items], self._values.index(query) if query in self._values else len(items) - 1)


def draw_overlay(view: PatchImageView, result, values: np.ndarray, levels: tuple[float, float],
                 cmap: str = "viridis", opacity: float = 0.65) -> None:
    """A (gh, gw) map upsampled over what the model saw, with fixed colour levels."""
    t = result.trace
    gh, gw = t.grid
    h, w = result.seen.shape[:2]
    up = va.upsample(values, (gh * t.patch_size, gw * t.patch_size))
    full = np.full((h, w), float(up.min()), dtype=np.float32)
    full[: up.shape[0], : up.shape[1]] = up
    view.set_overlay(full, cmap, opacity, levels=levels)


class MapCard(QWidget):
    """A title, the image with one map over it, the map's raw range and what it is."""

    def __init__(self, on_click: Callable[[int], None] | None = None) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = QLabel(" ")
        self.title.setStyleSheet("font-weight: 600;")
        self.title.setWordWrap(True)
        self.view = PatchImageView()
        self.view.show_grid(False)
        if on_click is not None:
            self.view.patchClicked.connect(on_click)
        self.range = QLabel(" ")
        self.range.setProperty("role", "muted")
        self.range.setWordWrap(True)
        self.description = QLabel(" ")
        self.description.setProperty("role", "muted")
        self.description.setWordWrap(True)
        self.description.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        for widget, stretch in ((self.title, 0), (self.view, 1), (self.range, 0), (self.description, 0)):
            layout.addWidget(widget, stretch)
        line = self.fontMetrics().lineSpacing()
        self.title.setMinimumHeight(2 * line + 2)  # cards side by side keep their images level
        self.range.setMinimumHeight(2 * line + 2)
        self.description.setMinimumHeight(4 * line + 2)
        for label in (self.title, self.range, self.description):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.values: np.ndarray | None = None

    def set_map(self, result, made: ExplainMap | None, levels: tuple[float, float], waiting: str = "",
                cmap: str = "viridis") -> None:
        self.view.set_image(result.seen, result.trace.grid, result.trace.patch_size)
        if made is None:
            self.values = None
            self.view.set_overlay(None)
            self.title.setText(waiting.split(":")[0] if waiting else " ")
            self.range.setText(" ")
            self.description.setText(waiting)
            return
        self.values = made.values
        draw_overlay(self.view, result, made.values, levels, cmap)
        self.title.setText(made.title)
        self.range.setText(f"{made.range_text()} · colours 0 … {levels[1]:.3g}")
        self.description.setText(f"{made.description} {made.special}".strip())


def export_button(parent: QWidget, name: str, write: Callable[[Path], Path]) -> QPushButton:
    """“Export numbers…”: a file dialog (NPY or CSV), then ``write(path)``; a failure is shown, never raised."""
    button = QPushButton("Export numbers…")
    button.setToolTip("The numbers of this view: .npy (the array) or .csv (a table)")

    def ask() -> None:
        path, _ = QFileDialog.getSaveFileName(parent, "Export the numbers", f"{name}.npy", NUMBERS_FILTER)
        if path:
            try:
                write(Path(path))
            except (OSError, ValueError) as exc:
                show_error("Export", exc)

    button.clicked.connect(ask)
    return button
