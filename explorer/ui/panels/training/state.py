"""What the Training panel shows, and the rules of a run. No Qt.

The run is :func:`explorer.engine.training.loop.train`, the loop the repo's training
scripts call, in a worker. It pushes :class:`TrainProgress` into a queue that the
panel drains every few tens of milliseconds (:meth:`TrainingState.drain`), so a fast
loop never floods the GUI; pause and cancel go through a :class:`TrainControl`.

A run moves through :data:`PHASES`: ``idle`` → ``running`` (⇄ ``paused``) → one of
``finished``, ``cancelled``, ``diverged`` or ``failed``. A run that ends on its own
(finished, or diverged with the last good weights kept) is saved into
:attr:`TrainingState.models_dir` where its panel can open it; a cancelled one is not
saved unless the user asks (:meth:`TrainingState.save_to`).
"""

from __future__ import annotations

import queue
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from psygnal import Signal, evented

from explorer.engine.training.loop import (
    TrainConfig,
    TrainControl,
    TrainProgress,
    TrainResult,
    TrainTask,
    check_batch_size,
    save_trained,
    train,
)
from explorer.engine.training.registry import TaskEntry, available_tasks
from explorer.ui.panels.state import Runner, identity_fields, persisted, run_now
from explorer.ui.panels.training.reports import (
    NO_CURVES,
    Curves,
    Snapshot,
    format_seconds,
    parse_learning_rate,
)

PHASES = ("idle", "running", "paused", "finished", "cancelled", "diverged", "failed")
BUSY = ("running", "paused")
MAX_SNAPSHOTS = 8
#: Torch threads for training in the app: None keeps the app's setting. Pinning 1
#: (as the scripts do) was measured slower here and stalled the GUI no less.
TRAIN_THREADS = None
#: Written into every model saved from the app, beside the run's settings.
SAVED_FROM_APP = {"trained_in": "app"}
IDLE_STATUS = "Pick a model and press Start."
NO_TASKS_STATUS = "No trainable tasks are installed."
SNAPSHOT_PLACEHOLDER = "Snapshots of what the model learns appear here during training."


def train_then_save(
    task: TrainTask,
    config: TrainConfig,
    path: Path,
    *,
    callback: Any = None,
    control: TrainControl | None = None,
) -> tuple[TrainResult, Path | None]:
    """Train, then save into ``path`` unless the run was cancelled or did no step.

    One job for the worker, so writing the weights does not stall the GUI either. A
    cancelled run is the user saying "stop", not "keep this": it is saved only
    through "Save model as…".
    """
    result = train(task, config, callback=callback, control=control)
    keep = result.steps_done > 0 and result.status != "cancelled"
    return result, save_trained(path, task, result, extra=SAVED_FROM_APP) if keep else None


@evented(equality_operators=identity_fields(
    "tasks", "history", "curves", "snapshots", "latest_snapshot", "result", "error", "worker"))
@dataclass
class TrainingState:
    """The chosen task and its settings, the run and its outcome. Drive it without Qt."""

    PERSISTED: ClassVar[tuple[str, ...]] = ("task", "steps", "batch_size", "lr", "seed", "snapshot_every")
    #: A model was saved: (task name, key of the panel that shows it, path of the .safetensors).
    model_saved: ClassVar[Signal] = Signal(str, str, str)

    models_dir: Path  # where finished runs are saved (the panel passes the app's data folder)
    tasks: dict[str, TaskEntry] = field(default_factory=available_tasks, repr=False)
    # -- the settings of the next run (the last used ones persist) --
    task: str = persisted("")  # a name in `tasks`; any other value is refused
    steps: int = persisted(1000, min=1, max=1_000_000)
    batch_size: int = persisted(64, min=1, max=4096)
    lr: float = persisted(1e-3, min=sys.float_info.min, max=10.0)  # the last valid rate (> 0)
    lr_text: str = "0.001"  # what the user typed; parsed (and refused) at Start
    seed: int = persisted(0, min=0, max=2**31 - 1)
    snapshot_every: int = persisted(0, min=0, max=1_000_000)  # 0: never
    # -- the run --
    phase: str = "idle"  # one of PHASES
    status: str = IDLE_STATUS
    fraction: float = 0.0  # of the steps done, at the last report
    history: list[TrainProgress] = field(default_factory=list, repr=False)
    curves: Curves = field(default=NO_CURVES, repr=False)
    snapshots: tuple[Snapshot, ...] = ()  # the first MAX_SNAPSHOTS, left to right
    latest_snapshot: Snapshot | None = None
    run_entry: TaskEntry | None = None  # the task of the last run started
    result: TrainResult | None = field(default=None, repr=False)
    saved_path: Path | None = None
    error: BaseException | None = None
    worker: Any = field(default=None, repr=False)
    runner: Runner = field(default=run_now, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.control: TrainControl | None = None
        self.progress_queue: queue.Queue[TrainProgress] = queue.Queue()
        self._task_object: TrainTask | None = None
        if self.task not in self.tasks:
            self.task = next(iter(self.tasks), "")
        if not self.tasks:
            self.status = NO_TASKS_STATUS
        self._apply_defaults()
        self.events.task.connect(self._task_chosen)
        self.events.lr.connect(self._show_lr)

    # -- the chosen task ------------------------------------------------------------------------
    @property
    def entry(self) -> TaskEntry | None:
        return self.tasks.get(self.task)

    def task_title(self, name: str) -> str:
        return self.tasks[name].make().title

    @property
    def task_info(self) -> str:
        """The task's one-paragraph description and the panel that shows its model."""
        entry = self.entry
        if entry is None:
            return ""
        task = entry.make()
        text = task.description or (type(task).__doc__ or "").strip().split("\n\n")[0]
        text = re.sub(r":\w+:`~?\.?([^`]+)`", r"\1", text).replace("``", "")  # no Sphinx markup on screen
        panel = {"rnn": "RNN", "vit": "ViT"}.get(entry.panel, entry.panel.capitalize())
        return f"{' '.join(text.split())}\nShown in the {panel} panel."

    def _task_chosen(self, *_args: Any) -> None:
        if self.task not in self.tasks:  # e.g. a task from a settings file that is gone
            self.task = next(iter(self.tasks), "")
            return
        self._apply_defaults()

    def _apply_defaults(self) -> None:
        """A newly chosen task starts from the settings its shipped weights were made with."""
        entry = self.entry
        if entry is None:
            return
        defaults = entry.defaults
        self.steps = defaults.steps
        self.batch_size = defaults.batch_size
        self.lr = defaults.lr
        self.lr_text = f"{defaults.lr:g}"
        self.seed = defaults.seed
        self.snapshot_every = max(1, defaults.steps // MAX_SNAPSHOTS)

    def _show_lr(self, *_args: Any) -> None:
        """A restored or default rate shows in the text box (unless the text already says it)."""
        try:
            same = parse_learning_rate(self.lr_text) == self.lr
        except ValueError:
            same = False
        if not same:
            self.lr_text = f"{self.lr:g}"

    def config(self) -> TrainConfig:
        """The next run's settings; ValueError with a plain message if one is bad."""
        entry = self.entry
        if entry is None:
            raise ValueError("Pick a model to train first.")
        config = entry.default_config(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=parse_learning_rate(self.lr_text),
            seed=self.seed,
            snapshot_every=self.snapshot_every,
            report_every=max(1, min(entry.defaults.report_every, self.steps // 20 or 1)),
            warmup_steps=min(entry.defaults.warmup_steps, self.steps),
            threads=TRAIN_THREADS,
        )
        config.validate()
        check_batch_size(entry.make(), config)
        return config

    # -- the run --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A run is going (running or paused) or its worker has not let go yet."""
        return self.phase in BUSY or self.worker is not None

    @property
    def can_start(self) -> bool:
        return bool(self.tasks) and not self.busy

    @property
    def can_save(self) -> bool:
        return self.result is not None and self.result.steps_done > 0 and not self.busy

    @property
    def can_show(self) -> bool:
        return self.saved_path is not None and not self.busy

    def auto_save_path(self, entry: TaskEntry) -> Path:
        """A new file per run: two runs in the same second do not overwrite each other."""
        stem = f"{entry.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = self.models_dir / f"{stem}.safetensors", 1
        while path.exists():
            n += 1
            path = self.models_dir / f"{stem}-{n}.safetensors"
        return path

    def start(self) -> None:
        """Start a run with the settings; ValueError (also shown in ``status``) if one is bad."""
        if self.busy:
            return
        try:
            config = self.config()
        except ValueError as exc:
            self.status = str(exc)
            raise
        entry = self.entry
        self.lr = config.lr
        self.run_entry = entry
        self._task_object = entry.make()
        self.progress_queue = queue.Queue()  # no report of an earlier run can leak into this one
        self.control = TrainControl()
        self.history = []
        self.curves = NO_CURVES
        self.snapshots = ()
        self.latest_snapshot = None
        self.result = None
        self.saved_path = None
        self.error = None
        self.fraction = 0.0
        self.status = f"Building the model and starting {config.steps} steps…"
        self.phase = "running"
        job = self.runner(
            train_then_save,
            self._task_object,
            config,
            self.auto_save_path(entry),
            callback=self.progress_queue.put,
            control=self.control,
            on_result=self._finished,
            on_error=self._failed,
            on_finished=self._worker_done,
            description=f"training {entry.name}",
        )
        if self.phase in BUSY:  # a synchronous runner has already finished
            self.worker = job

    def toggle_pause(self) -> None:
        if self.control is None or self.phase not in BUSY:
            return
        if self.phase == "paused":
            self.control.resume()
            self.status = "Resumed."
            self.phase = "running"
        else:
            self.control.pause()
            self.status = "Paused: the loop waits before its next step."
            self.phase = "paused"

    def cancel(self) -> None:
        if self.control is not None and self.phase in BUSY:
            self.control.cancel()
            self.status = "Cancelling after the current step…"

    def drain(self) -> None:
        """Take the reports the loop has queued: curves, progress, status and snapshots."""
        new = []
        while True:
            try:
                new.append(self.progress_queue.get_nowait())
            except queue.Empty:
                break
        if not new:
            return
        self.history.extend(new)
        self.curves = Curves.of(self.history)
        last = new[-1]
        self.fraction = last.step / last.steps
        self.status = (
            f"step {last.step:,} / {last.steps:,} · loss {last.loss:.4f} · accuracy {last.accuracy:.1%}\n"
            f"{last.samples_per_second:,.0f} samples/s · elapsed {format_seconds(last.elapsed)} · "
            f"about {format_seconds(last.eta)} left"
        )
        pictures = [Snapshot.of(p.step, p.view) for p in new if p.view is not None]
        if pictures:
            room = MAX_SNAPSHOTS - len(self.snapshots)
            if room > 0:
                self.snapshots = self.snapshots + tuple(pictures[:room])
            self.latest_snapshot = pictures[-1]

    @property
    def snapshot_heading(self) -> str:
        if self.latest_snapshot is None:
            return SNAPSHOT_PLACEHOLDER
        return f"{self.latest_snapshot.title}: snapshots during training"

    def _finished(self, outcome: tuple[TrainResult, Path | None]) -> None:
        self.drain()
        result, saved = outcome
        self.saved_path = saved
        self.result = result
        if saved is not None:
            self.model_saved.emit(self.run_entry.name, self.run_entry.panel, str(saved))
        summary = {"finished": "Finished", "cancelled": "Cancelled", "diverged": "Diverged"}[result.status]
        where = f" Saved to {saved}." if saved is not None else ""
        if result.status == "cancelled" and result.steps_done > 0:
            where = " Not saved: use “Save model as…” to keep it."
        self.status = (
            f"{summary}: {result.steps_done:,} steps in {format_seconds(result.seconds)} "
            f"({result.samples_per_second:,.0f} samples/s).{where} "
            f"{result.message if result.status == 'diverged' else ''}"
        ).strip()

    def _failed(self, exc: BaseException) -> None:
        self.error, self.status = exc, f"Training failed: {exc}"

    def _worker_done(self) -> None:
        """The worker let go: the run's phase is now its outcome."""
        self.worker = None
        if self.result is not None:
            self.phase = self.result.status
        elif self.error is not None:
            self.phase = "failed"
        else:  # stopped before it returned anything
            self.status = "Stopped."
            self.phase = "cancelled"

    # -- the result -----------------------------------------------------------------------------
    @property
    def suggested_file_name(self) -> str:
        return f"{self.run_entry.name}.safetensors" if self.run_entry is not None else "model.safetensors"

    def save_to(self, path: Path) -> Path:
        """Save the last run's model at ``path`` (OSError / ValueError if that fails)."""
        if self.result is None or self._task_object is None:
            raise ValueError("Train a model first: there is nothing to save yet.")
        saved = save_trained(path, self._task_object, self.result, extra=SAVED_FROM_APP)
        self.saved_path = saved
        self.status = f"Saved to {saved}."
        self.model_saved.emit(self.run_entry.name, self.run_entry.panel, str(saved))
        return saved

    @property
    def result_panel(self) -> str | None:
        """The key of the panel that shows the last run's model."""
        return self.run_entry.panel if self.run_entry is not None else None
