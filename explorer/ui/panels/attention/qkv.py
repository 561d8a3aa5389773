"""The Q·K·V view: edit Q, K, V (and a mask) and watch every step of attention respond.

Editors on the left; on the right the weights map (largest), the scores and
scaled scores, the output, a bar chart of the selected query's weights, the
formula with that query's numbers and a note per step. Every edit runs
:func:`explorer.engine.attention.core.attend` (well under a millisecond at 64 × 64)
and redraws in place; hovering a weight lights up its query row, key column
and the value row it scales.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAbstractTextDocumentLayout, QColor, QPainter, QPalette, QTextDocument
from PyQt6.QtWidgets import (
    QAbstractScrollArea,
    QCheckBox,
    QDoubleSpinBox,
    QFrame,
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.attention.core import attend, causal_mask
from explorer.engine.attention.presets import AttentionPreset, identity_like, random_matrix
from explorer.ui import theme
from explorer.ui.errors import show_error
from explorer.ui.panels.attention.text import TraceView, formula_html, notes_html, num
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.matrix_editor import MAX_SIZE, MIN_SIZE, MatrixEditor

SIZE_NAMES = ("n_q", "n_k", "d_k", "d_v")
NOTES_DELAY_MS = 120


#: Upper colour levels for the weights: steady while scrubbing, and the colour bar rarely redraws.
NICE_LEVELS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def nice_ceiling(value: float) -> float:
    """The smallest of :data:`NICE_LEVELS` at or above ``value`` (weights lie in [0, 1])."""
    for level in NICE_LEVELS:
        if value <= level + 1e-12:
            return level
    return 1.0


def labels(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i + 1}" for i in range(n)]


class SizeSpin(QSpinBox):
    """A size box that accepts any typed number and clamps it to 1…64, saying so (see QKVView)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.setRange(0, 9999)
        self.setKeyboardTracking(False)  # one valueChanged per typed number, not per digit
        self.setToolTip(f"{name}: {MIN_SIZE} … {MAX_SIZE}")


class WeightBars(pg.PlotWidget):
    """The selected query's weights as bars, the hovered key's bar in the highlight colour.

    Two bar items (all bars in one colour, the hovered one on top) instead of a
    brush per bar: per-bar brushes cost ~0.4 ms per update at 64 keys.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(110)
        self.bars = pg.BarGraphItem(x=[1], height=[0], width=0.75, pen=None)
        self.hot_bar = pg.BarGraphItem(x=[1], height=[0], width=0.75, pen=None)
        self.hot_bar.setZValue(1)
        self.hot_bar.hide()
        self.addItem(self.bars)
        self.addItem(self.hot_bar)
        self.setYRange(0, 1, padding=0)
        self._key_count = -1
        self._highlight = -1
        self._heights = np.zeros(1)
        self._title = ""
        self._y_top = 1.0
        self._tick_step = 0
        for side in ("left", "bottom"):
            self.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.apply_theme()

    def set_weights(self, weights: np.ndarray, title: str) -> None:
        n = len(weights)
        self._heights = weights
        if n != self._key_count:
            self._key_count = n
            self._tick_step = 0
            self._x = np.arange(1, n + 1)
            self.setXRange(0.4, n + 0.6, padding=0)
            self._set_ticks()
        top = nice_ceiling(float(weights.max()) if n else 1.0)
        if top != self._y_top:  # steady axis while scrubbing: changes only at "nice" steps
            self._y_top = top
            self.setYRange(0, top, padding=0.02)
        if title != self._title:  # a new title re-lays out the plot (~5 ms): only when it changes
            self._title = title
            self.setTitle(title, size="9pt")
        self.bars.setOpts(x=self._x, height=weights)
        self._draw_hot()

    def _set_ticks(self) -> None:
        n = max(self._key_count, 1)
        step = max(1, math.ceil(n * 32 / max(self.width() - 50, 60)))  # ~32 px per "k12" label
        if step != self._tick_step:
            self._tick_step = step
            self.getAxis("bottom").setTicks([[(j + 1, f"k{j + 1}") for j in range(0, n, step)], []])

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)  # pyqtgraph calls this from its constructor, before ours ran
        if getattr(self, "_key_count", 0) > 0:
            self._set_ticks()

    def set_highlight(self, key: int) -> None:
        if key != self._highlight:
            self._highlight = key
            self._draw_hot()

    def _draw_hot(self) -> None:
        key = self._highlight
        if 0 <= key < len(self._heights):
            self.hot_bar.setOpts(x=[key + 1], height=[self._heights[key]])
            self.hot_bar.show()
        else:
            self.hot_bar.hide()

    def apply_theme(self) -> None:
        c = theme.colors()
        theme.style_plot(self)
        self.bars.setOpts(brush=c.accent)
        self.hot_bar.setOpts(brush=c.highlight)


class TextView(QAbstractScrollArea):
    """Read-only rich text: one QTextDocument laid out to the width and painted directly.

    A QTextBrowser spent ~1–3 ms per new text on its editor machinery (cursor,
    undo stack, scroll bookkeeping); setting the document's HTML and painting it
    costs about a third of that, and the formula changes on every edit.
    """

    def __init__(self, *, note: bool = False) -> None:
        super().__init__()
        self._html = ""
        self._note = note
        self.document = QTextDocument(self)
        self.document.setDocumentMargin(6)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumHeight(60)
        # A scroll bar that came and went with the text length would change the width twice.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.apply_theme()

    def set_html(self, html: str) -> None:
        if html != self._html:
            self._html = html
            self.document.setHtml(html)
            self._relayout()
            self.viewport().update()

    def text(self) -> str:
        """The HTML shown (what tests and exports read)."""
        return self._html

    def plain_text(self) -> str:
        return self.document.toPlainText()

    def _relayout(self) -> None:
        viewport = self.viewport()
        self.document.setTextWidth(max(viewport.width(), 50))
        height = int(self.document.size().height())
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, height - viewport.height()))
        bar.setPageStep(viewport.height())
        bar.setSingleStep(16)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._relayout()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt override
        self.viewport().update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        c = theme.colors()
        painter = QPainter(self.viewport())
        rect = self.viewport().rect()
        painter.fillRect(rect, QColor(c.alt_base if self._note else c.base))
        if self._note:
            painter.fillRect(0, 0, 3, rect.height(), QColor(c.accent))
        offset = self.verticalScrollBar().value()
        painter.translate(4 if self._note else 0, -offset)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, QColor(c.text))
        context.clip = QRectF(0, offset, rect.width(), rect.height())
        self.document.documentLayout().draw(painter, context)
        painter.end()

    def apply_theme(self) -> None:
        self.document.setDefaultFont(self.font())
        self.viewport().update()


class QKVView(QWidget):
    """Editors for Q, K, V and the mask; every step of attention drawn live."""

    #: Emitted after every recompute with the new trace (for tests and the panel).
    recomputed = pyqtSignal(object)
    #: The user changed the numbers away from the loaded preset.
    userChanged = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trace = None
        self.view: TraceView | None = None
        self.selected_query = 0
        self.hover: tuple[int, int] = (-1, -1)
        self.mask = np.ones((1, 3), dtype=bool)
        self.seed = 1
        self._labels: dict[str, list[str]] = {}
        self._mask_key: tuple | None = None
        # Side notes are prose: rewriting them on every scrub step would be unreadable
        # and costs a text layout; they follow NOTES_DELAY_MS after the last change.
        self._notes_timer = QTimer(self)
        self._notes_timer.setSingleShot(True)
        self._notes_timer.setInterval(NOTES_DELAY_MS)
        self._notes_timer.timeout.connect(self.update_notes)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        splitter.addWidget(self._build_inputs())
        splitter.addWidget(self._build_views())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([370, 800])

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
            spin.valueChanged.connect(lambda value, n=name: self._on_size(n, value))
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
        self.seed_spin.setValue(self.seed)
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
        self.temperature_spin.setRange(0.05, 20.0)
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
        for editor in (self.q_editor, self.k_editor, self.v_editor):
            editor.setMinimumHeight(70)
            editor.edited.connect(self._on_edited)
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

        self.random_button.clicked.connect(self.randomise)
        self.zeros_button.clicked.connect(lambda: self._fill(np.zeros))
        self.identity_button.clicked.connect(lambda: self._fill(None))
        self.scale_check.toggled.connect(lambda _on: self.recompute())
        self.temperature_spin.valueChanged.connect(lambda _v: self.recompute())
        self.mask_check.toggled.connect(lambda _on: self._on_mask_toggled())
        self.causal_button.clicked.connect(self.set_causal)
        self.allow_all_button.clicked.connect(self.allow_all)
        self.mask_map.clicked.connect(self.toggle_mask_cell)
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
        self.output_map.clicked.connect(lambda r, _c: self.select_query(r))
        return box

    # -- state in --------------------------------------------------------------------------
    def load_preset(self, preset: AttentionPreset) -> None:
        """Show a preset: matrices, sizes, mask, scaling and temperature."""
        self.q_editor.set_matrix(preset.q)
        self.k_editor.set_matrix(preset.k)
        self.v_editor.set_matrix(preset.v)
        n_q, n_k = preset.q.shape[0], preset.k.shape[0]
        self.mask = preset.mask.copy() if preset.mask is not None else np.ones((n_q, n_k), dtype=bool)
        for widget in (self.scale_check, self.temperature_spin, self.mask_check):
            widget.blockSignals(True)
        self.scale_check.setChecked(preset.scale)
        self.temperature_spin.setValue(preset.temperature)
        self.mask_check.setChecked(preset.mask is not None)
        for widget in (self.scale_check, self.temperature_spin, self.mask_check):
            widget.blockSignals(False)
        self.selected_query = min(preset.selected_query, n_q - 1)
        self.hover = (-1, -1)
        self._sync_size_spins()
        self.size_note.hide()
        self.recompute()
        self.update_notes()

    def set_qkv(self, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        self.q_editor.set_matrix(q)
        self.k_editor.set_matrix(k)
        self.v_editor.set_matrix(v)
        self._resize_mask(q.shape[0], k.shape[0])
        self.selected_query = min(self.selected_query, q.shape[0] - 1)
        self._sync_size_spins()
        self.recompute()

    def sizes(self) -> dict[str, int]:
        n_q, d_k = self.q_editor.shape()
        n_k, d_v = self.v_editor.shape()
        return {"n_q": n_q, "n_k": n_k, "d_k": d_k, "d_v": d_v}

    def set_sizes(self, **sizes: int) -> None:
        """Resize (clamped to 1…64, with a visible note when clamped), keeping overlapping values."""
        clamped = []
        new = self.sizes()
        for name, value in sizes.items():
            if name not in new:
                raise ValueError(f"unknown size {name!r}; use {', '.join(SIZE_NAMES)}")
            fixed = int(min(max(int(value), MIN_SIZE), MAX_SIZE))
            if fixed != value:
                clamped.append(f"{name} = {value} is outside {MIN_SIZE}…{MAX_SIZE}; it was set to {fixed}.")
            new[name] = fixed
        self.q_editor.resize_matrix(new["n_q"], new["d_k"])
        self.k_editor.resize_matrix(new["n_k"], new["d_k"])
        self.v_editor.resize_matrix(new["n_k"], new["d_v"])
        self._resize_mask(new["n_q"], new["n_k"])
        self.selected_query = min(self.selected_query, new["n_q"] - 1)
        self._sync_size_spins()
        if clamped:
            self.size_note.setText(" ".join(clamped))
            self.size_note.show()
        else:
            self.size_note.hide()
        self.recompute()

    def _on_size(self, name: str, value: int) -> None:
        if value != self.sizes()[name]:
            self.set_sizes(**{name: value})
            self.userChanged.emit()

    def _sync_size_spins(self) -> None:
        for name, value in self.sizes().items():
            spin = self.size_spins[name]
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)

    def randomise(self) -> None:
        s = self.sizes()
        seed = self.seed_spin.value()
        self.q_editor.set_matrix(random_matrix(s["n_q"], s["d_k"], seed))
        self.k_editor.set_matrix(random_matrix(s["n_k"], s["d_k"], seed + 10_000))
        self.v_editor.set_matrix(random_matrix(s["n_k"], s["d_v"], seed + 20_000))
        self.seed_spin.setValue(seed + 1)
        self.recompute()
        self.userChanged.emit()

    def _fill(self, maker) -> None:
        for editor in (self.q_editor, self.k_editor, self.v_editor):
            rows, cols = editor.shape()
            editor.set_matrix(maker((rows, cols)) if maker is not None else identity_like(rows, cols))
        self.recompute()
        self.userChanged.emit()

    # -- mask ------------------------------------------------------------------------------
    def _resize_mask(self, n_q: int, n_k: int) -> None:
        new = np.ones((n_q, n_k), dtype=bool)
        r, c = min(n_q, self.mask.shape[0]), min(n_k, self.mask.shape[1])
        new[:r, :c] = self.mask[:r, :c]
        self.mask = new

    def set_causal(self) -> None:
        s = self.sizes()
        self.mask = causal_mask(s["n_q"], s["n_k"]).numpy()
        self.mask_check.setChecked(True)  # recomputes when it changes
        self.recompute()

    def allow_all(self) -> None:
        s = self.sizes()
        self.mask = np.ones((s["n_q"], s["n_k"]), dtype=bool)
        self.recompute()

    def toggle_mask_cell(self, row: int, col: int) -> None:
        if 0 <= row < self.mask.shape[0] and 0 <= col < self.mask.shape[1]:
            self.mask[row, col] = not self.mask[row, col]
            if not self.mask_check.isChecked():
                self.mask_check.setChecked(True)
            else:
                self.recompute()

    def _on_mask_toggled(self) -> None:
        self.recompute()

    # -- compute and draw --------------------------------------------------------------------
    def _on_edited(self, _matrix) -> None:
        self.recompute()
        self.userChanged.emit()

    def recompute(self) -> None:
        mask = self.mask if self.mask_check.isChecked() else None
        try:
            trace = attend(
                self.q_editor.matrix(), self.k_editor.matrix(), self.v_editor.matrix(), mask=mask,
                scale=self.scale_check.isChecked(), temperature=self.temperature_spin.value(),
            )
        except ValueError as exc:
            show_error("Attention", exc)
            return
        self.trace = trace
        self.view = TraceView.of(trace)
        self.redraw()
        self.recomputed.emit(trace)

    def _labels_for(self, prefix: str, n: int) -> list[str]:
        key = f"{prefix}{n}"
        if key not in self._labels:
            self._labels[key] = labels(prefix, n)
        return self._labels[key]

    def redraw(self) -> None:
        view = self.view
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
        mask_key = (self.mask.tobytes(), self.mask.shape, self.mask_check.isChecked())
        if mask_key != self._mask_key:  # the mask rarely changes while Q, K, V are scrubbed
            self._mask_key = mask_key
            self.mask_map.set_data(self.mask.astype(float), row_labels=ql, col_labels=kl, levels=(0.0, 1.0))
            self.mask_map.setEnabled(self.mask_check.isChecked())
        self.scaled_map.set_title(
            "② Scaled: scaling off (= scores)" if view.scale == 1.0 else f"② Scaled ÷√{view.q.shape[1]}"
            + (f", ÷T={view.temperature:g} before softmax" if view.temperature != 1.0 else "")
        )
        self.selected_query = min(self.selected_query, n_q - 1)
        row = self.selected_query
        self.bars.set_weights(view.weights[row], f"weights of q{row + 1}")
        self.formula.set_html(formula_html(view, row))
        self._notes_timer.start()  # the notes follow once the numbers settle
        if shapes_before != view.weights.shape:
            self._apply_highlight()

    def update_notes(self) -> None:
        self._notes_timer.stop()
        if self.view is not None:
            self.notes.set_html(notes_html(self.view, self.selected_query))

    # -- selection and hover ------------------------------------------------------------------
    def select_query(self, row: int) -> None:
        if self.view is not None and 0 <= row < self.view.scores.shape[0]:
            self.selected_query = row
            self.redraw()
            self.update_notes()
            self._apply_highlight()

    def _on_click(self, row: int, col: int) -> None:
        self.select_query(row)

    def _on_hover(self, row: int, col: int) -> None:
        self.hover = (row, col)
        self._apply_highlight()
        if row >= 0 and self.view is not None:
            self._explain_cell(row, col)

    def _explain_cell(self, row: int, col: int) -> None:
        """Under each map, where the hovered number came from."""
        view = self.view
        qi, kj = f"q{row + 1}", f"k{col + 1}"
        self.scores_map.info_label.setText(f"{qi}·{kj} = {num(view.scores[row, col])}")
        if view.scale == 1.0:
            self.scaled_map.info_label.setText(f"{qi}·{kj} unscaled = {num(view.scaled[row, col])}")
        else:
            self.scaled_map.info_label.setText(
                f"{num(view.scores[row, col])} × {num(view.scale)} = {num(view.scaled[row, col])}"
            )
        if not view.allowed[row, col]:
            text = f"{qi} → {kj}: masked, weight 0"
        elif view.masked_rows[row]:
            text = f"{qi}: every key masked, weight 0"
        else:
            logits = view.logits[row]
            top = float(logits[view.allowed[row]].max())
            total = float(np.exp(logits[view.allowed[row]] - top).sum())
            text = (f"{qi} → {kj}: e^({num(logits[col] - top)}) / {num(total)} = {num(view.weights[row, col])}")
        self.weights_map.info_label.setText(text)

    def _apply_highlight(self) -> None:
        row, col = self.hover
        if row < 0:
            row, col = self.selected_query, -1
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
        for editor in (self.q_editor, self.k_editor, self.v_editor):
            editor.apply_theme()
        self.bars.apply_theme()
        self.formula.apply_theme()
        self.notes.apply_theme()
        self._apply_highlight()
