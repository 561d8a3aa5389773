"""A one-line label that never sets its width and says when it is cut: "…" and the full text as tooltip.

Titles over maps and read-outs under them sit in columns whose widths must
not move when the text changes (a longer title would otherwise push the
columns apart). A plain ``QLabel`` with an ignored width policy keeps the
columns still but clips its text silently — a title lost its closing ")". This
label draws its text whole when it fits and otherwise ends it with "…", keeping
the full text in the tooltip. Rich text (``d<sub>k</sub>``) is kept when it
fits; cut, it is shown as plain text, since a cut cannot fall inside a tag.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QTextDocument
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidingLabel(QLabel):
    """One line of text or simple rich text, cut with "…" to the width it is given."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(0)
        self._full = ""
        self._tooltip = ""
        self.setText(text)

    def full_text(self) -> str:
        """The text as set, before any cut."""
        return self._full

    def is_elided(self) -> bool:
        return super().text() != self._full

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        self._full = text or ""
        self._refit()

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt override
        self._tooltip = text
        super().setToolTip(text)

    def text(self) -> str:
        return self._full

    def _plain(self) -> str:
        if not Qt.mightBeRichText(self._full):
            return self._full
        document = QTextDocument()
        document.setHtml(self._full)
        return document.toPlainText()

    def _refit(self) -> None:
        width = self.contentsRect().width()
        plain = self._plain()
        metrics = self.fontMetrics()
        if width <= 0 or metrics.horizontalAdvance(plain) <= width:
            shown = self._full
        else:
            shown = metrics.elidedText(" ".join(plain.split()), Qt.TextElideMode.ElideRight, width)
        if shown != super().text():
            super().setText(shown)
        cut = shown != self._full
        super().setToolTip(self._tooltip or (plain if cut else ""))

    def sizeHint(self):  # noqa: N802 - Qt override: the height of one line, no width wish
        hint = super().sizeHint()
        hint.setWidth(0)
        return hint

    def minimumSizeHint(self):  # noqa: N802 - Qt override
        hint = super().minimumSizeHint()
        hint.setWidth(0)
        return hint

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._refit()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override: a zoom changes the font
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._refit()
