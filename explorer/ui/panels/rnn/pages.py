"""The RNN panel's other tabs: gates over time, the weights W, U, b (editable), long-range memory."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import theme
from explorer.ui.panels.rnn.derived import SIGMOID_GATES
from explorer.ui.panels.rnn.views import bold_label
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.matrix_editor import MAX_SIZE, MatrixEditor
from explorer.ui.widgets.plots import still_plot

#: Gate names as subscripts (W_i → Wᵢ); Unicode has no subscript f, g, z, so those stay "W_f".
SUBSCRIPT = {"i": "ᵢ", "o": "ₒ", "r": "ᵣ", "n": "ₙ", "h": "ₕ"}
MEMORY_COLOURS = {"rnn_memory_rnn": "#d9534f", "rnn_memory_lstm": "#2f6fde", "rnn_memory_gru": "#2e9d5b"}


def legend_label() -> QLabel:
    label = QLabel(" ")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    return label


def legend_html(entries: list[tuple[str, str, bool]]) -> str:
    """(colour, name, dashed) → one line of coloured line marks and names, for a legend outside the plot."""
    return "&nbsp;&nbsp; ".join(
        f"<span style='color:{colour}'>{'╌╌' if dashed else '━━'}</span>&nbsp;{html.escape(name)}" for colour, name, dashed in entries
    ) or " "


class GatesPage(QWidget):
    """Each gate (or the pre-activation and h for a vanilla RNN) as an H × T heatmap, current step outlined."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.note = QLabel(" ")
        self.note.setWordWrap(True)
        self.note.setProperty("role", "note")
        layout.addWidget(self.note)
        self.grid = QGridLayout()
        layout.addLayout(self.grid, 1)
        self.maps: dict[str, Heatmap] = {}  # by gate name: the maps of the pool in use
        self._pool: list[Heatmap] = []
        self._layout_key: tuple = ()

    def set_trace(self, trace) -> None:
        from explorer.engine.rnn.update import GATE_MEANINGS

        panels: list[tuple[str, str, np.ndarray, str]] = []
        if trace.kind in ("lstm", "gru"):
            for name, values in trace.gates.items():
                kind = "sequential" if name in SIGMOID_GATES else "diverging"
                panels.append((name, f"{name}: {GATE_MEANINGS[name]}", values, kind))
            if trace.cell is not None:
                panels.append(("c", "c: the LSTM's cell state (its long-term memory)", trace.cell, "diverging"))
            self.note.setText(
                "Gates are numbers between 0 and 1 computed at every step from xₜ and hₜ₋₁: they decide what is "
                "written, kept and shown. Look for the forget gate f (LSTM) or update gate z (GRU) near 1 where the "
                "cell holds on to something."
            )
        else:
            H = trace.hidden_size
            panels.append(("pre", "pre-activation W·xₜ + U·hₜ₋₁ + b", trace.pre[:, :H], "diverging"))
            panels.append(("h", "hₜ: the hidden state", trace.hidden, "diverging"))
            self.note.setText(
                "A vanilla RNN has no gates: the whole state is rewritten at every step by one nonlinearity, "
                "which is why old inputs fade (see Long-range memory)."
            )
        key = tuple((name, kind) for name, _, _, kind in panels)
        if key != self._layout_key:  # reuse the maps (an LSTM has five, a vanilla RNN two): none is rebuilt
            while self.grid.count():
                self.grid.takeAt(0)
            while len(self._pool) < len(panels):
                self._pool.append(Heatmap("", annotate=False, colorbar=True))
            columns = 2
            self.maps = {}
            for index, (heatmap, (name, _title, _values, kind)) in enumerate(zip(self._pool, panels)):
                if heatmap.kind != kind:
                    heatmap.set_kind(kind)
                self.grid.addWidget(heatmap, index // columns, index % columns)
                heatmap.show()
                self.maps[name] = heatmap
            for heatmap in self._pool[len(panels):]:
                heatmap.hide()
            self._layout_key = key
        for name, title, values, kind in panels:
            levels = (0.0, 1.0) if kind == "sequential" else None
            self.maps[name].set_title(title)
            self.maps[name].set_data(values.T, levels=levels, col_labels=[str(t + 1) for t in range(trace.length)])

    def set_step(self, t: int) -> None:
        for heatmap in self.maps.values():
            heatmap.set_highlight(cols=[t])

    def apply_theme(self) -> None:
        for heatmap in self._pool:
            heatmap.apply_theme()


class WeightsPage(QWidget):
    """W, U and b of one gate block, editable; every edit re-runs the sequence at once.

    The matrix editor holds at most 64 × 64; bigger blocks are shown as
    heatmaps (read-only), and the page says so.
    """

    #: (weight_ih, weight_hh, bias_ih, bias_hh) after an edit
    edited = pyqtSignal(object, object, object, object)
    reset_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.note = QLabel(
            "These are the weights. They are the same at every time step — stepping through the sequence never "
            "changes them; only training does. Edit a value (type, drag sideways or turn the wheel) and the whole "
            "sequence re-runs with the new weights."
        )
        self.note.setWordWrap(True)
        self.note.setProperty("role", "note")
        layout.addWidget(self.note)
        row = QHBoxLayout()
        row.addWidget(QLabel("Block:"))
        self.block = QComboBox()
        self.block.setToolTip("W, U and b stack one block of H rows per gate (torch's order)")
        self.block.currentIndexChanged.connect(self._show_block)
        row.addWidget(self.block)
        self.reset = QPushButton("Reset weights")
        self.reset.setToolTip("Back to the model's own weights (undo every edit)")
        self.reset.clicked.connect(self.reset_requested)
        row.addWidget(self.reset)
        self.status = QLabel(" ")
        self.status.setProperty("role", "muted")
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        grid = QGridLayout()
        self.w_editor = MatrixEditor(2, 2, row_prefix="unit ", col_prefix="x", title="W  (input → hidden)")
        self.u_editor = MatrixEditor(2, 2, row_prefix="unit ", col_prefix="h", title="U  (hidden → hidden)")
        self.b_editor = MatrixEditor(2, 2, row_prefix="", col_prefix="unit ", title="b  (b_ih, b_hh)")
        self.b_editor.setMinimumHeight(110)
        self.w_map = Heatmap("W (read-only: larger than 64)", annotate=False)
        self.u_map = Heatmap("U (read-only: larger than 64)", annotate=False)
        grid.addWidget(self.w_editor, 0, 0)
        grid.addWidget(self.w_map, 0, 0)
        grid.addWidget(self.u_editor, 0, 1)
        grid.addWidget(self.u_map, 0, 1)
        grid.addWidget(self.b_editor, 1, 0, 1, 2)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        grid.setRowStretch(0, 4)
        grid.setRowStretch(1, 1)
        layout.addLayout(grid, 1)
        self.w_editor.edited.connect(lambda m: self._apply("W", m))
        self.u_editor.edited.connect(lambda m: self._apply("U", m))
        self.b_editor.edited.connect(lambda m: self._apply("b", m))
        self.cell = None
        self.input_labels: list[str] | None = None
        self._applying = False

    def set_cell(self, cell, edited: bool, input_labels: list[str] | None = None) -> None:
        """Show ``cell``'s weights; ``input_labels`` name W's columns (a real model's 'emb 3', 'ctx 12')."""
        from explorer.engine.rnn.update import GATE_MEANINGS

        self.input_labels = input_labels

        first = self.cell is None or self.cell.kind != cell.kind or self.cell.weight_hh.shape != cell.weight_hh.shape
        self.cell = cell
        if first:
            self.block.blockSignals(True)
            self.block.clear()
            names = cell.gate_names or ("h",)
            for name in names:
                text = "h: the only block" if name == "h" else f"{name}: {GATE_MEANINGS[name]}"
                self.block.addItem(text, name)
            self.block.setEnabled(len(names) > 1)
            self.block.blockSignals(False)
        self.status.setText(
            ("edited: the trace uses your weights" if edited else "the model's own weights")
            + f" · W {cell.weight_ih.shape[0]}×{cell.input_size}, U {cell.weight_hh.shape[0]}×{cell.hidden_size}"
        )
        if not self._applying:  # the editors already show an edit being applied (and may be mid-drag)
            self._show_block()

    def _rows(self) -> slice:
        H = self.cell.hidden_size
        k = max(self.block.currentIndex(), 0)
        return slice(k * H, (k + 1) * H)

    def _show_block(self) -> None:
        if self.cell is None:
            return
        rows, cell = self._rows(), self.cell
        name = self.block.currentData() or "h"
        W, U = cell.weight_ih[rows], cell.weight_hh[rows]
        b = np.vstack([cell.bias_ih[rows], cell.bias_hh[rows]])  # (2, H)
        for editor, heatmap, matrix, label in ((self.w_editor, self.w_map, W, "W"), (self.u_editor, self.u_map, U, "U")):
            fits = max(matrix.shape) <= MAX_SIZE
            editor.setVisible(fits)
            heatmap.setVisible(not fits)
            title = f"{label}{SUBSCRIPT.get(name, '_' + name)}  ({matrix.shape[0]} × {matrix.shape[1]})" + ("" if fits else "  — read-only: larger than 64")
            if fits:
                editor.set_matrix(matrix)
                editor.set_title(title)
            else:
                heatmap.set_data(matrix, col_labels=self.input_labels if label == "W" else None)
                heatmap.set_title(title)
        fits_b = b.shape[1] <= MAX_SIZE
        self.b_editor.setVisible(fits_b)
        if fits_b:
            self.b_editor.set_matrix(b)
            self.b_editor.set_row_labels(["b_ih", "b_hh"])
            self.b_editor.set_title(f"b{SUBSCRIPT.get(name, '_' + name)} = bᵢₕ + bₕₕ  (2 × {b.shape[1]})")
        for editor in (self.w_editor, self.u_editor, self.b_editor):
            editor.set_read_only(not cell.has_bias and editor is self.b_editor)

    def show_weights(self) -> None:
        """Show the cell's weights again: an edit that was refused leaves the editors as they were."""
        if not self._applying:
            self._show_block()

    def set_unit(self, unit: int) -> None:
        """Highlight the row (W, U) / column (b) of one hidden unit."""
        self.w_editor.set_highlight(rows=[unit])
        self.u_editor.set_highlight(rows=[unit])
        self.b_editor.set_highlight(cols=[unit])

    def _apply(self, which: str, matrix: np.ndarray) -> None:
        cell, rows = self.cell, self._rows()
        W, U, b_ih, b_hh = cell.weight_ih.copy(), cell.weight_hh.copy(), cell.bias_ih.copy(), cell.bias_hh.copy()
        if which == "W":
            W[rows] = matrix
        elif which == "U":
            U[rows] = matrix
        else:
            b_ih[rows], b_hh[rows] = matrix[0], matrix[1]
        self._applying = True
        try:
            self.edited.emit(W, U, b_ih, b_hh)
        finally:
            self._applying = False

    def apply_theme(self) -> None:
        for widget in (self.w_editor, self.u_editor, self.b_editor, self.w_map, self.u_map):
            widget.apply_theme()


class LongRangePage(QWidget):
    """‖∂h_T/∂x_t‖ against distance from the end: RNN vs LSTM vs GRU, and their accuracy against T.

    The legends sit above the plots, never on them: the curves that matter most
    (the gated cells, flat near the top; the vanilla RNN's accuracy at chance) run
    exactly where a legend inside the plot would go.
    """

    compute_requested = pyqtSignal()
    cancel_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.note = QLabel(
            "How much does the last state h<sub>T</sub> still depend on the input t steps earlier? ‖∂h<sub>T</sub>/∂xₜ‖ by "
            "autograd, on one sequence of the memory task (and on your current sequence with the current cell). "
            "In a vanilla RNN it shrinks geometrically; gates let an LSTM or GRU keep it."
        )
        self.note.setWordWrap(True)
        self.note.setProperty("role", "note")
        layout.addWidget(self.note)
        row = QHBoxLayout()
        self.compute = QPushButton("Compute sensitivity")
        self.compute.clicked.connect(self.compute_requested)
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.cancel_requested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.status = QLabel(" ")
        self.status.setProperty("role", "muted")
        self.status.setWordWrap(True)  # the fade of each cell: wider than the row at zoom 150 %
        for widget in (self.compute, self.cancel, self.progress):
            row.addWidget(widget)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        plots = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(bold_label("Influence of xₜ on the last state (log scale)"))
        self.legend = legend_label()
        left.addWidget(self.legend)
        self.plot = still_plot(160)
        self.plot.setLogMode(y=True)
        self.plot.setLabel("bottom", "steps before the end (T − t)")
        self.plot.setLabel("left", "‖∂h<sub>T</sub>/∂xₜ‖")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        left.addWidget(self.plot, 1)
        plots.addLayout(left, 3)
        right = QVBoxLayout()
        right.addWidget(bold_label("Memory task accuracy vs distractors (fresh data)"))
        self.accuracy_legend = legend_label()
        right.addWidget(self.accuracy_legend)
        self.accuracy = still_plot(160)
        self.accuracy.setLabel("bottom", "distractor steps T")
        self.accuracy.setLabel("left", "accuracy")
        self.accuracy.setYRange(0, 1.02, padding=0)
        self.accuracy.showGrid(x=True, y=True, alpha=0.2)
        right.addWidget(self.accuracy, 1)
        self.table = QLabel(" ")
        self.table.setTextFormat(Qt.TextFormat.RichText)
        right.addWidget(self.table)
        plots.addLayout(right, 2)
        layout.addLayout(plots, 1)
        self.curves: dict[str, np.ndarray] = {}
        self.apply_theme()

    def set_running(self, running: bool) -> None:
        self.compute.setEnabled(not running)
        self.cancel.setEnabled(running)
        if running:
            self.progress.setValue(0)

    def set_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(text)

    def set_results(self, results: dict[str, tuple[str, np.ndarray]], colours: dict[str, str]) -> None:
        """results: key → (legend, sensitivity (T,)); plotted against T − t."""
        self.plot.clear()
        self.curves = {}
        entries = []
        for key, (legend, values) in results.items():
            distance = np.arange(len(values))[::-1]  # T − t for t = 1 … T
            safe = np.maximum(values, 1e-300)
            pen = pg.mkPen(colours.get(key, theme.colors().muted), width=2.5 if key != "current" else 1.6,
                           style=Qt.PenStyle.DashLine if key == "current" else Qt.PenStyle.SolidLine)
            self.plot.plot(distance, safe, pen=pen)
            self.curves[key] = values
            entries.append((colours.get(key, theme.colors().muted), legend, key == "current"))
        self.legend.setText(legend_html(entries))

    def set_accuracy(self, tables: dict[str, tuple[str, dict[str, float]]]) -> None:
        """tables: model key → (legend, {distractors: accuracy}) from the bundled files' metadata."""
        self.accuracy.clear()
        rows, entries = [], []
        header = None
        for key, (legend, table) in tables.items():
            steps = sorted(int(k) for k in table)
            values = [table[str(s)] for s in steps]
            self.accuracy.plot(steps, values, pen=pg.mkPen(MEMORY_COLOURS.get(key, "#888"), width=2.2),
                               symbol="o", symbolSize=5, symbolBrush=MEMORY_COLOURS.get(key, "#888"))
            entries.append((MEMORY_COLOURS.get(key, "#888"), legend, False))
            header = header or "".join(f"<th>&nbsp;{s}&nbsp;</th>" for s in steps)
            rows.append(f"<tr><td>{legend}</td>" + "".join(f"<td align=right>{v:.0%}</td>" for v in values) + "</tr>")
        self.accuracy_legend.setText(legend_html(entries))
        if rows:
            self.table.setText(f"<table cellspacing=0 cellpadding=2><tr><th align=left>T =</th>{header}</tr>{''.join(rows)}</table>")

    def apply_theme(self) -> None:
        theme.style_plot(self.plot)
        theme.style_plot(self.accuracy)
