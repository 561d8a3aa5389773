"""Small views of the Video panel: the frame with its strip, the belief plot, the importance bars.

Each view only draws what it is given (arrays from a ``VideoTrace``) and
marks the current frame; what is shown is decided in ``state.py``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QSizePolicy, QVBoxLayout, QWidget

from explorer.ui import theme
from explorer.ui.qt_images import array_to_qimage
from explorer.ui.widgets.plots import still_plot

#: Line colours for the classes (categorical, distinct in light and dark themes).
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


class FrameView(QLabel):
    """The current frame, scaled to fit with its aspect kept (nearest-neighbour when enlarged)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._frame: np.ndarray | None = None

    def set_frame(self, frame: np.ndarray | None) -> None:
        self._frame = frame
        self._redraw()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._redraw()

    def _redraw(self) -> None:
        if self._frame is None:
            self.clear()
            return
        pixmap = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(self._frame)))
        enlarge = self.width() > pixmap.width() * 1.5
        mode = Qt.TransformationMode.FastTransformation if enlarge else Qt.TransformationMode.SmoothTransformation
        self.setPixmap(pixmap.scaled(self.size() - QSize(4, 4), Qt.AspectRatioMode.KeepAspectRatio, mode))


class FrameStrip(QListWidget):
    """All frames as thumbnails in one row; clicking one selects it."""

    frameClicked = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListWidget.Movement.Static)
        self.setIconSize(QSize(44, 44))
        self.setFixedHeight(86)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSpacing(1)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.currentRowChanged.connect(self._on_row)

    def set_frames(self, frames: np.ndarray) -> None:
        self.blockSignals(True)
        self.clear()
        for index, frame in enumerate(frames):
            pixmap = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(frame)))
            icon = QIcon(pixmap.scaled(self.iconSize(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            item = QListWidgetItem(icon, str(index + 1))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.addItem(item)
        self.blockSignals(False)

    def set_current(self, index: int) -> None:
        self.blockSignals(True)
        self.setCurrentRow(index)
        self.blockSignals(False)
        item = self.item(index)
        if item is not None:
            self.scrollToItem(item)

    def _on_row(self, row: int) -> None:
        if row >= 0:
            self.frameClicked.emit(row)


class BeliefPlot(QWidget):
    """Class probabilities after each frame, one line per class, the current frame marked.

    The legend sits beside the plot and doubles as the read-out: each class
    with its probability after the current frame, the most likely first in bold.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = QLabel("Belief after each frame: the decision forming")
        self.title.setStyleSheet("font-weight: 600;")
        layout.addWidget(self.title)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.plot = still_plot(90)
        self.plot.setYRange(0, 1.02, padding=0)
        self.plot.setLabel("left", "probability")
        self.plot.setLabel("bottom", "frames seen")
        self.plot.showGrid(y=True, alpha=0.25)
        row.addWidget(self.plot, 1)
        self.readout = QLabel(" ")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.readout.setMinimumWidth(150)
        row.addWidget(self.readout)
        layout.addLayout(row, 1)
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor)
        self.curves: list[pg.PlotDataItem] = []
        self.probs = np.zeros((0, 0))
        self.classes: list[str] = []
        self.apply_theme()

    def set_data(self, probs: np.ndarray, classes: list[str]) -> None:
        """probs: (T, K)."""
        self.probs, self.classes = probs, classes
        for curve in self.curves:
            self.plot.removeItem(curve)
        frames = np.arange(1, probs.shape[0] + 1)
        self.curves = []
        final = int(probs[-1].argmax())
        for k in range(len(classes)):
            colour = CLASS_COLOURS[k % len(CLASS_COLOURS)]
            pen = pg.mkPen(colour, width=3.2 if k == final else 1.6)
            curve = self.plot.plot(frames, probs[:, k], pen=pen, symbol="o", symbolSize=5 if k == final else 3,
                                   symbolBrush=colour, symbolPen=None)
            self.curves.append(curve)
        self.plot.setXRange(0.6, max(probs.shape[0], 2) + 0.6, padding=0)

    def set_current(self, index: int) -> None:
        if not self.probs.size:
            return
        self.cursor.setValue(index + 1)
        row = self.probs[index]
        best = int(row.argmax())
        lines = [f"<span style='color:{theme.colors().muted}'>after frame {index + 1}</span>"]
        for k in np.argsort(row)[::-1]:
            name = self.classes[k]
            text = f"<b>{name} {row[k]:.0%}</b>" if k == best else f"{name} {row[k]:.0%}"
            lines.append(f"<span style='color:{CLASS_COLOURS[k % len(CLASS_COLOURS)]}'>●</span> {text}")
        self.readout.setText("<br>".join(lines))

    def apply_theme(self) -> None:
        theme.style_plot(self.plot)
        self.cursor.setPen(pg.mkPen(theme.colors().highlight, width=2.5))


class ImportanceBars(QWidget):
    """‖∂ final logit / ∂ frame‖ for each frame, the current frame in the highlight colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = QLabel("What the final answer depends on: ‖∂ final score / ∂ frame‖ per frame")
        self.title.setStyleSheet("font-weight: 600;")
        layout.addWidget(self.title)
        self.plot = still_plot(90)
        self.plot.setLabel("bottom", "frame")
        layout.addWidget(self.plot, 1)
        self.readout = QLabel(" ")
        self.readout.setProperty("role", "muted")
        layout.addWidget(self.readout)
        self.bars: pg.BarGraphItem | None = None
        self.values = np.zeros(0)
        self.current = 0
        self.apply_theme()

    def set_data(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        self.plot.setXRange(0.4, max(len(self.values), 1) + 0.6, padding=0)
        self.plot.setYRange(0, float(self.values.max()) * 1.08 if self.values.size and self.values.max() > 0 else 1, padding=0)
        self._draw()

    def set_current(self, index: int) -> None:
        self.current = index
        self._draw()
        if 0 <= index < self.values.size:
            top = float(self.values.max()) or 1.0
            self.readout.setText(
                f"frame {index + 1}: {self.values[index]:.4g} ({self.values[index] / top:.0%} of the largest, "
                f"frame {int(self.values.argmax()) + 1})"
            )

    def _draw(self) -> None:
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        if not self.values.size:
            return
        c = theme.colors()
        brushes = [QColor(c.highlight) if i == self.current else QColor(c.accent) for i in range(len(self.values))]
        self.bars = pg.BarGraphItem(x=np.arange(1, len(self.values) + 1), height=self.values, width=0.75, brushes=brushes, pen=None)
        self.plot.addItem(self.bars)

    def apply_theme(self) -> None:
        theme.style_plot(self.plot)
        self._draw()
