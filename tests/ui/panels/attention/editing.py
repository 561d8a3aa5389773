"""What the Attention panel tests do as a user: type into a cell, pick a preset."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLineEdit


def type_into(qtbot, editor, row, col, text):
    """Type ``text`` into a cell and press Return, as a user does."""
    index = editor.model.index(row, col)
    editor.view.setCurrentIndex(index)
    editor.view.edit(index)
    line = [w for w in editor.view.viewport().findChildren(QLineEdit) if w.isVisible()][-1]
    line.setText(text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not any(w.isVisible() for w in editor.view.viewport().findChildren(QLineEdit)))


def choose_preset(panel, name: str) -> None:
    """Pick a preset the way a user does: its entry in the combo box (the entry's data is its name)."""
    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData(name))
