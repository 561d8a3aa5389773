"""The pieces the tabs are made of: the size boxes, the bar chart of one query's weights, the text views,
and the three helpers that bind widgets to a state (:func:`follow`, :func:`show_matrix`, :func:`set_quietly`).

Each is drawn for speed (an edit redraws them all within a frame at 64 × 64):
see the notes in each class.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, QRectF, Qt
from PyQt6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QPainter,
    QPalette,
    QTextDocument,
)
from PyQt6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QFrame,
    QGraphicsItem,
    QSpinBox,
    QWidget,
)

from explorer.ui import theme
from explorer.ui.panels.attention.qkv_state import MAX_SIZE, MIN_SIZE
from explorer.ui.widgets.matrix_editor import MatrixEditor


def show_matrix(editor: MatrixEditor, values: np.ndarray) -> None:
    """Put a state's matrix in its editor, unless the editor shows it already (the edit came from there)."""
    if editor.shape() != values.shape or not np.array_equal(editor.matrix(), values):
        editor.set_matrix(values)


def set_quietly(widget: QWidget, value: Any) -> None:
    """Show ``value`` without the widget reporting it back as the user's change."""
    widget.blockSignals(True)
    if isinstance(widget, QAbstractButton):
        widget.setChecked(bool(value))
    else:
        widget.setValue(value)
    widget.blockSignals(False)


def follow(widget: QObject, signal: Any, slot: Callable) -> None:
    """``signal.connect(slot)`` until ``widget`` is destroyed.

    A state can outlive its widgets (a worker's result that arrives after the panel
    closed); its events must then reach no deleted widget.
    """
    signal.connect(slot)
    widget.destroyed.connect(lambda *_: signal.disconnect(slot, missing_ok=True))


#: Upper colour levels for the weights: steady while scrubbing, and the colour bar rarely redraws.
NICE_LEVELS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def nice_ceiling(value: float) -> float:
    """The smallest of :data:`NICE_LEVELS` at or above ``value`` (weights lie in [0, 1])."""
    for level in NICE_LEVELS:
        if value <= level + 1e-12:
            return level
    return 1.0


def labels(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i + 1}" for i in range(n)]


class SizeSpin(QSpinBox):
    """A size box that accepts any typed number and clamps it to 1…64, saying so (see QKVView)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.setRange(0, 9999)
        self.setKeyboardTracking(False)  # one valueChanged per typed number, not per digit
        self.setToolTip(f"{name}: {MIN_SIZE} … {MAX_SIZE}")


class WeightBars(pg.PlotWidget):
    """The selected query's weights as bars, the hovered key's bar in the highlight colour.

    Two bar items (all bars in one colour, the hovered one on top) instead of a
    brush per bar: per-bar brushes cost ~0.4 ms per update at 64 keys.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(110)
        self.bars = pg.BarGraphItem(x=[1], height=[0], width=0.75, pen=None)
        self.hot_bar = pg.BarGraphItem(x=[1], height=[0], width=0.75, pen=None)
        self.hot_bar.setZValue(1)
        self.hot_bar.hide()
        self.addItem(self.bars)
        self.addItem(self.hot_bar)
        self.setYRange(0, 1, padding=0)
        self._key_count = -1
        self._highlight = -1
        self._heights = np.zeros(1)
        self._title = ""
        self._y_top = 1.0
        self._tick_step = 0
        self._names: list[str] | None = None  # the keys' names (a real head's tokens); None: k1, k2, …
        for side in ("left", "bottom"):
            self.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.apply_theme()

    def set_names(self, names: list[str] | None) -> None:
        """Name the keys on the axis by their tokens ("[CLS]", "(3, 5)") instead of k1, k2, …"""
        if names != self._names:
            self._names = names
            self._tick_step = 0
            if self._key_count > 0:
                self._set_ticks()

    def set_weights(self, weights: np.ndarray, title: str) -> None:
        n = len(weights)
        self._heights = weights
        if n != self._key_count:
            self._key_count = n
            self._tick_step = 0
            self._x = np.arange(1, n + 1)
            self.setXRange(0.4, n + 0.6, padding=0)
            self._set_ticks()
        top = nice_ceiling(float(weights.max()) if n else 1.0)
        if top != self._y_top:  # steady axis while scrubbing: changes only at "nice" steps
            self._y_top = top
            self.setYRange(0, top, padding=0.02)
        if title != self._title:  # a new title re-lays out the plot (~5 ms): only when it changes
            self._title = title
            self.setTitle(title, size="9pt")
        self.bars.setOpts(x=self._x, height=weights)
        self._draw_hot()

    def _set_ticks(self) -> None:
        n = max(self._key_count, 1)
        names = self._names if self._names is not None and len(self._names) == n else None
        room = 32 if names is None else 8 + 7 * max(len(name) for name in names)  # px per "k12" / "(12, 30)" label
        step = max(1, math.ceil(n * room / max(self.width() - 50, 60)))
        if step != self._tick_step:
            self._tick_step = step
            text = (lambda j: names[j]) if names is not None else (lambda j: f"k{j + 1}")
            self.getAxis("bottom").setTicks([[(j + 1, text(j)) for j in range(0, n, step)], []])

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)  # pyqtgraph calls this from its constructor, before ours ran
        if getattr(self, "_key_count", 0) > 0:
            self._set_ticks()

    def set_highlight(self, key: int) -> None:
        if key != self._highlight:
            self._highlight = key
            self._draw_hot()

    def _draw_hot(self) -> None:
        key = self._highlight
        if 0 <= key < len(self._heights):
            self.hot_bar.setOpts(x=[key + 1], height=[self._heights[key]])
            self.hot_bar.show()
        else:
            self.hot_bar.hide()

    def apply_theme(self) -> None:
        c = theme.colors()
        theme.style_plot(self)
        self.bars.setOpts(brush=c.accent)
        self.hot_bar.setOpts(brush=c.highlight)


class TextView(QAbstractScrollArea):
    """Read-only rich text: one QTextDocument laid out to the width and painted directly.

    A QTextBrowser spent ~1–3 ms per new text on its editor machinery (cursor,
    undo stack, scroll bookkeeping); setting the document's HTML and painting it
    costs about a third of that, and the formula changes on every edit.
    """

    def __init__(self, *, note: bool = False) -> None:
        super().__init__()
        self._html = ""
        self._note = note
        self.document = QTextDocument(self)
        self.document.setDocumentMargin(6)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumHeight(60)
        # A scroll bar that came and went with the text length would change the width twice.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.apply_theme()

    def set_html(self, html: str) -> None:
        if html != self._html:
            self._html = html
            self.document.setHtml(html)
            self._relayout()
            self.viewport().update()

    def text(self) -> str:
        """The HTML shown (what tests and exports read)."""
        return self._html

    def plain_text(self) -> str:
        return self.document.toPlainText()

    def _relayout(self) -> None:
        viewport = self.viewport()
        self.document.setTextWidth(max(viewport.width(), 50))
        height = int(self.document.size().height())
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, height - viewport.height()))
        bar.setPageStep(viewport.height())
        bar.setSingleStep(16)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._relayout()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt override
        self.viewport().update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        c = theme.colors()
        painter = QPainter(self.viewport())
        rect = self.viewport().rect()
        painter.fillRect(rect, QColor(c.alt_base if self._note else c.base))
        if self._note:
            painter.fillRect(0, 0, 3, rect.height(), QColor(c.accent))
        offset = self.verticalScrollBar().value()
        painter.translate(4 if self._note else 0, -offset)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, QColor(c.text))
        context.clip = QRectF(0, offset, rect.width(), rect.height())
        self.document.documentLayout().draw(painter, context)
        painter.end()

    def apply_theme(self) -> None:
        self.document.setDefaultFont(self.font())
        self.viewport().update()
