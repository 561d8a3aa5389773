"""The Q·K·V tab: edit Q, K, V (and a mask) and watch every step of attention respond.

Editors on the left; on the right the weights map (largest), the scores and
scaled scores, the output, a bar chart of the selected query's weights, the
formula with that query's numbers and a note per step. The numbers and the
rules live in :class:`~explorer.ui.panels.attention.state.QKVState`: this view
forwards each edit to it and redraws in place when its ``view`` (the new
trace) arrives; hovering a weight lights up its query row, key column and the
value row it scales.
"""

from __future__ import annotations

from functools import partial

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from explorer.ui.panels.attention.qkv_state import MAX_TEMPERATURE, MIN_TEMPERATURE, SIZE_NAMES, QKVState
from explorer.ui.panels.attention.text import explain_cell, formula_html, notes_html
from explorer.ui.panels.attention.views import (
    SizeSpin,
    TextView,
    WeightBars,
    follow,
    labels,
    nice_ceiling,
    set_quietly,
    show_matrix,
)
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.matrix_editor import MatrixEditor

NOTES_DELAY_MS = 120


class QKVView(QWidget):
    """Editors for Q, K, V and the mask; every step of attention drawn live from a :class:`QKVState`."""

    def __init__(self, state: QKVState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._labels: dict[str, list[str]] = {}
        self._mask_key: tuple | None = None
        # Side notes are prose: rewriting them on every scrub step would be unreadable
        # and costs a text layout; they follow NOTES_DELAY_MS after the last change.
        self._notes_later = qdebounced(self.update_notes, timeout=NOTES_DELAY_MS, parent=self)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        splitter.addWidget(self._build_inputs())
        splitter.addWidget(self._build_views())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([370, 800])
        self._bind()

    # -- construction ------------------------------------------------------------------------
    def _build_inputs(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(4)

        sizes = QGridLayout()
        sizes.setHorizontalSpacing(4)
        self.size_spins: dict[str, SizeSpin] = {}
        for index, name in enumerate(SIZE_NAMES):
            spin = SizeSpin(name)
            spin.valueChanged.connect(lambda value, n=name: self.state.set_size(n, value))
            label = QLabel(name.replace("_", "<sub>") + "</sub>")
            sizes.addWidget(label, 0, 2 * index)
            sizes.addWidget(spin, 0, 2 * index + 1)
            self.size_spins[name] = spin
        layout.addLayout(sizes)

        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Fill Q, K, V with N(0, 1) numbers from the seed (then the seed moves on)")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 99_999)
        self.seed_spin.setValue(self.state.seed)
        self.seed_spin.setPrefix("seed ")
        self.zeros_button = QPushButton("Zeros")
        self.identity_button = QPushButton("Identity")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the preset")
        for widget in (self.random_button, self.seed_spin, self.zeros_button, self.identity_button, self.reset_button):
            buttons.addWidget(widget)
        layout.addLayout(buttons)

        options = QHBoxLayout()
        self.scale_check = QCheckBox("÷√d_k")
        self.scale_check.setChecked(True)
        self.scale_check.setToolTip("Scale the scores by 1/√d_k before the softmax")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(MIN_TEMPERATURE, MAX_TEMPERATURE)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setDecimals(2)
        self.temperature_spin.setValue(1.0)
        self.temperature_spin.setPrefix("temperature ")
        self.temperature_spin.setToolTip("The scaled scores are divided by the temperature: >1 flattens, <1 sharpens")
        options.addWidget(self.scale_check)
        options.addWidget(self.temperature_spin)
        options.addStretch(1)
        layout.addLayout(options)

        self.size_note = QLabel("")
        self.size_note.setWordWrap(True)
        self.size_note.setStyleSheet("color: #c62828;")
        self.size_note.hide()
        layout.addWidget(self.size_note)

        editors = QSplitter(Qt.Orientation.Vertical)
        self.q_editor = MatrixEditor(1, 2, row_prefix="q", col_prefix="", title="Q — queries (n_q × d_k)")
        self.k_editor = MatrixEditor(3, 2, row_prefix="k", col_prefix="", title="K — keys (n_k × d_k)")
        self.v_editor = MatrixEditor(3, 2, row_prefix="v", col_prefix="", title="V — values (n_k × d_v)")
        self.editors = {"q": self.q_editor, "k": self.k_editor, "v": self.v_editor}
        for name, editor in self.editors.items():
            editor.setMinimumHeight(70)
            editor.edited.connect(lambda matrix, n=name: self.state.edit(n, matrix))
            editors.addWidget(editor)

        mask_box = QWidget()
        mask_layout = QVBoxLayout(mask_box)
        mask_layout.setContentsMargins(0, 0, 0, 0)
        mask_row = QHBoxLayout()
        self.mask_check = QCheckBox("Mask")
        self.mask_check.setToolTip("Click a cell of the mask to block or allow that key for that query")
        self.causal_button = QPushButton("Causal")
        self.allow_all_button = QPushButton("Allow all")
        mask_row.addWidget(self.mask_check)
        mask_row.addStretch(1)
        mask_row.addWidget(self.causal_button)
        mask_row.addWidget(self.allow_all_button)
        mask_layout.addLayout(mask_row)
        self.mask_map = Heatmap("", kind="sequential", annotate=False)
        self.mask_map.setToolTip("bright = may attend, dark = blocked; click a cell to toggle it")
        mask_layout.addWidget(self.mask_map, 1)
        editors.addWidget(mask_box)
        editors.setSizes([110, 150, 150, 110])
        layout.addWidget(editors, 1)

        state = self.state
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
        box.setMinimumWidth(300)
        return box

    def _build_views(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.setSpacing(4)
        maps = QSplitter(Qt.Orientation.Horizontal)
        small = QSplitter(Qt.Orientation.Vertical)
        self.scores_map = Heatmap("① Scores Q·Kᵀ", kind="diverging", fmt="{:.3f}")
        self.scaled_map = Heatmap("② Scaled ÷√d_k", kind="diverging", fmt="{:.3f}")
        small.addWidget(self.scores_map)
        small.addWidget(self.scaled_map)
        self.weights_map = Heatmap("③ Weights softmax(…) — rows sum to 1", kind="sequential", fmt="{:.3f}", colorbar=True)
        self.output_map = Heatmap("④ Output = weights · V", kind="diverging", fmt="{:.3f}")
        maps.addWidget(small)
        maps.addWidget(self.weights_map)
        maps.addWidget(self.output_map)
        maps.setStretchFactor(0, 2)
        maps.setStretchFactor(1, 4)
        maps.setStretchFactor(2, 2)
        maps.setSizes([230, 420, 180])

        lower = QSplitter(Qt.Orientation.Horizontal)
        self.bars = WeightBars()
        lower.addWidget(self.bars)
        # Text views, not labels in scroll areas: a new text re-lays out only the document,
        # not the panel (a word-wrapped QLabel cost ~10 ms of layout per edit).
        self.formula = TextView()
        lower.addWidget(self.formula)
        lower.setSizes([220, 600])
        lower.setStretchFactor(1, 1)
        self.notes = TextView(note=True)
        notes_scroll = self.notes

        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(maps)
        vertical.addWidget(lower)
        vertical.addWidget(notes_scroll)
        vertical.setStretchFactor(0, 5)
        vertical.setStretchFactor(1, 2)
        vertical.setStretchFactor(2, 2)
        vertical.setSizes([340, 135, 150])
        layout.addWidget(vertical, 1)

        for heatmap in (self.scores_map, self.scaled_map, self.weights_map):
            heatmap.hovered.connect(self._on_hover)
            heatmap.clicked.connect(self._on_click)
        self.output_map.clicked.connect(self._on_click)
        return box

    # -- the state drives the widgets ---------------------------------------------------------
    def _bind(self) -> None:
        """Show the state now and follow its changes."""
        events = self.state.events
        for name, editor in self.editors.items():
            follow(self, getattr(events, name), partial(show_matrix, editor))
        for name in SIZE_NAMES:
            follow(self, getattr(events, name), self._sync_size_spins)
        follow(self, events.seed, lambda seed: set_quietly(self.seed_spin, seed))
        follow(self, events.scale, lambda on: set_quietly(self.scale_check, on))
        follow(self, events.temperature, lambda t: set_quietly(self.temperature_spin, t))
        follow(self, events.mask_on, lambda on: set_quietly(self.mask_check, on))
        follow(self, events.size_note, self._show_size_note)
        follow(self, events.view, self.redraw)
        follow(self, events.selected_query, self._on_selected)
        follow(self, events.hover, self._on_hover_changed)
        state = self.state
        for name, editor in self.editors.items():
            show_matrix(editor, getattr(state, name))
        self._sync_size_spins()
        for widget, value in ((self.seed_spin, state.seed), (self.scale_check, state.scale),
                              (self.temperature_spin, state.temperature), (self.mask_check, state.mask_on)):
            set_quietly(widget, value)
        self._show_size_note(state.size_note)
        self.redraw()
        self.update_notes()
        self._apply_highlight()

    def _sync_size_spins(self) -> None:
        for name, value in self.state.sizes().items():
            set_quietly(self.size_spins[name], value)

    def _show_size_note(self, text: str) -> None:
        self.size_note.setText(text)
        self.size_note.setVisible(bool(text))

    def _labels_for(self, prefix: str, n: int) -> list[str]:
        key = f"{prefix}{n}"
        if key not in self._labels:
            self._labels[key] = labels(prefix, n)
        return self._labels[key]

    def redraw(self) -> None:
        """Every map from the state's view; the notes follow once the numbers settle."""
        view = self.state.view
        if view is None:
            return
        n_q, n_k = view.scores.shape
        d_v = view.v.shape[1]
        ql, kl = self._labels_for("q", n_q), self._labels_for("k", n_k)
        shapes_before = self.weights_map.values.shape
        self.scores_map.set_data(view.scores, row_labels=ql, col_labels=kl)
        self.scaled_map.set_data(view.scaled, row_labels=ql, col_labels=kl)
        self.weights_map.set_data(view.weights, row_labels=ql, col_labels=kl, levels=(0.0, nice_ceiling(float(view.weights.max()))))
        self.output_map.set_data(view.output, row_labels=self._labels_for("o", n_q), col_labels=self._labels_for("", d_v))
        mask, mask_on = self.state.mask, self.state.mask_on
        mask_key = (mask.tobytes(), mask.shape, mask_on)
        if mask_key != self._mask_key:  # the mask rarely changes while Q, K, V are scrubbed
            self._mask_key = mask_key
            self.mask_map.set_data(mask.astype(float), row_labels=ql, col_labels=kl, levels=(0.0, 1.0))
            self.mask_map.setEnabled(mask_on)
        self.scaled_map.set_title(
            "② Scaled: scaling off (= scores)" if view.scale == 1.0 else f"② Scaled ÷√{view.q.shape[1]}"
            + (f", ÷T={view.temperature:g} before softmax" if view.temperature != 1.0 else "")
        )
        self._draw_selected()
        self._notes_later()
        if shapes_before != view.weights.shape:
            self._apply_highlight()

    def _draw_selected(self) -> None:
        """The selected query's bars and formula."""
        view, row = self.state.view, self.state.selected_query
        self.bars.set_weights(view.weights[row], f"weights of q{row + 1}")
        self.formula.set_html(formula_html(view, row))

    def update_notes(self) -> None:
        """The notes now (a preset, a click), not after the pause that follows edits."""
        self._notes_later.cancel()
        if self.state.view is not None:
            self.notes.set_html(notes_html(self.state.view, self.state.selected_query))

    # -- selection and hover ------------------------------------------------------------------
    def _on_selected(self, row: int) -> None:
        view = self.state.view
        if view is not None and row < view.scores.shape[0]:  # else the new view follows and draws it
            self._draw_selected()
            self.update_notes()
            self._apply_highlight()

    def _on_click(self, row: int, _col: int) -> None:
        self.state.select_query(row)
        self.update_notes()

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
            row, col = self.state.selected_query, -1
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
        self.formula.apply_theme()
        self.notes.apply_theme()
        self._apply_highlight()

