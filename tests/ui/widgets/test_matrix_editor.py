"""The matrix editor: typed values, refusal of bad text, scrubbing by drag and wheel, sizes."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QMouseEvent, QWheelEvent
from PyQt6.QtWidgets import QApplication, QLineEdit

from explorer.ui.widgets.matrix_editor import MatrixEditor, format_value, parse_number


@pytest.fixture
def editor(qtbot):
    widget = MatrixEditor(3, 2, row_prefix="q", col_prefix="d", title="Q")
    qtbot.addWidget(widget)
    widget.resize(300, 200)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def type_into(qtbot, editor: MatrixEditor, row: int, col: int, text: str) -> None:
    index = editor.model.index(row, col)
    editor.view.setCurrentIndex(index)
    editor.view.edit(index)
    lines = [w for w in editor.view.viewport().findChildren(QLineEdit) if w.isVisible()]
    assert lines, "double-click / edit should open a line edit"
    line = lines[-1]
    line.setText(text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    # the delegate commits on a queued call: wait until the editor has closed
    qtbot.waitUntil(lambda: not any(w.isVisible() for w in editor.view.viewport().findChildren(QLineEdit)))


def cell_centre(editor: MatrixEditor, row: int, col: int) -> QPoint:
    return editor.view.visualRect(editor.model.index(row, col)).center()


def send_mouse(editor, kind, pos: QPoint, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    button = Qt.MouseButton.LeftButton if kind != QMouseEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(editor.view.viewport().mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(editor.view.viewport(), event)


def test_labels_and_random_round_trip(editor):
    rng = np.random.default_rng(3)
    values = rng.normal(size=(3, 2))
    editor.set_matrix(values)
    np.testing.assert_array_equal(editor.matrix(), values)
    assert editor.model.headerData(0, Qt.Orientation.Vertical) == "q1"
    assert editor.model.headerData(1, Qt.Orientation.Horizontal) == "d2"
    editor.set_row_labels(["a", "b", "c"])
    assert editor.model.headerData(2, Qt.Orientation.Vertical) == "c"


def test_typed_value_is_accepted_and_emitted(qtbot, editor):
    with qtbot.waitSignal(editor.edited) as blocker:
        type_into(qtbot, editor, 1, 0, "2,5")
    assert editor.matrix()[1, 0] == 2.5
    assert blocker.args[0][1, 0] == 2.5
    assert blocker.args[0].shape == (3, 2)
    assert editor.model.data(editor.model.index(1, 0)) == "2.5"


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "-Infinity", ""])
def test_bad_text_is_refused_visibly_and_old_value_kept(qtbot, editor, text):
    editor.set_matrix(np.full((3, 2), 0.75))
    edits = []
    editor.edited.connect(edits.append)
    with qtbot.waitSignal(editor.rejected) as blocker:
        type_into(qtbot, editor, 2, 1, text)
    assert editor.matrix()[2, 1] == 0.75
    assert edits == []
    assert editor.message_label.isVisible()
    assert "q3" in editor.message() and "old value was kept" in editor.message()
    assert blocker.args[0] == editor.message()
    # the next good value clears the message
    type_into(qtbot, editor, 2, 1, "1")
    assert not editor.message_label.isVisible()
    assert editor.matrix()[2, 1] == 1.0


def test_drag_scrubs_continuously(qtbot, editor):
    editor.set_matrix(np.ones((3, 2)))
    edits = []
    editor.edited.connect(lambda m: edits.append(m[0, 1]))
    start = cell_centre(editor, 0, 1)
    send_mouse(editor, QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for dx in (5, 10, 20, 40):
        send_mouse(editor, QMouseEvent.Type.MouseMove, start + QPoint(dx, 0), Qt.MouseButton.LeftButton)
    send_mouse(editor, QMouseEvent.Type.MouseButtonRelease, start + QPoint(40, 0), Qt.MouseButton.NoButton)
    assert len(edits) == 4
    assert all(b > a for a, b in zip(edits, edits[1:]))
    assert editor.matrix()[0, 1] == pytest.approx(1 + 40 * 0.01)
    # dragging left goes down, and other cells are untouched
    send_mouse(editor, QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    send_mouse(editor, QMouseEvent.Type.MouseMove, start - QPoint(30, 0), Qt.MouseButton.LeftButton)
    send_mouse(editor, QMouseEvent.Type.MouseButtonRelease, start - QPoint(30, 0), Qt.MouseButton.NoButton)
    assert editor.matrix()[0, 1] < 1.4
    assert editor.matrix()[1, 1] == 1.0


def test_wheel_scrubs_and_shift_is_finer(editor):
    editor.set_matrix(np.zeros((3, 2)))
    pos = cell_centre(editor, 2, 0)

    def wheel(delta, modifiers=Qt.KeyboardModifier.NoModifier):
        event = QWheelEvent(
            QPointF(pos), QPointF(editor.view.viewport().mapToGlobal(pos)), QPoint(0, 0), QPoint(0, delta),
            Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False,
        )
        QApplication.sendEvent(editor.view.viewport(), event)

    wheel(120)
    coarse = editor.matrix()[2, 0]
    assert coarse > 0
    editor.set_matrix(np.zeros((3, 2)))
    wheel(120, Qt.KeyboardModifier.ShiftModifier)
    fine = editor.matrix()[2, 0]
    assert 0 < fine < coarse
    wheel(-240)
    assert editor.matrix()[2, 0] < 0


def test_read_only_refuses_edits(qtbot, editor):
    editor.set_read_only(True)
    before = editor.matrix()
    index = editor.model.index(0, 0)
    editor.view.edit(index)
    assert editor.view.viewport().findChild(QLineEdit) is None or not editor.view.viewport().findChild(QLineEdit).isVisible()
    start = cell_centre(editor, 0, 0)
    send_mouse(editor, QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    send_mouse(editor, QMouseEvent.Type.MouseMove, start + QPoint(30, 0), Qt.MouseButton.LeftButton)
    send_mouse(editor, QMouseEvent.Type.MouseButtonRelease, start + QPoint(30, 0), Qt.MouseButton.NoButton)
    np.testing.assert_array_equal(editor.matrix(), before)


def test_set_matrix_emit_resize_and_limits(qtbot, editor):
    with qtbot.waitSignal(editor.edited):
        editor.set_matrix(np.eye(4), emit=True)
    assert editor.model.rowCount() == 4 and editor.model.columnCount() == 4
    editor.resize_matrix(2, 6)
    expected = np.zeros((2, 6))
    expected[:2, :4] = np.eye(4)[:2]
    np.testing.assert_array_equal(editor.matrix(), expected)
    editor.resize_matrix(100, 0)
    assert editor.shape() == (64, 1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        editor.set_matrix(np.array([[np.nan]]))
    with pytest.raises(ValueError, match=r"shape \(65, 2\) is outside 1…64"):
        editor.set_matrix(np.zeros((65, 2)))


def test_highlight_marks_rows_and_columns(editor):
    editor.set_highlight(rows=[1], cols=[0])
    role = Qt.ItemDataRole.BackgroundRole
    assert editor.model.data(editor.model.index(1, 1), role) is not None
    assert editor.model.data(editor.model.index(2, 0), role) is not None
    assert editor.model.data(editor.model.index(2, 1), role) is None
    editor.set_highlight()
    assert editor.model.data(editor.model.index(1, 1), role) is None


def test_large_matrix_round_trip(qtbot):
    widget = MatrixEditor(64, 64)
    qtbot.addWidget(widget)
    widget.show()
    values = np.random.default_rng(0).normal(size=(64, 64))
    widget.set_matrix(values)
    widget.apply_value(63, 63, 5.0)
    assert widget.matrix()[63, 63] == 5.0
    np.testing.assert_array_equal(widget.matrix()[:63], values[:63])


def test_parse_and_format():
    assert parse_number(" -1.5 ") == -1.5
    assert parse_number("−2") == -2.0
    for bad in ("abc", "nan", "inf", "1e999"):
        with pytest.raises(ValueError, match=f"“{bad}” is not a"):
            parse_number(bad)
    assert format_value(0.70710678) == "0.707"
    assert format_value(-2.0) == "-2"
    assert format_value(1e-7) == "1.00e-07"
