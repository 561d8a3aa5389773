"""What a training run reports, read for the screen: curves, snapshots, typed rates, times. No Qt."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.engine.training.loop import SnapshotView, TrainProgress


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
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One picture of what the model learned, at one reported step."""

    step: int
    title: str
    caption: str
    array: Any  # 2-D values coloured by ``kind``, or (H, W, 3) uint8
    kind: str = "diverging"  # "diverging" (signed values) or "sequential" (probabilities)

    @classmethod
    def of(cls, step: int, view: SnapshotView) -> Snapshot:
        """Read a task's ``snapshot_view``."""
        return cls(step, view.title, view.caption, view.array, view.kind)


@dataclass(frozen=True, eq=False)
class Curves:
    """The loss and accuracy curves: one point per report, at its step."""

    steps: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray

    @classmethod
    def of(cls, history: list[TrainProgress]) -> Curves:
        return cls(*(np.array([getattr(p, name) for p in history]) for name in ("step", "loss", "accuracy")))


NO_CURVES = Curves.of([])
