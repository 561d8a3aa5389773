"""RNN panel: step a hidden state through a sequence with a vanilla RNN, an LSTM or a GRU.

The page makes the recurrence h_t = f(W·x_t + U·h_{t-1} + b) visible:

- *Step through*: the input read (an image row or patch outlined, or the
  signal), every term of the update rule at the current step as coloured
  strips, the hidden state over time (H × T) with the step marked, one unit's
  trajectory, and ‖h_t‖ moving while ‖W‖, ‖U‖, ‖b‖ stay flat.
- *Gates over time*: LSTM i, f, g, o and c; GRU r, z, n.
- *Weights*: W, U and b per gate block, editable; an edit re-runs the sequence.
- *Long-range memory*: ‖∂h_T/∂x_t‖ for the bundled RNN, LSTM and GRU on the
  same memory-task sequence, and their accuracy against the number of
  distractors (measured on fresh data by the training script).

All model math is in :mod:`explorer.engine.rnn`; a trace of a whole sequence
is computed once per change, so moving the time slider only moves markers.
Loading models and the sensitivity run in workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.rnn.pages import MEMORY_COLOURS, GatesPage, LongRangePage, WeightsPage
from explorer.ui.panels.rnn.views import (
    PredictionView,
    SequenceView,
    StateVersusWeights,
    UnitTrajectory,
    UpdateRuleView,
    bold_label,
)
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.workers import Task, run_task

CUSTOM = "custom"
FILE = "file"
INPUTS = (
    ("image_rows", "Image rows (top → bottom)"),
    ("image_patches", "Image patches (raster order)"),
    ("shape", "Generated shape (rows)"),
    ("memory", "Remember the first symbol"),
    ("sine", "Sine wave"),
    ("step", "Step"),
    ("noise", "Noise"),
    ("text", "Typed text (one-hot)"),
)
SPEEDS = (1, 2, 5, 10, 20, 50)
STATE_FILTER = "State dicts (*.safetensors *.pt *.pth *.bin *.ckpt);;All files (*)"
CUSTOM_ROW_WIDTH = 32
#: Traces up to this many multiply-adds in U·h (T × size of U; ≈ 7 ms) run at once, bigger ones in a worker.
SYNC_WORK = 20_000_000


def _load_retrained(path: Path, task: str):
    from explorer.engine.rnn.models import BUNDLED, load_trained

    return load_trained(path, title=f"Retrained: {BUNDLED.get(task, task)}", name=f"retrained:{task}")


class RNNPanel(Panel):
    title = "RNN"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        from explorer.engine import rnn as engine
        from explorer.engine.rnn import models as rnn_models

        self.engine = engine
        self.bundled = rnn_models
        self.models: dict[str, object] = {}  # bundled name → TrainedModel
        self.source = CUSTOM
        self.trained = None  # TrainedModel when a bundled model is shown
        self.file_cell = None  # a user's state dict, as loaded
        self.file_note = ""
        self.base_cell = None  # the model's own weights
        self.cell = None  # what runs (base_cell, or edited)
        self.edited = False
        self.sequence = None
        self.trace = None
        self.t = 0
        self.unit = 0
        self.task: Task | None = None
        self.sensitivity_task: Task | None = None
        self.sensitivity_stale = True
        self._custom_settings = ("rnn_tanh", 16, True)
        self._generation = 0  # of trace requests; only the latest is shown  # (kind, hidden, bias) of "your own cell"
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()

    # -- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 6, 8, 4)
        root.setSpacing(4)

        model_row = QHBoxLayout()
        model_row.addWidget(bold_label("Model"))
        self.model_combo = QComboBox()
        self.model_combo.addItem("Your own cell (random weights)", CUSTOM)
        for name, title in self.bundled.BUNDLED.items():
            if self.bundled.bundled_path(name).is_file():
                self.model_combo.addItem(f"Trained: {title}", name)
        self.model_combo.setToolTip("A cell with torch's random initialisation, or a model trained by scripts/train_rnn.py")
        model_row.addWidget(self.model_combo)
        model_row.addWidget(QLabel("Cell"))
        self.kind_combo = QComboBox()
        for kind in self.engine.KINDS:
            self.kind_combo.addItem(self.engine.KIND_TITLES[kind], kind)
        model_row.addWidget(self.kind_combo)
        model_row.addWidget(QLabel("Hidden"))
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setRange(1, 256)
        self.hidden_spin.setValue(16)
        self.hidden_spin.setToolTip("Hidden size H: how many numbers the state h_t holds")
        model_row.addWidget(self.hidden_spin)
        model_row.addWidget(QLabel("Seed"))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 9999)
        self.seed_spin.setToolTip("Seed of the random weights (torch's own initialisation)")
        model_row.addWidget(self.seed_spin)
        self.bias_check = QCheckBox("Bias")
        self.bias_check.setChecked(True)
        model_row.addWidget(self.bias_check)
        self.load_button = QPushButton("Load state dict…")
        self.load_button.setToolTip("A torch.nn.RNN / LSTM / GRU state dict (torch.save or safetensors); read safely, no code runs")
        self.load_button.clicked.connect(self.load_dialog)
        model_row.addWidget(self.load_button)
        model_row.addStretch(1)
        root.addLayout(model_row)

        input_row = QHBoxLayout()
        input_row.addWidget(bold_label("Input"))
        self.input_combo = QComboBox()
        for key, text in INPUTS:
            self.input_combo.addItem(text, key)
        input_row.addWidget(self.input_combo)
        self.steps_label = QLabel("Steps")
        input_row.addWidget(self.steps_label)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1000)
        self.steps_spin.setValue(30)
        input_row.addWidget(self.steps_spin)
        self.example_label = QLabel("Example")
        input_row.addWidget(self.example_label)
        self.example_spin = QSpinBox()
        self.example_spin.setRange(0, 9999)
        self.example_spin.setToolTip("Which generated example (seed of the generator)")
        input_row.addWidget(self.example_spin)
        self.text_edit = QLineEdit("hello world")
        self.text_edit.setPlaceholderText("type a text: one step per character")
        self.text_edit.setMaximumWidth(220)
        input_row.addWidget(self.text_edit)
        self.sequence_note = QLabel(" ")
        self.sequence_note.setProperty("role", "muted")
        self.sequence_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        input_row.addWidget(self.sequence_note, 1)
        self.export_button = QToolButton()
        self.export_button.setText("Export ▾")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("Hidden-state heatmap (PNG)…", self.export_heatmap_dialog)
        menu.addAction("Trace (CSV)…", lambda: self.export_trace_dialog("csv"))
        menu.addAction("Hidden states (NPY)…", lambda: self.export_trace_dialog("npy"))
        menu.addAction("Every array of the trace (NPZ)…", lambda: self.export_trace_dialog("npz"))
        self.export_button.setMenu(menu)
        input_row.addWidget(self.export_button)
        root.addLayout(input_row)

        transport = QHBoxLayout()
        self.first_button = self._tool("|◀", "First step (Home)", lambda: self.set_step(0))
        self.back_button = self._tool("◀", "Step back (←)", self.step_back)
        self.play_button = self._tool("▶ Play", "Play / pause (Space)", self.toggle_play)
        self.forward_button = self._tool("▶", "Step forward (→)", self.step_forward)
        self.last_button = self._tool("▶|", "Last step (End)", lambda: self.set_step(self._last()))
        for button in (self.first_button, self.back_button, self.play_button, self.forward_button, self.last_button):
            transport.addWidget(button)
        self.speed_combo = QComboBox()
        for speed in SPEEDS:
            self.speed_combo.addItem(f"{speed} steps/s", speed)
        self.speed_combo.setCurrentIndex(2)
        self.speed_combo.currentIndexChanged.connect(self._speed_changed)
        transport.addWidget(self.speed_combo)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.set_step)
        transport.addWidget(self.slider, 1)
        self.step_label = QLabel("t = –")
        self.step_label.setMinimumWidth(190)
        transport.addWidget(self.step_label)
        root.addLayout(transport)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        root.addWidget(self.tabs, 1)

        step_page = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 4, 0)
        self.sequence_view = SequenceView()
        self.prediction_view = PredictionView()
        left_box.addWidget(self.sequence_view, 3)
        left_box.addWidget(self.prediction_view, 2)
        self.rule_view = UpdateRuleView()
        right = QWidget()
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(4, 0, 0, 0)
        self.hidden_map = Heatmap("Hidden state h_t: units × steps", kind="diverging", annotate=False, colorbar=True)
        self.hidden_map.setMinimumHeight(150)
        self.hidden_map.clicked.connect(lambda row, _col: self.set_unit(row))
        self.trajectory = UnitTrajectory()
        self.norms = StateVersusWeights()
        right_box.addWidget(self.hidden_map, 4)
        right_box.addWidget(self.trajectory, 2)
        right_box.addWidget(self.norms, 2)
        self.trajectory.setMaximumHeight(190)
        self.norms.setMaximumHeight(210)
        for widget in (left, self.rule_view, right):
            step_page.addWidget(widget)
        step_page.setStretchFactor(0, 3)
        step_page.setStretchFactor(1, 4)
        step_page.setStretchFactor(2, 4)
        step_page.setSizes([270, 430, 350])
        self.tabs.addTab(step_page, "Step through")
        self.gates_page = GatesPage()
        self.tabs.addTab(self.gates_page, "Gates over time")
        self.weights_page = WeightsPage()
        self.weights_page.edited.connect(self._weights_edited)
        self.weights_page.reset_requested.connect(self.reset_weights)
        self.tabs.addTab(self.weights_page, "Weights W, U, b")
        self.long_page = LongRangePage()
        self.long_page.compute_requested.connect(self.compute_sensitivity)
        self.long_page.cancel_requested.connect(self._cancel_sensitivity)
        self.tabs.addTab(self.long_page, "Long-range memory")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        for spin in (self.hidden_spin, self.seed_spin):
            spin.valueChanged.connect(self._cell_settings_changed)
        self.bias_check.toggled.connect(self._cell_settings_changed)
        self.input_combo.currentIndexChanged.connect(self._input_changed)
        self.steps_spin.valueChanged.connect(self._sequence_settings_changed)
        self.example_spin.valueChanged.connect(self._sequence_settings_changed)
        self.text_edit.editingFinished.connect(self._sequence_settings_changed)
        self._update_input_controls()

    def _tool(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    # -- start-up and the shared image -----------------------------------------------------
    def start(self) -> None:
        default = "rnn_memory_lstm"
        index = self.model_combo.findData(default)
        self.input_combo.blockSignals(True)
        self.input_combo.setCurrentIndex(self.input_combo.findData("memory"))
        self.input_combo.blockSignals(False)
        self._update_input_controls()
        if index >= 0:
            self.model_combo.setCurrentIndex(index)  # loads in a worker, then runs
        else:
            self.rebuild()
        self._fill_accuracy()

    def on_image_changed(self, current) -> None:
        if self.input_key() in ("image_rows", "image_patches") and self.base_cell is not None:
            self.rebuild()

    def on_model_trained(self, task: str, path: str) -> None:
        """A model retrained in the Training panel joins the model list and is shown."""
        self.task = run_task(
            _load_retrained, Path(path), task, on_result=self._retrained_loaded,
            on_error=lambda exc: show_error("Could not open the retrained model", exc),
            description=f"loading the retrained {task}",
        )

    def _retrained_loaded(self, model) -> None:
        self.models[model.name] = model
        index = self.model_combo.findData(model.name)
        if index < 0:
            self.model_combo.addItem(model.title, model.name)
            index = self.model_combo.count() - 1
        if self.model_combo.currentIndex() == index:
            self._use_trained(model.name)  # retrained again: show the new weights
        else:
            self.model_combo.setCurrentIndex(index)

    def on_zoom_changed(self, zoom: float) -> None:
        """Ctrl +/−: plot tick labels follow the application font (projecting for a class)."""
        from PyQt6.QtWidgets import QApplication

        font = QApplication.font()
        plots = [self.rule_view.plot, self.sequence_view.plot, self.trajectory.plot, self.norms.plot,
                 self.long_page.plot, self.long_page.accuracy, self.hidden_map.plot, self.prediction_view.heatmap.plot]
        plots += [heatmap.plot for heatmap in self.gates_page.maps.values()]
        for plot in plots:
            item = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
            for side in ("left", "bottom", "top"):
                item.getAxis(side).setTickFont(font)

    def on_theme_changed(self, theme: str) -> None:
        for view in (self.sequence_view, self.trajectory, self.norms, self.prediction_view, self.gates_page,
                     self.weights_page, self.long_page):
            view.apply_theme()
        self.hidden_map.apply_theme()
        self.hidden_map.set_kind("diverging")
        if self.trace is not None:
            self._show_trace()

    # -- choosing the model ------------------------------------------------------------------
    def _model_changed(self) -> None:
        key = self.model_combo.currentData()
        self.stop()
        if key == CUSTOM:
            self.source, self.trained = CUSTOM, None
            self._restore_custom_settings()
            self.rebuild(new_cell=True)
        elif key == FILE:
            self.source, self.trained = FILE, None
            self.rebuild(new_cell=True)
        elif key in self.models:
            self._use_trained(key)
        else:
            self.task = run_task(
                self.bundled.load_bundled, key, on_result=lambda model, key=key: self._bundled_loaded(key, model),
                on_error=self._load_failed, description=f"loading {self.bundled.BUNDLED[key]}",
            )

    def _bundled_loaded(self, key: str, model) -> None:
        self.models[key] = model
        if self.model_combo.currentData() == key:
            self._use_trained(key)

    def _load_failed(self, exc: BaseException) -> None:
        show_error("Could not load the model", exc)
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(self.model_combo.findData(self.source))
        self.model_combo.blockSignals(False)

    def _use_trained(self, key: str) -> None:
        self.source = key
        self.trained = self.models[key]
        # A trained model first reads the kind of data it was trained on; other inputs stay one click away.
        self._select_input("memory" if self.trained.task.startswith("rnn_memory") else "shape")
        self.rebuild(new_cell=True)

    def _select_input(self, key: str) -> None:
        self.input_combo.blockSignals(True)
        self.input_combo.setCurrentIndex(self.input_combo.findData(key))
        self.input_combo.blockSignals(False)
        self._update_input_controls()

    def _kind_changed(self) -> None:
        if self.source == FILE and self.file_cell is not None:
            kind = self.kind_combo.currentData()
            try:
                cell = self.engine.from_state_dict(kind, self.file_cell.state_dict())
            except ValueError as exc:
                show_error("This state dict does not fit that cell type", exc)
                self._show_cell_settings(self.file_cell)
                return
            self.file_cell = cell
            self.rebuild(new_cell=True)
        elif self.source == CUSTOM:
            self.rebuild(new_cell=True)

    def _cell_settings_changed(self) -> None:
        if self.source == CUSTOM:
            self.rebuild(new_cell=True)

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a torch.nn RNN / LSTM / GRU state dict", "", STATE_FILTER)
        if path:
            self.load_file(path)

    def load_file(self, path: str | Path) -> Task:
        """Read a user's state dict in a worker; on failure the message names the problem and nothing changes."""
        return run_task(
            self.bundled.load_cell_file, Path(path), on_result=self._file_loaded,
            on_error=lambda exc: show_error("Could not load the state dict", exc),
            description=f"loading {Path(path).name}",
        )

    def _file_loaded(self, result) -> None:
        cell, note = result
        self.file_cell, self.file_note = cell, note
        index = self.model_combo.findData(FILE)
        if index < 0:
            self.model_combo.addItem("", FILE)
            index = self.model_combo.count() - 1
        self.model_combo.setItemText(index, f"File: {note.split(':')[0]}")
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)
        self.source, self.trained = FILE, None
        if self.input_key() in ("memory", "shape"):
            self._select_input("image_rows")
        self.rebuild(new_cell=True)
        self.sequence_note.setText(note)

    # -- building the sequence and the trace --------------------------------------------------
    def input_key(self) -> str:
        return self.input_combo.currentData()

    def _input_changed(self) -> None:
        self._update_input_controls()
        self.rebuild(new_cell=self.source == CUSTOM)

    def _sequence_settings_changed(self) -> None:
        self.rebuild(new_cell=self.source == CUSTOM)

    def _update_input_controls(self) -> None:
        key = self.input_key()
        uses_steps = key in ("memory", "sine", "step", "noise")
        self.steps_label.setVisible(uses_steps)
        self.steps_spin.setVisible(uses_steps)
        self.steps_label.setText("Distractors" if key == "memory" else "Steps")
        self.example_label.setVisible(key in ("memory", "shape", "noise"))
        self.example_spin.setVisible(key in ("memory", "shape", "noise"))
        self.text_edit.setVisible(key == "text")

    def _fixed_input_size(self) -> int | None:
        if self.source == CUSTOM:
            return None
        cell = self.trained.cell if self.trained is not None else self.file_cell
        return None if cell is None else cell.input_size

    def build_sequence(self):
        """The input sequence for the current settings (fitted to a fixed model's input size)."""
        from explorer.engine.rnn import sequences as seqs

        key = self.input_key()
        fixed = self._fixed_input_size()
        steps, example = self.steps_spin.value(), self.example_spin.value()
        image = self.context.image.image if self.context.image is not None else None
        if key in ("image_rows", "image_patches") and image is None:
            raise seqs.SequenceError("no current image: open one (File › Open) or pick another input.")
        channels = fixed or 1
        if key == "image_rows":
            sequence = seqs.image_rows(image, width=fixed or CUSTOM_ROW_WIDTH)
        elif key == "image_patches":
            side = int(round(np.sqrt(fixed))) if fixed else 6
            sequence = seqs.image_patches(image, patch=side if fixed and side * side == fixed else 6)
        elif key == "shape":
            sequence = seqs.shape_sequence(example % len(seqs.SHAPE_CLASSES), seed=example)
        elif key == "memory":
            sequence = seqs.memory_sequence(steps, seed=example)
        elif key == "sine":
            sequence = seqs.sine(steps, channels=channels)
        elif key == "step":
            sequence = seqs.step_signal(steps, channels=channels)
        elif key == "noise":
            sequence = seqs.noise(steps, channels=channels, seed=example)
        else:
            sequence = seqs.text(self.text_edit.text())
        return sequence.fitted(fixed) if fixed else sequence

    def rebuild(self, *, new_cell: bool = False) -> bool:
        """Rebuild the sequence (and the cell if asked) and re-run; on bad input say why and keep the old state."""
        try:
            sequence = self.build_sequence()
            cell = self._make_cell(sequence) if (new_cell or self.cell is None) else self.cell
            if cell.input_size != sequence.input_size:  # a custom cell follows its input
                cell = self._make_cell(sequence)
                new_cell = True
        except ValueError as exc:
            show_error("RNN", exc)
            return False
        return self._run(cell, sequence, base=cell if new_cell else None, edited=False if new_cell else self.edited)

    def _run(self, cell, sequence, *, base=None, edited: bool = False) -> bool:
        """Trace ``sequence`` through ``cell`` and show it: at once when small, else in a worker.

        Only the latest request is shown (a spin box typed "256" asks three times).
        ``base``: the model's own weights, when this run starts from a new model.
        """
        self._generation += 1
        generation = self._generation
        if sequence.length * cell.weight_hh.size <= SYNC_WORK:
            try:
                trace = cell.trace(sequence.values)
            except ValueError as exc:
                show_error("RNN", exc)
                return False
            self._apply(generation, cell, sequence, trace, base, edited)
            return True
        self.step_label.setText(f"running {sequence.length} steps of {cell.title}, H = {cell.hidden_size}…")
        self.task = run_task(
            cell.trace, sequence.values,
            on_result=lambda trace: self._apply(generation, cell, sequence, trace, base, edited),
            on_error=lambda exc: show_error("RNN", exc), description=f"running the {cell.title}",
        )
        return True

    def _apply(self, generation: int, cell, sequence, trace, base, edited: bool) -> None:
        if generation != self._generation:
            return  # a newer request superseded this one
        if base is not None:
            self.base_cell = base
        self.cell, self.sequence, self.trace, self.edited = cell, sequence, trace, edited
        self.sensitivity_stale = True
        self._show_cell_settings(cell)
        self._show_trace()
        if self.tabs.currentWidget() is self.long_page:
            self.compute_sensitivity()

    def _make_cell(self, sequence):
        if self.source == CUSTOM:
            return self.engine.random_cell(
                self.kind_combo.currentData(), sequence.input_size, self.hidden_spin.value(),
                seed=self.seed_spin.value(), bias=self.bias_check.isChecked(),
            )
        if self.trained is not None:
            return self.trained.cell
        return self.file_cell

    def _restore_custom_settings(self) -> None:
        """Your own cell keeps its settings while a trained model or a file is shown."""
        kind, hidden, bias = self._custom_settings
        for widget in (self.kind_combo, self.hidden_spin, self.bias_check):
            widget.blockSignals(True)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))
        self.hidden_spin.setValue(hidden)
        self.bias_check.setChecked(bias)
        for widget in (self.kind_combo, self.hidden_spin, self.bias_check):
            widget.blockSignals(False)

    def _show_cell_settings(self, cell) -> None:
        custom = self.source == CUSTOM
        if custom:
            self._custom_settings = (cell.kind, cell.hidden_size, cell.has_bias)
        for widget in (self.kind_combo, self.hidden_spin, self.seed_spin, self.bias_check):
            widget.blockSignals(True)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(cell.kind))
        self.hidden_spin.setValue(cell.hidden_size)
        self.bias_check.setChecked(cell.has_bias)
        for widget in (self.kind_combo, self.hidden_spin, self.seed_spin, self.bias_check):
            widget.blockSignals(False)
        self.kind_combo.setEnabled(custom or self.source == FILE)
        for widget in (self.hidden_spin, self.seed_spin, self.bias_check):
            widget.setEnabled(custom)

    def _show_trace(self) -> None:
        trace, cell = self.trace, self.cell
        T = trace.length
        self.unit = min(self.unit, cell.hidden_size - 1)
        self.sequence_view.set_sequence(self.sequence)
        self.rule_view.set_trace(trace, self.engine.describe_update(cell.kind))
        self.rule_view.title.setText(f"Update rule at step t · {cell.title}, I = {cell.input_size}, H = {cell.hidden_size}")
        self.hidden_map.set_data(trace.hidden.T, row_labels=[str(j + 1) for j in range(cell.hidden_size)],
                                 col_labels=[str(t + 1) for t in range(T)])
        self.trajectory.set_trace(trace, self.unit)
        self.norms.set_trace(trace, cell)
        if self.trained is not None:
            self.prediction_view.set_data(self.trained.probabilities(trace.hidden), self.trained.classes, self.sequence.target)
            self.prediction_view.show()
        else:
            self.prediction_view.hide()
        self.gates_page.set_trace(trace)
        self.weights_page.set_cell(cell, self.edited)
        self.weights_page.set_unit(self.unit)
        note = self.sequence.description if self.source != FILE else f"{self.file_note} · {self.sequence.description}"
        self.sequence_note.setText(note)
        self.sequence_note.setToolTip(note)
        self.slider.blockSignals(True)
        self.slider.setRange(0, T - 1)
        self.t = min(self.t, T - 1)
        self.slider.setValue(self.t)
        self.slider.blockSignals(False)
        self.set_step(self.t, force=True)

    # -- time -------------------------------------------------------------------------------
    def _last(self) -> int:
        return 0 if self.trace is None else self.trace.length - 1

    def set_step(self, t: int, force: bool = False) -> None:
        """Show step ``t`` (0-based) in every view: the redraw the time slider triggers."""
        if self.trace is None:
            return
        t = int(min(max(t, 0), self._last()))
        if t == self.t and not force:
            return
        self.t = t
        if self.slider.value() != t:
            self.slider.blockSignals(True)
            self.slider.setValue(t)
            self.slider.blockSignals(False)
        self.rule_view.set_step(t)
        self.sequence_view.set_step(t)
        self.hidden_map.set_highlight(cols=[t], rows=[self.unit])
        self.trajectory.set_step(t)
        self.norms.set_step(t)
        if self.trained is not None:
            self.prediction_view.set_step(t)
        if self.tabs.currentWidget() is self.gates_page:
            self.gates_page.set_step(t)
        h = self.trace.hidden[t]
        self.step_label.setText(f"t = {t + 1} / {self.trace.length}   ({self.sequence.step_labels[t]})   ‖h_t‖ = {np.linalg.norm(h):.3f}")

    def step_forward(self) -> None:
        self.set_step(self.t + 1)

    def step_back(self) -> None:
        self.set_step(self.t - 1)

    def set_unit(self, unit: int) -> None:
        if self.trace is None or not 0 <= unit < self.trace.hidden_size:
            return
        self.unit = unit
        self.trajectory.set_trace(self.trace, unit)
        self.weights_page.set_unit(unit)
        self.set_step(self.t, force=True)

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.stop()
            return
        if self.t >= self._last():
            self.set_step(0)
        self.timer.start(int(1000 / self.speed_combo.currentData()))
        self.play_button.setText("❚❚ Pause")

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setText("▶ Play")

    def _advance(self) -> None:
        if self.t >= self._last():
            self.stop()
        else:
            self.step_forward()

    def _speed_changed(self) -> None:
        if self.timer.isActive():
            self.timer.setInterval(int(1000 / self.speed_combo.currentData()))

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        key = event.key()
        actions = {
            Qt.Key.Key_Right: self.step_forward, Qt.Key.Key_Left: self.step_back, Qt.Key.Key_Space: self.toggle_play,
            Qt.Key.Key_Home: lambda: self.set_step(0), Qt.Key.Key_End: lambda: self.set_step(self._last()),
        }
        if key in actions:
            actions[key]()
            event.accept()
        else:
            super().keyPressEvent(event)

    def _tab_changed(self) -> None:
        if self.trace is None:
            return
        if self.tabs.currentWidget() is self.gates_page:
            self.gates_page.set_step(self.t)
        elif self.tabs.currentWidget() is self.long_page and self.sensitivity_stale:
            self.compute_sensitivity()

    # -- editing the weights --------------------------------------------------------------------
    def _weights_edited(self, W, U, b_ih, b_hh) -> None:
        try:
            cell = self.cell.replace(weight_ih=W, weight_hh=U, bias_ih=b_ih, bias_hh=b_hh)
        except ValueError as exc:
            show_error("RNN weights", exc)
            return
        self._run(cell, self.sequence, edited=True)

    def reset_weights(self) -> None:
        if self.base_cell is not None:
            self._run(self.base_cell, self.sequence, edited=False)

    # -- long-range sensitivity --------------------------------------------------------------------
    def compute_sensitivity(self) -> Task | None:
        """RNN vs LSTM vs GRU (bundled) on one memory sequence, plus the current cell, in a worker."""
        if self.sensitivity_task is not None and not self.sensitivity_task.done:
            self.sensitivity_task.cancel()
        memory = {key: self.models[key] for key in self.bundled.MEMORY_MODELS if key in self.models}
        missing = [key for key in self.bundled.MEMORY_MODELS if key not in self.models and self.bundled.bundled_path(key).is_file()]
        if missing:  # load them first (small files), then come back here
            self.long_page.status.setText("loading the bundled memory models…")
            self.task = run_task(self._load_memory_models, missing, on_result=self._memory_models_loaded,
                                 on_error=lambda exc: show_error("Could not load the memory models", exc),
                                 description="loading the memory models")
            return None
        distractors = self.steps_spin.value() if self.input_key() == "memory" else 50
        seed = self.example_spin.value() if self.input_key() == "memory" else 0
        current = (self.cell, self.trace.x) if self.trace is not None and self.trained not in memory.values() else None
        self.long_page.set_running(True)
        self.sensitivity_task = run_task(
            self.bundled.memory_sensitivities, memory, distractors, seed, current,
            on_result=self._sensitivity_done, on_progress=self.long_page.set_progress,
            on_cancelled=lambda: self.long_page.status.setText("cancelled"),
            on_finished=lambda: self.long_page.set_running(False), description="computing ∂h_T/∂x_t",
        )
        self._sensitivity_meta = (distractors, seed)
        self.sensitivity_stale = False
        return self.sensitivity_task

    @staticmethod
    def _load_memory_models(names):
        from explorer.engine.rnn.models import load_bundled

        return {name: load_bundled(name) for name in names}

    def _memory_models_loaded(self, models: dict) -> None:
        self.models.update(models)
        self._fill_accuracy()
        self.compute_sensitivity()

    def _cancel_sensitivity(self) -> None:
        if self.sensitivity_task is not None:
            self.sensitivity_task.cancel()
        self.sensitivity_stale = True

    def _sensitivity_done(self, results: dict) -> None:
        distractors, seed = self._sensitivity_meta
        legends = {key: self.bundled.BUNDLED[key].split("·")[-1].strip() for key in self.bundled.MEMORY_MODELS}
        shown = {key: (f"{legends[key]} (memory task, {distractors} distractors)", values)
                 for key, values in results.items() if key != "current"}
        if "current" in results:
            shown["current"] = (f"current cell on current input ({self.cell.title})", results["current"])
        colours = dict(MEMORY_COLOURS, current="#7f7f7f")
        self.long_page.set_results(shown, colours)
        fades = []
        for key, (legend, values) in shown.items():
            steps = self.engine.fading_steps(values)
            name = legend.split(" (")[0]
            fades.append(f"{name}: below 1/100 after {steps} steps back" if steps is not None else f"{name}: never below 1/100")
        self.long_page.status.setText("; ".join(fades))

    def _fill_accuracy(self) -> None:
        from explorer.engine.infra.checkpoints import load_config

        tables = {}
        for key in self.bundled.MEMORY_MODELS:
            path = self.bundled.bundled_path(key)
            if not path.is_file():
                continue
            config = self.models[key].config if key in self.models else load_config(path)
            table = config.get("accuracy_vs_distractors")
            if table:
                tables[key] = (self.bundled.BUNDLED[key].split("·")[-1].strip(), table)
        self.long_page.set_accuracy(tables)

    # -- export -----------------------------------------------------------------------------------
    def export_heatmap(self, path: str | Path) -> Path:
        path = Path(path)
        if not self.hidden_map.grab().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path

    def export_trace(self, path: str | Path) -> Path:
        path = Path(path)
        if self.trace is None:
            raise ValueError("nothing to export yet: no sequence has been run.")
        try:
            if path.suffix.lower() == ".csv":
                return self.trace.save_csv(path)
            return self.trace.save_npy(path)
        except OSError as exc:
            raise ValueError(f"{path.name}: could not be written ({exc.strerror or exc}).") from exc

    def export_heatmap_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the hidden-state heatmap", "rnn_hidden.png", "PNG image (*.png)")
        if path:
            try:
                self.export_heatmap(path)
            except ValueError as exc:
                show_error("Export", exc)

    def export_trace_dialog(self, kind: str) -> None:
        filters = {"csv": "CSV table (*.csv)", "npy": "NumPy array (*.npy)", "npz": "NumPy archive (*.npz)"}
        path, _ = QFileDialog.getSaveFileName(self, "Export the trace", f"rnn_trace.{kind}", filters[kind])
        if path:
            if not path.lower().endswith(f".{kind}"):
                path += f".{kind}"
            try:
                self.export_trace(path)
            except ValueError as exc:
                show_error("Export", exc)
