"""File › Export figure…: choose one of the current panel's plots or maps, a format and a scale."""

from __future__ import annotations

import re

from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QWidget,
)

from explorer.ui import theme
from explorer.ui.errors import show_error
from explorer.ui.export import FORMATS, MAX_SCALE, Figure, export_figure, figures_in


def file_stem(name: str) -> str:
    """``"③ Weights · q1"`` → ``"weights-q1"``: a file name a user would type."""
    words = re.findall(r"[A-Za-z0-9]+", name.lower())
    return "-".join(words[:6]) or "figure"


class ExportDialog(QDialog):
    """Pick a figure, PNG (with a scale for print) or SVG (vector), then a file."""

    def __init__(self, panel: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export figure")
        self.figures: list[Figure] = figures_in(panel)
        self.figure_combo = QComboBox()
        for figure in self.figures:
            self.figure_combo.addItem(figure.name)
        self.format_combo = QComboBox()
        self.format_combo.addItem("PNG (pixels)", "png")
        self.format_combo.addItem("SVG (vector, for papers and slides)", "svg")
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(1.0, MAX_SCALE)
        self.scale_spin.setSingleStep(0.5)
        self.scale_spin.setValue(2.0)
        self.scale_spin.setSuffix(" × screen size")
        self.format_combo.currentIndexChanged.connect(lambda: self.scale_spin.setEnabled(self.kind == "png"))
        self.note = QLabel("Numbers behind a view: use the panel's own Export (CSV / NPY).")
        self.note.setProperty("role", "muted")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save_dialog)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Figure", self.figure_combo)
        form.addRow("Format", self.format_combo)
        form.addRow("Scale", self.scale_spin)
        form.addRow(self.note)
        form.addRow(buttons)
        theme.restyle_roles(self)
        if not self.figures:
            self.figure_combo.addItem("(this view has no plots or maps)")
            buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)

    @property
    def kind(self) -> str:
        return self.format_combo.currentData()

    @property
    def figure(self) -> Figure | None:
        index = self.figure_combo.currentIndex()
        return self.figures[index] if 0 <= index < len(self.figures) else None

    def save(self, path: str) -> str:
        """Export the chosen figure to ``path`` (the format's suffix is added if missing)."""
        if self.figure is None:
            raise ValueError("this view has no plots or maps to export.")
        if not path.lower().endswith(tuple(f".{k}" for k in FORMATS)):
            path += f".{self.kind}"
        return str(export_figure(self.figure, path, scale=self.scale_spin.value()))

    def save_dialog(self) -> None:
        if self.figure is None:
            return
        kind = self.kind
        path, _ = QFileDialog.getSaveFileName(
            self, "Export figure", f"{file_stem(self.figure.name)}.{kind}", f"{kind.upper()} (*.{kind})"
        )
        if not path:
            return
        try:
            self.save(path)
        except ValueError as exc:
            show_error("Export figure", exc)
            return
        self.accept()
