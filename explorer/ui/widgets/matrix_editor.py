"""An editable matrix of numbers: type a value, drag on a cell or turn the wheel to scrub it.

Used for Q, K, V, the mask (attention panel) and W, U, b (RNN panel). One
``QTableView`` over a small model holding a float64 array, so a 64 × 64 matrix
is one widget, not 4096: redrawing after an edit touches only the visible
cells.

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
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QPoint, Qt, pyqtSignal
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

MIN_SIZE = 1
MAX_SIZE = 64
#: Pixels the pointer must travel sideways before a press becomes a scrub.
DRAG_THRESHOLD = 4


def parse_number(text: str) -> float:
    """The float in ``text``, or ``ValueError`` saying why it is not usable.

    Accepts a decimal comma ("0,5") since people type it; refuses NaN and ±Inf
    because no later step can show them meaningfully.
    """
    cleaned = text.strip().replace(",", ".").replace("−", "-")
    if not cleaned:
        raise ValueError("empty cell: type a number such as 0.5 or -1")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"“{text.strip()}” is not a number: type a value such as 0.5 or -1") from None
    if not math.isfinite(value):
        raise ValueError(f"“{text.strip()}” is not a finite number: NaN and infinity are not allowed")
    return value


def format_value(value: float) -> str:
    """Compact text for a cell: 3 decimals for ordinary sizes, scientific beyond."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e5:
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return f"{value:.2e}"


def scrub_step(value: float, fine: bool) -> float:
    """Step for one pixel of drag or a tenth of a wheel notch: proportional to the value.

    Values near zero still move (floor of 0.01); Shift divides by ten.
    """
    step = max(abs(value), 0.1) * 0.01
    return step / 10 if fine else step


class MatrixModel(QAbstractTableModel):
    """The array behind the table; all edits go through :meth:`set_value`."""

    def __init__(self, rows: int, cols: int) -> None:
        super().__init__()
        self.values = np.zeros((rows, cols))
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self.row_prefix = ""
        self.col_prefix = ""
        self.read_only = False
        self.highlight_rows: frozenset[int] = frozenset()
        self.highlight_cols: frozenset[int] = frozenset()
        self.highlight_colour = QColor(theme.colors().highlight)
        self.highlight_colour.setAlpha(90)

    # -- Qt model API ----------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self.values.shape[0]

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self.values.shape[1]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(float(self.values[r, c]))
        if role == Qt.ItemDataRole.EditRole:
            return repr(float(self.values[r, c]))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{self.label(Qt.Orientation.Vertical, r)}, {self.label(Qt.Orientation.Horizontal, c)} = {self.values[r, c]:.6g}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            if r in self.highlight_rows or c in self.highlight_cols:
                return self.highlight_colour
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole:
            return self.label(orientation, section)
        if role == Qt.ItemDataRole.BackgroundRole:
            marked = self.highlight_rows if orientation == Qt.Orientation.Vertical else self.highlight_cols
            if section in marked:
                return self.highlight_colour
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base if self.read_only else base | Qt.ItemFlag.ItemIsEditable

    # -- ours ------------------------------------------------------------------------------
    def label(self, orientation: Qt.Orientation, section: int) -> str:
        labels, prefix = (
            (self.row_labels, self.row_prefix)
            if orientation == Qt.Orientation.Vertical
            else (self.col_labels, self.col_prefix)
        )
        if section < len(labels):
            return labels[section]
        return f"{prefix}{section + 1}"

    def set_array(self, values: np.ndarray) -> None:
        if values.shape != self.values.shape:
            self.beginResetModel()
            self.values = values
            self.endResetModel()
        else:
            self.values = values
            self.dataChanged.emit(self.index(0, 0), self.index(values.shape[0] - 1, values.shape[1] - 1))

    def set_value(self, row: int, col: int, value: float) -> None:
        self.values[row, col] = value
        index = self.index(row, col)
        self.dataChanged.emit(index, index)

    def set_highlight(self, rows: Sequence[int], cols: Sequence[int]) -> None:
        self.highlight_rows = frozenset(int(r) for r in rows)
        self.highlight_cols = frozenset(int(c) for c in cols)
        rows_n, cols_n = self.values.shape
        self.dataChanged.emit(self.index(0, 0), self.index(rows_n - 1, cols_n - 1), [Qt.ItemDataRole.BackgroundRole])
        self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, rows_n - 1)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, cols_n - 1)


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
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = MatrixModel(clamp_size(rows), clamp_size(cols))
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
        if not (MIN_SIZE <= array.shape[0] <= MAX_SIZE and MIN_SIZE <= array.shape[1] <= MAX_SIZE):
            raise ValueError(f"matrix shape {array.shape} is outside {MIN_SIZE}…{MAX_SIZE} per dimension")
        if not np.isfinite(array).all():
            raise ValueError("matrix contains NaN or infinity")
        self.model.set_array(array)
        self._clear_message()
        if emit:
            self.edited.emit(self.matrix())

    def resize_matrix(self, rows: int, cols: int, *, emit: bool = False) -> None:
        """Change the shape keeping the overlapping values (new cells are 0)."""
        rows, cols = clamp_size(rows), clamp_size(cols)
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


def clamp_size(n: int) -> int:
    return int(min(max(int(n), MIN_SIZE), MAX_SIZE))
