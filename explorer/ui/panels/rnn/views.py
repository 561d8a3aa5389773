"""The RNN panel's views of the step page: the input read, the state over time, the read-out.

Each view takes a trace once (``set_trace``) and then only moves its marker
(``set_step``), so dragging the time slider redraws a few small images and
lines, never the whole sequence. The update rule's strips are in
:mod:`.rule_view`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QPen
from PyQt6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from explorer.ui import theme
from explorer.ui.panels.rnn.derived import Readout
from explorer.ui.panels.rnn.real import SHORT, short_name
from explorer.ui.widgets.eliding import ElidingLabel
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.plots import still_plot


def tick_name(name: str) -> str:
    """A part's name on an axis, short so the map keeps its width: 'attention context' → 'ctx'."""
    return short_name(name) if name in SHORT or len(name) > 14 else name


def bold_label(text: str, *, elide: bool = True) -> QLabel:
    """A view's title: one line that never widens its column; cut, it ends in "…" (full text as tooltip).

    ``elide=False``: a word that heads a row of controls, as wide as it is.
    """
    label = ElidingLabel(text) if elide else QLabel(text)
    label.setStyleSheet("font-weight: 600;")
    return label


class SequenceView(QWidget):
    """What the cell reads: the picture with the current row/patch outlined, or the inputs over time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = bold_label("Input sequence")
        self.title.setWordWrap(True)  # its width never sets the panel's
        layout.addWidget(self.title)
        self.plot = still_plot(120)
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
        self.dividers: list[pg.InfiniteLine] = []  # between the named parts of x_t
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
            self._show_values(sequence)

    def _show_values(self, sequence) -> None:
        """x_t over time, one column per step; named parts each on their own colour scale, divided by lines."""
        values = sequence.values.T.copy()  # (I, T): one column per step
        features = values.shape[0]
        parts = sequence.parts or [("input feature", 0, features)]
        for _name, start, stop in parts:  # a word embedding and an attention context differ in scale
            values[start:stop] /= max(float(np.abs(values[start:stop]).max()), 1e-12)
        self.image.setLookupTable(theme.diverging_cmap().getLookupTable(nPts=256))
        self.image.setImage(values, levels=(-1.0, 1.0), autoLevels=False)
        self.image.setRect(QRectF(0.5, 0, values.shape[1], values.shape[0]))  # step t+1 centred on tick t+1
        self.plot.setAspectLocked(False)
        self.plot.setRange(xRange=(0.5, values.shape[1] + 0.5), yRange=(0, features), padding=0)
        self.plot.showAxis("left")
        self.plot.showAxis("bottom")
        self.plot.setLabel("bottom", "t")
        for line in self.dividers:
            self.plot.removeItem(line)
        self.dividers = []
        if len(parts) > 1:
            self.plot.setLabel("left", "xₜ by part")
            ticks = [((start + stop) / 2, f"{tick_name(name)} ({stop - start})") for name, start, stop in parts]
            for _name, start, _stop in parts[1:]:
                line = pg.InfiniteLine(pos=start, angle=0, movable=False, pen=pg.mkPen(theme.colors().plot_fg, width=1.5))
                self.plot.addItem(line)
                self.dividers.append(line)
            self.title.setText("Input xₜ by part, each on its own scale (step outlined)")
        else:
            self.plot.setLabel("left", "input feature")
            every = max(1, features // 8)
            ticks = [(j + 0.5, str(j + 1)) for j in range(0, features, every)]
            self.title.setText("Input xₜ over time (current step outlined)")
        self.plot.getAxis("left").setTicks([ticks, []])

    def set_step(self, t: int) -> None:
        if self.sequence is None:
            return
        if self.sequence.picture is not None and self.sequence.regions:
            r0, c0, rows, cols = self.sequence.regions[t]
            self.marker.setRect(QRectF(c0, r0, cols, rows))
        else:
            self.marker.setRect(QRectF(t + 0.5, 0, 1, self.sequence.input_size))

    def apply_theme(self) -> None:
        theme.style_plot(self.plot)
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
        self.plot = still_plot(60)
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
        lines = "hₜ"
        if trace.cell is not None:
            self.c_curve.setData(steps, trace.cell[:, self.unit])
            self.c_curve.show()
            lines = "hₜ (solid), cₜ (dashed)"
        else:
            self.c_curve.setData([], [])
            self.c_curve.hide()
        self.title.setText(f"Unit {self.unit + 1}: {lines} · click a heatmap row")

    def set_step(self, t: int) -> None:
        self.cursor.setValue(t + 1)

    def apply_theme(self) -> None:
        c = theme.colors()
        theme.style_plot(self.plot)
        self.h_curve.setPen(pg.mkPen(c.accent, width=2))
        self.c_curve.setPen(pg.mkPen(c.muted, width=1.5, style=Qt.PenStyle.DashLine))
        self.zero.setPen(pg.mkPen(c.grid, width=1))
        self.cursor.setPen(pg.mkPen(c.highlight, width=2))


class StateVersusWeights(QWidget):
    """‖hₜ‖ moves with t; ‖W‖, ‖U‖, ‖b‖ are flat lines: running a sequence does not change the weights."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(bold_label("The state changes, the weights do not"))
        self.plot = still_plot(80)
        self.plot.setLabel("bottom", "t")
        self.plot.setLabel("left", "norm")
        self.legend = QLabel(" ")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        self.note = QLabel(
            "hₜ is the network's running memory: new at every step. W, U and b are the same numbers at "
            "every step; only training (backprop) changes them."
        )
        self.note.setWordWrap(True)
        self.note.setProperty("role", "muted")
        layout.addWidget(self.note)
        self.curves = {name: self.plot.plot([], []) for name in ("‖hₜ‖", "‖W‖", "‖U‖", "‖b‖")}
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor)
        self.apply_theme()

    def set_trace(self, trace, cell) -> None:
        steps = np.arange(1, trace.length + 1)
        ones = np.ones(trace.length)
        self.curves["‖hₜ‖"].setData(steps, np.linalg.norm(trace.hidden, axis=1))
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
        theme.style_plot(self.plot)
        colours = {"‖hₜ‖": (c.accent, 2.5), "‖W‖": ("#b07a2a", 1.8), "‖U‖": ("#5f9a2e", 1.8), "‖b‖": (c.muted, 1.8)}
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
        self._fit_answer()
        layout.addWidget(self.answer)
        self.readout: Readout | None = None
        self.probs = np.zeros((0, 0))  # (T, K): what the heatmap shows

    def _fit_answer(self) -> None:
        self.answer.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 4)  # no relayout per step

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override: a zoom changes the font
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._fit_answer()

    def set_readout(self, readout: Readout) -> None:
        """Show this read-out (of the trace the other views show) from now on."""
        self.readout, self.probs = readout, readout.probabilities
        self.title.setText(readout.title)
        self.heatmap.set_data(self.probs.T, row_labels=readout.classes,
                              col_labels=[str(t + 1) for t in range(self.probs.shape[0])], levels=(0.0, 1.0))

    def set_step(self, t: int) -> None:
        if self.readout is None:
            return
        self.heatmap.set_highlight(cols=[t])
        self.answer.setText(self.readout.answer(t))

    def apply_theme(self) -> None:
        self.heatmap.apply_theme()
