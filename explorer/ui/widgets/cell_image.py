"""A grid of coloured cells drawn as one image, and the colour mapping that fills it.

Split from :mod:`explorer.ui.widgets.heatmap` because both are about speed: a
real attention head has 1,370 × 1,370 cells (1.9 million) and an edit must
redraw within a frame.

* :func:`colour_indices` maps values to colour-table indices in one float32
  buffer (subtract, scale, clip, cast): about 3 ms for 1.9 million cells,
  against ~15 ms for the float64 ``nan_to_num``/``clip``/``astype(intp)`` chain.
* :class:`CellImage` keeps its pixels in a NumPy buffer that the ``QImage``
  reads directly, so changing a few rows or columns rewrites only those
  pixels and repaints only their rectangle.
* A map with more cells than screen pixels (1,370 columns in 330 pixels) is
  coloured only at the cells a nearest-neighbour scaling shows
  (:func:`sample_index`): the same picture Qt would draw from the full image,
  for a twentieth of the work.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QColor, QImage

from explorer.ui import theme

#: The colour of a blocked (masked) cell, whatever the map: a neutral grey.
MASKED_ARGB = np.uint32(0xFF9E9E9E)


def colour_indices(values: np.ndarray, low: float, high: float, size: int) -> np.ndarray:
    """``values`` → indices 0…size−1 into a colour table spanning [low, high] (uint8, size ≤ 256).

    NaN maps to the middle colour, ±inf and anything beyond the levels to the ends.
    Levels that are not finite or not increasing give every cell the middle colour.
    """
    values = np.asarray(values, dtype=np.float64)
    top = size - 1
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        return np.full(values.shape, top // 2, dtype=np.uint8)
    scaled = np.empty(values.shape, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        np.subtract(values, low, out=scaled, casting="unsafe")  # computed in float64, stored as float32
        np.multiply(scaled, np.float32(top / (high - low)), out=scaled)
        np.clip(scaled, 0, top, out=scaled)  # ±inf → the ends; NaN stays NaN
    if scaled.size and not np.isfinite(scaled.sum(dtype=np.float64)):  # after the clip only NaN can remain
        np.nan_to_num(scaled, copy=False, nan=top / 2)
    return scaled.astype(np.uint8)


def grown_levels(
    kind: str, levels: tuple[float, float], values: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[float, float]:
    """``levels``, widened if a cell of the changed ``rows`` or ``cols`` lies outside them.

    ``kind`` "diverging" keeps them symmetric about zero; otherwise they run from 0.
    Looking at the changed cells only keeps an edit's cost proportional to what it changed.
    """
    low, high = levels
    parts = [values[rows].ravel(), values[:, cols].ravel()]
    changed = np.concatenate(parts)
    changed = changed[np.isfinite(changed)]
    if changed.size == 0:
        return low, high
    if kind == "diverging":
        bound = float(np.abs(changed).max())
        return (low, high) if bound <= high else (-bound, bound)
    top = float(changed.max())
    return (low, high) if top <= high else (0.0, top)


def sample_index(count: int, pixels: int) -> np.ndarray | None:
    """The cells (of ``count``) that nearest-neighbour scaling shows on ``pixels`` pixels; None: every cell fits."""
    if count <= max(pixels, 1):
        return None
    return np.minimum(((np.arange(pixels) + 0.5) * (count / pixels)).astype(np.intp), count - 1)


def shown_positions(index: np.ndarray | None, changed: np.ndarray) -> np.ndarray:
    """Where on the image the ``changed`` cells are shown (several image lines may show one cell, or none)."""
    return changed if index is None else np.flatnonzero(np.isin(index, changed))


def take(values: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None) -> np.ndarray:
    """``values`` at the shown rows and columns (None: all of them)."""
    if rows is not None:
        values = values[rows]
    return values if cols is None else values[:, cols]


class CellImage(pg.GraphicsObject):
    """A (rows, cols) grid of colours drawn as one RGB32 image covering [0, cols] × [0, rows]."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = np.zeros((1, 1), dtype=np.uint32)
        self._qimage: QImage | None = None
        self._rect = QRectF(0, 0, 1, 1)

    @property
    def pixels(self) -> tuple[int, int]:
        """(rows, cols) of the image's own pixels (fewer than the cells when a large map is sampled).

        Not ``shape``: that name is QGraphicsItem's hit-test method, which pyqtgraph calls.
        """
        return self._buffer.shape  # type: ignore[return-value]

    def set_colours(self, argb: np.ndarray, cells: tuple[int, int] | None = None) -> None:
        """``argb``: (rows, cols) uint32 as 0xAARRGGBB, drawn over ``cells`` (rows, cols; default its own shape)."""
        self._buffer = np.ascontiguousarray(argb, dtype=np.uint32)  # the QImage reads this memory
        rows, cols = self._buffer.shape
        self._qimage = QImage(self._buffer.data, cols, rows, 4 * cols, QImage.Format.Format_RGB32)
        rows, cols = cells or (rows, cols)
        rect = QRectF(0, 0, cols, rows)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def set_rows(self, rows: np.ndarray, argb: np.ndarray) -> None:
        """New colours for these rows (``argb``: (len(rows), cols)); repaints only them."""
        self._buffer[rows] = argb
        self._update_span(rows, vertical=False)

    def set_cols(self, cols: np.ndarray, argb: np.ndarray) -> None:
        """New colours for these columns (``argb``: (rows, len(cols))); repaints only them."""
        self._buffer[:, cols] = argb
        self._update_span(cols, vertical=True)

    def _update_span(self, indices: np.ndarray, *, vertical: bool) -> None:
        if len(indices) == 0:
            return
        first, last = int(np.min(indices)), int(np.max(indices)) + 1
        rows, cols = self._buffer.shape
        sx, sy = self._rect.width() / cols, self._rect.height() / rows  # image pixels → cells
        if vertical:
            self.update(QRectF(first * sx, 0, (last - first) * sx, self._rect.height()))
        else:
            self.update(QRectF(0, first * sy, self._rect.width(), (last - first) * sy))

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return self._rect

    def paint(self, painter, *args) -> None:
        if self._qimage is not None:
            painter.drawImage(self._rect, self._qimage)


class CellColours:
    """How a :class:`~explorer.ui.widgets.heatmap.Heatmap` colours its cells: levels, colour map, mask, sampling.

    A mixin over the heatmap's ``values``, ``kind``, ``_levels``, ``_masked``, ``_shown``,
    ``image``, ``plot`` and ``colorbar``, kept apart from the widget's labels and mouse.
    """

    def _auto_levels(self, values: np.ndarray) -> tuple[float, float]:
        if self.kind == "diverging":
            return theme.symmetric_levels(values)
        finite = values[np.isfinite(values)]
        high = float(finite.max()) if finite.size else 1.0
        return 0.0, high if high > 1e-12 else 1.0

    def _colours(self, values: np.ndarray, masked: np.ndarray | None = None) -> np.ndarray:
        """Values → 0xFFRRGGBB through the colour map; NaN shows as the middle colour, ±inf as the ends."""
        low, high = self._levels or (0.0, 1.0)
        colours = self._lut32[colour_indices(values, low, high, len(self._lut32))]
        if masked is not None:
            colours[masked] = MASKED_ARGB
        return colours

    def _apply_cmap(self) -> None:
        cmap = theme.diverging_cmap() if self.kind == "diverging" else theme.sequential_cmap()
        self._lut = cmap.getLookupTable(nPts=256)
        rgb = self._lut[:, :3].astype(np.uint32)
        self._lut32 = np.uint32(0xFF000000) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
        if self.colorbar is not None:
            self.colorbar.setColorMap(cmap)

    def _sampling(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The rows and columns the screen can show (None: all): a 1,370-wide map in 330 pixels shows 330."""
        rect, ratio = self.plot.getViewBox().sceneBoundingRect(), self.devicePixelRatioF()
        rows, cols = self.values.shape
        return sample_index(rows, int(rect.height() * ratio)), sample_index(cols, int(rect.width() * ratio))

    def _resample(self, *_args) -> None:
        shown = self._sampling()
        if any((a is None) != (b is None) or (a is not None and not np.array_equal(a, b)) for a, b in zip(shown, self._shown)):
            self._shown = shown
            self._recolour()

    def _recolour(self, rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> None:
        """Colour every shown cell (no arguments), or the shown cells of these rows and columns."""
        values, masked, (shown_rows, shown_cols) = self.values, self._masked, self._shown
        part = lambda a, r, c: None if a is None else take(a, r, c)
        if rows is None and cols is None:
            colours = self._colours(take(values, shown_rows, shown_cols), part(masked, shown_rows, shown_cols))
            self.image.set_colours(colours, values.shape)
            return
        if rows is not None and len(rows):
            at = shown_positions(shown_rows, rows)
            source = at if shown_rows is None else shown_rows[at]
            if len(at):
                self.image.set_rows(at, self._colours(take(values, source, shown_cols), part(masked, source, shown_cols)))
        if cols is not None and len(cols):
            at = shown_positions(shown_cols, cols)
            source = at if shown_cols is None else shown_cols[at]
            if len(at):
                self.image.set_cols(at, self._colours(take(values, shown_rows, source), part(masked, shown_rows, source)))

    def _sync_colorbar(self) -> None:
        if self.colorbar is not None and tuple(self.colorbar.levels()) != tuple(self._levels):
            self.colorbar.setLevels(self._levels)  # redraws the bar and its axis: only on change

    def _text_colour(self, value: float) -> QColor:
        """Dark text on light cells, light on dark: the cell's colour by the same mapping as the image."""
        low, high = self._levels or (0.0, 1.0)
        index = int(colour_indices(np.array([value]), low, high, len(self._lut))[0])  # never NaN, whatever the levels
        rgb = self._lut[index][:3]
        luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
        return QColor("#111111") if luminance > 140 else QColor("#ffffff")

