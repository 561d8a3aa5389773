"""An editable matrix of numbers: type a value, drag on a cell or turn the wheel to scrub it.

Used for Q, K, V, the mask (attention panel) and W, U, b (RNN panel). One
``QTableView`` over a small model holding a float64 array, so a matrix is one
widget, not one per cell: redrawing after an edit touches only the visible
cells. That is what lets the attention panel show a real head's 1,370 × 64
Q, K and V: an editor takes up to ``max_size`` rows and columns (64 unless
its owner asks for more).

Every accepted change (typed, scrubbed, wheeled, or ``set_matrix(...,
emit=True)``) emits ``edited(matrix)`` with a copy of the whole array. Text
that is not a finite number ("abc", "nan", "inf") is refused: the old value
stays, ``rejected(message)`` is emitted and the message is shown under the
table until the next accepted change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PyQt6.QtCore import QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QWheelEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import theme
from explorer.ui.widgets.matrix_model import (
    MatrixModel,
    format_value,
    parse_number,
    scrub_step,
)

__all__ = ["MatrixEditor", "MatrixModel", "format_value", "parse_number", "scrub_step"]

MIN_SIZE = 1
MAX_SIZE = 64  # the default largest rows / columns of an editor
LARGEST = 8192  # the most any editor takes (a real model's d_model × d_model projection)
#: Pixels the pointer must travel sideways before a press becomes a scrub.
DRAG_THRESHOLD = 4


class _Delegate(QStyledItemDelegate):
    """A line edit whose text is checked before it reaches the model."""

    def __init__(self, editor: MatrixEditor) -> None:
        super().__init__(editor)
        self._owner = editor

    def createEditor(self, parent, option, index):  # noqa: N802 - Qt override
        line = QLineEdit(parent)
        line.setFrame(False)
        line.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return line

    def setEditorData(self, editor, index):  # noqa: N802 - Qt override
        editor.setText(format_value(float(self._owner.model.values[index.row(), index.column()])))
        editor.selectAll()

    def setModelData(self, editor, model, index):  # noqa: N802 - Qt override
        self._owner.commit_text(index.row(), index.column(), editor.text())


class _MatrixView(QTableView):
    """Table with scrubbing: drag sideways on a cell, or turn the wheel over it."""

    def __init__(self, owner: MatrixEditor) -> None:
        super().__init__(owner)
        self._owner = owner
        self._press: tuple[QPoint, int, int, float] | None = None
        self._scrubbing = False

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        index = self.indexAt(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and index.isValid() and not self._owner.model.read_only:
            value = float(self._owner.model.values[index.row(), index.column()])
            self._press = (event.position().toPoint(), index.row(), index.column(), value)
            self._scrubbing = False
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._press is None:
            super().mouseMoveEvent(event)
            return
        start, row, col, value = self._press
        dx = event.position().toPoint().x() - start.x()
        if not self._scrubbing and abs(dx) >= DRAG_THRESHOLD:
            self._scrubbing = True
            self.viewport().setCursor(Qt.CursorShape.SizeHorCursor)
        if self._scrubbing:
            fine = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._owner.apply_value(row, col, value + dx * scrub_step(value, fine))
            return  # no rubber-band selection while scrubbing
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._scrubbing:
            self.viewport().unsetCursor()
        self._press = None
        self._scrubbing = False
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        index = self.indexAt(event.position().toPoint())
        if not index.isValid() or self._owner.model.read_only or event.angleDelta().y() == 0:
            super().wheelEvent(event)
            return
        notches = event.angleDelta().y() / 120.0
        value = float(self._owner.model.values[index.row(), index.column()])
        fine = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self._owner.apply_value(index.row(), index.column(), value + notches * 10 * scrub_step(value, fine))
        event.accept()


class MatrixEditor(QWidget):
    """A titled, editable float matrix (1…64 per dimension)."""

    edited = pyqtSignal(object)  # np.ndarray float64 (rows, cols), a copy
    rejected = pyqtSignal(str)

    def __init__(
        self,
        rows: int = 2,
        cols: int = 2,
        *,
        row_prefix: str = "",
        col_prefix: str = "",
        title: str = "",
        max_size: int = MAX_SIZE,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.max_size = int(min(max(max_size, MIN_SIZE), LARGEST))
        self.model = MatrixModel(clamp_size(rows, self.max_size), clamp_size(cols, self.max_size))
        self.model.row_prefix = row_prefix
        self.model.col_prefix = col_prefix

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title_label = QLabel(title)
        self.title_label.setStyleSheet("font-weight: 600;")
        self.title_label.setVisible(bool(title))
        layout.addWidget(self.title_label)

        self.view = _MatrixView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegate(_Delegate(self))
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        for header in (self.view.horizontalHeader(), self.view.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setHighlightSections(False)
        self.view.horizontalHeader().setDefaultSectionSize(54)
        self.view.horizontalHeader().setMinimumSectionSize(30)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.setToolTip("Double-click or type to set a value · drag sideways or turn the wheel to scrub (Shift: fine)")
        layout.addWidget(self.view, 1)

        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #c62828;")
        self.message_label.hide()
        layout.addWidget(self.message_label)

    # -- values ------------------------------------------------------------------------------
    def matrix(self) -> np.ndarray:
        return self.model.values.copy()

    def set_matrix(self, values, *, emit: bool = False) -> None:
        """Show ``values`` (2-D, or 1-D as one row); the shape may change. Rejects non-finite values."""
        array = np.array(values, dtype=np.float64)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2:
            raise ValueError(f"a matrix needs 2 dimensions, got shape {array.shape}")
        top = self.max_size
        if not (MIN_SIZE <= array.shape[0] <= top and MIN_SIZE <= array.shape[1] <= top):
            raise ValueError(f"matrix shape {array.shape} is outside {MIN_SIZE}…{top} per dimension")
        if not np.isfinite(array).all():
            raise ValueError("matrix contains NaN or infinity")
        self.model.set_array(array)
        self._clear_message()
        if emit:
            self.edited.emit(self.matrix())

    def resize_matrix(self, rows: int, cols: int, *, emit: bool = False) -> None:
        """Change the shape keeping the overlapping values (new cells are 0)."""
        rows, cols = clamp_size(rows, self.max_size), clamp_size(cols, self.max_size)
        old = self.model.values
        new = np.zeros((rows, cols))
        r, c = min(rows, old.shape[0]), min(cols, old.shape[1])
        new[:r, :c] = old[:r, :c]
        self.set_matrix(new, emit=emit)

    def shape(self) -> tuple[int, int]:
        return tuple(self.model.values.shape)  # type: ignore[return-value]

    def apply_value(self, row: int, col: int, value: float) -> bool:
        """Set one cell from a scrub or a program; refuse non-finite values."""
        if not math.isfinite(value):
            self._refuse("the value would not be a finite number; it was left as it was")
            return False
        self.model.set_value(row, col, float(value))
        self._clear_message()
        self.edited.emit(self.matrix())
        return True

    def commit_text(self, row: int, col: int, text: str) -> bool:
        """Set one cell from typed text; on bad text keep the old value and say why."""
        try:
            value = parse_number(text)
        except ValueError as exc:
            self._refuse(f"{self.model.label(Qt.Orientation.Vertical, row)}, "
                         f"{self.model.label(Qt.Orientation.Horizontal, col)}: {exc}. The old value was kept.")
            return False
        return self.apply_value(row, col, value)

    def refuse(self, message: str, values=None) -> None:
        """Someone downstream refused the last change (its products overflow…): say why, show ``values`` again.

        Like a refused typed value, the message stays under the table until the next
        accepted change; ``values`` (the numbers still in force) replace what the
        editor shows.
        """
        if values is not None:
            array = np.array(values, dtype=np.float64)
            if array.shape == self.model.values.shape:
                self.model.set_array(array)
        self._refuse(message)

    def scroll_to(self, row: int, col: int = 0) -> None:
        """Bring cell (row, col) into view (a query selected elsewhere, in a 1,370-row editor)."""
        index = self.model.index(row, col)
        if index.isValid():
            self.view.updateGeometries()  # right after a reset the scroll range is not yet the new rows'
            self.view.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)

    # -- looks --------------------------------------------------------------------------------
    def set_title(self, title: str) -> None:
        self.title_label.setText(title)
        self.title_label.setVisible(bool(title))

    def set_row_labels(self, labels: Sequence[str]) -> None:
        self.model.row_labels = list(labels)
        self.model.headerDataChanged.emit(Qt.Orientation.Vertical, 0, max(self.model.rowCount() - 1, 0))

    def set_col_labels(self, labels: Sequence[str]) -> None:
        self.model.col_labels = list(labels)
        self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, max(self.model.columnCount() - 1, 0))

    def set_read_only(self, read_only: bool) -> None:
        self.model.read_only = bool(read_only)
        self.model.layoutChanged.emit()

    def set_highlight(self, rows: Sequence[int] = (), cols: Sequence[int] = ()) -> None:
        self.model.set_highlight(rows, cols)

    def apply_theme(self) -> None:
        colour = QColor(theme.colors().highlight)
        colour.setAlpha(90)
        self.model.highlight_colour = colour
        self.model.set_highlight(self.model.highlight_rows, self.model.highlight_cols)

    def message(self) -> str:
        """The refusal message shown now ('' when none)."""
        return self.message_label.text() if not self.message_label.isHidden() else ""

    def _refuse(self, message: str) -> None:
        self.message_label.setText(message)
        self.message_label.show()
        self.rejected.emit(message)

    def _clear_message(self) -> None:
        if not self.message_label.isHidden():
            self.message_label.hide()
            self.message_label.setText("")


def clamp_size(n: int, top: int = MAX_SIZE) -> int:
    return int(min(max(int(n), MIN_SIZE), top))
