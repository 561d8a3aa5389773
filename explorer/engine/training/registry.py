"""Every bundled model's training task, gathered from the modules that define them.

Each area keeps its :class:`~explorer.engine.training.loop.TrainTask` subclasses next to
its model, in ``explorer/engine/<area>_tasks.py``, with two module-level dicts:
``TRAIN_TASKS`` (name → zero-argument factory) and ``TRAIN_DEFAULTS`` (name →
the :class:`~explorer.engine.training.loop.TrainConfig` the shipped weights were made
with). The Training panel and the tests read them from here.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, replace

from explorer.engine.training.loop import TrainConfig, TrainTask

#: (module, panel key whose view shows the trained model)
TASK_MODULES: tuple[tuple[str, str], ...] = (
    ("explorer.engine.rnn.tasks", "rnn"),
    ("explorer.engine.vit.tasks", "vit"),
    ("explorer.engine.captioning.tasks", "captioning"),
    ("explorer.engine.video.tasks", "video"),
)


@dataclass(frozen=True)
class TaskEntry:
    name: str
    factory: Callable[[], TrainTask]
    defaults: TrainConfig
    panel: str  # the panel that shows this model

    def make(self) -> TrainTask:
        return self.factory()

    def default_config(self, **changes) -> TrainConfig:
        return replace(self.defaults, **changes)


def available_tasks() -> dict[str, TaskEntry]:
    """All registered tasks, in panel order. Modules not written yet are skipped."""
    entries: dict[str, TaskEntry] = {}
    for module_name, panel in TASK_MODULES:
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        defaults = getattr(module, "TRAIN_DEFAULTS", {})
        for name, factory in getattr(module, "TRAIN_TASKS", {}).items():
            entries[name] = TaskEntry(name, factory, defaults.get(name, TrainConfig()), panel)
    return entries
