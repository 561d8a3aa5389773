"""A real model's recurrence on its real input, as a model hands it to the RNN panel.

The captioner's decoder LSTM stepping through the caption it produced
(:mod:`explorer.engine.captioning.recurrence`), or the video GRU over a clip's
frame features (:mod:`explorer.engine.video.recurrence`), packed as a
:class:`RealRecurrence`: the cell in ``torch.nn``'s names, the inputs x_t it
actually received with which columns mean what (word embedding, attention
context, frame features), the state it started from, the model's own hidden
states (so the panel can show that its re-run equals them), and where to go
back to. Plain data, no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from explorer.engine.rnn.cells import RecurrentCell
from explorer.engine.rnn.traces import RNNTrace


@dataclass(frozen=True)
class InputPart:
    """A named block of columns of x_t: ``x[:, start:stop]`` is the ``name`` (``note`` says where it comes from)."""

    name: str  # "word embedding", "attention context", "frame features"
    start: int
    stop: int
    note: str = ""

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class RealRecurrence:
    """A recurrent cell of a real model with the inputs it received, step by step.

    ``hidden`` (and ``cells`` for an LSTM) are the states the model itself
    computed (float32, by torch); :meth:`trace` re-runs the cell from ``h0``
    (``c0``) on ``x`` in float64, and :meth:`max_error` says how far apart the two are.
    """

    cell: RecurrentCell
    x: np.ndarray  # (T, I): x_t as the model's cell received it
    step_labels: tuple[str, ...]  # "word 1 'a' (reads <start>)", "frame 3"
    h0: np.ndarray | None = None  # (H,) the state before step 1 (the captioner's may be made from the image)
    c0: np.ndarray | None = None  # (H,) LSTM only
    parts: tuple[InputPart, ...] = field(default=())
    hidden: np.ndarray | None = None  # (T, H) the model's own hidden states, to show they are equal
    cells: np.ndarray | None = None  # (T, H) the model's own LSTM cell states
    model: str = ""  # which model: "Attention decoder (Show, Attend and Tell)"
    input_name: str = ""  # which image or clip: "chelsea.png", "generated: bounces"
    source: str = ""  # the panel it came from, as a user reads it: "Captioning", "Video"
    start_note: str = ""  # where h0 (c0) came from
    step_name: str = "step"  # what one step is in the source panel: "word", "frame"
    step: int = 0  # the step the source panel was on (word or frame)
    back: Any = None  # opaque here: the panel that made it reads it back (ui.panels.state.BackLink)

    def __post_init__(self) -> None:
        x = np.asarray(self.x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"x must be (steps, inputs), got shape {x.shape}")
        object.__setattr__(self, "x", x)
        T, I = x.shape
        if I != self.cell.input_size:
            raise ValueError(f"x_t has {I} numbers but the cell takes {self.cell.input_size}")
        if len(self.step_labels) != T:
            raise ValueError(f"{len(self.step_labels)} step labels for {T} steps")
        if not 0 <= self.step < T:
            raise ValueError(f"step {self.step} is outside the {T} steps")
        parts = self.parts or (InputPart("input", 0, I),)
        edges = [part.start for part in parts] + [parts[-1].stop]
        if edges[0] != 0 or edges[-1] != I or any(p.stop != q.start for p, q in pairwise(parts)) or any(p.size < 1 for p in parts):
            raise ValueError(f"the input parts must cover columns 0…{I} in order, got {[(p.name, p.start, p.stop) for p in parts]}")
        object.__setattr__(self, "parts", tuple(parts))
        H = self.cell.hidden_size
        for name in ("hidden", "cells"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != (T, H):
                raise ValueError(f"{name} must be ({T}, {H}), got {np.shape(value)}")

    @property
    def length(self) -> int:
        return self.x.shape[0]

    @property
    def initial_state(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return self.h0, self.c0

    def trace(self) -> RNNTrace:
        """The cell re-run on the model's inputs from the model's start state (float64)."""
        return self.cell.trace(self.x, self.h0, self.c0)

    def max_error(self, trace: RNNTrace) -> float | None:
        """max |h_t − the model's own h_t| over all steps and units (None if the model's were not kept)."""
        if self.hidden is None or trace.hidden.shape != self.hidden.shape:
            return None
        return float(np.abs(trace.hidden - self.hidden).max())

    def inputs_text(self) -> str:
        """'x_t = [word embedding (32) | attention context (64)]': what the input is made of."""
        return "xₜ = [" + " | ".join(f"{part.name} ({part.size})" for part in self.parts) + "]"

    def part_at(self, column: int) -> tuple[InputPart, int]:
        """The part holding column ``column`` of x_t, and the column's place in it (0-based)."""
        for part in self.parts:
            if part.start <= column < part.stop:
                return part, column - part.start
        raise IndexError(f"x_t has no column {column}")
