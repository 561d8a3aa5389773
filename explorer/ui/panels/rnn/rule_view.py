"""The update rule hₜ = f(W·xₜ + U·hₜ₋₁ + b) at the current step, one coloured strip per term.

The strips come from the panel's state (:func:`..derived.strip_terms`, once per
trace); a step only recolours them. The view reports where the pointer is
(``hovered``); what that value is, the state says, and the panel writes it in
``info``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, pyqtSignal
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer.ui import theme
from explorer.ui.panels.rnn.derived import Term
from explorer.ui.panels.rnn.views import bold_label
from explorer.ui.widgets.plots import still_plot


class UpdateRuleView(QWidget):
    """Every term of hₜ = f(W·xₜ + U·hₜ₋₁ + b) at the current step, one coloured strip each.

    One plot holds all strips (row ``k`` at y = k), each stretched to the
    full width, with the term names as axis labels. Hover a cell to read its
    value. Each signed term has its own colour scale, fixed over the whole
    sequence (a large bias such as an LSTM's forget-gate 4 would otherwise wash
    out W·xₜ and U·hₜ₋₁); sigmoid gates use the 0…1 map. An input of named parts (a real
    model's word embedding and attention context) has one strip per part.
    """

    STRIP = 0.78  # strip height; the rest of each row is the gap
    #: (strip, column) under the pointer; (-1, -1) when it is over none.
    hovered = pyqtSignal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = bold_label("The update rule at step t")
        self.title.setWordWrap(True)  # 'I = 576 (64 + 512)' must not widen the panel
        layout.addWidget(self.title)
        self.formula = QLabel("")
        self.formula.setWordWrap(True)
        self.formula.setProperty("role", "muted")
        layout.addWidget(self.formula)
        self.plot = still_plot(160)
        self.plot.invertY(True)
        self.plot.hideAxis("bottom")
        self.plot.getPlotItem().getViewBox().setDefaultPadding(0.0)
        layout.addWidget(self.plot, 1)
        self.info = QLabel(" ")
        self.info.setProperty("role", "muted")
        layout.addWidget(self.info)
        self.terms: list[Term] = []
        self.images: list[pg.ImageItem] = []
        self.levels: list[tuple[float, float]] = []
        self.t = 0
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.apply_theme()

    def set_terms(self, terms: list[Term], formula: str) -> None:
        """Draw these strips (one trace's terms) from now on; ``formula`` says the cell's update rule."""
        self.formula.setText(formula)
        self.terms = terms
        for image in self.images:
            self.plot.removeItem(image)
        self.images, self.levels = [], []
        luts = {"diverging": theme.diverging_cmap().getLookupTable(nPts=256, alpha=False),
                "sequential": theme.sequential_cmap().getLookupTable(nPts=256, alpha=False)}
        self.luts = []
        for row, (_key, _label, values, colour) in enumerate(self.terms):
            if colour == "sequential":
                levels = (0.0, 1.0)
            else:
                bound = max(float(np.abs(values).max()), 1e-9)  # this term's range over the whole sequence
                levels = (-bound, bound)
            self.levels.append(levels)
            self.luts.append(luts[colour])
            image = pg.ImageItem(axisOrder="row-major")
            image.setImage(self._colours(row, 0), autoLevels=False)  # size first, then the rect
            image.setRect(QRectF(0, row + (1 - self.STRIP) / 2, 1, self.STRIP))
            self.plot.addItem(image)
            self.images.append(image)
        rows = len(self.terms)
        self.plot.getAxis("left").setTicks([[(k + 0.5, label) for k, (_, label, _, _) in enumerate(self.terms)], []])
        self.plot.setRange(xRange=(0, 1), yRange=(0, rows), padding=0)
        length = terms[0][2].shape[0]
        self.set_step(min(self.t, length - 1))

    def _colours(self, row: int, t: int) -> np.ndarray:
        """Strip ``row`` at step t as RGB pixels (1, n, 3): colouring here is cheaper than an indexed image.

        Scaled as value / bound, never value − low: that difference overflows for values near ±1.8e308
        and became an index of −9.2e18 (the engine now refuses overflowing runs; this stays safe anyway).
        """
        low, high = self.levels[row]
        values = self.terms[row][2][t]
        if low == 0.0:  # sequential, 0…high
            unit = values / high
        else:  # diverging, −bound…bound
            unit = 0.5 + 0.5 * (values / high)
        index = (np.nan_to_num(np.clip(unit, 0.0, 1.0), nan=0.5) * 255.0).astype(np.intp)
        return self.luts[row][index][None, :, :]

    def set_step(self, t: int) -> None:
        self.t = t
        for row, image in enumerate(self.images):
            image.setImage(self._colours(row, t), autoLevels=False)

    def value(self, key: str) -> np.ndarray:
        """The strip ``key`` at the current step (what is drawn; for tests). "x" joins the parts of x_t."""
        found = [values[self.t] for k, _, values, _ in self.terms if k == key or (key == "x" and k.startswith("x:"))]
        if not found:
            raise KeyError(key)
        return np.concatenate(found)

    def _on_mouse_moved(self, scene_pos) -> None:
        box = self.plot.getPlotItem().getViewBox()
        if self.terms and box.sceneBoundingRect().contains(scene_pos):
            point = box.mapSceneToView(scene_pos)
            row = int(np.floor(point.y()))
            if 0 <= row < len(self.terms) and 0 <= point.x() < 1:
                self.hovered.emit(row, int(point.x() * self.terms[row][2].shape[1]))
                return
        self.hovered.emit(-1, -1)

    def apply_theme(self) -> None:
        theme.style_plot(self.plot, sides=("left",))
