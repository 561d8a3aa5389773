"""“From input”: tokens X and projections W_Q, W_K, W_V, W_O make Q, K, V; one weight map per head.

This is where the common mistake gets corrected: the attention weights are
recomputed from X on every edit, while the projection matrices (the model's
parameters) do not move. After each edit the note says which changed and by
how much. The numbers and that rule live in :class:`FromInputState`; this
view forwards the edits and draws its trace.

The source row takes X from the current image through a ViT — the tokens
entering a chosen layer, or the patch embeddings plus position embeddings — and
the W's from that layer (the ViT a head was opened from, or the bundled one).
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.attention.multi_head import MultiHeadTrace
from explorer.ui.panels.attention.notation import rich, rich_tab
from explorer.ui.panels.attention.state import (
    INPUT_MATRICES,
    MAX_D_MODEL,
    MAX_TOKENS,
    FromInputState,
    head_choices,
)
from explorer.ui.panels.attention.views import follow, nice_ceiling, show_matrix
from explorer.ui.widgets.control_row import ControlRow
from explorer.ui.widgets.eliding import ElidingLabel
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.matrix_editor import LARGEST, MatrixEditor

#: The source box's entries: (text, FromInputState.load_layer's source, or None for your own numbers).
SOURCES = (("Your own numbers", None), ("Image → ViT: tokens entering layer", "tokens"),
           ("Image → ViT: patch + position embeddings, W's of layer", "embeddings"))
TITLES = {
    "x": "X — tokens (input: changes with every image or sentence)",
    "x_kv": "X₂ — the other sequence (keys and values)",
    "w_q": "W_Q — parameters (fixed until training)",
    "w_k": "W_K — parameters",
    "w_v": "W_V — parameters",
    "w_o": "W_O — output projection (parameters)",
}


def _side_by_side(per_head) -> np.ndarray:
    """(h, n, d) → (n, h·d)."""
    array = per_head.numpy()
    return array.transpose(1, 0, 2).reshape(array.shape[1], -1)


class FromInputView(QWidget):
    """Editable X (and X₂ for cross-attention), W_Q, W_K, W_V, W_O; per-head weights and the output."""

    def __init__(self, state: FromInputState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        controls = ControlRow()
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(1, MAX_TOKENS)
        self.dmodel_spin = QSpinBox()
        self.dmodel_spin.setRange(1, MAX_D_MODEL)
        self.heads_combo = QComboBox()
        self.cross_check = QCheckBox("Cross-attention: K, V from X₂")
        self.causal_check = QCheckBox("Causal mask")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 9999)
        self.seed_spin.setPrefix("seed ")
        self.new_button = QPushButton("New random")
        self.new_button.setToolTip("Draw new tokens and projections from the seed")
        self.send_button = QPushButton("Send to Q·K·V")
        self.send_button.setToolTip("Copy this head's Q, K and V into the editors of the Q·K·V tab")
        self.send_head_spin = QSpinBox()
        self.send_head_spin.setPrefix("head ")
        self.send_head_spin.setMinimum(1)
        for label, widget in (("tokens", self.tokens_spin), ("d_model", self.dmodel_spin), ("heads", self.heads_combo)):
            controls.addWidget(QLabel(rich(label)))
            controls.addWidget(widget)
        controls.addWidget(self.cross_check)
        controls.addWidget(self.causal_check)
        controls.addWidget(self.seed_spin)
        controls.addWidget(self.new_button)
        controls.addWidget(self.send_head_spin)
        controls.addWidget(self.send_button)
        outer.addLayout(controls)
        outer.addLayout(self._build_source_row())

        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(splitter, 1)
        editors = QWidget()
        editors_layout = QVBoxLayout(editors)
        editors_layout.setContentsMargins(0, 0, 4, 0)
        self.editors = {
            name: MatrixEditor(title=rich(TITLES[name]), row_prefix={"x": "x", "x_kv": "y"}.get(name, ""),
                               col_prefix="", max_size=LARGEST)
            for name in INPUT_MATRICES
        }
        self.x_editor, self.xkv_editor, self.wq_editor, self.wk_editor, self.wv_editor, self.wo_editor = (
            self.editors[name] for name in INPUT_MATRICES)
        for name, editor in self.editors.items():
            editor.setMinimumHeight(120)
            editors_layout.addWidget(editor)
            editor.edited.connect(lambda matrix, n=name: state.edit(n, matrix))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(editors)
        splitter.addWidget(scroll)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        self.heads_grid = QGridLayout()
        self.head_maps: list[Heatmap] = []  # grown as heads are needed
        right_layout.addLayout(self.heads_grid, 3)
        # What the projections produced, one tab each: Q = X·W_Q, K, V, and the output.
        self.result_tabs = QTabWidget()
        self.result_tabs.setMinimumHeight(170)
        self.q_map = Heatmap("", kind="diverging")
        self.k_map = Heatmap("", kind="diverging")
        self.v_map = Heatmap("", kind="diverging")
        self.output_map = Heatmap("", kind="diverging")
        for index, (widget, text) in enumerate(((self.output_map, "Output = concat(heads)·W_O"),
                                                (self.q_map, "Q = X·W_Q"), (self.k_map, "K = X·W_K"),
                                                (self.v_map, "V = X·W_V"))):
            self.result_tabs.addTab(widget, "")
            rich_tab(self.result_tabs, index, text)  # a tab bar shows plain text: "W_Q" would read "W Q"
        right_layout.addWidget(self.result_tabs, 2)
        self.note = QLabel(" ")
        self.note.setWordWrap(True)
        self.note.setProperty("role", "note")
        self.note.setTextFormat(Qt.TextFormat.RichText)
        right_layout.addWidget(self.note)
        splitter.addWidget(right)
        splitter.setSizes([420, 640])
        splitter.setStretchFactor(1, 1)

        self.tokens_spin.valueChanged.connect(state.set_tokens)
        self.dmodel_spin.valueChanged.connect(state.set_d_model)
        self.heads_combo.currentIndexChanged.connect(lambda index: state.set_heads(self.heads_combo.itemData(index)))
        self.cross_check.toggled.connect(state.set_cross)
        self.causal_check.toggled.connect(state.set_causal)
        self.seed_spin.valueChanged.connect(lambda seed: setattr(state, "seed", seed))
        self.send_head_spin.valueChanged.connect(lambda head: setattr(state, "send_head", head - 1))
        self.new_button.clicked.connect(state.randomise)
        self.source_combo.currentIndexChanged.connect(self._source_chosen)
        self.layer_spin.valueChanged.connect(lambda _value: self._source_chosen())
        self.norm_check.toggled.connect(lambda _on: self._source_chosen())
        self._bind()

    def _build_source_row(self) -> QHBoxLayout:
        """Where X and the W's come from: your own numbers, or the current image through a ViT layer."""
        row = QHBoxLayout()
        row.addWidget(QLabel("Source"))
        self.source_combo = QComboBox()
        for text, _source in SOURCES:
            self.source_combo.addItem(text)
        self.source_combo.setToolTip("X from the current image through a ViT, and W_Q, W_K, W_V, W_O from that layer")
        # sized to 28 characters (its list opens wider), so a zoomed row does not widen the window
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(28)
        self.layer_spin = QSpinBox()
        self.layer_spin.setRange(1, 1)
        self.norm_check = QCheckBox("LayerNorm first")
        self.norm_check.setChecked(True)
        self.norm_check.setToolTip("As the model does: its attention reads LayerNorm₁(tokens), not the tokens")
        self.run_vit_button = QPushButton("Run a ViT on the image")
        self.run_vit_button.setToolTip("Trace the current image with the bundled ViT (or open a head from the ViT panel)")
        self.vit_label = ElidingLabel("")
        self.vit_label.setProperty("role", "muted")
        for widget in (self.source_combo, self.layer_spin, self.norm_check, self.run_vit_button):
            row.addWidget(widget)
        row.addWidget(self.vit_label, 1)
        return row

    def _source_chosen(self, *_args) -> None:
        source = SOURCES[max(self.source_combo.currentIndex(), 0)][1]
        state = self.state
        if source is None:
            if state.real is not None:
                state.randomise()
        elif state.vit is not None:
            state.load_layer(self.layer_spin.value() - 1, source, normalise=self.norm_check.isChecked())

    # -- the state drives the widgets -----------------------------------------------------------
    def _bind(self) -> None:
        """Show the state now and follow its changes."""
        events = self.state.events
        for name, editor in self.editors.items():
            follow(self, getattr(events, name), partial(show_matrix, editor))
        for name in ("tokens", "d_model", "heads", "cross", "causal", "seed", "real", "vit", "busy", "send_head"):
            follow(self, getattr(events, name), self._show_controls)
        follow(self, events.real, self._show_real)
        follow(self, events.trace, self._draw)
        follow(self, events.note, lambda html: self.note.setText(html))
        for name, editor in self.editors.items():
            show_matrix(editor, getattr(self.state, name))
        self._show_controls()
        self._show_real(self.state.real)
        self._draw(self.state.trace)
        self.note.setText(self.state.note)

    def _show_real(self, real) -> None:
        """A real layer's tokens name the rows of X; the W's say which layer they are."""
        self.x_editor.set_row_labels(list(real.token_labels) if real is not None else [])
        for name in ("w_q", "w_k", "w_v", "w_o"):
            suffix = f" of layer {real.layer + 1} ({real.x.shape[1]} × {real.x.shape[1]})" if real is not None else ""
            self.editors[name].set_title(rich(TITLES[name] + suffix))

    def _show_controls(self) -> None:
        state = self.state
        widgets = (self.tokens_spin, self.dmodel_spin, self.heads_combo, self.cross_check, self.causal_check,
                   self.seed_spin, self.send_head_spin, self.source_combo, self.layer_spin, self.norm_check)
        for widget in widgets:
            widget.blockSignals(True)
        real = state.real
        for widget in (self.tokens_spin, self.dmodel_spin, self.heads_combo, self.cross_check):
            widget.setEnabled(real is None)  # a real layer's sizes and heads are the model's
        self.tokens_spin.setMaximum(max(MAX_TOKENS, state.tokens))  # a real layer's size is shown as it is
        self.dmodel_spin.setMaximum(max(MAX_D_MODEL, state.d_model))
        self.tokens_spin.setValue(state.tokens)
        self.dmodel_spin.setValue(state.d_model)
        self.send_head_spin.setMaximum(state.heads)
        self.send_head_spin.setValue(state.send_head + 1)
        self.source_combo.setCurrentIndex(0 if real is None else 1 if real.source == "tokens" else 2)
        self.source_combo.setEnabled(state.vit is not None)
        if state.vit is not None:
            self.layer_spin.setRange(1, state.vit.depth)
        if real is not None:
            self.layer_spin.setValue(real.layer + 1)
            self.norm_check.setChecked(real.normalised)
        self.layer_spin.setEnabled(state.vit is not None)
        self.norm_check.setEnabled(state.vit is not None)
        vit = state.vit
        self.vit_label.setText("computing…" if state.busy else (
            f"{vit.model_name} on {vit.input_name or 'the image'}" if vit is not None else
            "no ViT yet: open a head from the ViT panel, or run the bundled one"))
        choices = head_choices(state.d_model) if real is None else [state.heads]
        if [self.heads_combo.itemData(i) for i in range(self.heads_combo.count())] != choices:
            self.heads_combo.clear()
            for h in choices:
                self.heads_combo.addItem(str(h), h)
        self.heads_combo.setCurrentIndex(choices.index(state.heads) if state.heads in choices else len(choices) - 1)
        self.cross_check.setChecked(state.cross)
        self.causal_check.setChecked(state.causal)
        self.seed_spin.setValue(state.seed)
        for widget in widgets:
            widget.blockSignals(False)
        self.xkv_editor.setVisible(state.cross)

    def _draw(self, trace: MultiHeadTrace | None) -> None:
        if trace is None:
            return
        n_q = self.state.tokens
        cross = self.state.cross
        weights = trace.weights.numpy()  # (h, n_q, n_k)
        h, n_k = trace.num_heads, weights.shape[-1]
        names = self.state.labels
        rows = list(names) if names is not None and len(names) == n_q else [f"x{i + 1}" for i in range(n_q)]
        cols = rows if names is not None and not cross else [f"{'y' if cross else 'x'}{j + 1}" for j in range(n_k)]
        while self.heads_grid.count():
            self.heads_grid.takeAt(0)
        per_row = 1 if h == 1 else 2 if h <= 4 else 4 if h <= 8 else 6
        while len(self.head_maps) < h:
            index = len(self.head_maps)
            heatmap = Heatmap(f"head {index + 1} weights", kind="sequential", fmt="{:.2f}")
            heatmap.hovered.connect(lambda r, c, i=index: self._on_hover(i, r, c))
            heatmap.apply_theme()
            self.head_maps.append(heatmap)
        top = (0.0, nice_ceiling(float(weights.max())))  # one scale for every head, so they compare
        for index, heatmap in enumerate(self.head_maps):
            if index < h:
                heatmap.set_data(weights[index], row_labels=rows, col_labels=cols, levels=top)
                heatmap.set_title(f"head {index + 1} weights (colours 0 … {top[1]:g})")
                self.heads_grid.addWidget(heatmap, index // per_row, index % per_row)
                heatmap.show()
            else:
                heatmap.hide()
        self.output_map.set_data(trace.output.numpy(), row_labels=rows if names is not None else [f"out{i + 1}" for i in range(n_q)])
        d_k = trace.q.shape[-1]
        d_v = trace.v.shape[-1]
        q_cols = [f"h{i // d_k + 1}·{i % d_k + 1}" for i in range(h * d_k)]
        v_cols = [f"h{i // d_v + 1}·{i % d_v + 1}" for i in range(h * d_v)]
        # (h, n, d) → (n, h·d): the heads side by side, as the projection produced them
        q_rows = rows if names is not None else [f"q{i + 1}" for i in range(n_q)]
        k_rows = cols if names is not None else [f"k{j + 1}" for j in range(n_k)]
        v_rows = cols if names is not None else [f"v{j + 1}" for j in range(n_k)]
        self.q_map.set_data(_side_by_side(trace.q), row_labels=q_rows, col_labels=q_cols)
        self.k_map.set_data(_side_by_side(trace.k), row_labels=k_rows, col_labels=q_cols)
        self.v_map.set_data(_side_by_side(trace.v), row_labels=v_rows, col_labels=v_cols)

    def _on_hover(self, head: int, row: int, col: int) -> None:
        cross = self.state.cross
        self.x_editor.set_highlight(rows=[row] if row >= 0 else [])
        kv_editor = self.xkv_editor if cross else self.x_editor
        if row >= 0 and not cross:
            self.x_editor.set_highlight(rows=sorted({row, col}))
        elif cross:
            kv_editor.set_highlight(rows=[col] if col >= 0 else [])
        for index, heatmap in enumerate(self.head_maps):
            if heatmap.isVisible():
                heatmap.set_highlight(cells=[(row, col)] if row >= 0 else [])

    def apply_theme(self) -> None:
        for heatmap in (*self.head_maps, self.output_map, self.q_map, self.k_map, self.v_map):
            heatmap.apply_theme()
        for editor in self.editors.values():
            editor.apply_theme()

