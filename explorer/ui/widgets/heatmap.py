"""An annotated heatmap: the view most panels are built from.

One image item holds the colours (cheap to update); cell values are
printed when the cells are large enough to read them; row and column labels
sit on the axes; hovering a cell emits ``hovered(row, col)`` and shows the
value in the line under the map; clicking emits ``clicked(row, col)``; rows and
columns can be outlined with :meth:`Heatmap.set_highlight`; masked cells
(``set_data(..., masked=)``) are grey, whatever their value.

``kind="diverging"`` centres the colours on zero (signed values);
``kind="sequential"`` runs from 0 (probabilities, attention weights).

Speed: the colours are mapped here with a NumPy lookup into a 32-bit RGB
image that Qt draws directly (:mod:`explorer.ui.widgets.cell_image`).
``pg.ImageItem`` with a lookup table hands Qt an 8-bit indexed image, which Qt
converts on every paint: about ten times slower to draw. A map of 1,370 × 1,370
cells (a real attention head) changed in a few rows or columns is updated with
:meth:`Heatmap.update_values`, which recolours and repaints only those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QPen
from PyQt6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import theme
from explorer.ui.widgets.cell_image import CellColours, CellImage, grown_levels
from explorer.ui.widgets.eliding import ElidingLabel

#: Cells are annotated only up to this many cells, and when wide enough on screen.
MAX_ANNOTATED_CELLS = 400
MIN_CELL_PIXELS_FOR_TEXT = 34

__all__ = ["CellImage", "Heatmap"]


class Heatmap(CellColours, QWidget):
    hovered = pyqtSignal(int, int)  # row, col; (-1, -1) when the pointer leaves
    clicked = pyqtSignal(int, int)

    def __init__(
        self,
        title: str = "",
        *,
        kind: str = "diverging",
        fmt: str = "{:.2f}",
        annotate: bool = True,
        colorbar: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self.fmt = fmt
        self.annotate = annotate
        self.values = np.zeros((1, 1))
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self._levels: tuple[float, float] | None = None
        self._texts: list[pg.TextItem] = []
        self._shown_texts = 0
        self._tick_key: tuple | None = None
        self._our_ticks: tuple[list, list] = ([], [])
        self._highlights: list[QGraphicsRectItem] = []
        self._hover_cell = (-1, -1)
        self._masked: np.ndarray | None = None  # bool (rows, cols), True = drawn grey

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title_label = ElidingLabel(title)
        self.title_label.setToolTip(title)
        self.title_label.setStyleSheet("font-weight: 600;")
        layout.addWidget(self.title_label)
        if not title:
            self.title_label.hide()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(80, 60)
        # Cells are axis-aligned rectangles: antialiasing only slows the scaled drawImage
        # (~1 ms → ~0.1 ms for 64 × 64 cells on screen) and widens every repainted region.
        self.graphics.setAntialiasing(False)
        self.graphics.setOptimizationFlag(self.graphics.OptimizationFlag.DontAdjustForAntialiasing, True)
        layout.addWidget(self.graphics, 1)
        self.info_label = ElidingLabel(" ")
        self.info_label.setProperty("role", "muted")
        layout.addWidget(self.info_label)

        self.plot = self.graphics.addPlot(enableMenu=False)  # no context menu: skips building it (~15 ms)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.plot.getViewBox().setDefaultPadding(0.0)
        for side in ("left", "top"):
            self.plot.showAxis(side)
            # The axes' bounding boxes reach into the plot area, so every cell update repainted
            # them (≈0.2 ms each); cached, they are blitted. Ticks change only with the shape.
            self.plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot.hideAxis("bottom")
        self.image = CellImage()
        self.plot.addItem(self.image)
        self.colorbar: pg.ColorBarItem | None = None
        if colorbar:
            # Placed as ColorBarItem.setImageItem(insert_in=plot) would, without linking it to an ImageItem.
            self.colorbar = pg.ColorBarItem(width=12, interactive=False)
            self.plot.layout.addItem(self.colorbar, 2, 5)
            self.plot.layout.setColumnFixedWidth(4, 5)
        self._apply_cmap()
        # The cell size on screen is known only once the view box has its final size.
        self._shown: tuple[np.ndarray | None, np.ndarray | None] = (None, None)  # rows, cols on the image
        self.plot.getViewBox().sigResized.connect(self._resample)
        self.plot.getViewBox().sigResized.connect(self._update_texts)
        self.plot.getViewBox().sigResized.connect(self._set_ticks)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # -- data ----------------------------------------------------------------------------
    def set_data(
        self,
        values: np.ndarray,
        *,
        row_labels: Sequence[str] | None = None,
        col_labels: Sequence[str] | None = None,
        levels: tuple[float, float] | None = None,
        masked: np.ndarray | None = None,
    ) -> None:
        """Show a 2-D array; labels default to 1-based indices; ``masked`` (bool) cells are drawn grey.

        A new shape first drops what pointed into the old one (the hovered cell, the
        outlines), so nothing on the way can index outside the new array.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2:
            raise ValueError(f"heatmap needs a 2-D array, got shape {values.shape}")
        if masked is not None and np.shape(masked) != values.shape:
            raise ValueError(f"the mask's shape {np.shape(masked)} differs from the values' {values.shape}")
        shape_changed = values.shape != self.values.shape
        if shape_changed:
            self.clear_highlight()
            self._forget_hover_outside(values.shape)
        self.values = values
        rows, cols = values.shape
        self.row_labels = list(row_labels) if row_labels is not None else [str(i + 1) for i in range(rows)]
        self.col_labels = list(col_labels) if col_labels is not None else [str(j + 1) for j in range(cols)]
        self._masked = None if masked is None or not np.any(masked) else np.array(masked, dtype=bool)
        self._levels = levels or self._auto_levels(values)
        self._shown = self._sampling()
        self._recolour()
        self._sync_colorbar()
        if shape_changed:
            self.plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)
        self._set_ticks()  # no-op unless the shape, the labels or the room for them changed
        self._update_texts()
        if self._hover_cell != (-1, -1):
            self._show_info(*self._hover_cell)

    def update_values(
        self,
        values: np.ndarray,
        *,
        rows: Sequence[int] | None = (),
        cols: Sequence[int] = (),
        levels: tuple[float, float] | None = None,
    ) -> None:
        """The same-shaped array with only ``rows`` and ``cols`` changed (``rows`` None: all): recolour just those.

        Labels and mask stay. With ``levels`` None the colour range only grows while
        parts change (steady colours while scrubbing); :meth:`set_data` fits it anew.
        Anything that does not fit this (another shape, new levels) redraws it all.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self.values.shape:
            self.set_data(values, levels=levels)
            return
        every = rows is None
        rows = np.arange(values.shape[0]) if every else np.asarray(rows, dtype=np.intp)
        cols = np.asarray(cols, dtype=np.intp)
        self.values = values
        wanted = levels or grown_levels(self.kind, self._levels or (0.0, 1.0), values, rows, cols)
        if wanted != self._levels or every:
            self._levels = wanted
            self._recolour()
            self._sync_colorbar()
        else:
            self._recolour(rows, cols)
        if self._shown_texts:
            self._update_texts()
        if self._hover_cell != (-1, -1):
            self._show_info(*self._hover_cell)

    def _forget_hover_outside(self, shape: tuple[int, int]) -> None:
        """The hovered cell is not in a map of ``shape``: forget it, and tell the listeners."""
        row, col = self._hover_cell
        if row >= shape[0] or col >= shape[1]:
            self._hover_cell = (-1, -1)
            self.info_label.setText(" ")
            self.hovered.emit(-1, -1)

    def set_title(self, title: str) -> None:
        self.title_label.setText(title)
        self.title_label.setToolTip(title)
        self.title_label.setVisible(bool(title))

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self._apply_cmap()
        self.set_data(self.values, row_labels=self.row_labels, col_labels=self.col_labels, masked=self._masked)

    def _set_ticks(self, *_args) -> None:
        """Label every row/column that fits: a label per cell when there is room, else every n-th.

        A panel may set its own ticks on ``plot.getAxis(...)`` after :meth:`set_data`; a resize
        then leaves them alone (they are redone on the next change of shape or labels).
        """
        rows, cols = self.values.shape
        if len(self.row_labels) != rows or len(self.col_labels) != cols:
            return  # no data yet (a resize before the first set_data)
        rect = self.plot.getViewBox().sceneBoundingRect()
        metrics = QFontMetrics(self.plot.getAxis("top").style.get("tickFont") or self.font())
        label_width = max((metrics.horizontalAdvance(text) for text in self.col_labels[:: max(1, cols // 8)]), default=10) + 8
        label_height = metrics.height() + 1
        step_c = max(1, math.ceil(cols * label_width / max(rect.width(), 1.0)))
        step_r = max(1, math.ceil(rows * label_height / max(rect.height(), 1.0)))
        labels_key = (tuple(self.row_labels), tuple(self.col_labels))
        key = (step_r, step_c, labels_key)
        if key == self._tick_key:
            return
        if self._tick_key is not None and self._tick_key[2] == labels_key and not self._ticks_are_ours():
            return  # only the room changed, and the panel has put its own ticks there
        self._tick_key = key
        left = [(i + 0.5, self.row_labels[i]) for i in range(0, rows, step_r)]
        top = [(j + 0.5, self.col_labels[j]) for j in range(0, cols, step_c)]
        self._our_ticks = (left, top)
        self.plot.getAxis("left").setTicks([left, []])
        self.plot.getAxis("top").setTicks([top, []])

    def _ticks_are_ours(self) -> bool:
        left, top = self._our_ticks
        return (
            self.plot.getAxis("left")._tickLevels == [left, []]
            and self.plot.getAxis("top")._tickLevels == [top, []]
        )

    # -- annotations ----------------------------------------------------------------------
    def _cell_pixels(self) -> float:
        rows, cols = self.values.shape
        rect = self.plot.getViewBox().sceneBoundingRect()
        return min(rect.width() / max(cols, 1), rect.height() / max(rows, 1) * 2.2)

    def _update_texts(self) -> None:
        rows, cols = self.values.shape
        wanted = (
            self.annotate
            and rows * cols <= MAX_ANNOTATED_CELLS
            and self._cell_pixels() >= MIN_CELL_PIXELS_FOR_TEXT
        )
        count = rows * cols if wanted else 0
        if count == 0 and self._shown_texts == 0:
            return  # nothing printed before or now (large matrices): skip the loop
        self._shown_texts = count
        while len(self._texts) < count:
            item = pg.TextItem(anchor=(0.5, 0.5))
            item.setFont(QFont(self.font().family(), max(7, self.font().pointSize() - 1)))
            self.plot.addItem(item)
            self._texts.append(item)
        for index, item in enumerate(self._texts):
            if index >= count:
                item.setVisible(False)
                continue
            r, c = divmod(index, cols)
            value = self.values[r, c]
            blocked = self._masked is not None and self._masked[r, c]
            item.setText("masked" if blocked else self.fmt.format(value) if np.isfinite(value) else "—")
            item.setColor(QColor("#111111") if blocked else self._text_colour(value))
            item.setPos(c + 0.5, r + 0.5)
            item.setVisible(True)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._update_texts()

    # -- highlight -------------------------------------------------------------------------
    def clear_highlight(self) -> None:
        for item in self._highlights:
            self.plot.removeItem(item)
        self._highlights.clear()

    def set_highlight(
        self, rows: Sequence[int] = (), cols: Sequence[int] = (), cells: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Outline whole rows, whole columns and single cells (replacing earlier outlines)."""
        self.clear_highlight()
        n_rows, n_cols = self.values.shape
        rects = [QRectF(0, r, n_cols, 1) for r in rows if 0 <= r < n_rows]
        rects += [QRectF(c, 0, 1, n_rows) for c in cols if 0 <= c < n_cols]
        rects += [QRectF(c, r, 1, 1) for r, c in cells if 0 <= r < n_rows and 0 <= c < n_cols]
        pen = QPen(QColor(theme.colors().highlight))
        pen.setWidthF(2.5)
        pen.setCosmetic(True)
        for rect in rects:
            item = QGraphicsRectItem(rect)
            item.setPen(pen)
            item.setZValue(10)
            self.plot.addItem(item)
            self._highlights.append(item)

    # -- mouse -----------------------------------------------------------------------------
    def cell_at(self, scene_pos: QPointF) -> tuple[int, int]:
        if not self.plot.getViewBox().sceneBoundingRect().contains(scene_pos):
            return -1, -1
        point = self.plot.getViewBox().mapSceneToView(scene_pos)
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        rows, cols = self.values.shape
        if 0 <= row < rows and 0 <= col < cols:
            return row, col
        return -1, -1

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self.cell_at(scene_pos)
        if cell != self._hover_cell:
            self._hover_cell = cell
            self._show_info(*cell)
            self.hovered.emit(*cell)

    def _show_info(self, row: int, col: int) -> None:
        rows, cols = self.values.shape
        if not (0 <= row < rows and 0 <= col < cols and row < len(self.row_labels) and col < len(self.col_labels)):
            self.info_label.setText(" ")
            return
        value = self.values[row, col]
        blocked = self._masked is not None and self._masked[row, col]
        text = "masked (blocked)" if blocked else f"{value:.6g}"
        self.info_label.setText(f"{self.row_labels[row]}, {self.col_labels[col]}:  {text}")

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row, col = self.cell_at(event.scenePos())
        if row >= 0:
            self.clicked.emit(row, col)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().leaveEvent(event)
        if self._hover_cell != (-1, -1):
            self._hover_cell = (-1, -1)
            self._show_info(-1, -1)
            self.hovered.emit(-1, -1)

    def apply_theme(self) -> None:
        """Re-read the theme's plot colours (call on ``themeChanged``)."""
        self.graphics.setBackground(theme.colors().plot_bg)
        theme.style_plot(self.plot, ("left", "top"))
        if self.kind == "diverging":  # its neutral centre follows the theme
            self.set_kind(self.kind)
