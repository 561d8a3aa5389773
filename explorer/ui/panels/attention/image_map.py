"""The selected query's weights as a map over the model's input: the image's patches, or a clip's frames.

A real head's tokens sit somewhere: a ViT's patches on a grid over the image, a
video transformer's frames along a strip. This view lays one row of weights
over that picture (one translucent cell per token, on the weights' sequential
colour map), outlines the query's cell and the clicked key's, and names the
tokens that are not on the picture ([CLS], registers, dist) with their weights
underneath. Clicking a cell reports its token, which the panel makes the query.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPen
from PyQt6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import theme
from explorer.ui.panels.attention.text import num
from explorer.ui.widgets.cell_image import colour_indices
from explorer.ui.widgets.eliding import ElidingLabel


def _outline(colour: str, width: float) -> QGraphicsRectItem:
    item = QGraphicsRectItem()
    pen = QPen(QColor(colour))
    pen.setWidthF(width)
    pen.setCosmetic(True)
    item.setPen(pen)
    item.setZValue(10)
    item.hide()
    return item


class TokenImageMap(QWidget):
    """A picture with a grid of tokens on it, coloured by one query's weights."""

    tokenClicked = pyqtSignal(int)  # the token under a click (an index into the head's rows)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        top = QHBoxLayout()
        self.title = ElidingLabel("")
        self.title.setStyleSheet("font-weight: 600;")
        top.addWidget(self.title, 1)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(65)
        self.opacity.setMaximumWidth(70)
        self.opacity.setToolTip("Opacity of the weights over the picture")
        top.addWidget(self.opacity)
        layout.addLayout(top)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setMinimumSize(120, 100)
        self.box = self.canvas.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.box.setMouseEnabled(x=False, y=False)
        self.box.setDefaultPadding(0.01)
        self.picture = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(5)
        self.query_box = _outline("#ffffff", 2.5)
        self.key_box = _outline(theme.colors().highlight, 2.5)
        for item in (self.picture, self.overlay, self.query_box, self.key_box):
            self.box.addItem(item)
        layout.addWidget(self.canvas, 1)
        self.opacity.valueChanged.connect(self._draw)
        self.caption = QLabel(" ")
        self.caption.setProperty("role", "muted")
        self.caption.setWordWrap(True)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.caption)
        self.canvas.scene().sigMouseClicked.connect(self._clicked)
        self._grid: tuple[int, int] = (1, 1)
        self._first = 0
        self._size = (1.0, 1.0)  # picture (width, height) in pixels
        self._labels: tuple[str, ...] = ()
        self._weights = np.zeros(1)
        self._query = self._key = -1
        self._lut = theme.sequential_cmap().getLookupTable(nPts=256)
        self.apply_theme()

    # -- what is shown -------------------------------------------------------------------------
    def set_picture(self, picture: np.ndarray, grid: tuple[int, int], first: int, labels: tuple[str, ...]) -> None:
        """``picture`` (H, W, 3) uint8, cut into ``grid`` (rows, cols) cells = tokens ``first`` … onward."""
        picture = np.ascontiguousarray(picture, dtype=np.uint8)
        self.picture.setImage(picture, levels=(0, 255))
        self._grid, self._first, self._labels = (int(grid[0]), int(grid[1])), int(first), tuple(labels)
        self._size = (float(picture.shape[1]), float(picture.shape[0]))
        self.picture.setRect(QRectF(0, 0, *self._size))
        self.box.setRange(QRectF(0, 0, *self._size), padding=0.01)

    def set_weights(self, weights: np.ndarray, query: int, key: int, title: str) -> None:
        """One query's weights over every token; ``query`` and ``key`` are outlined (−1: none)."""
        self._weights, self._query, self._key = np.asarray(weights, dtype=np.float64), query, key
        if self.title.text() != title:
            self.title.setText(title)
        self._draw()

    def cell_of(self, token: int) -> QRectF | None:
        """Where ``token`` sits on the picture (None for [CLS], registers, …)."""
        gh, gw = self._grid
        cell = token - self._first
        if not 0 <= cell < gh * gw:
            return None
        r, c = divmod(cell, gw)
        w, h = self._size[0] / gw, self._size[1] / gh
        return QRectF(c * w, r * h, w, h)

    def token_at(self, x: float, y: float) -> int:
        gh, gw = self._grid
        if not (0 <= x < self._size[0] and 0 <= y < self._size[1]):
            return -1
        r, c = int(y / self._size[1] * gh), int(x / self._size[0] * gw)
        return self._first + r * gw + c

    def _draw(self) -> None:
        gh, gw = self._grid
        cells = self._weights[self._first : self._first + gh * gw]
        if cells.size != gh * gw:
            return
        top = float(cells.max()) if cells.size else 1.0
        index = colour_indices(cells.reshape(gh, gw), 0.0, top if top > 0 else 1.0, len(self._lut))
        rgba = np.empty((gh, gw, 4), dtype=np.uint8)
        rgba[..., :3] = self._lut[index][..., :3]
        rgba[..., 3] = int(255 * self.opacity.value() / 100)
        self.overlay.setImage(rgba, levels=(0, 255))
        self.overlay.setRect(QRectF(0, 0, *self._size))  # after the image: its size sets the scale
        for box, token in ((self.query_box, self._query), (self.key_box, self._key)):
            rect = self.cell_of(token)
            box.setVisible(rect is not None)
            if rect is not None:
                box.setRect(rect)
        self.caption.setText(self._caption(cells, top))

    def _caption(self, cells: np.ndarray, top: float) -> str:
        parts = []
        if cells.size:
            best = int(np.argmax(cells)) + self._first
            parts.append(f"largest on the picture: {self._name(best)} {num(top)} (colours 0 … {num(top)})")
        off = [f"{self._labels[i]} {num(float(self._weights[i]))}" for i in range(min(self._first, len(self._weights)))]
        if off:
            parts.append("not on the picture: " + ", ".join(off))
        return " · ".join(parts) or " "

    def _name(self, token: int) -> str:
        return self._labels[token] if 0 <= token < len(self._labels) else str(token)

    # -- input ---------------------------------------------------------------------------------
    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self.box.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self.box.mapSceneToView(event.scenePos())
        token = self.token_at(point.x(), point.y())
        if token >= 0:
            self.tokenClicked.emit(token)

    def apply_theme(self) -> None:
        self.canvas.setBackground(theme.colors().plot_bg)
        pen = self.key_box.pen()
        pen.setColor(QColor(theme.colors().highlight))
        self.key_box.setPen(pen)
