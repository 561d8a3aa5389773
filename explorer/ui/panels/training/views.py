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
        image.setPixmap(_to_pixmap(snapshot.array, THUMBNAIL))
        image.setToolTip(f"step {snapshot.step}" + (f": {text}" if text else ""))
        caption = QLabel(f"step {snapshot.step}" + (f"\n{text}" if text else ""))
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption.setProperty("role", "muted")
        self.grid.addWidget(image, 0, self.count)
        self.grid.addWidget(caption, 1, self.count)
        self.count += 1


def _to_pixmap(array: np.ndarray, size: int) -> QPixmap:
    array = np.asarray(array)
    if array.ndim == 2:  # signed values → diverging map
        low, high = theme.symmetric_levels(array)
        lut = theme.diverging_cmap().getLookupTable(nPts=256)[:, :3]
        index = np.clip((array - low) / (high - low) * 255, 0, 255).astype(np.uint8)
        array = lut[index]
    pixmap = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(array.astype(np.uint8))))
    return pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
