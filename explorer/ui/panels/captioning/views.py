"""Pictures of a caption trace: the attention overlay, the picture view, the word chips, the word-by-word figure.

The overlay is drawn in NumPy (image + smoothly upsampled map through the
sequential colour map, blended with an opacity), so the same function feeds
the big view, the figure tiles and the exported PNG.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from explorer.engine.captioning.captioner import CaptionTrace
from explorer.ui import theme
from explorer.ui.qt_images import array_to_qimage


def upsample(alpha: np.ndarray, width: int, height: int) -> np.ndarray:
    """A (g, g) map smoothly (bilinear) resized to (height, width), float32, ≥ 0."""
    image = Image.fromarray(np.asarray(alpha, dtype=np.float32), mode="F")
    return np.clip(np.asarray(image.resize((width, height), Image.Resampling.BILINEAR)), 0, None)


def overlay(image: np.ndarray, alpha: np.ndarray | None, *, opacity: float = 0.6, cmap: str = "viridis") -> np.ndarray:
    """(H, W, 3) uint8 image with the map ``alpha`` (g, g) laid over it, scaled to its own peak.

    Where the map is near zero the picture shows through; ``opacity`` is the
    blend at the peak. No map (a decoder without attention): the image as is.
    """
    if alpha is None or alpha.size == 0:
        return image
    h, w = image.shape[:2]
    values = upsample(alpha, w, h)
    peak = float(values.max())
    scaled = values / peak if peak > 0 else values  # (H, W) in [0, 1]
    colours = theme.sequential_cmap(cmap).map(scaled.ravel(), mode="byte")[:, :3].reshape(h, w, 3)
    weight = (opacity * (0.15 + 0.85 * scaled))[..., None]  # a light tint everywhere: 0 is a value too
    return (image * (1 - weight) + colours * weight).round().clip(0, 255).astype(np.uint8)


def image_array(image: Image.Image, longest: int) -> np.ndarray:
    """The picture resized so its longer side is ``longest`` px, as (H, W, 3) uint8."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    scale = longest / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR))


def render_figure(image: Image.Image, trace: CaptionTrace, *, opacity: float = 0.6, cmap: str = "viridis",
                  tile: int = 150, columns: int = 6, dark: bool = False, note: str = "") -> QImage:
    """The paper's figure: the image, then one small image per word with its map, β and probability."""
    base = image_array(image, tile)
    h, w = base.shape[:2]
    n = len(trace.words) + 1
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    pad, label = 10, 40
    footer = 40 if note else 0
    width = columns * (w + pad) + pad
    out = QImage(width, rows * (h + label + pad) + pad + footer, QImage.Format.Format_RGB32)
    c = theme.colors("dark" if dark else "light")
    out.fill(QColor(c.base))
    painter = QPainter(out)
    font = QFont(painter.font())
    font.setPointSizeF(10)
    painter.setFont(font)
    painter.setPen(QPen(QColor(c.text)))
    for index in range(n):
        row, col = divmod(index, columns)
        x, y = pad + col * (w + pad), pad + row * (h + label + pad)
        if index == 0:
            tile_image, text, sub = base, "image", trace.model
        else:
            t = index - 1
            alpha = None if trace.alphas is None else trace.alphas[t]
            tile_image = overlay(base, alpha, opacity=opacity, cmap=cmap)
            text = trace.words[t]
            sub = f"p {trace.probs[t]:.2f}" + (f" · β {trace.betas[t]:.2f}" if trace.betas is not None else "")
        painter.drawImage(x, y, array_to_qimage(np.ascontiguousarray(tile_image)))
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(QRectF(x, y + h + 2, w, 18), Qt.AlignmentFlag.AlignHCenter, text)
        painter.setFont(font)
        painter.drawText(QRectF(x, y + h + 19, w, 18), Qt.AlignmentFlag.AlignHCenter, sub)
    if note:
        painter.drawText(QRectF(pad, out.height() - footer, width - 2 * pad, footer),
                         Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap, note)
    painter.end()
    return out


class ImageView(QLabel):
    """The picture with an overlay, scaled to fit while keeping its aspect ratio."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(260, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.array: np.ndarray | None = None
        self.box: tuple[float, float, float, float] | None = None  # in [0, 1] units

    def set_array(self, array: np.ndarray | None, box=None) -> None:
        self.array, self.box = array, box
        self._redraw()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._redraw()

    def _redraw(self) -> None:
        if self.array is None:
            self.clear()
            return
        pixmap = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(self.array)))
        pixmap = pixmap.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        if self.box is not None:
            painter = QPainter(pixmap)
            pen = QPen(QColor(theme.colors().highlight))
            pen.setWidth(2)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            x0, y0, x1, y1 = self.box
            painter.drawRect(int(x0 * pixmap.width()), int(y0 * pixmap.height()),
                             int((x1 - x0) * pixmap.width()), int((y1 - y0) * pixmap.height()))
            painter.end()
        self.setPixmap(pixmap)


class WordChips(QWidget):
    """The caption as a row of buttons, one per word; hover or click a word to see its map."""

    hovered = pyqtSignal(int)  # word index, -1 when the pointer leaves
    clicked = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.buttons: list[QPushButton] = []
        self.placeholder = QLabel("—")
        self._layout.addWidget(self.placeholder)
        self._layout.addStretch(1)
        self.selected = -1
        self.shown = 0

    def set_words(self, words: list[str], tooltips: list[str]) -> None:
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        self.placeholder.setVisible(not words)
        for index, (word, tip) in enumerate(zip(words, tooltips)):
            button = QPushButton(word)
            button.setCheckable(True)
            button.setToolTip(tip)
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            button.setObjectName("wordChip")
            button.clicked.connect(lambda _=False, i=index: self._clicked(i))
            button.installEventFilter(self)
            self._layout.insertWidget(self._layout.count() - 1, button)
            self.buttons.append(button)
        self.shown = len(words)
        self.apply_style()

    def set_state(self, selected: int, shown: int) -> None:
        """Mark word ``selected`` and dim the words after ``shown`` (stepping through generation)."""
        self.selected, self.shown = selected, shown
        for index, button in enumerate(self.buttons):
            button.setChecked(index == selected)
            button.setEnabled(index < shown)
        self.apply_style()

    def _clicked(self, index: int) -> None:
        # A click toggles a checkable button by itself; which word is checked is the panel's to say
        # (clicking the selected word again changes nothing, so nothing would check it back).
        for i, button in enumerate(self.buttons):
            button.setChecked(i == self.selected)
        self.clicked.emit(index)

    def apply_style(self) -> None:
        c = theme.colors()
        self.setStyleSheet(
            f"""
            QPushButton#wordChip {{ border: 1px solid {c.grid}; border-radius: 11px; padding: 3px 10px;
                                    background: {c.base}; font-size: {theme.point_size(3):.1f}pt; }}
            QPushButton#wordChip:hover {{ border-color: {c.highlight}; }}
            QPushButton#wordChip:checked {{ background: {c.accent}; color: #ffffff; border-color: {c.accent}; }}
            QPushButton#wordChip:disabled {{ color: {c.grid}; border-style: dashed; }}
            """
        )

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        from PyQt6.QtCore import QEvent

        if obj in self.buttons:
            if event.type() == QEvent.Type.Enter:
                self.hovered.emit(self.buttons.index(obj))
            elif event.type() == QEvent.Type.Leave:
                self.hovered.emit(-1)
        return super().eventFilter(obj, event)
