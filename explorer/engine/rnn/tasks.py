"""The generated tasks the bundled recurrent models learn, for :func:`explorer.engine.training.loop.train`.

- ``rnn_memory_{rnn,lstm,gru}``: the same "remember the first symbol" task
  for a vanilla RNN, an LSTM and a GRU (hidden 64). Trained on 1–60
  distractor steps; accuracy against the number of distractors is what
  differs. Following CALIBRATION.md, distractors carry noise σ = 0.4 and the
  gated cells start out keeping their state (LSTM forget-gate bias 4, GRU
  update-gate bias 4); without that the contrast disappears.
- ``rnn_shapes_gru``: a GRU that reads a 24 × 24 shape image one row per step
  and names the shape (circle, square, triangle, cross) from its last state.

The model is a torch ``nn.RNN/LSTM/GRU`` layer named ``rnn`` plus a linear
read-out ``head``, so the saved tensors are ``rnn.weight_ih_l0``… and load
straight into :func:`explorer.engine.rnn.cells.from_state_dict`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from explorer.engine.rnn.sequences import (
    MEMORY_INPUT,
    MEMORY_TARGETS,
    SHAPE_CLASSES,
    SHAPE_SIZE,
    memory_batch,
    shape_batch,
)
from explorer.engine.training.loop import TrainConfig, TrainTask

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
#: Distractor counts at which the memory models are evaluated (README table, saved metadata).
MEMORY_EVAL_DISTRACTORS = (1, 5, 10, 20, 30, 50, 75, 100)
MEMORY_TRAIN_RANGE = (1, 60)
#: Bias that makes a gated cell keep its state at the start of training.
KEEP_STATE_BIAS = 4.0


class RecurrentClassifier(nn.Module):
    """One torch recurrent layer and a linear read-out of every hidden state."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, classes: int) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
        self.kind = kind
        if kind.startswith("rnn_"):
            self.rnn: nn.Module = nn.RNN(input_size, hidden_size, nonlinearity=kind[4:], batch_first=True)
        elif kind == "lstm":
            self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True)
        else:
            self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, classes)

    def keep_state_init(self, value: float = KEEP_STATE_BIAS) -> None:
        """Gated cells start by keeping their state: LSTM forget gate / GRU update gate bias = ``value``."""
        hidden = self.rnn.hidden_size
        with torch.no_grad():
            if self.kind in ("lstm", "gru"):  # gate order: LSTM i,f,g,o; GRU r,z,n — both 2nd chunk
                self.rnn.bias_ih_l0[hidden : 2 * hidden].fill_(value)
                self.rnn.bias_hh_l0[hidden : 2 * hidden].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, I) → logits at every step (B, T, K)."""
        states, _ = self.rnn(x)  # (B, T, H)
        return self.head(states)


class MemoryTask(TrainTask):
    """Recall the first symbol after a random number of noisy distractor steps."""

    title = "RNN memory: remember the first symbol"

    def __init__(self, kind: str = "lstm", hidden: int = 64) -> None:
        self.kind = kind
        self.hidden = hidden
        self.name = f"rnn_memory_{'rnn' if kind.startswith('rnn') else kind}"
        self.title = f"RNN memory ({ {'lstm': 'LSTM', 'gru': 'GRU'}.get(kind, 'vanilla RNN') })"

    def model_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "input_size": MEMORY_INPUT, "hidden_size": self.hidden, "classes": MEMORY_TARGETS}

    def build_model(self) -> nn.Module:
        model = RecurrentClassifier(**self.model_config())
        model.keep_state_init()
        return model

    def sample(self, batch_size: int, generator: torch.Generator) -> Any:
        low, high = MEMORY_TRAIN_RANGE
        distractors = int(torch.randint(low, high + 1, (1,), generator=generator))
        return memory_batch(batch_size, distractors, generator)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, float]:
        x, targets = batch
        logits = model(x)[:, -1]  # (B, K): read out after the last distractor
        loss = nn.functional.cross_entropy(logits, targets)
        return loss, float((logits.argmax(-1) == targets).float().mean())


class ShapesTask(TrainTask):
    """Name the shape in a 24 × 24 image read one row per step."""

    name = "rnn_shapes_gru"
    title = "RNN shapes: read an image row by row"

    def __init__(self, kind: str = "gru", hidden: int = 64) -> None:
        self.kind = kind
        self.hidden = hidden

    def model_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "input_size": SHAPE_SIZE, "hidden_size": self.hidden, "classes": len(SHAPE_CLASSES)}

    def build_model(self) -> nn.Module:
        return RecurrentClassifier(**self.model_config())

    def sample(self, batch_size: int, generator: torch.Generator) -> Any:
        return shape_batch(batch_size, generator)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, float]:
        images, labels = batch  # (B, rows, cols): rows are the time steps
        logits = model(images)[:, -1]  # (B, K)
        loss = nn.functional.cross_entropy(logits, labels)
        return loss, float((logits.argmax(-1) == labels).float().mean())


@torch.no_grad()
def memory_accuracy(model: nn.Module, distractors: int, count: int, seed: int) -> float:
    """Accuracy on ``count`` freshly generated memory sequences with ``distractors`` steps."""
    generator = torch.Generator().manual_seed(seed)
    x, targets = memory_batch(count, distractors, generator)
    return float((model(x)[:, -1].argmax(-1) == targets).float().mean())


@torch.no_grad()
def shapes_accuracy(model: nn.Module, count: int, seed: int) -> float:
    generator = torch.Generator().manual_seed(seed)
    images, labels = shape_batch(count, generator)
    return float((model(images)[:, -1].argmax(-1) == labels).float().mean())


TRAIN_TASKS: dict[str, Callable[[], TrainTask]] = {
    "rnn_memory_rnn": lambda: MemoryTask("rnn_tanh"),
    "rnn_memory_lstm": lambda: MemoryTask("lstm"),
    "rnn_memory_gru": lambda: MemoryTask("gru"),
    "rnn_shapes_gru": lambda: ShapesTask("gru"),
}

_MEMORY_RUN = dict(batch_size=128, lr=3e-3, seed=0, clip_grad=1.0, schedule="cosine", warmup_steps=20, report_every=50)
TRAIN_DEFAULTS: dict[str, TrainConfig] = {
    "rnn_memory_rnn": TrainConfig(steps=2000, **_MEMORY_RUN),
    "rnn_memory_lstm": TrainConfig(steps=2000, **_MEMORY_RUN),
    "rnn_memory_gru": TrainConfig(steps=2000, **_MEMORY_RUN),
    "rnn_shapes_gru": TrainConfig(
        steps=1000, batch_size=128, lr=3e-3, seed=0, clip_grad=1.0, schedule="cosine", warmup_steps=20, report_every=50
    ),
}
