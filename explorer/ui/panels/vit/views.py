"""Views of the ViT panel: the image with its patch grid and overlays, the patch strip, tiles, the source.

Each view is a small pyqtgraph widget that only draws what it is given
(arrays from the engine) and reports clicks as patch indices.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QPen
from PyQt6.QtWidgets import QGraphicsRectItem, QLabel

from explorer.ui import theme
from explorer.ui.qt_images import pil_to_pixmap


def _pen(colour: str, width: float = 1.0, alpha: int = 255) -> QPen:
    c = QColor(colour)
    c.setAlpha(alpha)
    pen = QPen(c)
    pen.setWidthF(width)
    pen.setCosmetic(True)
    return pen


class _Canvas(pg.GraphicsLayoutWidget):
    """A view box with y down and locked aspect, no menus, themed background."""

    def __init__(self, *, pan: bool = False) -> None:
        super().__init__()
        self.setMinimumSize(120, 90)
        self.box = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.box.setMouseEnabled(x=pan, y=False)
        self.box.setDefaultPadding(0.01)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.scene().sigMouseMoved.connect(self._moved)
        self.apply_theme()

    def apply_theme(self) -> None:
        self.setBackground(theme.colors().plot_bg)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if not self.box.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self.box.mapSceneToView(event.scenePos())
        self.on_click(point.x(), point.y())

    def on_click(self, x: float, y: float) -> None:
        """Override: (x, y) in view coordinates."""

    def _moved(self, scene_pos) -> None:
        if self.box.sceneBoundingRect().contains(scene_pos):
            point = self.box.mapSceneToView(scene_pos)
            self.on_hover(point.x(), point.y())
        else:
            self.on_hover(-1.0, -1.0)

    def on_hover(self, x: float, y: float) -> None:
        """Override: (x, y) in view coordinates, (−1, −1) outside."""


class PatchImageView(_Canvas):
    """An RGB image (the model's input) with its patch grid, a selected patch and an optional overlay."""

    patchClicked = pyqtSignal(int)
    patchHovered = pyqtSignal(int)  # −1 when the pointer leaves the grid

    def __init__(self) -> None:
        super().__init__()
        self._hovered = -1
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(5)
        self.grid_item = pg.PlotCurveItem(connect="pairs")
        self.grid_item.setZValue(8)
        self.selection = QGraphicsRectItem()
        self.selection.setZValue(10)
        self.selection.setVisible(False)
        for item in (self.image, self.overlay, self.grid_item, self.selection):
            self.box.addItem(item)
        self.grid = (1, 1)
        self.patch = 1
        self.shape_hw = (1, 1)  # (h, w)
        self.grid_visible = True
        self.marks: list[QGraphicsRectItem] = []

    def set_image(self, rgb: np.ndarray, grid: tuple[int, int], patch: int) -> None:
        """``rgb`` (H, W, 3) uint8; ``grid`` (gh, gw) of ``patch``-pixel cells."""
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        h, w = rgb.shape[:2]
        changed = (h, w) != self.shape_hw
        self.shape_hw, self.grid, self.patch = (h, w), grid, patch
        self.image.setRect(QRectF(0, 0, w, h))
        gh, gw = grid
        xs, ys = [], []
        for c in range(gw + 1):
            xs += [c * patch, c * patch]
            ys += [0, gh * patch]
        for r in range(gh + 1):
            xs += [0, gw * patch]
            ys += [r * patch, r * patch]
        self.grid_item.setData(np.array(xs, float), np.array(ys, float))
        self.grid_item.setPen(_pen("#ffffff", 1.0, 170))
        self.grid_item.setVisible(self.grid_visible)
        if changed:
            self.box.setRange(QRectF(0, 0, w, h), padding=0.01)

    def show_grid(self, visible: bool) -> None:
        self.grid_visible = visible
        self.grid_item.setVisible(visible)

    def set_overlay(self, values: np.ndarray | None, cmap: str = "viridis", opacity: float = 0.6,
                    levels: tuple[float, float] | None = None) -> None:
        """A (H, W) map drawn over the image (None hides it)."""
        if values is None:
            self.overlay.setVisible(False)
            return
        lut = pg.colormap.get(cmap).getLookupTable(nPts=256)
        low, high = levels or (float(np.nanmin(values)), float(np.nanmax(values)))
        self.overlay.setImage(values, levels=(low, high if high > low else low + 1e-9), autoLevels=False, lut=lut)
        self.overlay.setRect(QRectF(0, 0, values.shape[1], values.shape[0]))
        self.overlay.setOpacity(opacity)
        self.overlay.setVisible(True)

    def set_selected(self, index: int | None) -> None:
        if index is None or index < 0:
            self.selection.setVisible(False)
            return
        r, c = divmod(index, self.grid[1])
        self.selection.setRect(QRectF(c * self.patch, r * self.patch, self.patch, self.patch))
        self.selection.setPen(_pen(theme.colors().highlight, 3.0))
        self.selection.setVisible(True)

    def set_marked(self, indices, colour: str | None = None) -> None:
        """Outline these patches (e.g. high-norm tokens), replacing any outlined before."""
        for item in self.marks:
            self.box.removeItem(item)
        self.marks.clear()
        pen = _pen(colour or theme.colors().highlight, 1.5)
        for index in indices:
            r, c = divmod(int(index), self.grid[1])
            item = QGraphicsRectItem(QRectF(c * self.patch, r * self.patch, self.patch, self.patch))
            item.setPen(pen)
            item.setZValue(9)
            self.box.addItem(item)
            self.marks.append(item)

    def _patch_at(self, x: float, y: float) -> int:
        if x < 0 or y < 0:
            return -1
        r, c = int(y // self.patch), int(x // self.patch)
        return r * self.grid[1] + c if r < self.grid[0] and c < self.grid[1] else -1

    def on_click(self, x: float, y: float) -> None:
        index = self._patch_at(x, y)
        if index >= 0:
            self.patchClicked.emit(index)

    def on_hover(self, x: float, y: float) -> None:
        index = self._patch_at(x, y)
        if index != self._hovered:
            self._hovered = index
            self.patchHovered.emit(index)


class PatchStripView(_Canvas):
    """Patches side by side in raster order (the sequence the transformer reads), with indices.

    ``leading`` adds tokens before the patches (the [CLS] tile). Drag to scroll, wheel to zoom.
    """

    patchClicked = pyqtSignal(int)
    GAP = 0.15  # in patch widths

    def __init__(self, *, leading: tuple[str, ...] = (), follow: bool = True) -> None:
        super().__init__(pan=True)
        self.follow = follow  # scroll the selected patch into view
        self.box.setMouseEnabled(x=True, y=False)
        self.leading = leading
        self.items: list[pg.GraphicsObject] = []
        self.selection = QGraphicsRectItem()
        self.selection.setZValue(10)
        self.box.addItem(self.selection)
        self.count = 0
        self.patch = 1

    def set_patches(self, patches: np.ndarray, visible: int = 16, leading: tuple[str, ...] | None = None) -> None:
        """``patches`` (N, P, P, 3) uint8; ``leading``: the tiles before them (e.g. CLS, DIST, R1 …), if they change."""
        if leading is not None:
            self.leading = tuple(leading)
        for item in self.items:
            self.box.removeItem(item)
        self.items.clear()
        n, p = patches.shape[0], patches.shape[1]
        self.count, self.patch = n, p
        step = p * (1 + self.GAP)
        font = QFont()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        fg = theme.colors().plot_fg
        lead = len(self.leading)
        for k, text in enumerate(self.leading):
            rect = QGraphicsRectItem(QRectF(k * step, 0, p, p))
            colour = QColor(theme.colors().muted if text.startswith("R") else theme.colors().accent)
            if text == "DIST":
                colour = colour.darker(140)
            rect.setBrush(colour)
            rect.setPen(_pen(colour.name()))
            rect.setZValue(2)
            label = pg.TextItem(text, color="#ffffff", anchor=(0.5, 0.5))
            label.setZValue(3)
            label.setFont(font)
            label.setPos(k * step + p / 2, p / 2)
            index = pg.TextItem(str(k), color=fg, anchor=(0.5, 0))
            index.setFont(font)
            index.setPos(k * step + p / 2, p * 1.05)
            for item in (rect, label, index):
                self.box.addItem(item)
                self.items.append(item)
        strip = np.zeros((p, int(round((n + lead) * step)) + p, 3), np.uint8)
        bg = QColor(theme.colors().plot_bg)
        strip[:] = (bg.red(), bg.green(), bg.blue())
        for i in range(n):
            left = int(round((i + lead) * step))
            strip[:, left : left + p] = patches[i]
        image = pg.ImageItem(strip, axisOrder="row-major", levels=(0, 255))
        image.setRect(QRectF(0, 0, strip.shape[1], p))
        self.box.addItem(image)
        self.items.append(image)
        every = 1 if n <= 64 else 2 if n <= 256 else 4
        for i in range(0, n, every):
            label = pg.TextItem(str(i + lead if lead else i), color=fg, anchor=(0.5, 0))
            label.setFont(font)
            label.setPos((i + lead) * step + p / 2, p * 1.05)
            self.box.addItem(label)
            self.items.append(label)
        self.visible = min(n + lead, visible)
        self.box.setRange(QRectF(-p * 0.1, -p * 0.1, self.visible * step, p * 1.7), padding=0)

    def set_selected(self, index: int | None) -> None:
        if index is None or index < 0 or index >= self.count:
            self.selection.setVisible(False)
            return
        step = self.patch * (1 + self.GAP)
        left = (index + len(self.leading)) * step
        self.selection.setRect(QRectF(left, 0, self.patch, self.patch))
        self.selection.setPen(_pen(theme.colors().highlight, 3.0))
        self.selection.setVisible(True)
        (x0, x1), _ = self.box.viewRange()
        if self.follow and not (x0 <= left and left + self.patch <= x1):  # scroll the selected patch into view
            width = x1 - x0
            start = max(-self.patch * 0.1, left - width / 2)
            self.box.setXRange(start, start + width, padding=0)

    def on_click(self, x: float, y: float) -> None:
        step = self.patch * (1 + self.GAP)
        index = int(x // step) - len(self.leading)
        if 0 <= index < self.count and 0 <= y <= self.patch:
            self.patchClicked.emit(index)


class TileGridView(_Canvas):
    """Small RGB tiles in a grid with a caption under each (filter principal components)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[pg.GraphicsObject] = []

    def set_tiles(self, tiles: np.ndarray, captions: list[str], columns: int = 7) -> None:
        """``tiles`` (k, P, P, 3) uint8."""
        for item in self.items:
            self.box.removeItem(item)
        self.items.clear()
        k, p = tiles.shape[0], tiles.shape[1]
        rows = (k + columns - 1) // columns
        cell_w, cell_h = p * 1.2, p * 1.55
        canvas = np.zeros((int(rows * cell_h), int(columns * cell_w), 3), np.uint8)
        bg = QColor(theme.colors().plot_bg)
        canvas[:] = (bg.red(), bg.green(), bg.blue())
        font = QFont()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        for i in range(k):
            r, c = divmod(i, columns)
            top, left = int(r * cell_h), int(c * cell_w)
            canvas[top : top + p, left : left + p] = tiles[i]
            label = pg.TextItem(captions[i], color=theme.colors().plot_fg, anchor=(0.5, 0))
            label.setFont(font)
            label.setPos(left + p / 2, top + p * 1.02)
            self.box.addItem(label)
            self.items.append(label)
        image = pg.ImageItem(canvas, axisOrder="row-major", levels=(0, 255))
        image.setRect(QRectF(0, 0, canvas.shape[1], canvas.shape[0]))
        self.box.addItem(image)
        image.setZValue(-1)
        self.items.append(image)
        self.box.setRange(QRectF(0, 0, canvas.shape[1], canvas.shape[0]), padding=0.02)


class GridOfGridsView(_Canvas):
    """Every patch's position-similarity map in its own place; click a tile to select that patch."""

    patchClicked = pyqtSignal(int)

    def __init__(self) -> None:
        super().__init__()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        self.selection = QGraphicsRectItem()
        self.selection.setZValue(10)
        self.box.addItem(self.selection)
        self.grid = (1, 1)

    def set_data(self, tiled: np.ndarray, grid: tuple[int, int]) -> None:
        """``tiled`` from :func:`explorer.engine.vit.analysis.grid_of_grids` (NaN gaps), values in [−1, 1]."""
        self.grid = grid
        lut = theme.diverging_cmap().getLookupTable(nPts=256, alpha=True)
        norm = np.clip((np.nan_to_num(tiled, nan=0.0) + 1) / 2, 0, 1)
        rgba = lut[(norm * 255).astype(np.int32)].astype(np.uint8)  # (H, W, 4)
        rgba[np.isnan(tiled)] = 0
        self.image.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.image.setRect(QRectF(0, 0, tiled.shape[1], tiled.shape[0]))
        self.box.setRange(QRectF(0, 0, tiled.shape[1], tiled.shape[0]), padding=0.01)

    def set_selected(self, index: int | None) -> None:
        if index is None or index < 0:
            self.selection.setVisible(False)
            return
        gh, gw = self.grid
        r, c = divmod(index, gw)
        self.selection.setRect(QRectF(c * (gw + 1), r * (gh + 1), gw, gh))
        self.selection.setPen(_pen(theme.colors().highlight, 2.5))
        self.selection.setVisible(True)

    def on_click(self, x: float, y: float) -> None:
        gh, gw = self.grid
        r, c = int(y // (gh + 1)), int(x // (gw + 1))
        if 0 <= r < gh and 0 <= c < gw:
            self.patchClicked.emit(r * gw + c)


class SourceView(QLabel):
    """The user's image, scaled to fit, with the part the model sees outlined."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self._image: Image.Image | None = None
        self._box = (0.0, 0.0, 1.0, 1.0)

    def set_image(self, image: Image.Image, box: tuple[float, float, float, float]) -> None:
        self._image, self._box = image, box
        self._redraw()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._redraw()

    def _redraw(self) -> None:
        if self._image is None:
            return
        preview = self._image.copy()
        preview.thumbnail((max(self.width(), 50), max(self.height(), 50)))
        pixmap = pil_to_pixmap(preview)
        scale = pixmap.width() / self._image.width
        painter = QPainter(pixmap)
        pen = QPen(QColor(theme.colors().highlight))
        pen.setWidth(3)
        painter.setPen(pen)
        left, top, right, bottom = (v * scale for v in self._box)
        painter.drawRect(int(left), int(top), max(1, int(right - left) - 1), max(1, int(bottom - top) - 1))
        painter.end()
        self.setPixmap(pixmap)
