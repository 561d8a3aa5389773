"""The Attention panel: Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k) · V, every step live.

Three tabs: **Q·K·V** (edit the matrices and a mask, see scores, scaled
scores, weights, output, the formula with live numbers), **Why scale?** (what
÷√d_k does as d_k grows) and **From input** (tokens and projection matrices →
multi-head attention). A preset bar on top; the cheatsheet's worked example
is the first state a user sees. Exports: the weights and scores as CSV, the
view as PNG.

A model panel (ViT, Video) hands over one of its heads as a
:class:`~explorer.engine.attention.heads.RealHead` (``AppContext.offer("attention", head)``
→ :meth:`AttentionPanel.receive`): the Q·K·V tab then holds that head's real Q, K, V,
says which model, input, layer and head it is, restores them on **Reset to model**,
and offers **Back to …** the same layer, head and query.

What is shown, and every rule about it, is in :class:`AttentionState`
(``state.py``, no Qt); this module and the tab views build widgets, forward
the user's actions to the state and redraw on its events. The preset, the
sizes, ÷√d_k, the temperature, the tab and the From-input heads and
cross-attention choice persist.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.attention.heads import RealHead
from explorer.engine.attention.presets import PRESETS
from explorer.engine.vit.heads import ViTInput
from explorer.engine.vit.loading import DEFAULT_BUNDLED
from explorer.ui.context import AppContext
from explorer.ui.errors import show_error
from explorer.ui.panels.attention.from_input import FromInputView
from explorer.ui.panels.attention.qkv import QKVView
from explorer.ui.panels.attention.state import TABS, AttentionState
from explorer.ui.panels.attention.views import follow
from explorer.ui.panels.attention.why_scale import WhyScaleView
from explorer.ui.panels.base import Panel
from explorer.ui.workers import run_task


class AttentionPanel(Panel):
    title = "Attention"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        state = self.bind_state(AttentionState(runner=run_task, on_error=show_error))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Preset"))
        self.preset_combo = QComboBox()
        for item in PRESETS:  # shown with Unicode subscripts (a combo box shows plain text); the data is the name
            self.preset_combo.addItem(item.name.replace("d_k", "dₖ"), item.name)
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
        self.qkv = QKVView(state.qkv)
        self.tabs.addTab(self.qkv, "Q · K · V")
        # The other two tabs are built when first shown (they cost ~0.5 s of plots).
        self._why: WhyScaleView | None = None
        self._from_input: FromInputView | None = None
        self.why_page = _page()
        self.input_page = _page()
        self.tabs.addTab(self.why_page, "Why scale?")
        self.tabs.addTab(self.input_page, "From input")
        layout.addWidget(self.tabs, 1)
        self._pages = dict(zip(TABS, (self.qkv, self.why_page, self.input_page)))

        self.preset_combo.currentIndexChanged.connect(lambda index: self.load_preset(self.preset_combo.itemData(index)))
        self.qkv.reset_button.clicked.connect(self.reset)
        self.qkv.model_reset_button.clicked.connect(self.reset)
        self.qkv.back_button.clicked.connect(self.go_back)
        self.csv_button.clicked.connect(self._ask_csv)
        self.png_button.clicked.connect(self._ask_png)
        self.tabs.currentChanged.connect(self._on_tab)
        follow(self, state.qkv.events.preset, self._show_preset)
        follow(self, state.qkv.events.note, lambda text: self.preset_note.setText(text))
        follow(self, state.events.tab, self._show_tab)
        self._show_preset(state.qkv.preset)
        self.preset_note.setText(state.qkv.note)
        self._show_tab(state.tab)

    @property
    def why(self) -> WhyScaleView:
        if self._why is None:
            self._why = WhyScaleView(self.state.why)
            self.why_page.layout().addWidget(self._why)
            self._why.show()
        return self._why

    @property
    def from_input(self) -> FromInputView:
        if self._from_input is None:
            self._from_input = FromInputView(self.state.from_input)
            self._from_input.send_button.clicked.connect(self.state.send_head_to_qkv)
            self._from_input.run_vit_button.clicked.connect(self.run_vit)
            self.input_page.layout().addWidget(self._from_input)
            self._from_input.show()
        return self._from_input

    # -- presets and tabs ------------------------------------------------------------------
    def load_preset(self, name: str) -> None:
        """The user chose a preset (or Reset): it shows at once, notes included."""
        self.state.load_preset(name)
        self.qkv.update_notes()

    def reset(self) -> None:
        """Reset: the model's own values for a real head, else the preset again."""
        self.state.qkv.reset()
        self.qkv.update_notes()

    # -- a real model's head ---------------------------------------------------------------------
    def receive(self, payload: object) -> None:
        """Show a model's head (a :class:`RealHead`) in the Q·K·V tab."""
        if not isinstance(payload, RealHead):
            super().receive(payload)
            return
        self.state.open_real(payload)
        if isinstance(payload.source, ViTInput):  # From input can read this ViT's layers on the same image
            self.state.from_input.set_vit(payload.source)
        self.qkv.update_notes()

    def run_vit(self) -> object:
        """Trace the current image with the ViT From input reads (the bundled one if none yet), in a worker."""
        current = self.context.image
        if current is None:
            show_error("From input", ValueError("there is no image yet: open one (File › Open) first"))
            return
        source = self.state.from_input.vit
        return self.state.from_input.run_vit(source.model if source is not None else DEFAULT_BUNDLED,
                                             current.image, current.name)

    def on_image_changed(self, current) -> None:
        """A new image: a ViT From input reads from runs on it again (a toy's numbers stay)."""
        if self.state.from_input.vit is not None:
            self.state.from_input.run_vit(self.state.from_input.vit.model, current.image, current.name, show=False)

    def go_back(self) -> None:
        """Hand the head's panel its layer and head again, with the query selected here now."""
        head = self.state.qkv.real
        if head is None or head.back is None:
            return
        back = head.back
        selection = {**back.selection, "token": self.state.qkv.selected_query}
        self.context.offer(back.panel, type(back)(back.panel, selection, back.label))

    def _show_preset(self, name: str) -> None:
        if self.preset_combo.currentData() != name:
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(max(self.preset_combo.findData(name), 0))
            self.preset_combo.blockSignals(False)

    def _on_tab(self, index: int) -> None:
        if 0 <= index < len(TABS):  # -1: no tab (the widget is being torn down)
            self.state.tab = TABS[index]
            self._show_tab(TABS[index])

    def _show_tab(self, tab: str) -> None:
        """Show the tab, building it the first time (the state measures what it needs)."""
        if tab == "why":
            self.why  # noqa: B018 - builds the tab
        elif tab == "input":
            self.from_input  # noqa: B018 - builds the tab
        if self.tabs.currentWidget() is not self._pages[tab]:
            self.tabs.setCurrentWidget(self._pages[tab])

    # -- export ------------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        """One row per (query, key): score, scaled score, logit, weight, allowed; then the output rows."""
        path = Path(path)
        view = self.state.qkv.view
        if view is None:
            raise ValueError("nothing to export yet")
        n_q, n_k = view.scores.shape
        try:
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["query", "key", "score", "scaled", "logit", "weight", "allowed"])
                keys = [view.name("k", j) for j in range(n_k)]  # a real head's tokens by name: k[CLS], k(3, 5)
                for i in range(n_q):
                    query = view.name("q", i)
                    for j in range(n_k):
                        writer.writerow([
                            query, keys[j], repr(float(view.scores[i, j])), repr(float(view.scaled[i, j])),
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
