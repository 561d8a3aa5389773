"""“From input”: tokens X and projections W_Q, W_K, W_V, W_O make Q, K, V; one weight map per head.

This is where the common mistake gets corrected: the attention weights are
recomputed from X on every edit, while the projection matrices (the model's
parameters) do not move. After each edit the note says which changed and by
how much.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt, pyqtSignal
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

from explorer.engine.attention.core import causal_mask
from explorer.engine.attention.multi_head import MultiHeadTrace, multi_head_attention
from explorer.engine.attention.presets import default_input
from explorer.ui.errors import show_error
from explorer.ui.panels.attention.text import num
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.matrix_editor import MatrixEditor

MAX_TOKENS = 16
MAX_D_MODEL = 16
MAX_HEADS_SHOWN = 8


def _side_by_side(per_head) -> np.ndarray:
    """(h, n, d) → (n, h·d)."""
    array = per_head.numpy()
    return array.transpose(1, 0, 2).reshape(array.shape[1], -1)


class FromInputView(QWidget):
    """Editable X (and X₂ for cross-attention), W_Q, W_K, W_V, W_O; per-head weights and the output."""

    #: Emitted with (Q, K, V) of head 1 when the user sends them to the Q·K·V view.
    sendToEditor = pyqtSignal(object, object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trace: MultiHeadTrace | None = None
        self._last_source = ""
        self._previous_weights: np.ndarray | None = None
        self._previous_params: list[np.ndarray] | None = None

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
        self.editors = (self.x_editor, self.xkv_editor, self.wq_editor, self.wk_editor, self.wv_editor, self.wo_editor)
        for editor in self.editors:
            editor.setMinimumHeight(120)
            editors_layout.addWidget(editor)
            editor.edited.connect(lambda _m, e=editor: self._on_edited(e))
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

        self.tokens_spin.valueChanged.connect(self._on_sizes)
        self.dmodel_spin.valueChanged.connect(self._on_dmodel)
        self.heads_combo.currentIndexChanged.connect(lambda _i: self._on_sizes())
        self.cross_check.toggled.connect(self._on_cross)
        self.causal_check.toggled.connect(lambda _on: self.recompute("the causal mask"))
        self.new_button.clicked.connect(self.randomise)
        self.send_button.clicked.connect(self._send)
        self.load(default_input())

    # -- state -----------------------------------------------------------------------------
    def load(self, preset) -> None:
        for widget in (self.tokens_spin, self.dmodel_spin, self.heads_combo):
            widget.blockSignals(True)
        n, d_model = preset.x.shape
        self.tokens_spin.setValue(n)
        self.dmodel_spin.setValue(d_model)
        self._fill_heads(d_model, preset.num_heads)
        for widget in (self.tokens_spin, self.dmodel_spin, self.heads_combo):
            widget.blockSignals(False)
        self.x_editor.set_matrix(preset.x)
        self.xkv_editor.set_matrix(preset.x_kv)
        self.wq_editor.set_matrix(preset.w_q)
        self.wk_editor.set_matrix(preset.w_k)
        self.wv_editor.set_matrix(preset.w_v)
        self.wo_editor.set_matrix(preset.w_o)
        self._on_cross(self.cross_check.isChecked(), recompute=False)
        self._previous_weights = None
        self.recompute("")

    def randomise(self) -> None:
        self.load(default_input(self.tokens_spin.value(), self.dmodel_spin.value(), self.num_heads(), self.seed_spin.value()))
        self.seed_spin.setValue(self.seed_spin.value() + 1)

    def num_heads(self) -> int:
        return int(self.heads_combo.currentData() or 1)

    def _fill_heads(self, d_model: int, wanted: int) -> None:
        self.heads_combo.blockSignals(True)
        self.heads_combo.clear()
        divisors = [h for h in range(1, min(d_model, MAX_HEADS_SHOWN) + 1) if d_model % h == 0]
        for h in divisors:
            self.heads_combo.addItem(str(h), h)
        self.heads_combo.setCurrentIndex(divisors.index(wanted) if wanted in divisors else len(divisors) - 1)
        self.heads_combo.blockSignals(False)

    def _on_dmodel(self, d_model: int) -> None:
        self._fill_heads(d_model, self.num_heads())
        self._on_sizes()

    def _on_sizes(self) -> None:
        n, d = self.tokens_spin.value(), self.dmodel_spin.value()
        self.x_editor.resize_matrix(n, d)
        self.xkv_editor.resize_matrix(max(self.xkv_editor.shape()[0], 1), d)
        for editor in (self.wq_editor, self.wk_editor, self.wv_editor, self.wo_editor):
            editor.resize_matrix(d, d)
        self._previous_weights = None
        self.recompute("the sizes")

    def _on_cross(self, on: bool, recompute: bool = True) -> None:
        self.xkv_editor.setVisible(on)
        if recompute:
            self._previous_weights = None
            self.recompute("cross-attention")

    def _on_edited(self, editor: MatrixEditor) -> None:
        name = "the input X" if editor in (self.x_editor, self.xkv_editor) else "a projection matrix"
        self.recompute(name)

    def _send(self) -> None:
        if self.trace is not None:
            t = self.trace
            self.sendToEditor.emit(t.q[0].numpy(), t.k[0].numpy(), t.v[0].numpy())

    # -- compute and draw ------------------------------------------------------------------
    def params(self) -> list[np.ndarray]:
        return [e.matrix() for e in (self.wq_editor, self.wk_editor, self.wv_editor, self.wo_editor)]

    def recompute(self, source: str) -> None:
        x = self.x_editor.matrix()
        cross = self.cross_check.isChecked()
        x_kv = self.xkv_editor.matrix() if cross else None
        n_k = x_kv.shape[0] if cross else x.shape[0]
        mask = causal_mask(x.shape[0], n_k) if self.causal_check.isChecked() else None
        w_q, w_k, w_v, w_o = self.params()
        try:
            trace = multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads=self.num_heads(), x_kv=x_kv, mask=mask)
        except ValueError as exc:
            show_error("Attention from input", exc)
            return
        self.trace = trace
        weights = trace.weights.numpy()  # (h, n_q, n_k)
        h = trace.num_heads
        rows = [f"x{i + 1}" for i in range(x.shape[0])]
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
        self.output_map.set_data(trace.output.numpy(), row_labels=[f"out{i + 1}" for i in range(x.shape[0])])
        d_k = trace.q.shape[-1]
        d_v = trace.v.shape[-1]
        q_cols = [f"h{i // d_k + 1}·{i % d_k + 1}" for i in range(h * d_k)]
        v_cols = [f"h{i // d_v + 1}·{i % d_v + 1}" for i in range(h * d_v)]
        # (h, n, d) → (n, h·d): the heads side by side, as the projection produced them
        self.q_map.set_data(_side_by_side(trace.q), row_labels=[f"q{i + 1}" for i in range(x.shape[0])], col_labels=q_cols)
        self.k_map.set_data(_side_by_side(trace.k), row_labels=[f"k{j + 1}" for j in range(n_k)], col_labels=q_cols)
        self.v_map.set_data(_side_by_side(trace.v), row_labels=[f"v{j + 1}" for j in range(n_k)], col_labels=v_cols)
        self._write_note(source, weights)

    def _write_note(self, source: str, weights: np.ndarray) -> None:
        params = self.params()
        lines = []
        if self._previous_weights is not None and self._previous_weights.shape == weights.shape and source:
            change = float(np.abs(weights - self._previous_weights).max())
            params_moved = self._previous_params is not None and any(
                not np.array_equal(a, b) for a, b in zip(params, self._previous_params)
            )
            if source == "the input X":
                lines.append(
                    f"You changed <b>the input X</b>: attention weights moved by up to <b>{num(change)}</b>, "
                    f"while W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub>, W<sub>O</sub> stayed exactly the same "
                    f"({'changed' if params_moved else 'unchanged'}). The weights are computed from the input."
                )
            elif source == "a projection matrix":
                lines.append(
                    f"You changed <b>a projection matrix</b>, a parameter: in a real model only training does that, "
                    f"not a new input. The weights moved by up to {num(change)}."
                )
        if not lines:
            lines.append(
                "Attention weights are <b>not</b> parameters: they are recomputed from X for every input. "
                "The parameters are W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub>, W<sub>O</sub>; "
                "they stay fixed until training changes them. Edit X to see it."
            )
        h = self.num_heads()
        d = self.dmodel_spin.value()
        lines.append(
            f"{h} head{'s' if h > 1 else ''} of d<sub>k</sub> = {d // h}: each head has its own slice of the "
            "projections, so each can attend to different tokens; the heads' outputs are concatenated and mixed by W<sub>O</sub>."
        )
        self.note.setText("<br>".join(lines))
        self._previous_weights = weights.copy()
        self._previous_params = params

    def _on_hover(self, head: int, row: int, col: int) -> None:
        cross = self.cross_check.isChecked()
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
        for editor in self.editors:
            editor.apply_theme()
