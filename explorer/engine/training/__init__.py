"""One training loop for every bundled model, and the registry of their generated tasks.

- :mod:`.loop`: :func:`train` (loss → backpropagation → optimiser step, seeded, pausable,
  cancellable) and :func:`save_trained`.
- :mod:`.registry`: :func:`available_tasks`, gathered from each feature's ``tasks`` module.
"""

from explorer.engine.training.loop import (
    SNAPSHOT_KINDS,
    SnapshotView,
    TrainConfig,
    TrainControl,
    TrainProgress,
    TrainResult,
    TrainTask,
    save_trained,
    seed_everything,
    train,
    train_and_save,
)
from explorer.engine.training.registry import TaskEntry, available_tasks

__all__ = [
    "SNAPSHOT_KINDS", "SnapshotView", "TaskEntry", "TrainConfig", "TrainControl", "TrainProgress", "TrainResult", "TrainTask",
    "available_tasks", "save_trained", "seed_everything", "train", "train_and_save",
]
