"""The Q·K·V tab: edit Q, K, V (and a mask) and watch every step of attention respond.

Editors on the left (:mod:`.qkv_inputs`); on the right the weights map (largest), the
scores and scaled scores, the output, the selected query's weights as bars (and, for
a real model's head, as a map over the image or the clip), the formula with that
query's numbers and a note per step. The numbers and the rules live in
:class:`~explorer.ui.panels.attention.qkv_state.QKVState`: this view forwards each
edit to it and redraws what the new ``view`` says changed — a few rows or columns
of a 1,370-token head, not all of it. Hovering a weight lights up its query row, key
column and the value row it scales; clicking a cell selects that query and key.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from explorer.ui.panels.attention.image_map import TokenImageMap
from explorer.ui.panels.attention.notation import rich
from explorer.ui.panels.attention.qkv_inputs import QKVInputs
from explorer.ui.panels.attention.qkv_state import SIZE_NAMES, QKVState
from explorer.ui.panels.attention.text import (
    explain_cell,
    formula_html,
    notes_html,
    num,
)
from explorer.ui.panels.attention.views import (
    TextView,
    WeightBars,
    follow,
    labels,
    nice_ceiling,
    set_quietly,
    show_matrix,
)
from explorer.ui.widgets.heatmap import Heatmap

NOTES_DELAY_MS = 120


class QKVView(QWidget):
    """Editors for Q, K, V and the mask; every step of attention drawn live from a :class:`QKVState`."""

    def __init__(self, state: QKVState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._labels: dict[tuple, list[str]] = {}
        self._mask_shown: tuple | None = None
        self._picture_of: object = None
        # Side notes are prose: rewriting them on every scrub step would be unreadable
        # and costs a text layout; they follow NOTES_DELAY_MS after the last change.
        self._notes_later = qdebounced(self.update_notes, timeout=NOTES_DELAY_MS, parent=self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_banner())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        layout.addWidget(splitter, 1)
        self.inputs = QKVInputs(state.seed)
        for name in ("size_spins", "random_button", "seed_spin", "zeros_button", "identity_button", "reset_button",
                     "scale_check", "temperature_spin", "size_note", "q_editor", "k_editor", "v_editor", "editors",
                     "mask_check", "causal_button", "allow_all_button", "mask_map"):
            setattr(self, name, getattr(self.inputs, name))
        splitter.addWidget(self.inputs)
        splitter.addWidget(self._build_views())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([370, 800])
        self._connect_inputs()
        self._bind()

    # -- construction ------------------------------------------------------------------------
    def _build_banner(self) -> QWidget:
        """Which model, input, layer and head a real head is; shown only for one."""
        self.banner = QWidget()
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(4, 2, 4, 2)
        self.banner_label = QLabel("")
        self.banner_label.setProperty("role", "note")
        self.banner_label.setWordWrap(True)
        self.model_reset_button = QPushButton("Reset to model")
        self.model_reset_button.setToolTip("Back to the model's own Q, K and V (the selected query stays)")
        self.back_button = QPushButton("Back")
        self.back_button.setToolTip("Show this layer, head and query in the panel the head came from")
        row.addWidget(self.banner_label, 1)
        row.addWidget(self.model_reset_button)
        row.addWidget(self.back_button)
        self.banner.hide()
        return self.banner

    def _build_views(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.setSpacing(4)
        maps = QSplitter(Qt.Orientation.Horizontal)
        small = QSplitter(Qt.Orientation.Vertical)
        self.scores_map = Heatmap("① Scores Q·Kᵀ", kind="diverging", fmt="{:.3f}")
        self.scaled_map = Heatmap(rich("② Scaled ÷√d_k"), kind="diverging", fmt="{:.3f}")
        small.addWidget(self.scores_map)
        small.addWidget(self.scaled_map)
        self.weights_map = Heatmap("③ Weights softmax(…) — rows sum to 1", kind="sequential", fmt="{:.3f}", colorbar=True)
        self.output_map = Heatmap("④ Output = weights·V", kind="diverging", fmt="{:.3f}")
        maps.addWidget(small)
        maps.addWidget(self.weights_map)
        maps.addWidget(self.output_map)
        maps.setStretchFactor(0, 2)
        maps.setStretchFactor(1, 4)
        maps.setStretchFactor(2, 2)
        maps.setSizes([220, 400, 210])

        self.lower = lower = QSplitter(Qt.Orientation.Horizontal)
        self.image_map = TokenImageMap()
        self.image_map.hide()
        lower.addWidget(self.image_map)
        self.bars = WeightBars()
        lower.addWidget(self.bars)
        # Text views, not labels in scroll areas: a new text re-lays out only the document,
        # not the panel (a word-wrapped QLabel cost ~10 ms of layout per edit).
        self.formula = TextView()
        lower.addWidget(self.formula)
        lower.setSizes([220, 220, 600])
        lower.setStretchFactor(2, 1)
        self.notes = TextView(note=True)

        self.vertical = vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(maps)
        vertical.addWidget(lower)
        vertical.addWidget(self.notes)
        vertical.setStretchFactor(0, 5)
        vertical.setStretchFactor(1, 2)
        vertical.setStretchFactor(2, 2)
        vertical.setSizes([340, 135, 150])
        layout.addWidget(vertical, 1)

        for heatmap in (self.scores_map, self.scaled_map, self.weights_map):
            heatmap.hovered.connect(self._on_hover)
            heatmap.clicked.connect(self._on_click)
        self.output_map.clicked.connect(lambda row, _col: self._on_click(row, -1))
        self.image_map.tokenClicked.connect(self._on_token_clicked)
        return box

    def _connect_inputs(self) -> None:
        state = self.state
        for name, spin in self.size_spins.items():
            spin.valueChanged.connect(lambda value, n=name: state.set_size(n, value))
        for name, editor in self.editors.items():
            editor.edited.connect(lambda matrix, n=name: self._edit(n, matrix))
        self.random_button.clicked.connect(state.randomise)
        self.seed_spin.valueChanged.connect(lambda seed: setattr(state, "seed", seed))
        self.zeros_button.clicked.connect(state.fill_zeros)
        self.identity_button.clicked.connect(state.fill_identity)
        self.scale_check.toggled.connect(state.set_scale)
        self.temperature_spin.valueChanged.connect(state.set_temperature)
        self.mask_check.toggled.connect(state.set_mask_on)
        self.causal_button.clicked.connect(state.set_causal)
        self.allow_all_button.clicked.connect(state.allow_all)
        self.mask_map.clicked.connect(state.toggle_mask_cell)

    # -- the state drives the widgets ---------------------------------------------------------
    def _bind(self) -> None:
        """Show the state now and follow its changes."""
        events = self.state.events
        for name, editor in self.editors.items():
            follow(self, getattr(events, name), partial(self._show_matrix, editor))
        for name in SIZE_NAMES:
            follow(self, getattr(events, name), self._sync_size_spins)
        follow(self, events.seed, lambda seed: set_quietly(self.seed_spin, seed))
        follow(self, events.scale, lambda on: set_quietly(self.scale_check, on))
        follow(self, events.temperature, lambda t: set_quietly(self.temperature_spin, t))
        follow(self, events.mask_on, lambda on: set_quietly(self.mask_check, on))
        follow(self, events.size_note, self._show_size_note)
        follow(self, events.real, self._show_real)
        follow(self, events.note, self._show_banner)
        follow(self, events.view, self.redraw)
        follow(self, events.selected_query, self._on_selected)
        follow(self, events.selected_key, self._on_selected)
        follow(self, events.hover, self._on_hover_changed)
        state = self.state
        for name, editor in self.editors.items():
            show_matrix(editor, getattr(state, name))
        self._sync_size_spins()
        for widget, value in ((self.seed_spin, state.seed), (self.scale_check, state.scale),
                              (self.temperature_spin, state.temperature), (self.mask_check, state.mask_on)):
            set_quietly(widget, value)
        self._show_size_note(state.size_note)
        self._show_real(state.real)
        self.redraw()
        self.update_notes()
        self._apply_highlight()

    def _show_matrix(self, editor, values: np.ndarray) -> None:
        """New numbers in an editor; a reset of its rows scrolls it to the top, so the selection is brought back."""
        shape = editor.shape()
        show_matrix(editor, values)
        if editor.shape() != shape or shape != values.shape:
            self._scroll_to_selection()

    def _edit(self, name: str, matrix: np.ndarray) -> None:
        refusal = self.state.edit(name, matrix)
        if refusal:  # the products overflow: the editor shows the numbers still in force, and why
            self.editors[name].refuse(refusal, getattr(self.state, name))

    def _sync_size_spins(self) -> None:
        for name, value in self.state.sizes().items():
            set_quietly(self.size_spins[name], value)

    def _show_size_note(self, text: str) -> None:
        self.size_note.setText(text)
        self.size_note.setVisible(bool(text))

    def _show_real(self, head) -> None:
        """A real head came (or went): its token names on the editors, its picture, the banner."""
        state = self.state
        real = head is not None
        self.inputs.set_real(real, state.n_q, state.d_k, state.d_v)
        names = list(head.token_labels) if real else []
        for editor in self.editors.values():
            editor.set_row_labels(names)
        has_picture = real and head.image is not None and head.grid is not None
        if has_picture and head is not self._picture_of:
            self.image_map.set_picture(np.asarray(head.image), head.grid, head.first_patch, head.token_labels)
        self._picture_of = head if has_picture else None
        self.image_map.setVisible(has_picture)
        self.bars.set_names(names or None)
        if has_picture and state.view is not None and state.selected_query < state.view.weights.shape[0]:
            self._draw_selected()  # the view may have been drawn first, while the map was hidden
        self.banner.setVisible(real)
        # a real head: the lower row (map over the picture, bars, formula) gets the room it needs
        self.vertical.setSizes([270, 215, 95] if has_picture else [340, 135, 150])
        self.back_button.setVisible(real and head.back is not None)
        if real and head.back is not None:
            self.back_button.setText(getattr(head.back, "label", "") or "Back")
        self._show_banner()

    def _show_banner(self, *_args) -> None:
        head, state = self.state.real, self.state
        if head is None:
            return
        parity = "" if state.model_error is None else (
            f" Recomputed weights equal the model's own to {num(state.model_error, 2)} (max |Δ|).")
        status = " <b>Edited</b>: Reset to model restores its values." if state.edited else ""
        self.banner_label.setText(f"<b>{head.title}</b> — {state.n_q} tokens × d_head {state.d_k}.{parity}{status}")

    def _labels_for(self, prefix: str, n: int) -> list[str]:
        names = self.state.labels
        key = (prefix, n, names)
        if key not in self._labels:
            self._labels = {k: v for k, v in self._labels.items() if k[2] is None}  # keep one real head's names
            self._labels[key] = list(names) if names is not None and len(names) == n else labels(prefix, n)
        return self._labels[key]

    def redraw(self) -> None:
        """Every map from the state's view — only the rows and columns it says changed; the notes follow later."""
        view = self.state.view
        if view is None:
            return
        change = view.change
        n_q, n_k = view.scores.shape
        same_shape = self.weights_map.values.shape == (n_q, n_k) and self.output_map.values.shape == view.output.shape
        top = (0.0, nice_ceiling(float(view.weights.max())))
        if change.full or not same_shape:
            self._redraw_all(view, top)
        else:
            rows, cols = list(change.rows), list(change.key_cols)
            for heatmap, values in ((self.scores_map, view.scores), (self.scaled_map, view.scaled)):
                heatmap.update_values(values, rows=rows, cols=cols)
            self.weights_map.update_values(view.weights, rows=None if change.weights_all else rows, levels=top)
            self.output_map.update_values(view.output, rows=None if change.output_all else rows)
        if self._touches_selected(change):
            self._draw_selected()
        self._notes_later()
        if not same_shape:
            self._apply_highlight()

    def _touches_selected(self, change) -> bool:
        """Whether the selected query's bars, map over the picture or formula can differ after ``change``."""
        return (change.full or change.weights_all or change.output_all
                or self.state.selected_query in change.rows)

    def _redraw_all(self, view, top: tuple[float, float]) -> None:
        n_q, n_k = view.scores.shape
        ql, kl = self._labels_for("q", n_q), self._labels_for("k", n_k)
        state = self.state
        blocked = ~view.allowed if state.mask_on else None
        self.scores_map.set_data(view.scores, row_labels=ql, col_labels=kl, masked=blocked)
        self.scaled_map.set_data(view.scaled, row_labels=ql, col_labels=kl, masked=blocked)
        self.weights_map.set_data(view.weights, row_labels=ql, col_labels=kl, levels=top, masked=blocked)
        self.output_map.set_data(view.output, row_labels=self._labels_for("o", n_q),
                                 col_labels=labels("", view.v.shape[1]))
        shown = (state.mask, state.mask_on)
        if self._mask_shown is None or shown[0] is not self._mask_shown[0] or shown[1] != self._mask_shown[1]:
            self._mask_shown = shown  # the mask rarely changes while Q, K, V are scrubbed
            self.mask_map.set_data(state.mask.astype(float), row_labels=ql, col_labels=kl, levels=(0.0, 1.0))
            self.mask_map.setEnabled(state.mask_on)
        d_k = view.q.shape[1]
        self.scaled_map.set_title(
            "② Scaled: scaling off (= scores)" if view.scale == 1.0 else rich(f"② Scaled ÷√d_k = ÷√{d_k}")
            + (f", ÷T={view.temperature:g} before softmax" if view.temperature != 1.0 else "")
        )

    def _draw_selected(self) -> None:
        """The selected query's bars, map over the picture and formula."""
        view, row, key = self.state.view, self.state.selected_query, self.state.selected_key
        title = f"weights of {view.name('q', row)}"
        self.bars.set_weights(view.weights[row], title)
        if self.image_map.isVisibleTo(self):
            self.image_map.set_weights(view.weights[row], row, key, f"{view.name('q', row)} over the input")
        self.formula.set_html(formula_html(view, row))

    def update_notes(self) -> None:
        """The notes now (a preset, a click), not after the pause that follows edits."""
        self._notes_later.cancel()
        if self.state.view is not None:
            self.notes.set_html(notes_html(self.state.view, self.state.selected_query))

    # -- selection and hover ------------------------------------------------------------------
    def _on_selected(self, *_args) -> None:
        view = self.state.view
        if view is not None and self.state.selected_query < view.scores.shape[0]:  # else the new view draws it
            self._draw_selected()
            self.update_notes()
            self._apply_highlight()
            self._scroll_to_selection()

    def _scroll_to_selection(self) -> None:
        """The selected query's row (and the selected key's) in view in the editors of a long head."""
        self.q_editor.scroll_to(self.state.selected_query)
        if self.state.selected_key >= 0:
            self.k_editor.scroll_to(self.state.selected_key)
            self.v_editor.scroll_to(self.state.selected_key)

    def _on_click(self, row: int, col: int) -> None:
        self.state.select_query(row)
        self.state.select_key(col)
        self.update_notes()

    def _on_token_clicked(self, token: int) -> None:
        self.state.select_query(token)

    def _on_hover(self, row: int, col: int) -> None:
        self.state.set_hover(row, col)

    def _on_hover_changed(self, hover: tuple[int, int]) -> None:
        self._apply_highlight()
        row, col = hover
        if row >= 0 and self.state.view is not None:
            # Under each map, where the hovered number came from.
            texts = explain_cell(self.state.view, row, col)
            for heatmap, text in zip((self.scores_map, self.scaled_map, self.weights_map), texts):
                heatmap.info_label.setText(text)

    def _apply_highlight(self) -> None:
        row, col = self.state.hover
        if row < 0:
            row, col = self.state.selected_query, self.state.selected_key
        keys = [col] if col >= 0 else []
        self.q_editor.set_highlight(rows=[row])
        self.k_editor.set_highlight(rows=keys)
        self.v_editor.set_highlight(rows=keys)
        cells = [(row, col)] if col >= 0 else []
        for heatmap in (self.scores_map, self.scaled_map, self.weights_map):
            heatmap.set_highlight(rows=[row], cols=keys, cells=cells)
        self.output_map.set_highlight(rows=[row])
        self.mask_map.set_highlight(cells=cells)
        self.bars.set_highlight(col)

    def apply_theme(self) -> None:
        for heatmap in (self.scores_map, self.scaled_map, self.weights_map, self.output_map, self.mask_map):
            heatmap.apply_theme()
        for editor in self.editors.values():
            editor.apply_theme()
        self.bars.apply_theme()
        self.image_map.apply_theme()
        self.formula.apply_theme()
        self.notes.apply_theme()
        self._apply_highlight()
