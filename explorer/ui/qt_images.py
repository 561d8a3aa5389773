"""Conversions between PIL / NumPy images and Qt images (the one place for them)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PyQt6.QtGui import QImage, QPixmap

from explorer.engine.infra.images import to_rgb


def qimage_to_pil(qimage: QImage) -> Image.Image:
    """A Qt image (clipboard, drop) as an RGB PIL image, transparency over white."""
    if qimage.isNull():
        raise ValueError("the clipboard or drop held an empty image")
    rgba = qimage.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = rgba.width(), rgba.height()
    stride = rgba.bytesPerLine()
    buffer = np.frombuffer(rgba.constBits().asstring(stride * height), dtype=np.uint8)
    array = buffer.reshape(height, stride)[:, : width * 4].reshape(height, width, 4)  # (H, W, 4)
    return to_rgb(Image.fromarray(array.copy(), mode="RGBA"))


def array_to_qimage(array: np.ndarray) -> QImage:
    """(H, W, 3) or (H, W) uint8 array → QImage (copied, safe to keep)."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {array.dtype}")
    height, width = array.shape[:2]
    if array.ndim == 2:
        return QImage(array.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    channels = array.shape[2]
    fmt = {3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}[channels]
    return QImage(array.data, width, height, width * channels, fmt).copy()


def pil_to_qimage(image: Image.Image) -> QImage:
    return array_to_qimage(np.asarray(image.convert("RGB")))


def pil_to_pixmap(image: Image.Image) -> QPixmap:
    return QPixmap.fromImage(pil_to_qimage(image))
