"""A real model's recurrence on its real input, as a model hands it to the RNN panel.

The captioner's decoder LSTM stepping through the caption it produced, or the
video GRU over a clip's frame features, packed as a :class:`RealRecurrence`:
the cell in ``torch.nn``'s names, the inputs x_t it actually received (with
which columns mean what: word embedding, attention context, frame features),
and where to go back to. Plain data, no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import Any

import numpy as np

from explorer.engine.rnn.cells import RecurrentCell


@dataclass(frozen=True)
class InputPart:
    """A named block of columns of x_t: ``x[:, start:stop]`` is the ``name``."""

    name: str  # "word embedding", "attention context", "frame features"
    start: int
    stop: int


@dataclass(frozen=True)
class RealRecurrence:
    """A recurrent cell of a real model with the inputs it received, step by step."""

    cell: RecurrentCell
    x: np.ndarray  # (T, I): x_t as the model's cell received it
    step_labels: tuple[str, ...]  # "word 1 'a'", "frame 3"
    h0: np.ndarray | None = None  # (H,) the state before step 1 (the captioner's is made from the image)
    c0: np.ndarray | None = None  # (H,) LSTM only
    parts: tuple[InputPart, ...] = field(default=())
    hidden: np.ndarray | None = None  # (T, H) the model's own hidden states, to show they are equal
    model: str = ""
    input_name: str = ""
    step: int = 0  # the step the source panel was on (word or frame)
    back: Any = None  # opaque here: the panel that made it reads it back (ui.panels.state.BackLink)

    def __post_init__(self) -> None:
        T, I = self.x.shape
        if I != self.cell.input_size:
            raise ValueError(f"x_t has {I} numbers but the cell takes {self.cell.input_size}")
        if len(self.step_labels) != T:
            raise ValueError(f"{len(self.step_labels)} step labels for {T} steps")
        if not 0 <= self.step < T:
            raise ValueError(f"step {self.step} is outside the {T} steps")
