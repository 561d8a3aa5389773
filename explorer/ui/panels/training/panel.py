"""Training panel: retrain any bundled model with the one loop and watch it learn.

The run and its rules live in :class:`~explorer.ui.panels.training.state.TrainingState`;
this module builds the widgets, forwards the user's actions to the state and
redraws on its events. A 50 ms timer drains the loop's reports into the state while
a run lasts, so a fast loop never floods the GUI.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PyQt6.QtCore import QStandardPaths, Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
)

from explorer.engine.training.registry import available_tasks
from explorer.ui import theme
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.training.state import BUSY, TrainingState
from explorer.ui.panels.training.views import SnapshotStrip
from explorer.ui.widgets.scroll import ColumnScroll
from explorer.ui.workers import run_task

POLL_MS = 50


def trained_models_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or str(Path.home() / ".seqvis")
    return Path(base) / "trained"


class TrainingPanel(Panel):
    title = "Training"

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.bind_state(TrainingState(trained_models_dir(), tasks=available_tasks(), runner=run_task))
        state = self.state

        # -- settings column ---------------------------------------------------------------
        self.task_combo = QComboBox()
        for name in state.tasks:
            self.task_combo.addItem(state.task_title(name), name)
            self.task_combo.setItemData(self.task_combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
        self.task_info = QLabel()
        self.task_info.setWordWrap(True)
        self.task_info.setProperty("role", "muted")
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setSingleStep(100)
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.lr = QLineEdit()
        self.lr.setPlaceholderText("e.g. 0.001")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.snapshot_every = QSpinBox()
        self.snapshot_every.setRange(0, 1_000_000)
        self.snapshot_every.setSpecialValueText("never")
        task_form = QFormLayout()
        task_form.addRow("Model and task", self.task_combo)
        form = QFormLayout()  # the description sits between the forms: in one, it would not grow with its lines
        form.addRow("Steps", self.steps)
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Seed", self.seed)
        form.addRow("Snapshot every", self.snapshot_every)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start_training)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_training)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.cancel_button):
            buttons.addWidget(button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save model as…")
        self.save_button.clicked.connect(self.save_as)
        self.show_button = QPushButton("Show in its panel")
        self.show_button.clicked.connect(self.show_in_panel)
        self.note = QLabel(
            "The same loop made every bundled model: a batch of freshly generated data, the loss, "
            "backpropagation (loss.backward()), one optimiser step. Only the model and its data "
            "differ between tasks."
        )
        self.note.setWordWrap(True)
        self.note.setProperty("role", "note")

        settings_box = QGroupBox("Run")
        column = QVBoxLayout(settings_box)
        column.addLayout(task_form)
        column.addWidget(self.task_info)
        column.addLayout(form)
        column.addLayout(buttons)
        column.addWidget(self.progress_bar)
        column.addWidget(self.status)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.show_button)
        column.addLayout(row)
        column.addWidget(self.note)
        column.addStretch(1)
        settings_box.setFixedWidth(380)

        # -- curves and snapshots ------------------------------------------------------------
        self.curves = pg.GraphicsLayoutWidget()
        self.loss_plot = self.curves.addPlot(title="Training loss (mean per report)")
        self.loss_plot.setLabel("bottom", "step")
        # (no grid: pyqtgraph redraws grid lines with the axes on every update, ~20 ms here)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(theme.colors().accent, width=2))
        self.curves.nextRow()
        self.acc_plot = self.curves.addPlot(title="Training accuracy")
        self.acc_plot.setLabel("bottom", "step")
        self.acc_plot.setYRange(0, 1)

        self.acc_curve = self.acc_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2))
        self.acc_plot.setXLink(self.loss_plot)
        self.snapshot_title = QLabel()
        self.snapshot_title.setProperty("role", "muted")
        self.snapshots = SnapshotStrip()
        scroll = QScrollArea()
        scroll.setWidget(self.snapshots)
        scroll.setWidgetResizable(True)
        scroll.setFixedHeight(170)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        right = QVBoxLayout()
        right.addWidget(self.curves, 1)
        right.addWidget(self.snapshot_title)
        right.addWidget(scroll)
        # The settings scroll when the window is short or zoomed (1280 × 720 at zoom 1.5), not squeeze.
        settings_scroll = ColumnScroll(settings_box)
        settings_scroll.setFixedWidth(settings_box.maximumWidth() + settings_scroll.verticalScrollBar().sizeHint().width() + 2)
        layout = QHBoxLayout(self)
        layout.addWidget(settings_scroll)
        layout.addLayout(right, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(state.drain)
        self._bind()

    def _bind(self) -> None:
        """Widgets → state on user edits; state events → widgets; then draw everything once."""
        state, events = self.state, self.state.events
        self.task_combo.currentIndexChanged.connect(lambda _i: setattr(state, "task", self.task_combo.currentData()))
        for box, name in self._spin_boxes():
            box.valueChanged.connect(lambda value, name=name: setattr(state, name, value))
            getattr(events, name).connect(lambda *_a, box=box, name=name: box.setValue(getattr(state, name)))
        self.lr.textChanged.connect(lambda text: setattr(state, "lr_text", text))
        events.lr_text.connect(self._show_lr_text)
        events.task.connect(self._show_task)
        events.status.connect(lambda *_a: self.status.setText(state.status))
        events.fraction.connect(lambda *_a: self.progress_bar.setValue(int(1000 * state.fraction)))
        events.curves.connect(self._show_curves)
        events.snapshots.connect(lambda *_a: self.snapshots.show_snapshots(state.snapshots))
        events.latest_snapshot.connect(lambda *_a: self.snapshot_title.setText(state.snapshot_heading))
        events.phase.connect(self._show_phase)
        for name in ("worker", "result", "saved_path"):
            getattr(events, name).connect(self._show_buttons)
        state.model_saved.connect(self.context.modelTrained.emit)

        for box, name in self._spin_boxes():
            box.setValue(getattr(state, name))
        self._show_task()
        self._show_lr_text()
        self.status.setText(state.status)
        self.snapshot_title.setText(state.snapshot_heading)
        self._show_buttons()

    def _spin_boxes(self) -> tuple[tuple[QSpinBox, str], ...]:
        return ((self.steps, "steps"), (self.batch, "batch_size"), (self.seed, "seed"),
                (self.snapshot_every, "snapshot_every"))

    # -- redraws from the state -------------------------------------------------------------------
    def _show_task(self, *_args) -> None:
        self.task_combo.setCurrentIndex(self.task_combo.findData(self.state.task))
        self.task_info.setText(self.state.task_info)

    def _show_lr_text(self, *_args) -> None:
        if self.lr.text() != self.state.lr_text:
            self.lr.setText(self.state.lr_text)

    def _show_curves(self, *_args) -> None:
        curves = self.state.curves
        # The first report is one point: a dot, where a line would draw nothing (an empty plot over
        # steps 49.6 … 50.4). While a run goes the axis spans all its steps, so the curve grows across.
        symbol = "o" if len(curves.steps) == 1 else None
        self.loss_curve.setData(curves.steps, curves.loss, symbol=symbol, symbolSize=6)
        self.acc_curve.setData(curves.steps, curves.accuracy, symbol=symbol, symbolSize=6)
        if self.state.busy and len(curves.steps) <= 1:
            self.loss_plot.setXRange(0, max(1, self.state.steps), padding=0.01)

    def _show_phase(self, *_args) -> None:
        state = self.state
        if state.phase in BUSY:
            self.timer.start()
        else:
            self.timer.stop()
            steps = self.state.curves.steps
            if len(steps):  # the run is over: fit what it drew (one report: from step 0 to it)
                low, high = float(min(steps)), float(max(steps))
                self.loss_plot.setXRange(low if high > low else 0.0, max(high, 1.0), padding=0.02)
            self.loss_plot.enableAutoRange(axis="x")
        if state.phase == "diverged":
            show_error("Training stopped", state.result.message)
        elif state.phase == "failed":
            show_error("Training failed", state.error)
        self._show_buttons()

    def _show_buttons(self, *_args) -> None:
        state = self.state
        running = state.busy
        self.start_button.setEnabled(state.can_start)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.pause_button.setText("Resume" if state.phase == "paused" else "Pause")
        for widget in (self.task_combo, self.steps, self.batch, self.lr, self.seed, self.snapshot_every):
            widget.setEnabled(not running)
        self.save_button.setEnabled(state.can_save)
        self.show_button.setEnabled(state.can_show)

    # -- user actions -----------------------------------------------------------------------------
    @property
    def worker(self):
        """The running job, or None (the benchmark waits on its ``finished``)."""
        return self.state.worker

    @property
    def result(self):
        """The last run's :class:`TrainResult`, or None."""
        return self.state.result

    def start_training(self) -> None:
        try:
            self.state.start()
        except ValueError as exc:
            show_error("Training settings", exc)

    def toggle_pause(self) -> None:
        self.state.toggle_pause()

    def cancel_training(self) -> None:
        self.state.cancel()

    def save_as(self) -> None:
        if self.state.result is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save trained model", self.state.suggested_file_name, "safetensors (*.safetensors)"
        )
        if not path:
            return
        try:
            self.state.save_to(Path(path))
        except (OSError, ValueError) as exc:
            show_error("Saving the trained model", exc)

    def show_in_panel(self) -> None:
        if self.state.result_panel is not None:
            self.context.panelRequested.emit(self.state.result_panel)

    def on_theme_changed(self, name: str) -> None:
        c = theme.colors()
        self.curves.setBackground(c.plot_bg)
        for plot in (self.loss_plot, self.acc_plot):
            theme.style_plot(plot)
        self.loss_curve.setPen(pg.mkPen(c.accent, width=2))
