"""“From input”: tokens X and projections W_Q, W_K, W_V, W_O make Q, K, V; one weight map per head.

This is where the common mistake gets corrected: the attention weights are
recomputed from X on every edit, while the projection matrices (the model's
parameters) do not move. After each edit the note says which changed and by
how much. The numbers and that rule live in :class:`FromInputState`; this
view forwards the edits and draws its trace.
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
from explorer.ui.panels.attention.state import INPUT_MATRICES, MAX_D_MODEL, MAX_TOKENS, FromInputState, head_choices
from explorer.ui.panels.attention.views import follow, show_matrix
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.matrix_editor import MatrixEditor


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
        controls = QHBoxLayout()
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(1, MAX_TOKENS)
        self.dmodel_spin = QSpinBox()
        self.dmodel_spin.setRange(1, MAX_D_MODEL)
        self.heads_combo = QComboBox()
        self.cross_check = QCheckBox("Cross-attention (keys, values from X₂)")
        self.causal_check = QCheckBox("Causal mask")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 9999)
        self.seed_spin.setPrefix("seed ")
        self.new_button = QPushButton("New random")
        self.new_button.setToolTip("Draw new tokens and projections from the seed")
        self.send_button = QPushButton("Send head 1 to Q·K·V")
        self.send_button.setToolTip("Copy head 1's Q, K and V into the editors of the Q·K·V tab")
        for label, widget in (("tokens", self.tokens_spin), ("d_model", self.dmodel_spin), ("heads", self.heads_combo)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.cross_check)
        controls.addWidget(self.causal_check)
        controls.addStretch(1)
        controls.addWidget(self.seed_spin)
        controls.addWidget(self.new_button)
        controls.addWidget(self.send_button)
        outer.addLayout(controls)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(splitter, 1)
        editors = QWidget()
        editors_layout = QVBoxLayout(editors)
        editors_layout.setContentsMargins(0, 0, 4, 0)
        self.x_editor = MatrixEditor(title="X — tokens (input: changes with every image or sentence)", row_prefix="x", col_prefix="")
        self.xkv_editor = MatrixEditor(title="X₂ — the other sequence (keys and values)", row_prefix="y", col_prefix="")
        self.wq_editor = MatrixEditor(title="W_Q — parameters (fixed until training)", row_prefix="", col_prefix="")
        self.wk_editor = MatrixEditor(title="W_K — parameters", row_prefix="", col_prefix="")
        self.wv_editor = MatrixEditor(title="W_V — parameters", row_prefix="", col_prefix="")
        self.wo_editor = MatrixEditor(title="W_O — output projection (parameters)", row_prefix="", col_prefix="")
        self.editors = dict(zip(INPUT_MATRICES, (
            self.x_editor, self.xkv_editor, self.wq_editor, self.wk_editor, self.wv_editor, self.wo_editor,
        )))
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
        self.result_tabs.addTab(self.output_map, "Output = concat(heads)·W_O")
        self.result_tabs.addTab(self.q_map, "Q = X·W_Q")
        self.result_tabs.addTab(self.k_map, "K = X·W_K")
        self.result_tabs.addTab(self.v_map, "V = X·W_V")
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
        self.new_button.clicked.connect(state.randomise)
        self._bind()

    # -- the state drives the widgets -----------------------------------------------------------
    def _bind(self) -> None:
        """Show the state now and follow its changes."""
        events = self.state.events
        for name, editor in self.editors.items():
            follow(self, getattr(events, name), partial(show_matrix, editor))
        for name in ("tokens", "d_model", "heads", "cross", "causal", "seed"):
            follow(self, getattr(events, name), self._show_controls)
        follow(self, events.trace, self._draw)
        follow(self, events.note, lambda html: self.note.setText(html))
        for name, editor in self.editors.items():
            show_matrix(editor, getattr(self.state, name))
        self._show_controls()
        self._draw(self.state.trace)
        self.note.setText(self.state.note)

    def _show_controls(self) -> None:
        state = self.state
        widgets = (self.tokens_spin, self.dmodel_spin, self.heads_combo, self.cross_check, self.causal_check, self.seed_spin)
        for widget in widgets:
            widget.blockSignals(True)
        self.tokens_spin.setValue(state.tokens)
        self.dmodel_spin.setValue(state.d_model)
        choices = head_choices(state.d_model)
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
        rows = [f"x{i + 1}" for i in range(n_q)]
        cols = [f"{'y' if cross else 'x'}{j + 1}" for j in range(n_k)]
        while self.heads_grid.count():
            self.heads_grid.takeAt(0)
        per_row = 1 if h == 1 else 2 if h <= 4 else 4
        while len(self.head_maps) < h:
            index = len(self.head_maps)
            heatmap = Heatmap(f"head {index + 1} weights", kind="sequential", fmt="{:.2f}")
            heatmap.hovered.connect(lambda r, c, i=index: self._on_hover(i, r, c))
            heatmap.apply_theme()
            self.head_maps.append(heatmap)
        for index, heatmap in enumerate(self.head_maps):
            if index < h:
                heatmap.set_data(weights[index], row_labels=rows, col_labels=cols, levels=(0.0, 1.0))
                self.heads_grid.addWidget(heatmap, index // per_row, index % per_row)
                heatmap.show()
            else:
                heatmap.hide()
        self.output_map.set_data(trace.output.numpy(), row_labels=[f"out{i + 1}" for i in range(n_q)])
        d_k = trace.q.shape[-1]
        d_v = trace.v.shape[-1]
        q_cols = [f"h{i // d_k + 1}·{i % d_k + 1}" for i in range(h * d_k)]
        v_cols = [f"h{i // d_v + 1}·{i % d_v + 1}" for i in range(h * d_v)]
        # (h, n, d) → (n, h·d): the heads side by side, as the projection produced them
        self.q_map.set_data(_side_by_side(trace.q), row_labels=[f"q{i + 1}" for i in range(n_q)], col_labels=q_cols)
        self.k_map.set_data(_side_by_side(trace.k), row_labels=[f"k{j + 1}" for j in range(n_k)], col_labels=q_cols)
        self.v_map.set_data(_side_by_side(trace.v), row_labels=[f"v{j + 1}" for j in range(n_k)], col_labels=v_cols)

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

