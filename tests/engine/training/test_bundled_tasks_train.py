"""The one loop drives every registered task's loss down on a short run (no convergence).

A short run on fresh batches is mostly noise (the memory task sits at chance for
hundreds of steps), so each task is trained on one fixed batch of its own data:
the loop, the model and the loss are wired right if the loss on it falls quickly.
"""

from __future__ import annotations

import pytest
import torch

from explorer.engine.training.loop import TrainTask, train
from explorer.engine.training.registry import available_tasks

TASKS = available_tasks()


class OneBatch(TrainTask):
    """The wrapped task, always showing the same batch (drawn once, seeded)."""

    def __init__(self, task: TrainTask, batch_size: int) -> None:
        self.task = task
        self.name = task.name
        self.batch = task.sample(batch_size, torch.Generator().manual_seed(123))

    def build_model(self):
        return self.task.build_model()

    def sample(self, batch_size, generator):
        return self.batch

    def loss(self, model, batch):
        return self.task.loss(model, batch)

    def param_groups(self, model, weight_decay):
        return self.task.param_groups(model, weight_decay)


def test_tasks_are_registered():
    assert {entry.panel for entry in TASKS.values()} >= {"rnn", "vit", "captioning", "video"}
    for entry in TASKS.values():
        entry.defaults.validate()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_loop_drives_loss_down(name):
    entry = TASKS[name]
    config = entry.default_config(
        steps=25, batch_size=8, report_every=1, warmup_steps=0, schedule="constant",
        snapshot_every=0, seed=1, threads=None, weight_decay=0.0,
    )
    result = train(OneBatch(entry.make(), 8), config)
    losses = [p.loss for p in result.history]
    assert result.status == "finished", result.message
    assert min(losses[-3:]) < 0.9 * losses[0], losses
