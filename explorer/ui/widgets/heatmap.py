"""An annotated heatmap: the view most panels are built from.

One image item holds the colours (cheap to update); cell values are
printed when the cells are large enough to read them; row and column labels
sit on the axes; hovering a cell emits ``hovered(row, col)`` and shows the
value in the tooltip line; clicking emits ``clicked(row, col)``; rows and
columns can be outlined with :meth:`Heatmap.set_highlight`.

``kind="diverging"`` centres the colours on zero (signed values);
``kind="sequential"`` runs from 0 (probabilities, attention weights).

Speed: the colours are mapped here with a NumPy lookup into a 32-bit RGB
image that Qt draws directly. ``pg.ImageItem`` with a lookup table hands Qt
an 8-bit indexed image, which Qt converts on every paint: about ten times
slower to draw (≈1 ms instead of ≈0.1 ms for 64 × 64 cells scaled to
350 × 300 pixels), and a live editor redraws several heatmaps per keystroke.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetrics, QImage, QPen
from PyQt6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from explorer.ui import theme

#: Cells are annotated only up to this many cells, and when wide enough on screen.
MAX_ANNOTATED_CELLS = 400
MIN_CELL_PIXELS_FOR_TEXT = 34


class CellImage(pg.GraphicsObject):
    """A (rows, cols) grid of colours drawn as one RGB32 image covering [0, cols] × [0, rows]."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = np.zeros((1, 1), dtype=np.uint32)
        self._qimage: QImage | None = None
        self._rect = QRectF(0, 0, 1, 1)

    def set_colours(self, argb: np.ndarray) -> None:
        """``argb``: (rows, cols) uint32 as 0xAARRGGBB."""
        self._buffer = np.ascontiguousarray(argb, dtype=np.uint32)  # the QImage reads this memory
        rows, cols = self._buffer.shape
        self._qimage = QImage(self._buffer.data, cols, rows, 4 * cols, QImage.Format.Format_RGB32)
        rect = QRectF(0, 0, cols, rows)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._rect

    def paint(self, painter, *args) -> None:
        if self._qimage is not None:
            painter.drawImage(self._rect, self._qimage)


class Heatmap(QWidget):
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

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title_label = QLabel(title)
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
        self.info_label = QLabel(" ")
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
    ) -> None:
        """Show a 2-D array; labels default to 1-based indices."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2:
            raise ValueError(f"heatmap needs a 2-D array, got shape {values.shape}")
        shape_changed = values.shape != self.values.shape
        self.values = values
        rows, cols = values.shape
        self.row_labels = list(row_labels) if row_labels is not None else [str(i + 1) for i in range(rows)]
        self.col_labels = list(col_labels) if col_labels is not None else [str(j + 1) for j in range(cols)]
        self._levels = levels or self._auto_levels(values)
        self.image.set_colours(self._colours(values))
        if self.colorbar is not None and tuple(self.colorbar.levels()) != tuple(self._levels):
            self.colorbar.setLevels(self._levels)  # redraws the bar and its axis: only on change
        if shape_changed:
            self.plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)
            self.clear_highlight()
        self._set_ticks()  # no-op unless the shape, the labels or the room for them changed
        self._update_texts()
        if self._hover_cell != (-1, -1):
            self._show_info(*self._hover_cell)

    def set_title(self, title: str) -> None:
        self.title_label.setText(title)
        self.title_label.setVisible(bool(title))

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self._apply_cmap()
        self.set_data(self.values, row_labels=self.row_labels, col_labels=self.col_labels)

    def _auto_levels(self, values: np.ndarray) -> tuple[float, float]:
        if self.kind == "diverging":
            return theme.symmetric_levels(values)
        finite = values[np.isfinite(values)]
        high = float(finite.max()) if finite.size else 1.0
        return 0.0, high if high > 1e-12 else 1.0

    def _colours(self, values: np.ndarray) -> np.ndarray:
        """Values → 0xFFRRGGBB through the colour map; NaN shows as the middle colour, ±inf as the ends."""
        low, high = self._levels or (0.0, 1.0)
        span = high - low if high > low else 1.0
        with np.errstate(invalid="ignore", over="ignore"):
            t = (values - low) * ((len(self._lut32) - 1) / span)
        t = np.nan_to_num(t, nan=(len(self._lut32) - 1) / 2, posinf=len(self._lut32) - 1, neginf=0.0)
        index = np.clip(t, 0, len(self._lut32) - 1).astype(np.intp)
        return self._lut32[index]

    def _apply_cmap(self) -> None:
        cmap = theme.diverging_cmap() if self.kind == "diverging" else theme.sequential_cmap()
        self._lut = cmap.getLookupTable(nPts=256)
        rgb = self._lut[:, :3].astype(np.uint32)
        self._lut32 = np.uint32(0xFF000000) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
        if self.colorbar is not None:
            self.colorbar.setColorMap(cmap)

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
            item.setText(self.fmt.format(value) if np.isfinite(value) else "—")
            item.setColor(self._text_colour(value))
            item.setPos(c + 0.5, r + 0.5)
            item.setVisible(True)

    def _text_colour(self, value: float) -> QColor:
        low, high = self._levels or (0.0, 1.0)
        t = 0.5 if high <= low or not np.isfinite(value) else (value - low) / (high - low)
        rgb = self._lut[int(np.clip(t, 0, 1) * (len(self._lut) - 1))][:3]
        luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
        return QColor("#111111") if luminance > 140 else QColor("#ffffff")

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
        if row < 0:
            self.info_label.setText(" ")
            return
        value = self.values[row, col]
        self.info_label.setText(f"{self.row_labels[row]}, {self.col_labels[col]}:  {value:.6g}")

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
