"""One training loop for every bundled model: loss, backpropagation, optimiser step.

The loop is the same whatever the architecture (RNN memory task, ViT,
captioner, video model); only the :class:`TrainTask` differs. The repo's
training scripts and the app's Training panel both call :func:`train`, so a
model retrained in the app is made exactly as the shipped one was.

A task supplies the model, fresh generated batches and the loss::

    class MyTask(TrainTask):
        name = "my-task"
        def build_model(self): return MyNet(**self.model_config())
        def model_config(self): return {"hidden": 64}
        def sample(self, batch_size, generator): ...   # -> batch (fresh data)
        def loss(self, model, batch): ...             # -> (loss tensor, accuracy float)

``train`` seeds everything from ``TrainConfig.seed`` (same seed, same weights),
reports :class:`TrainProgress` through a callback, honours pause and cancel via
:class:`TrainControl`, and stops a divergent run (non-finite loss) with the
last good weights restored.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn


class TrainTask:
    """What one model learns: override the four methods below."""

    #: Short identifier, used in file names and the Training panel.
    name: str = "task"
    #: Human title for menus.
    title: str = "Task"
    #: What the model learns, in plain words for the Training panel ("" = the docstring's first
    #: paragraph, which must then be plain text too).
    description: str = ""
    #: The largest batch a run may use. Memory grows with the batch (activations kept for
    #: backpropagation): a task whose samples are large (clips, images) sets a bound that keeps
    #: one run within about 2 GB, so a typed 4096 gets a message instead of exhausting memory.
    max_batch_size: int = 65_536

    def model_config(self) -> dict[str, Any]:
        """JSON-serialisable settings that rebuild the model (saved with the weights)."""
        return {}

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def sample(self, batch_size: int, generator: torch.Generator) -> Any:
        """A fresh batch of generated training data, drawn with ``generator`` only."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, float]:
        """``(scalar loss to minimise, accuracy in [0, 1] on this batch)``."""
        raise NotImplementedError

    def snapshot_view(self, model: nn.Module) -> SnapshotView | None:
        """Optional picture of what the model has learned so far, shown during training.

        E.g. a ViT's position-embedding similarity turning from noise into a 2-D
        pattern. ``None`` when the task has no such picture.
        """
        return None

    def param_groups(self, model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
        """Optimiser groups; by default no weight decay on biases, norms and embeddings (1-D)."""
        decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
        return [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]


#: How a 2-D snapshot is coloured (DESIGN.md): signed values on the diverging map centred on
#: zero, probabilities on the sequential map from 0 to 1.
SNAPSHOT_KINDS = ("diverging", "sequential")


@dataclass
class SnapshotView:
    """A picture of what a model has learned, at one step of training."""

    title: str  # what the picture is, e.g. "Position-embedding similarity"
    caption: str  # the figure at this step, e.g. "ρ = -0.42"
    array: Any  # 2-D values, coloured by ``kind``, or (H, W, 3) uint8
    kind: str = "diverging"  # one of SNAPSHOT_KINDS: how a 2-D ``array`` is coloured

    def __post_init__(self) -> None:
        if self.kind not in SNAPSHOT_KINDS:
            raise ValueError(f"a snapshot is 'diverging' or 'sequential', not {self.kind!r}")


@dataclass
class TrainConfig:
    """Settings of one run. Ranges are checked by :meth:`validate`."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "cosine"  # "cosine" or "constant"
    clip_grad: float | None = 1.0
    report_every: int = 10
    #: Keep a copy of the weights this often, for snapshots shown while training (0 = never).
    snapshot_every: int = 0
    threads: int | None = None

    def validate(self) -> None:
        """Raise ValueError with a plain message if a setting is out of range."""
        checks = [
            (1 <= self.steps <= 10_000_000, f"steps must be between 1 and 10,000,000 (got {self.steps})"),
            (1 <= self.batch_size <= 65_536, f"batch size must be between 1 and 65,536 (got {self.batch_size})"),
            (math.isfinite(self.lr) and 0 < self.lr <= 10, f"learning rate must be in (0, 10] (got {self.lr})"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0, f"weight decay must be ≥ 0 (got {self.weight_decay})"),
            (0 <= self.warmup_steps <= self.steps, f"warm-up must be between 0 and the number of steps (got {self.warmup_steps})"),
            (self.schedule in ("cosine", "constant"), f"schedule must be 'cosine' or 'constant' (got {self.schedule!r})"),
            (self.clip_grad is None or (math.isfinite(self.clip_grad) and self.clip_grad > 0), f"gradient clipping must be > 0 (got {self.clip_grad})"),
            (self.report_every >= 1, "report_every must be ≥ 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def lr_at(self, step: int) -> float:
        """Learning rate for 0-based ``step``: linear warm-up, then cosine decay or constant."""
        if self.warmup_steps and step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return self.lr
        span = max(1, self.steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainProgress:
    """What the loop reports every ``report_every`` steps (means over the window)."""

    step: int
    steps: int
    loss: float
    accuracy: float
    lr: float
    samples_per_second: float
    elapsed: float
    eta: float
    #: Weights at this step, present only at snapshot steps.
    snapshot: dict[str, torch.Tensor] | None = None
    #: The task's picture of what is learned so far (see TrainTask.snapshot_view), at snapshot steps.
    view: SnapshotView | None = None


@dataclass
class TrainResult:
    model: nn.Module
    config: TrainConfig
    history: list[TrainProgress] = field(default_factory=list)
    #: "finished", "cancelled" or "diverged"
    status: str = "finished"
    message: str = ""
    steps_done: int = 0
    seconds: float = 0.0

    @property
    def samples_per_second(self) -> float:
        return self.steps_done * self.config.batch_size / self.seconds if self.seconds > 0 else 0.0


class TrainControl:
    """Pause / resume / cancel a run from another thread."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._cancel = threading.Event()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused loop so it can stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait_if_paused(self) -> None:
        self._running.wait()


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (for weight init) and return a data generator with the same seed."""
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def train(
    task: TrainTask,
    config: TrainConfig,
    *,
    model: nn.Module | None = None,
    callback: Callable[[TrainProgress], None] | None = None,
    control: TrainControl | None = None,
) -> TrainResult:
    """Train ``task``'s model (built here from ``config.seed`` unless given) and return it.

    Deterministic: the same task, config and seed give the same weights. Stops
    early when ``control`` is cancelled (within one step) or the loss becomes
    non-finite (the last good weights are restored).
    """
    config.validate()
    check_batch_size(task, config)
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(task, config, model, callback, control)
    finally:
        torch.set_num_threads(previous_threads)


def check_batch_size(task: TrainTask, config: TrainConfig) -> None:
    """ValueError with a plain message if ``config``'s batch is larger than ``task`` allows."""
    if config.batch_size > task.max_batch_size:
        raise ValueError(
            f"{task.title} trains on batches of at most {task.max_batch_size} (got {config.batch_size}): "
            f"a larger batch would need more memory than a run should take. Lower the batch size."
        )


def _train(
    task: TrainTask,
    config: TrainConfig,
    model: nn.Module | None,
    callback: Callable[[TrainProgress], None] | None,
    control: TrainControl | None,
) -> TrainResult:
    # Gated cells initialised to keep their state (GRU update bias 4) make gradients
    # underflow into denormal floats, which the CPU handles ~10× slower (measured:
    # 30 GRU steps 24 s → 3.5 s). Flushing them to zero changes no result we report.
    # The flag is per thread, so it is set here, in the thread that trains.
    torch.set_flush_denormal(True)
    generator = seed_everything(config.seed)
    if model is None:
        model = task.build_model()
    model.train()
    optimizer = torch.optim.AdamW(task.param_groups(model, config.weight_decay), lr=config.lr)
    result = TrainResult(model=model, config=config)
    good_state = copy.deepcopy(model.state_dict())
    window_loss, window_acc, window_n = 0.0, 0.0, 0
    start = time.perf_counter()
    paused_time = 0.0
    window_start = start
    for step in range(config.steps):
        if control is not None:
            if control.paused:
                t_pause = time.perf_counter()
                control.wait_if_paused()
                paused_time += time.perf_counter() - t_pause
                window_start = time.perf_counter()
            if control.cancelled:
                result.status, result.message = "cancelled", f"Cancelled after {step} steps."
                break
        lr = config.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = task.sample(config.batch_size, generator)
        loss, accuracy = task.loss(model, batch)
        if not torch.isfinite(loss):
            model.load_state_dict(good_state)
            result.status = "diverged"
            result.message = (
                f"Stopped at step {step + 1}: the loss became {loss.item()} (training diverged). "
                "The last good weights were kept; try a smaller learning rate."
            )
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_grad is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        optimizer.step()
        result.steps_done = step + 1
        window_loss += float(loss.detach())
        window_acc += float(accuracy)
        window_n += 1
        last = step + 1 == config.steps
        if (step + 1) % config.report_every == 0 or last:
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                model.load_state_dict(good_state)
                result.status = "diverged"
                result.message = f"Stopped at step {step + 1}: the weights became non-finite. The last good weights were kept."
                break
            good_state = copy.deepcopy(model.state_dict())
            now = time.perf_counter()
            elapsed = now - start - paused_time
            rate = window_n * config.batch_size / max(now - window_start, 1e-9)
            steps_left = config.steps - (step + 1)
            snapshot = view = None
            if config.snapshot_every and ((step + 1) % config.snapshot_every == 0 or last):
                snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
                model.eval()
                with torch.no_grad():
                    view = task.snapshot_view(model)
                model.train()
            progress = TrainProgress(
                step=step + 1,
                steps=config.steps,
                loss=window_loss / window_n,
                accuracy=window_acc / window_n,
                lr=lr,
                samples_per_second=rate,
                elapsed=elapsed,
                eta=steps_left * config.batch_size / max(rate, 1e-9),
                snapshot=snapshot,
                view=view,
            )
            result.history.append(progress)
            if callback is not None:
                callback(progress)
            window_loss, window_acc, window_n = 0.0, 0.0, 0
            window_start = time.perf_counter()
    result.seconds = time.perf_counter() - start - paused_time
    model.eval()
    return result


def save_trained(path: str | Path, task: TrainTask, result: TrainResult, extra: dict[str, Any] | None = None) -> Path:
    """Save the trained weights with the task's model config and the run's settings."""
    from explorer.engine.infra.checkpoints import save_model

    config = {
        "task": task.name,
        "model": task.model_config(),
        "train": {k: v for k, v in asdict(result.config).items()},
        "steps_done": result.steps_done,
        "seconds": round(result.seconds, 1),
        "final_loss": result.history[-1].loss if result.history else None,
        "final_accuracy": result.history[-1].accuracy if result.history else None,
    }
    if extra:
        config.update(extra)
    return save_model(path, result.model.state_dict(), config)


def train_and_save(
    task: TrainTask,
    config: TrainConfig,
    path: str | Path,
    *,
    callback: Callable[[TrainProgress], None] | None = None,
    control: TrainControl | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[TrainResult, Path | None]:
    """:func:`train`, then :func:`save_trained` if any step was done (``None`` otherwise).

    One job for a worker thread, so writing the weights does not stall the GUI either.
    """
    result = train(task, config, callback=callback, control=control)
    saved = save_trained(path, task, result, extra=extra) if result.steps_done > 0 else None
    return result, saved


def print_progress(progress: TrainProgress) -> None:
    """A callback for scripts: one line per report."""
    print(
        f"step {progress.step:>6}/{progress.steps}  loss {progress.loss:.4f}  "
        f"acc {progress.accuracy:6.1%}  lr {progress.lr:.2e}  "
        f"{progress.samples_per_second:7.0f} samples/s  eta {progress.eta:5.0f}s",
        flush=True,
    )
