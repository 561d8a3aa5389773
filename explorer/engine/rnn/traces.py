"""Traces of a recurrent cell: every term of the update rule at one step, or over a whole sequence."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explorer.engine.rnn.update import RNNError


@dataclass
class StepTrace:
    """Every term of the update rule at one step ``t`` (0-based)."""

    kind: str
    t: int
    x: np.ndarray  # (I,) x_t
    h_prev: np.ndarray  # (H,) h_{t-1}
    wx: np.ndarray  # (G·H,) W·x_t
    uh: np.ndarray  # (G·H,) U·h_{t-1}
    bias_ih: np.ndarray  # (G·H,)
    bias_hh: np.ndarray  # (G·H,)
    pre: np.ndarray  # (G·H,) pre-activation(s)
    gates: dict[str, np.ndarray]  # name → (H,)
    h: np.ndarray  # (H,) h_t
    c_prev: np.ndarray | None = None  # (H,) LSTM only
    c: np.ndarray | None = None  # (H,) LSTM only

    @property
    def bias(self) -> np.ndarray:
        """b = b_ih + b_hh (G·H,), the single bias of the textbook rule."""
        return self.bias_ih + self.bias_hh

    @property
    def state(self):
        """What :meth:`RecurrentCell.step` takes next: h, or (h, c) for an LSTM."""
        return (self.h, self.c) if self.kind == "lstm" else self.h


@dataclass
class RNNTrace:
    """A whole sequence through one cell: arrays over time, row t = step t."""

    kind: str
    x: np.ndarray  # (T, I)
    h0: np.ndarray  # (H,)
    hidden: np.ndarray  # (T, H) h_1 … h_T, equal to torch.nn's output
    wx: np.ndarray  # (T, G·H) W·x_t
    uh: np.ndarray  # (T, G·H) U·h_{t-1}
    bias_ih: np.ndarray  # (G·H,)
    bias_hh: np.ndarray  # (G·H,)
    pre: np.ndarray  # (T, G·H)
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # name → (T, H)
    cell: np.ndarray | None = None  # (T, H) LSTM cell states c_t
    c0: np.ndarray | None = None  # (H,)

    @property
    def length(self) -> int:
        return self.hidden.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.hidden.shape[1]

    @property
    def h_prev(self) -> np.ndarray:
        """(T, H): h_{t-1} for every t (h0 first)."""
        return np.vstack([self.h0[None, :], self.hidden[:-1]])

    def step(self, t: int) -> StepTrace:
        """The terms of step ``t`` (0-based), read from the arrays (no recomputation)."""
        if not 0 <= t < self.length:
            raise RNNError(f"step {t + 1} is outside the sequence of {self.length} steps.")
        prev = self.h0 if t == 0 else self.hidden[t - 1]
        c_prev = None
        if self.cell is not None:
            c_prev = self.c0 if t == 0 else self.cell[t - 1]
        return StepTrace(
            self.kind, t, self.x[t], prev, self.wx[t], self.uh[t], self.bias_ih, self.bias_hh, self.pre[t],
            {name: values[t] for name, values in self.gates.items()}, self.hidden[t],
            c_prev, None if self.cell is None else self.cell[t],
        )

    # -- export ---------------------------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        """Every per-step array by name, flattened to (T, n) columns, for CSV / NPZ."""
        out = {"x": self.x, "h": self.hidden, "wx": self.wx, "uh": self.uh, "pre": self.pre}
        out.update({f"gate_{name}": values for name, values in self.gates.items()})
        if self.cell is not None:
            out["c"] = self.cell
        return out

    def save_csv(self, path: str | Path) -> Path:
        """One row per step: t, then x_1…, h_1…, W·x…, U·h…, pre…, gates…, c…"""
        path = Path(path)
        columns = self.columns()
        header = ["t"] + [f"{name}_{j + 1}" for name, values in columns.items() for j in range(values.shape[1])]
        table = np.hstack([np.arange(1, self.length + 1)[:, None]] + list(columns.values()))  # (T, 1 + n)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in table:
                writer.writerow([int(row[0])] + [f"{v:.9g}" for v in row[1:]])
        return path

    def save_npy(self, path: str | Path) -> Path:
        """``.npy``: the hidden states (T, H); ``.npz``: every array of the trace by name."""
        path = Path(path)
        if path.suffix.lower() == ".npz":
            np.savez(path, bias_ih=self.bias_ih, bias_hh=self.bias_hh, h0=self.h0, **self.columns())
        else:
            np.save(path, self.hidden)
        return path
