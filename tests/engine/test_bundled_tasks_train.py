"""The one loop drives every registered task's loss down on a short run (no convergence)."""

from __future__ import annotations

import statistics

import pytest

from explorer.engine.tasks import available_tasks
from explorer.engine.train import train

TASKS = available_tasks()


def test_tasks_are_registered():
    assert TASKS, "no training task is registered"
    for entry in TASKS.values():
        entry.defaults.validate()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_loop_drives_loss_down(name):
    entry = TASKS[name]
    config = entry.default_config(
        steps=40, batch_size=min(entry.defaults.batch_size, 32), report_every=1,
        warmup_steps=0, schedule="constant", snapshot_every=0, seed=1,
    )
    result = train(entry.make(), config)
    losses = [p.loss for p in result.history]
    assert result.status == "finished", result.message
    assert statistics.mean(losses[-8:]) < statistics.mean(losses[:8]), losses
