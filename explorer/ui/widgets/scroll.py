"""A vertical scroll area whose page is never squeezed below the height its wrapped text needs.

``QScrollArea.setWidgetResizable(True)`` fits the page to the viewport and lets it shrink to its
minimum size, which ignores height-for-width: wrapped labels (a task's description, a caption)
were cut to one line when the window was short or zoomed. This one asks the page's layout how
high it must be at the viewport's width and keeps it at least that high, so it scrolls instead.
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, Qt, QTimer
from PyQt6.QtWidgets import QFrame, QScrollArea, QWidget


class ColumnScroll(QScrollArea):
    """A column of controls that scrolls up and down (never sideways) when it does not fit."""

    def __init__(self, page: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidget(page)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page.installEventFilter(self)
        self.viewport().installEventFilter(self)

    def _fit(self) -> None:
        page, layout = self.widget(), self.widget().layout()
        width = self.viewport().width()
        if layout is not None and layout.hasHeightForWidth():
            page.setMinimumHeight(layout.totalHeightForWidth(width))
        elif layout is None and page.hasHeightForWidth():  # a wrapped label as the page itself
            page.setMinimumHeight(page.heightForWidth(width))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._fit()
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override: a zoom re-wraps the text
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            QTimer.singleShot(0, self._fit)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override: the page's text or font changed
        if watched in (self.widget(), self.viewport()) and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self._fit)  # once the layout has taken the change in
        return super().eventFilter(watched, event)
