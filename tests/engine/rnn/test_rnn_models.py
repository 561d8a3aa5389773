"""The shipped recurrent models reach the accuracy stored with them (and in the README) on FRESH data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.engine.infra.checkpoints import load_model_file
from explorer.engine.rnn import models as rnn_models
from explorer.engine.rnn.sequences import memory_batch, shape_batch
from explorer.engine.rnn.tasks import (
    TRAIN_DEFAULTS,
    TRAIN_TASKS,
    RecurrentClassifier,
    memory_accuracy,
    shapes_accuracy,
)

FRESH_SEED = 777_001  # differs from the training stream (seed 0) and the script's evaluation seed
COUNT = 300
#: Allowed shortfall against the stored figure (binomial noise of 300 samples is ≤ 3 points).
MARGIN = 0.08


def _torch_model(name: str) -> tuple[torch.nn.Module, dict]:
    tensors, config = load_model_file(rnn_models.bundled_path(name))
    model = RecurrentClassifier(**config["model"])
    model.load_state_dict(tensors)
    return model.eval(), config


@pytest.mark.parametrize("name", rnn_models.MEMORY_MODELS)
def test_memory_model_reaches_stored_accuracy(name):
    model, config = _torch_model(name)
    stored = config["accuracy_vs_distractors"]
    for distractors in (5, 50):
        fresh = memory_accuracy(model, distractors, COUNT, FRESH_SEED + distractors)
        assert fresh >= stored[str(distractors)] - MARGIN, (name, distractors, fresh, stored)


def test_gated_cells_beat_the_vanilla_rnn_at_50_steps():
    rnn_model, _ = _torch_model("rnn_memory_rnn")
    vanilla = memory_accuracy(rnn_model, 50, COUNT, FRESH_SEED)
    for name in ("rnn_memory_lstm", "rnn_memory_gru"):
        gated = memory_accuracy(_torch_model(name)[0], 50, COUNT, FRESH_SEED)
        assert gated - vanilla >= 0.30, (name, gated, vanilla)


def test_shapes_model_reaches_stored_accuracy():
    model, config = _torch_model("rnn_shapes_gru")
    assert config["test_accuracy"] >= 0.9
    assert shapes_accuracy(model, COUNT, FRESH_SEED) >= config["test_accuracy"] - MARGIN


@pytest.mark.parametrize("name", list(rnn_models.BUNDLED))
def test_engine_reads_the_bundled_model_like_torch(name):
    """The panel's trace + read-out give torch's class probabilities for the shipped weights."""
    loaded = rnn_models.load_bundled(name)
    model, _ = _torch_model(name)
    generator = torch.Generator().manual_seed(5)
    x = memory_batch(3, 12, generator)[0] if "memory" in name else shape_batch(3, generator)[0]
    with torch.no_grad():
        expected = torch.softmax(model(x).double(), dim=-1).numpy()  # (B, T, K)
    for b in range(len(x)):
        trace = loaded.cell.trace(x[b].numpy())
        np.testing.assert_allclose(loaded.probabilities(trace.hidden), expected[b], atol=1e-5)


def test_training_tasks_are_registered_with_defaults():
    assert set(TRAIN_TASKS) == set(TRAIN_DEFAULTS) == set(rnn_models.BUNDLED)
    for name, factory in TRAIN_TASKS.items():
        task = factory()
        assert task.name == name
        TRAIN_DEFAULTS[name].validate()
        batch = task.sample(4, torch.Generator().manual_seed(0))
        loss, accuracy = task.loss(task.build_model(), batch)
        assert torch.isfinite(loss) and 0 <= accuracy <= 1


def test_gated_models_start_by_keeping_state():
    model = TRAIN_TASKS["rnn_memory_lstm"]().build_model()
    H = model.rnn.hidden_size
    assert torch.all(model.rnn.bias_ih_l0[H : 2 * H] == 4.0)
