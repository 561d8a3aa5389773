"""A row of controls that wraps onto a second line where the panel is narrow (a large zoom).

A plain ``QHBoxLayout`` of controls asks for its whole width: zoomed to 150 %, a
panel's row grew past 1280 px and widened the window. superqt's ``QFlowLayout``
wraps instead, but places every item at its own height, so a label sat above
the middle of the combo box beside it, and it takes no spacing from a parent
layout. This row spaces its items and gives its labels a control's height,
centred, at any zoom.
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtWidgets import QLabel, QWidget
from superqt import QFlowLayout

#: A combo box or spin box is about this much taller than a line of its font (frame and padding).
CONTROL_PADDING = 10


class ControlRow(QFlowLayout):
    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self.setHorizontalSpacing(spacing)
        self.setVerticalSpacing(4)

    def addWidget(self, widget: QWidget) -> None:  # noqa: N802 - Qt override
        if isinstance(widget, QLabel):
            widget.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            widget.installEventFilter(self)
            self._fit(widget)
        super().addWidget(widget)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.FontChange and isinstance(watched, QLabel):
            self._fit(watched)
        return False

    @staticmethod
    def _fit(label: QLabel) -> None:
        label.setMinimumHeight(label.fontMetrics().height() + CONTROL_PADDING)
