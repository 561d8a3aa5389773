"""Training panel: retrain any bundled model with the one loop and watch it learn.

The loop is :func:`explorer.engine.training.loop.train`, the same function the repo's
training scripts call; it runs in a worker and pushes :class:`TrainProgress`
into a queue that a 50 ms timer drains, so a fast loop never floods the GUI.
Pause and cancel go through :class:`TrainControl`. When a run ends the model is
saved (safetensors + config) where the task's panel can open it.
"""

from __future__ import annotations

import math
import queue
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QStandardPaths, Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.training.loop import (
    TrainConfig,
    TrainControl,
    TrainProgress,
    TrainResult,
    save_trained,
    train_and_save,
)
from explorer.engine.training.registry import TaskEntry, available_tasks
from explorer.ui import theme
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.qt_images import array_to_qimage
from explorer.ui.workers import Task, run_task

POLL_MS = 50
#: Torch threads for training in the app: None keeps the app's setting. Pinning 1
#: (as the scripts do) was measured slower here and stalled the GUI no less.
TRAIN_THREADS = None
MAX_SNAPSHOTS = 8


def parse_learning_rate(text: str) -> float:
    """A learning rate typed by the user, or ValueError saying what is wrong with it."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"“{text}” is not a number; type a learning rate such as 0.001 or 3e-4.") from None
    if not math.isfinite(value) or not 0 < value <= 10:
        raise ValueError(f"The learning rate must be greater than 0 and at most 10 (got {text.strip()}).")
    return value


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def trained_models_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or str(Path.home() / ".seqvis")
    return Path(base) / "trained"


class SnapshotStrip(QWidget):
    """Small pictures of what the model learned, at snapshot steps, left to right."""

    def __init__(self) -> None:
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.count = 0

    def clear(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.count = 0

    def add(self, step: int, array: np.ndarray, text: str = "") -> None:
        if self.count >= MAX_SNAPSHOTS:
            return
        image = QLabel()
        image.setPixmap(_to_pixmap(array, 120))
        image.setToolTip(f"step {step}" + (f": {text}" if text else ""))
        caption = QLabel(f"step {step}" + (f"\n{text}" if text else ""))
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption.setProperty("role", "muted")
        self.grid.addWidget(image, 0, self.count)
        self.grid.addWidget(caption, 1, self.count)
        self.count += 1


def _to_pixmap(array: np.ndarray, size: int):
    from PyQt6.QtGui import QPixmap

    array = np.asarray(array)
    if array.ndim == 2:  # signed values → diverging map
        low, high = theme.symmetric_levels(array)
        lut = theme.diverging_cmap().getLookupTable(nPts=256)[:, :3]
        index = np.clip((array - low) / (high - low) * 255, 0, 255).astype(np.uint8)
        array = lut[index]
    pixmap = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(array.astype(np.uint8))))
    return pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)


class TrainingPanel(Panel):
    title = "Training"

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.tasks: dict[str, TaskEntry] = available_tasks()
        self.worker: Task | None = None
        self.control: TrainControl | None = None
        self.result: TrainResult | None = None
        self.entry: TaskEntry | None = None
        self.saved_path: Path | None = None
        self.progress_queue: queue.Queue[TrainProgress] = queue.Queue()
        self.history: list[TrainProgress] = []

        # -- settings column ---------------------------------------------------------------
        self.task_combo = QComboBox()
        for name, entry in self.tasks.items():
            self.task_combo.addItem(entry.make().title, name)
            self.task_combo.setItemData(self.task_combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
        self.task_combo.currentIndexChanged.connect(self._on_task_changed)
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
        form = QFormLayout()
        form.addRow("Model and task", self.task_combo)
        form.addRow("", self.task_info)
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
        self.status = QLabel("Pick a model and press Start.")
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
        self.snapshot_title = QLabel("Snapshots of what the model learns appear here during training.")
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
        layout = QHBoxLayout(self)
        layout.addWidget(settings_box)
        layout.addLayout(right, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._drain)
        if not self.tasks:
            self.status.setText("No trainable tasks are installed.")
            self.start_button.setEnabled(False)
        self._on_task_changed()
        self._set_running(False)

    # -- settings ------------------------------------------------------------------------------
    def current_entry(self) -> TaskEntry | None:
        name = self.task_combo.currentData()
        return self.tasks.get(name) if name else None

    def _on_task_changed(self, *_args) -> None:
        entry = self.current_entry()
        if entry is None:
            return
        defaults = entry.defaults
        self.steps.setValue(defaults.steps)
        self.batch.setValue(defaults.batch_size)
        self.lr.setText(f"{defaults.lr:g}")
        self.seed.setValue(defaults.seed)
        self.snapshot_every.setValue(max(1, defaults.steps // MAX_SNAPSHOTS))
        doc = (type(entry.make()).__doc__ or "").strip().split("\n\n")[0]
        self.task_info.setText(f"{' '.join(doc.split())}\nShown in the {entry.panel.upper() if entry.panel in ('rnn', 'vit') else entry.panel.capitalize()} panel.")

    def read_config(self) -> TrainConfig:
        """The run's settings from the form; ValueError with a plain message if one is bad."""
        entry = self.current_entry()
        if entry is None:
            raise ValueError("Pick a model to train first.")
        config = entry.default_config(
            steps=self.steps.value(),
            batch_size=self.batch.value(),
            lr=parse_learning_rate(self.lr.text()),
            seed=self.seed.value(),
            snapshot_every=self.snapshot_every.value(),
            report_every=max(1, min(entry.defaults.report_every, self.steps.value() // 20 or 1)),
            warmup_steps=min(entry.defaults.warmup_steps, self.steps.value()),
            threads=TRAIN_THREADS,
        )
        config.validate()
        return config

    # -- run -----------------------------------------------------------------------------------
    def start_training(self) -> None:
        if self.worker is not None:
            return
        try:
            config = self.read_config()
        except ValueError as exc:
            show_error("Training settings", exc)
            self.status.setText(str(exc))
            return
        self.entry = self.current_entry()
        task = self.entry.make()
        self.history.clear()
        self.snapshots.clear()
        self.result = None
        self.saved_path = None
        self.loss_curve.setData([], [])
        self.acc_curve.setData([], [])
        self.progress_bar.setValue(0)
        self.control = TrainControl()
        self.status.setText(f"Building the model and starting {config.steps} steps…")
        path = trained_models_dir() / f"{self.entry.name}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors"
        self.worker = run_task(
            train_and_save,
            task,
            config,
            path,
            extra={"trained_in": "app"},
            callback=self.progress_queue.put,
            control=self.control,
            on_result=self._finished,
            on_error=self._failed,
            on_finished=self._worker_done,
            description=f"training {self.entry.name}",
        )
        self._task = task
        self._set_running(True)
        self.timer.start()

    def toggle_pause(self) -> None:
        if self.control is None:
            return
        if self.control.paused:
            self.control.resume()
            self.pause_button.setText("Pause")
            self.status.setText("Resumed.")
        else:
            self.control.pause()
            self.pause_button.setText("Resume")
            self.status.setText("Paused: the loop waits before its next step.")

    def cancel_training(self) -> None:
        if self.control is not None:
            self.control.cancel()
            self.status.setText("Cancelling after the current step…")

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and bool(self.tasks))
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        for widget in (self.task_combo, self.steps, self.batch, self.lr, self.seed, self.snapshot_every):
            widget.setEnabled(not running)
        done = self.result is not None and self.result.steps_done > 0
        self.save_button.setEnabled(done and not running)
        self.show_button.setEnabled(self.saved_path is not None and not running)
        if not running:
            self.pause_button.setText("Pause")

    def _drain(self) -> None:
        new = []
        while True:
            try:
                new.append(self.progress_queue.get_nowait())
            except queue.Empty:
                break
        if not new:
            return
        self.history.extend(new)
        steps = np.array([p.step for p in self.history])
        self.loss_curve.setData(steps, np.array([p.loss for p in self.history]))
        self.acc_curve.setData(steps, np.array([p.accuracy for p in self.history]))
        last = new[-1]
        self.progress_bar.setValue(int(1000 * last.step / last.steps))
        self.status.setText(
            f"step {last.step:,} / {last.steps:,} · loss {last.loss:.4f} · accuracy {last.accuracy:.1%}\n"
            f"{last.samples_per_second:,.0f} samples/s · elapsed {format_seconds(last.elapsed)} · "
            f"about {format_seconds(last.eta)} left"
        )
        for progress in new:
            if progress.view is not None:
                self.snapshot_title.setText(f"{progress.view.title}: snapshots during training")
                self.snapshots.add(progress.step, progress.view.array, progress.view.caption)

    def _finished(self, outcome: tuple[TrainResult, Path | None]) -> None:
        self._drain()
        result, self.saved_path = outcome
        self.result = result
        if result.status == "diverged":
            show_error("Training stopped", result.message)
        if self.saved_path is not None and self.entry is not None:
            self.context.modelTrained.emit(self.entry.name, self.entry.panel, str(self.saved_path))
        rate = result.samples_per_second
        summary = {"finished": "Finished", "cancelled": "Cancelled", "diverged": "Diverged"}[result.status]
        where = f" Saved to {self.saved_path}." if self.saved_path else ""
        self.status.setText(
            f"{summary}: {result.steps_done:,} steps in {format_seconds(result.seconds)} "
            f"({rate:,.0f} samples/s).{where} {result.message if result.status == 'diverged' else ''}".strip()
        )

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Training failed: {exc}")
        show_error("Training failed", exc)

    def _worker_done(self) -> None:
        self.timer.stop()
        self.worker = None
        if self.result is None:  # cancelled before any result, or failed
            self.status.setText(self.status.text() if "failed" in self.status.text() else "Stopped.")
        self._set_running(False)

    # -- results -------------------------------------------------------------------------------
    def _save(self, path: Path) -> Path | None:
        try:
            saved = save_trained(path, self._task, self.result, extra={"trained_in": "app"})
        except (OSError, ValueError) as exc:
            show_error("Saving the trained model", exc)
            return None
        if self.entry is not None:
            self.context.modelTrained.emit(self.entry.name, self.entry.panel, str(saved))
        return saved

    def save_as(self) -> None:
        if self.result is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save trained model", f"{self.entry.name}.safetensors", "safetensors (*.safetensors)"
        )
        if path:
            saved = self._save(Path(path))
            if saved is not None:
                self.saved_path = saved
                self.status.setText(f"Saved to {saved}.")

    def show_in_panel(self) -> None:
        if self.entry is not None:
            self.context.panelRequested.emit(self.entry.panel)

    def on_theme_changed(self, name: str) -> None:
        c = theme.colors()
        self.curves.setBackground(c.plot_bg)
        for plot in (self.loss_plot, self.acc_plot):
            theme.style_plot(plot)
        self.loss_curve.setPen(pg.mkPen(c.accent, width=2))
