"""The Training panel's strip of snapshots: what the model has learned, step by step."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget

from explorer.ui import theme
from explorer.ui.panels.training.reports import Snapshot
from explorer.ui.qt_images import array_to_qimage

THUMBNAIL = 120


class SnapshotStrip(QWidget):
    """Small pictures of what the model learned, at snapshot steps, left to right."""

    def __init__(self) -> None:
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.count = 0

    def show_snapshots(self, snapshots: tuple[Snapshot, ...]) -> None:
        """Show ``snapshots``: the strip only grows during a run, and a new run starts it empty."""
        if len(snapshots) < self.count:
            self.clear()
        for snapshot in snapshots[self.count:]:
            self.add(snapshot)

    def clear(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.count = 0

    def add(self, snapshot: Snapshot) -> None:
        text = snapshot.caption
        image = QLabel()
        image.setPixmap(_to_pixmap(snapshot.array, THUMBNAIL, snapshot.kind))
        image.setToolTip(f"step {snapshot.step}" + (f": {text}" if text else ""))
        caption = QLabel(f"step {snapshot.step}" + (f"\n{text}" if text else ""))
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption.setProperty("role", "muted")
        self.grid.addWidget(image, 0, self.count)
        self.grid.addWidget(caption, 1, self.count)
        self.count += 1


def _to_pixmap(array: np.ndarray, size: int, kind: str = "diverging") -> QPixmap:
    """A thumbnail: (H, W, 3) uint8 as it is; 2-D values on the map DESIGN.md gives their kind."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = colour_2d(array, kind)
    pixmap = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(array.astype(np.uint8))))
    return pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)


def colour_2d(values: np.ndarray, kind: str) -> np.ndarray:
    """(H, W) values → (H, W, 3) uint8: signed values on the diverging map centred on zero,
    probabilities on the sequential map from 0 to 1 (fixed, so snapshots compare step to step)."""
    if kind == "sequential":
        low, high = 0.0, 1.0
        cmap = theme.sequential_cmap()
    else:
        low, high = theme.symmetric_levels(values)
        cmap = theme.diverging_cmap()
    lut = cmap.getLookupTable(nPts=256)[:, :3]  # (256, 3)
    index = np.clip((values - low) / (high - low) * 255, 0, 255).astype(np.uint8)
    return lut[index]
