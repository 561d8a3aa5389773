"""The Attention panel: Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k) · V, every step live.

Three tabs: **Q·K·V** (edit the matrices and a mask, see scores, scaled
scores, weights, output, the formula with live numbers), **Why scale?** (what
÷√d_k does as d_k grows) and **From input** (tokens and projection matrices →
multi-head attention). A preset bar on top; the cheatsheet's worked example
is the first state a user sees. Exports: the weights and scores as CSV, the
view as PNG.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PyQt6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from explorer.engine.attention.presets import PRESETS, preset
from explorer.ui.context import AppContext
from explorer.ui.errors import show_error
from explorer.ui.panels.attention.from_input import FromInputView
from explorer.ui.panels.attention.qkv import QKVView
from explorer.ui.panels.attention.why_scale import WhyScaleView
from explorer.ui.panels.base import Panel


class AttentionPanel(Panel):
    title = "Attention"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Preset"))
        self.preset_combo = QComboBox()
        for item in PRESETS:
            self.preset_combo.addItem(item.name)
        self.preset_combo.setToolTip("Starting points; the first is the cheatsheet's worked example")
        bar.addWidget(self.preset_combo)
        self.preset_note = QLabel("")
        self.preset_note.setProperty("role", "muted")
        self.preset_note.setWordWrap(True)
        bar.addWidget(self.preset_note, 1)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setToolTip("Save the scores, scaled scores and weights of every (query, key) pair")
        self.png_button = QPushButton("Export PNG…")
        bar.addWidget(self.csv_button)
        bar.addWidget(self.png_button)
        layout.addLayout(bar)

        self.tabs = QTabWidget()
        self.qkv = QKVView()
        self.tabs.addTab(self.qkv, "Q · K · V")
        # The other two tabs are built when first shown (they cost ~0.5 s of plots).
        self._why: WhyScaleView | None = None
        self._from_input: FromInputView | None = None
        self.why_page = _page()
        self.input_page = _page()
        self.tabs.addTab(self.why_page, "Why scale?")
        self.tabs.addTab(self.input_page, "From input")
        layout.addWidget(self.tabs, 1)

        self.preset_combo.currentTextChanged.connect(self.load_preset)
        self.qkv.reset_button.clicked.connect(lambda: self.load_preset(self.preset_combo.currentText()))
        self.csv_button.clicked.connect(self._ask_csv)
        self.png_button.clicked.connect(self._ask_png)
        self.tabs.currentChanged.connect(self._on_tab)
        self.qkv.userChanged.connect(self._on_user_changed)
        self.load_preset(PRESETS[0].name)

    @property
    def why(self) -> WhyScaleView:
        if self._why is None:
            self._why = WhyScaleView()
            self.why_page.layout().addWidget(self._why)
            self._why.show()
        return self._why

    @property
    def from_input(self) -> FromInputView:
        if self._from_input is None:
            self._from_input = FromInputView()
            self._from_input.sendToEditor.connect(self._receive_qkv)
            self.input_page.layout().addWidget(self._from_input)
            self._from_input.show()
        return self._from_input

    # -- presets -----------------------------------------------------------------------------
    def load_preset(self, name: str) -> None:
        item = preset(name)
        if self.preset_combo.currentText() != name:
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentText(name)
            self.preset_combo.blockSignals(False)
        self.preset_note.setText(item.description)
        self.qkv.load_preset(item)
        self.tabs.setCurrentWidget(self.qkv)

    def _on_user_changed(self) -> None:
        self.preset_note.setText(f"Your own numbers (started from “{self.preset_combo.currentText()}”; Reset goes back to it).")

    def _receive_qkv(self, q, k, v) -> None:
        self.qkv.set_qkv(q, k, v)
        self.preset_note.setText("Q, K, V of head 1, computed from the tokens on the From input tab.")
        self.tabs.setCurrentWidget(self.qkv)

    def _on_tab(self, _index: int) -> None:
        page = self.tabs.currentWidget()
        if page is self.why_page:
            self.why.set_d_k(max(self.qkv.sizes()["d_k"], 1))
            self.why.ensure_measured()
        elif page is self.input_page:
            self.from_input  # noqa: B018 - builds the tab

    # -- export ------------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        """One row per (query, key): score, scaled score, logit, weight, allowed; then the output rows."""
        path = Path(path)
        view = self.qkv.view
        if view is None:
            raise ValueError("nothing to export yet")
        n_q, n_k = view.scores.shape
        try:
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["query", "key", "score", "scaled", "logit", "weight", "allowed"])
                for i in range(n_q):
                    for j in range(n_k):
                        writer.writerow([
                            f"q{i + 1}", f"k{j + 1}", repr(float(view.scores[i, j])), repr(float(view.scaled[i, j])),
                            repr(float(view.logits[i, j])), repr(float(view.weights[i, j])), int(view.allowed[i, j]),
                        ])
        except OSError as exc:
            raise ValueError(f"{path.name}: could not write the CSV ({exc.strerror or exc}).") from None
        return path

    def _ask_csv(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export attention weights and scores", "attention.csv", "CSV (*.csv)")
        if name:
            try:
                self.export_csv(name)
            except ValueError as exc:
                show_error("Export CSV", exc)

    def _ask_png(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export the attention view", "attention.png", "PNG (*.png)")
        if name:
            try:
                self.export_png(name)
            except ValueError as exc:
                show_error("Export PNG", exc)

    # -- hooks -------------------------------------------------------------------------------
    def on_theme_changed(self, theme: str) -> None:
        self.qkv.apply_theme()
        for view in (self._why, self._from_input):
            if view is not None:
                view.apply_theme()


def _page() -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    return page
