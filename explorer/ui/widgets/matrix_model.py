"""The numbers behind a :class:`~explorer.ui.widgets.matrix_editor.MatrixEditor`: the table model and cell text.

The model holds one float64 array and answers Qt's questions about the cells
that are on screen only, so a 1,370 × 64 matrix costs what its visible cells cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PyQt6.QtGui import QColor

from explorer.ui import theme


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
