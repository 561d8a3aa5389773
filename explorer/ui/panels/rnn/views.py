"""The RNN panel's views: the update rule at one step, the input read, the state over time.

Each view takes a trace once (``set_trace``) and then only moves its marker
(``set_step``), so dragging the time slider redraws a few small images and
lines, never the whole sequence. Colour levels are fixed per term over the
whole sequence, so a colour change between steps is a change in the value.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QPen
from PyQt6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from explorer.ui import theme
from explorer.ui.widgets.heatmap import Heatmap

#: Gates that are sigmoids (0…1) are shown on the sequential map; the rest are signed.
SIGMOID_GATES = ("i", "f", "o", "r", "z")


def plot_widget(min_height: int = 80) -> pg.PlotWidget:
    widget = pg.PlotWidget()
    widget.setMenuEnabled(False)
    widget.setMouseEnabled(x=False, y=False)
    widget.hideButtons()
    widget.setMinimumHeight(min_height)
    return widget


style_plot = theme.style_plot  # kept for rnn_pages' import


def bold_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600;")
    return label


def strip_terms(trace) -> list[tuple[str, str, np.ndarray, str]]:
    """The update rule's terms in reading order: (key, label, values over time (T, n), colour kind).

    ``colour kind`` is "diverging" (signed) or "sequential" (a sigmoid gate, 0…1).
    """
    T = trace.length
    h_prev = trace.h_prev
    kind = trace.kind
    b = np.broadcast_to(trace.bias_ih + trace.bias_hh, trace.pre.shape)
    terms = [("x", "x_t  (input)", trace.x, "diverging"), ("h_prev", "h_{t-1}", h_prev, "diverging")]
    if kind == "lstm":
        c_prev = np.vstack([trace.c0[None, :], trace.cell[:-1]])
        terms.append(("c_prev", "c_{t-1}  (cell)", c_prev, "diverging"))
    blocks = "  [i | f | g | o]" if kind == "lstm" else "  [r | z | n]" if kind == "gru" else ""
    terms += [
        ("wx", "W·x_t" + blocks, trace.wx, "diverging"),
        ("uh", "U·h_{t-1}" + blocks, trace.uh, "diverging"),
        ("b", "b  (b_ih + b_hh)", b, "diverging"),
        ("pre", "pre-activation" + ("  (n: r ⊙ U·h)" if kind == "gru" else ""), trace.pre, "diverging"),
    ]
    for name in trace.gates:
        label = {"g": "g = tanh  (candidate)", "n": "n = tanh  (candidate)"}.get(name, f"{name} = σ  (gate)")
        terms.append((f"gate_{name}", label, trace.gates[name], "sequential" if name in SIGMOID_GATES else "diverging"))
    if kind == "lstm":
        terms.append(("c", "c_t = f⊙c_{t-1} + i⊙g", trace.cell, "diverging"))
    final = {"rnn_tanh": "h_t = tanh(pre)", "rnn_relu": "h_t = relu(pre)", "lstm": "h_t = o ⊙ tanh(c_t)",
             "gru": "h_t = (1−z)⊙n + z⊙h_{t-1}"}[kind]
    terms.append(("h", final, trace.hidden, "diverging"))
    assert all(values.shape[0] == T for _, _, values, _ in terms)
    return terms


class UpdateRuleView(QWidget):
    """Every term of h_t = f(W·x_t + U·h_{t-1} + b) at the current step, one coloured strip each.

    One plot holds all strips (row ``k`` at y = k), each stretched to the
    full width, with the term names as axis labels. Hover a cell to read its
    value. Each signed term has its own colour scale, fixed over the whole
    sequence (a large bias such as an LSTM's forget-gate 4 would otherwise wash
    out W·x_t and U·h_{t-1}); sigmoid gates use the 0…1 map.
    """

    STRIP = 0.78  # strip height; the rest of each row is the gap

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = bold_label("The update rule at step t")
        layout.addWidget(self.title)
        self.formula = QLabel("")
        self.formula.setWordWrap(True)
        self.formula.setProperty("role", "muted")
        layout.addWidget(self.formula)
        self.plot = plot_widget(160)
        self.plot.invertY(True)
        self.plot.hideAxis("bottom")
        self.plot.getPlotItem().getViewBox().setDefaultPadding(0.0)
        layout.addWidget(self.plot, 1)
        self.info = QLabel(" ")
        self.info.setProperty("role", "muted")
        layout.addWidget(self.info)
        self.terms: list[tuple[str, str, np.ndarray, str]] = []
        self.images: list[pg.ImageItem] = []
        self.levels: list[tuple[float, float]] = []
        self.t = 0
        self._hover: tuple[int, int] = (-1, -1)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.apply_theme()

    def set_trace(self, trace, formula: str) -> None:
        self.formula.setText(formula)
        self.terms = strip_terms(trace)
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
        self.set_step(min(self.t, trace.length - 1))

    def _colours(self, row: int, t: int) -> np.ndarray:
        """Strip ``row`` at step t as RGB pixels (1, n, 3): colouring here is cheaper than an indexed image."""
        low, high = self.levels[row]
        values = self.terms[row][2][t]
        index = np.clip((values - low) / (high - low) * 255.0, 0, 255).astype(np.intp)
        return self.luts[row][index][None, :, :]

    def set_step(self, t: int) -> None:
        self.t = t
        for row, image in enumerate(self.images):
            image.setImage(self._colours(row, t), autoLevels=False)
        if self._hover[0] >= 0:
            self._show_info(*self._hover)

    def value(self, key: str) -> np.ndarray:
        """The strip ``key`` at the current step (what is drawn; for tests)."""
        for k, _, values, _ in self.terms:
            if k == key:
                return values[self.t]
        raise KeyError(key)

    def _on_mouse_moved(self, scene_pos) -> None:
        box = self.plot.getPlotItem().getViewBox()
        if self.terms and box.sceneBoundingRect().contains(scene_pos):
            point = box.mapSceneToView(scene_pos)
            row = int(np.floor(point.y()))
            if 0 <= row < len(self.terms) and 0 <= point.x() < 1:
                col = int(point.x() * self.terms[row][2].shape[1])
                self._hover = (row, col)
                self._show_info(row, col)
                return
        self._hover = (-1, -1)
        self.info.setText(" ")

    def _show_info(self, row: int, col: int) -> None:
        key, label, values, _ = self.terms[row]
        value = values[self.t, col]
        width = values.shape[1]
        H = self.terms[-1][2].shape[1]
        where = f"feature {col + 1}" if key == "x" else f"unit {col % H + 1}"
        if key != "x" and width > H:
            where = f"block {col // H + 1}, unit {col % H + 1}"
        self.info.setText(f"{label.split('  ')[0]} at t = {self.t + 1}, {where}:  {value:.6g}")

    def apply_theme(self) -> None:
        style_plot(self.plot, sides=("left",))


class SequenceView(QWidget):
    """What the cell reads: the picture with the current row/patch outlined, or the inputs over time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = bold_label("Input sequence")
        layout.addWidget(self.title)
        self.plot = plot_widget(120)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        layout.addWidget(self.plot, 1)
        self.note = QLabel(" ")
        self.note.setWordWrap(True)
        self.note.setProperty("role", "muted")
        layout.addWidget(self.note)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.marker = QGraphicsRectItem()
        self.marker.setZValue(10)
        self.plot.addItem(self.marker)
        self.sequence = None
        self.apply_theme()

    def set_sequence(self, sequence) -> None:
        self.sequence = sequence
        self.note.setText(sequence.description)
        if sequence.picture is not None:
            picture = sequence.picture  # (rows, cols) in [0, 1]
            self.image.setLookupTable(None)
            self.image.setImage(picture, levels=(0.0, 1.0), autoLevels=False)
            self.image.setRect(QRectF(0, 0, picture.shape[1], picture.shape[0]))
            self.plot.setAspectLocked(True)
            self.plot.setRange(xRange=(0, picture.shape[1]), yRange=(0, picture.shape[0]), padding=0.02)
            self.plot.hideAxis("left")
            self.plot.hideAxis("bottom")
            self.title.setText("Input: the image as a sequence (current step outlined)")
        else:
            values = sequence.values.T  # (I, T): one column per step
            self.image.setLookupTable(theme.diverging_cmap().getLookupTable(nPts=256))
            self.image.setImage(values, levels=theme.symmetric_levels(values), autoLevels=False)
            self.image.setRect(QRectF(0, 0, values.shape[1], values.shape[0]))
            self.plot.setAspectLocked(False)
            self.plot.setRange(xRange=(0, values.shape[1]), yRange=(0, values.shape[0]), padding=0)
            self.plot.showAxis("left")
            self.plot.showAxis("bottom")
            self.plot.setLabel("bottom", "t")
            self.plot.setLabel("left", "input feature")
            features = values.shape[0]
            every = max(1, features // 8)
            self.plot.getAxis("left").setTicks([[(j + 0.5, str(j + 1)) for j in range(0, features, every)], []])
            self.title.setText("Input x_t over time (current step outlined)")

    def set_step(self, t: int) -> None:
        if self.sequence is None:
            return
        if self.sequence.picture is not None and self.sequence.regions:
            r0, c0, rows, cols = self.sequence.regions[t]
            self.marker.setRect(QRectF(c0, r0, cols, rows))
        else:
            self.marker.setRect(QRectF(t, 0, 1, self.sequence.input_size))

    def apply_theme(self) -> None:
        style_plot(self.plot)
        pen = QPen(QColor(theme.colors().highlight))
        pen.setWidthF(2.5)
        pen.setCosmetic(True)
        self.marker.setPen(pen)


class UnitTrajectory(QWidget):
    """One hidden unit over time (and its cell state for an LSTM), the current step marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = bold_label("Unit 1 · click a heatmap row")
        layout.addWidget(self.title)
        self.plot = plot_widget(90)
        self.plot.setLabel("bottom", "t")
        self.zero = pg.InfiniteLine(pos=0, angle=0, movable=False)  # a zero line instead of a grid (cheaper to repaint)
        self.plot.addItem(self.zero)
        layout.addWidget(self.plot, 1)
        # No pyqtgraph legend: it would repaint its text at every step; the title says which line is which.
        self.h_curve = self.plot.plot([], [])
        self.c_curve = self.plot.plot([], [])
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor)
        self.unit = 0
        self.trace = None
        self.apply_theme()

    def set_trace(self, trace, unit: int | None = None) -> None:
        self.trace = trace
        if unit is not None:
            self.unit = unit
        self.unit = min(self.unit, trace.hidden_size - 1)
        steps = np.arange(1, trace.length + 1)
        self.h_curve.setData(steps, trace.hidden[:, self.unit])
        lines = "h_t"
        if trace.cell is not None:
            self.c_curve.setData(steps, trace.cell[:, self.unit])
            self.c_curve.show()
            lines = "h_t (solid), c_t (dashed)"
        else:
            self.c_curve.setData([], [])
            self.c_curve.hide()
        self.title.setText(f"Unit {self.unit + 1}: {lines} · click a heatmap row")

    def set_step(self, t: int) -> None:
        self.cursor.setValue(t + 1)

    def apply_theme(self) -> None:
        c = theme.colors()
        style_plot(self.plot)
        self.h_curve.setPen(pg.mkPen(c.accent, width=2))
        self.c_curve.setPen(pg.mkPen(c.muted, width=1.5, style=Qt.PenStyle.DashLine))
        self.zero.setPen(pg.mkPen(c.grid, width=1))
        self.cursor.setPen(pg.mkPen(c.highlight, width=2))


class StateVersusWeights(QWidget):
    """‖h_t‖ moves with t; ‖W‖, ‖U‖, ‖b‖ are flat lines: running a sequence does not change the weights."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(bold_label("The state changes, the weights do not"))
        self.plot = plot_widget(80)
        self.plot.setLabel("bottom", "t")
        self.plot.setLabel("left", "norm")
        self.legend = QLabel(" ")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        self.note = QLabel(
            "h_t is the network's running memory: new at every step. W, U and b are the same numbers at "
            "every step; only training (backprop) changes them."
        )
        self.note.setWordWrap(True)
        self.note.setProperty("role", "muted")
        layout.addWidget(self.note)
        self.curves = {name: self.plot.plot([], []) for name in ("‖h_t‖", "‖W‖", "‖U‖", "‖b‖")}
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor)
        self.apply_theme()

    def set_trace(self, trace, cell) -> None:
        steps = np.arange(1, trace.length + 1)
        ones = np.ones(trace.length)
        self.curves["‖h_t‖"].setData(steps, np.linalg.norm(trace.hidden, axis=1))
        self.curves["‖W‖"].setData(steps, ones * np.linalg.norm(cell.weight_ih))
        self.curves["‖U‖"].setData(steps, ones * np.linalg.norm(cell.weight_hh))
        self.curves["‖b‖"].setData(steps, ones * np.linalg.norm(cell.bias_ih + cell.bias_hh))
        top = max(float(np.linalg.norm(trace.hidden, axis=1).max()), float(np.linalg.norm(cell.weight_ih)),
                  float(np.linalg.norm(cell.weight_hh)), float(np.linalg.norm(cell.bias_ih + cell.bias_hh)), 1e-9)
        self.plot.setYRange(0, top * 1.08, padding=0)

    def set_step(self, t: int) -> None:
        self.cursor.setValue(t + 1)

    def apply_theme(self) -> None:
        c = theme.colors()
        style_plot(self.plot)
        colours = {"‖h_t‖": (c.accent, 2.5), "‖W‖": ("#b07a2a", 1.8), "‖U‖": ("#5f9a2e", 1.8), "‖b‖": (c.muted, 1.8)}
        for name, (colour, width) in colours.items():
            self.curves[name].setPen(pg.mkPen(colour, width=width))
        self.legend.setText("&nbsp;&nbsp;".join(f"<span style='color:{colour}'>━</span> {name}" for name, (colour, _) in colours.items()))
        self.cursor.setPen(pg.mkPen(c.highlight, width=2))


class PredictionView(QWidget):
    """A trained model's read-out after each step (class probabilities), with the current answer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = bold_label("Read-out after each step")
        layout.addWidget(self.title)
        self.heatmap = Heatmap(kind="sequential", annotate=False)
        self.heatmap.setMinimumHeight(90)
        layout.addWidget(self.heatmap, 1)
        self.answer = QLabel(" ")
        self.answer.setWordWrap(True)
        self.answer.setFixedHeight(self.answer.fontMetrics().lineSpacing() * 2 + 4)  # no relayout per step
        layout.addWidget(self.answer)
        self.probs = np.zeros((0, 0))
        self.classes: list[str] = []
        self.target: int | None = None

    def set_data(self, probs: np.ndarray, classes: list[str], target: int | None) -> None:
        self.probs, self.classes, self.target = probs, classes, target
        self.heatmap.set_data(probs.T, row_labels=classes, col_labels=[str(t + 1) for t in range(probs.shape[0])], levels=(0.0, 1.0))

    def set_step(self, t: int) -> None:
        if not self.probs.size:
            return
        self.heatmap.set_highlight(cols=[t])
        row = self.probs[t]
        best = int(row.argmax())
        truth = ""
        if self.target is not None:
            truth = f" — the answer is {self.classes[self.target]} ({'right' if best == self.target else 'wrong'} so far)"
        self.answer.setText(f"After step {t + 1}: <b>{self.classes[best]}</b> {row[best]:.0%}{truth}")

    def apply_theme(self) -> None:
        self.heatmap.apply_theme()
