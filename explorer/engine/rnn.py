"""Recurrent cells written out step by step: h_t = f(W·x_t + U·h_{t-1} + b), LSTM and GRU.

A :class:`RecurrentCell` holds the parameters of one single-layer
``torch.nn.RNN`` / ``LSTM`` / ``GRU`` under torch's names and layout
(``weight_ih_l0`` = W, ``weight_hh_l0`` = U, ``bias_ih_l0`` + ``bias_hh_l0`` = b;
gates stacked in torch's order: LSTM i, f, g, o; GRU r, z, n). It returns
*traces* holding every term of the update rule, so the panel can show the
actual vectors at any step:

    cell = from_state_dict("lstm", torch.nn.LSTM(8, 16).state_dict())
    trace = cell.trace(x)          # x (T, 8) → trace.hidden (T, 16) == torch.nn's output
    step = cell.step(x[0])         # one step: x_t, W·x_t, U·h_{t-1}, b, pre, gates, h_t

The whole-sequence trace computes W·x for all steps in one matrix product
and then loops over time with small NumPy matrix-vector products in float64
(faster than torch for one sequence: the loop is dominated by call overhead).
:func:`sensitivity` runs the same update rule in torch and uses autograd for
‖∂h_T/∂x_t‖, the long-range influence of each input on the last state.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explorer.engine.progress import Reporter, report

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
KIND_TITLES = {"rnn_tanh": "RNN (tanh)", "rnn_relu": "RNN (ReLU)", "lstm": "LSTM", "gru": "GRU"}
GATES: dict[str, tuple[str, ...]] = {"rnn_tanh": (), "rnn_relu": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
#: What each gate does, for tooltips and legends.
GATE_MEANINGS = {
    "i": "input gate: how much of the candidate g enters the cell",
    "f": "forget gate: how much of the old cell state c_{t-1} is kept",
    "g": "candidate values (tanh) written into the cell",
    "o": "output gate: how much of tanh(c_t) is shown as h_t",
    "r": "reset gate: how much of U·h_{t-1} enters the candidate n",
    "z": "update gate: how much of h_{t-1} is kept (1 = keep all)",
    "n": "candidate state (tanh)",
}
MAX_HIDDEN = 2048
TENSOR_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


class RNNError(ValueError):
    """Bad settings or input for a recurrent cell (empty sequence, hidden size 0, wrong shapes)."""


class StateDictError(RNNError):
    """A state dict that does not fit the chosen cell; the message names the tensors."""


def n_blocks(kind: str) -> int:
    """How many H-row blocks W and U stack: 1 for a vanilla RNN, 4 for LSTM, 3 for GRU."""
    _check_kind(kind)
    return max(1, len(GATES[kind]))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise RNNError(f"cell type must be one of {', '.join(KINDS)} (got {kind!r}).")


# -- the update rule, once, for NumPy (traces) and torch (autograd) ----------------------------
class _NumpyOps:
    tanh = staticmethod(np.tanh)
    relu = staticmethod(lambda a: np.maximum(a, 0.0))
    sigmoid = staticmethod(lambda a: 0.5 + 0.5 * np.tanh(0.5 * a))  # overflow-free logistic


class _TorchOps:
    def __init__(self) -> None:
        import torch

        self.tanh, self.relu, self.sigmoid = torch.tanh, torch.relu, torch.sigmoid


def _cell_update(kind: str, wx, uh, b_ih, b_hh, h_prev, c_prev, ops):
    """One step of the update rule from its terms.

    ``wx`` = W·x_t and ``uh`` = U·h_{t-1} (each (G·H,), without biases).
    Returns ``(pre, gates, h, c)``: the pre-activation (G·H,) — for the GRU
    candidate it is W_n·x + b_in + r ⊙ (U_n·h + b_hn) — the gate values in
    :data:`GATES` order, the new hidden state and (LSTM) the new cell state.
    """
    if kind in ("rnn_tanh", "rnn_relu"):
        pre = wx + b_ih + uh + b_hh
        h = ops.tanh(pre) if kind == "rnn_tanh" else ops.relu(pre)
        return pre, (), h, None
    H = h_prev.shape[-1]
    if kind == "lstm":
        pre = wx + b_ih + uh + b_hh  # (4H,) blocks i, f, g, o
        i = ops.sigmoid(pre[..., :H])
        f = ops.sigmoid(pre[..., H : 2 * H])
        g = ops.tanh(pre[..., 2 * H : 3 * H])
        o = ops.sigmoid(pre[..., 3 * H :])
        c = f * c_prev + i * g
        h = o * ops.tanh(c)
        return pre, (i, f, g, o), h, c
    # GRU: r and z see both terms; the candidate sees U·h only through the reset gate.
    gx = wx + b_ih  # (3H,)
    gh = uh + b_hh  # (3H,)
    r = ops.sigmoid(gx[..., :H] + gh[..., :H])
    z = ops.sigmoid(gx[..., H : 2 * H] + gh[..., H : 2 * H])
    pre_n = gx[..., 2 * H :] + r * gh[..., 2 * H :]
    n = ops.tanh(pre_n)
    h = (1.0 - z) * n + z * h_prev
    pre = _concat(ops, [gx[..., : 2 * H] + gh[..., : 2 * H], pre_n])
    return pre, (r, z, n), h, None


def _concat(ops, parts):
    if isinstance(ops, _TorchOps):
        import torch

        return torch.cat(parts, dim=-1)
    return np.concatenate(parts, axis=-1)


def _run_states(kind, wx, U, b_ih, b_hh, h, c, hidden, cells) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Run the recurrence step by step, filling ``hidden`` (and ``cells``); → (uh, pre, gates).

    The only sequential work of a trace: the same rule as :func:`_cell_update`,
    fused to a few array operations per step (call overhead and the U·h
    product dominate at these sizes), keeping U·h_{t-1} and the activations as
    they are computed so nothing is recomputed afterwards; array operations
    write in place (``out=``). σ(a) = ½ + ½·tanh(a/2) lets one tanh serve all
    four LSTM blocks; halving is exact in floating point. The tests check every
    term against torch.nn and against
    :meth:`RecurrentCell.step` (which uses :func:`_cell_update`).
    """
    T, H = hidden.shape
    GH = U.shape[0]
    uh = np.empty((T, GH))  # U·h_{t-1}
    if kind in ("rnn_tanh", "rnn_relu"):
        a = wx + b_ih + b_hh  # (T, H)
        f = np.tanh if kind == "rnn_tanh" else (lambda v: np.maximum(v, 0.0))
        for t in range(T):
            z = uh[t]
            np.matmul(U, h, out=z)  # written in place: no temporaries in the loop
            h = hidden[t]
            np.add(a[t], z, out=h)
            h[:] = f(h)
        return uh, a + uh, {}
    if kind == "lstm":
        scale = np.full(GH, 0.5)
        scale[2 * H : 3 * H] = 1.0  # the candidate g is a tanh, the other gates are sigmoids
        pre = wx + b_ih
        pre += b_hh  # (T, 4H) without U·h yet
        a = pre * scale
        act = np.empty((T, GH))  # tanh of the scaled pre-activations: g, and σ = ½ + ½·tanh(·/2)
        sig = np.empty((T, GH))
        for t in range(T):
            z, row, s_t = uh[t], act[t], sig[t]
            np.matmul(U, h, out=z)
            np.multiply(z, scale, out=row)
            row += a[t]
            np.tanh(row, out=row)  # (4H,)
            np.multiply(row, 0.5, out=s_t)
            s_t += 0.5  # σ of the i, f, o blocks
            c = s_t[H : 2 * H] * c
            c += s_t[:H] * row[2 * H : 3 * H]
            cells[t] = c
            h = hidden[t]
            np.tanh(c, out=h)
            h *= s_t[3 * H :]
        pre += uh
        gates = {"i": sig[:, :H], "f": sig[:, H : 2 * H], "g": act[:, 2 * H : 3 * H], "o": sig[:, 3 * H :]}
        return uh, pre, gates
    # gru
    ax = wx + b_ih  # (T, 3H)
    rz = np.empty((T, 2 * H))
    n_all = np.empty((T, H))
    gh = np.empty(GH)
    for t in range(T):
        z, gates_t, n = uh[t], rz[t], n_all[t]
        np.matmul(U, h, out=z)
        np.add(z, b_hh, out=gh)  # (3H,)
        np.add(ax[t, : 2 * H], gh[: 2 * H], out=gates_t)
        gates_t *= 0.5
        np.tanh(gates_t, out=gates_t)
        gates_t *= 0.5
        gates_t += 0.5  # (2H,) r then z
        np.multiply(gates_t[:H], gh[2 * H :], out=n)
        n += ax[t, 2 * H :]
        np.tanh(n, out=n)
        h = (1.0 - gates_t[H:]) * n + gates_t[H:] * h
        hidden[t] = h
    gh_all = uh + b_hh  # (T, 3H)
    pre = np.concatenate([ax[:, : 2 * H] + gh_all[:, : 2 * H], ax[:, 2 * H :] + rz[:, :H] * gh_all[:, 2 * H :]], axis=1)
    return uh, pre, {"r": rz[:, :H], "z": rz[:, H:], "n": n_all}


# -- traces ----------------------------------------------------------------------------------
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


# -- the cell -------------------------------------------------------------------------------------
@dataclass
class RecurrentCell:
    """One recurrent layer's parameters (float64), in torch.nn's names and gate order."""

    kind: str
    weight_ih: np.ndarray  # (G·H, I)  W
    weight_hh: np.ndarray  # (G·H, H)  U
    bias_ih: np.ndarray  # (G·H,)
    bias_hh: np.ndarray  # (G·H,)
    has_bias: bool = True

    @property
    def input_size(self) -> int:
        return self.weight_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[1]

    @property
    def gate_names(self) -> tuple[str, ...]:
        return GATES[self.kind]

    @property
    def title(self) -> str:
        return KIND_TITLES[self.kind]

    def block_labels(self) -> list[str]:
        """Row labels of W, U and b: 'i3' = unit 3 of gate i (or 'h3' for a vanilla RNN)."""
        H = self.hidden_size
        names = self.gate_names or ("h",)
        return [f"{name}{j + 1}" for name in names for j in range(H)]

    # -- states ---------------------------------------------------------------------------------
    def _vector(self, value, name: str) -> np.ndarray:
        H = self.hidden_size
        if value is None:
            return np.zeros(H)
        array = np.asarray(value, dtype=np.float64).reshape(-1)
        if array.shape != (H,):
            raise RNNError(f"{name} must have {H} values (the hidden size), got {array.size}.")
        if not np.isfinite(array).all():
            raise RNNError(f"{name} holds NaN or infinite values.")
        return array

    def initial_state(self, h0=None, c0=None) -> tuple[np.ndarray, np.ndarray | None]:
        """(h0, c0) as arrays; ``h0`` may be an LSTM ``(h0, c0)`` tuple as torch takes it."""
        if isinstance(h0, tuple):
            h0, c0 = h0
        h = self._vector(h0, "h0")
        c = self._vector(c0, "c0") if self.kind == "lstm" else None
        return h, c

    def _inputs(self, x) -> np.ndarray:
        x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None] if self.input_size == 1 else x[None, :]
        if x.ndim != 2:
            raise RNNError(f"the input must be (time steps, {self.input_size} features), got shape {x.shape}.")
        if x.shape[0] == 0:
            raise RNNError("the sequence is empty: it needs at least one time step.")
        if x.shape[1] != self.input_size:
            raise RNNError(f"each input step must have {self.input_size} features (the cell's input size), got {x.shape[1]}.")
        if not np.isfinite(x).all():
            raise RNNError("the input sequence holds NaN or infinite values.")
        return x

    # -- running --------------------------------------------------------------------------------
    def trace(self, x, h0=None, c0=None) -> RNNTrace:
        """Run the whole sequence x (T, I) from ``h0`` (zeros by default) keeping every term."""
        x = self._inputs(x)  # (T, I)
        h, c = self.initial_state(h0, c0)
        T, H = x.shape[0], self.hidden_size
        wx = x @ self.weight_ih.T  # (T, G·H): all input terms in one product
        hidden = np.empty((T, H))
        cells = np.empty((T, H)) if self.kind == "lstm" else None
        h0_arr, c0_arr = h, c
        U, b_ih, b_hh, kind = self.weight_hh, self.bias_ih, self.bias_hh, self.kind
        uh, pre, gates = _run_states(kind, wx, U, b_ih, b_hh, h, c, hidden, cells)  # the sequential part
        return RNNTrace(kind, x, h0_arr, hidden, wx, uh, b_ih.copy(), b_hh.copy(), pre, gates, cells, c0_arr)

    def step(self, x_t, state=None, *, t: int = 0) -> StepTrace:
        """One step from ``state`` (h, or (h, c) for an LSTM; zeros if None). ``.state`` goes next."""
        x = self._inputs(np.asarray(x_t, dtype=np.float64).reshape(1, -1))[0]  # (I,)
        h_prev, c_prev = self.initial_state(state)
        wx = self.weight_ih @ x  # (G·H,)
        uh = self.weight_hh @ h_prev  # (G·H,)
        pre, gate_values, h, c = _cell_update(self.kind, wx, uh, self.bias_ih, self.bias_hh, h_prev, c_prev, _NumpyOps)
        return StepTrace(
            self.kind, t, x, h_prev, wx, uh, self.bias_ih.copy(), self.bias_hh.copy(), pre,
            dict(zip(self.gate_names, gate_values)), h, c_prev, c,
        )

    # -- conversion -----------------------------------------------------------------------------
    def state_dict(self):
        """torch tensors under torch.nn's names (no bias tensors for a cell without bias)."""
        import torch

        out = {"weight_ih_l0": torch.from_numpy(self.weight_ih.copy()), "weight_hh_l0": torch.from_numpy(self.weight_hh.copy())}
        if self.has_bias:
            out["bias_ih_l0"] = torch.from_numpy(self.bias_ih.copy())
            out["bias_hh_l0"] = torch.from_numpy(self.bias_hh.copy())
        return out

    def replace(self, **arrays: np.ndarray) -> RecurrentCell:
        """A copy with some of weight_ih / weight_hh / bias_ih / bias_hh replaced (same shapes)."""
        values = {"weight_ih": self.weight_ih, "weight_hh": self.weight_hh, "bias_ih": self.bias_ih, "bias_hh": self.bias_hh}
        for name, array in arrays.items():
            if name not in values:
                raise RNNError(f"unknown parameter {name!r}")
            array = np.asarray(array, dtype=np.float64)
            if array.shape != values[name].shape:
                raise RNNError(f"{name} must keep its shape {values[name].shape}, got {array.shape}.")
            if not np.isfinite(array).all():
                raise RNNError(f"{name}: NaN or infinite values are not allowed.")
            values[name] = array.copy()
        has_bias = self.has_bias or "bias_ih" in arrays or "bias_hh" in arrays
        return RecurrentCell(self.kind, values["weight_ih"], values["weight_hh"], values["bias_ih"], values["bias_hh"], has_bias)


# -- constructors ---------------------------------------------------------------------------------
def _check_sizes(input_size: int, hidden_size: int) -> None:
    if not isinstance(hidden_size, (int, np.integer)) or hidden_size < 1:
        raise RNNError(f"the hidden size must be at least 1 (got {hidden_size}): a cell with no hidden units has no state.")
    if hidden_size > MAX_HIDDEN:
        raise RNNError(f"the hidden size must be at most {MAX_HIDDEN} (got {hidden_size}).")
    if not isinstance(input_size, (int, np.integer)) or input_size < 1:
        raise RNNError(f"the input size must be at least 1 (got {input_size}).")


def torch_module(kind: str, input_size: int, hidden_size: int, *, bias: bool = True):
    """The torch.nn layer (batch_first) that a cell of this kind mirrors."""
    from torch import nn

    _check_kind(kind)
    _check_sizes(input_size, hidden_size)
    if kind.startswith("rnn_"):
        return nn.RNN(input_size, hidden_size, nonlinearity=kind[4:], bias=bias, batch_first=True)
    layer = nn.LSTM if kind == "lstm" else nn.GRU
    return layer(input_size, hidden_size, bias=bias, batch_first=True)


def random_cell(kind: str, input_size: int, hidden_size: int, *, seed: int = 0, bias: bool = True) -> RecurrentCell:
    """A cell with torch.nn's own initialisation (uniform ±1/√H) drawn from ``seed``."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        module = torch_module(kind, input_size, hidden_size, bias=bias)
    return from_state_dict(kind, module.state_dict())


def guess_kind(state_dict: Mapping[str, Any]) -> str | None:
    """'lstm', 'gru' or 'rnn_tanh' from the shapes (W stacks 4, 3 or 1 blocks of H rows); None if unclear."""
    try:
        prefix = layer_prefix(state_dict)
        rows, hidden = tuple(state_dict[prefix + "weight_hh_l0"].shape)
    except (StateDictError, KeyError, ValueError, TypeError):
        return None
    if hidden == 0 or rows % hidden:
        return None
    return {1: "rnn_tanh", 3: "gru", 4: "lstm"}.get(rows // hidden)


def layer_prefix(state_dict: Mapping[str, Any]) -> str:
    """'' for torch.nn's own names; 'rnn.' etc. when the layer sits inside a bigger model."""
    found = [key[: -len("weight_ih_l0")] for key in state_dict if str(key).endswith("weight_ih_l0")]
    forward = [p for p in found if not p.endswith("_reverse")]
    if not forward:
        shown = ", ".join(list(map(str, state_dict))[:8]) or "none"
        raise StateDictError(
            "no recurrent layer found: expected tensors named weight_ih_l0, weight_hh_l0 "
            f"(and bias_ih_l0, bias_hh_l0) as in torch.nn.RNN/LSTM/GRU; the file has: {shown}."
        )
    if len(forward) > 1:
        raise StateDictError(f"several recurrent layers found ({', '.join(p + 'weight_ih_l0' for p in forward)}); save one layer's state dict.")
    return forward[0]


def from_state_dict(kind: str, state_dict: Mapping[str, Any]) -> RecurrentCell:
    """Build a cell from torch.nn.RNN/LSTM/GRU tensors (layer 0; a common prefix such as 'rnn.' is allowed).

    Raises:
        StateDictError: missing tensors, a shape that does not fit ``kind`` (the
            message names every mismatched tensor with its shape and the expected
            one), non-finite values, or an LSTM with projections.
    """
    _check_kind(kind)
    prefix = layer_prefix(state_dict)
    get = lambda name: state_dict.get(prefix + name)  # noqa: E731
    if get("weight_hr_l0") is not None:
        raise StateDictError(f"{prefix}weight_hr_l0: LSTMs with proj_size are not supported (h and c would differ in size).")
    missing = [prefix + name for name in ("weight_ih_l0", "weight_hh_l0") if get(name) is None]
    has_ih, has_hh = get("bias_ih_l0") is not None, get("bias_hh_l0") is not None
    if has_ih != has_hh:
        missing.append(prefix + ("bias_hh_l0" if has_ih else "bias_ih_l0"))
    if missing:
        raise StateDictError(f"missing tensor(s): {', '.join(missing)}.")
    arrays = {}
    for name in TENSOR_NAMES:
        value = get(name)
        if value is None:
            continue
        try:
            array = np.asarray(value.detach().cpu().double() if hasattr(value, "detach") else value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise StateDictError(f"{prefix}{name}: not a numeric tensor ({exc}).") from exc
        if not np.isfinite(array).all():
            raise StateDictError(f"{prefix}{name}: holds NaN or infinite values.")
        arrays[name] = array
    W, U = arrays["weight_ih_l0"], arrays["weight_hh_l0"]
    G = n_blocks(kind)
    problems = []
    if U.ndim != 2 or W.ndim != 2:
        bad = [f"{prefix}{n} has {a.ndim} dimension(s)" for n, a in (("weight_ih_l0", W), ("weight_hh_l0", U)) if a.ndim != 2]
        raise StateDictError("weights must be matrices: " + "; ".join(bad) + ".")
    H = U.shape[1]
    if H == 0:
        raise StateDictError(f"{prefix}weight_hh_l0 has 0 columns: a hidden size of 0 is not a recurrent layer.")
    if U.shape != (G * H, H):
        problems.append(f"{prefix}weight_hh_l0 is {shape_text(U)}, expected {G * H} × {H} for {KIND_TITLES[kind]} ({G} block(s) of H = {H})")
    if W.shape[0] != G * H or W.shape[1] == 0:
        problems.append(f"{prefix}weight_ih_l0 is {shape_text(W)}, expected {G * H} × input size")
    for name in ("bias_ih_l0", "bias_hh_l0"):
        if name in arrays and arrays[name].shape != (G * H,):
            problems.append(f"{prefix}{name} is {shape_text(arrays[name])}, expected {G * H}")
    if problems:
        guessed = guess_kind(state_dict)
        hint = ""
        if guessed and n_blocks(guessed) != G:
            hint = f" The shapes look like {'an' if guessed == 'lstm' else 'a'} {KIND_TITLES[guessed] if guessed != 'rnn_tanh' else 'vanilla RNN'}: choose that cell type."
        raise StateDictError(f"this state dict does not fit {KIND_TITLES[kind]}: " + "; ".join(problems) + "." + hint)
    has_bias = "bias_ih_l0" in arrays
    zeros = np.zeros(G * H)
    return RecurrentCell(kind, W, U, arrays.get("bias_ih_l0", zeros), arrays.get("bias_hh_l0", zeros.copy()), has_bias)


def shape_text(array: np.ndarray) -> str:
    return " × ".join(map(str, array.shape)) or "a scalar"


# -- long-range sensitivity ------------------------------------------------------------------------
def sensitivity(cell: RecurrentCell, x, h0=None, *, chunk: int = 64, reporter: Reporter | None = None) -> np.ndarray:
    """‖∂h_T/∂x_t‖ (Frobenius norm of the H × I Jacobian) for every step t, by autograd. → (T,)

    How strongly the last hidden state still depends on each input: it fades
    geometrically in a vanilla RNN and can last in an LSTM or GRU. The update
    rule (:func:`_cell_update`) runs in torch float64 on ``k`` copies of the
    sequence at once, copy j differentiating hidden unit j of h_T, so one
    backward pass gives k rows of every Jacobian (``chunk`` units at a time;
    progress and cancel between chunks).
    """
    import torch

    x_np = cell._inputs(x)
    h_np, c_np = cell.initial_state(h0)
    T, H = x_np.shape[0], cell.hidden_size
    W, U, b_ih, b_hh = (torch.from_numpy(a) for a in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    ops = _TorchOps()
    squares = torch.zeros(T, dtype=torch.float64)
    report(reporter, 0.0, "∂h_T/∂x_t by autograd")
    for start in range(0, H, chunk):
        units = torch.arange(start, min(start + chunk, H))  # (k,)
        k = len(units)
        with torch.enable_grad():
            xs = torch.from_numpy(x_np).unsqueeze(0).repeat(k, 1, 1).requires_grad_(True)  # (k, T, I)
            wx = xs @ W.T  # (k, T, G·H)
            h = torch.from_numpy(h_np).expand(k, H)  # (k, H)
            c = None if c_np is None else torch.from_numpy(c_np).expand(k, H)
            for t in range(T):
                _, _, h, c = _cell_update(cell.kind, wx[:, t], h @ U.T, b_ih, b_hh, h, c, ops)  # (k, H)
            picked = h[torch.arange(k), units].sum()  # copy j contributes h_T[unit j] only
            (grads,) = torch.autograd.grad(picked, xs)  # (k, T, I): row j = ∂h_T[unit j]/∂x_t
        squares += grads.pow(2).sum(dim=(0, 2))
        report(reporter, min(start + chunk, H) / H, f"∂h_T/∂x_t: hidden units {start + 1}–{start + k} of {H}")
    return squares.sqrt().numpy()


def describe_update(kind: str) -> str:
    """The update rule of ``kind`` as one or two lines of text."""
    _check_kind(kind)
    if kind == "rnn_tanh":
        return "h_t = tanh(W·x_t + U·h_{t-1} + b)"
    if kind == "rnn_relu":
        return "h_t = relu(W·x_t + U·h_{t-1} + b)"
    if kind == "lstm":
        return "i, f, o = σ(·), g = tanh(W·x_t + U·h_{t-1} + b);  c_t = f ⊙ c_{t-1} + i ⊙ g;  h_t = o ⊙ tanh(c_t)"
    return "r, z = σ(W·x_t + U·h_{t-1} + b);  n = tanh(W_n·x_t + b_in + r ⊙ (U_n·h_{t-1} + b_hn));  h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}"


def fading_steps(values: np.ndarray, factor: float = 100.0) -> int | None:
    """How many steps back the sensitivity falls below 1/``factor`` of its value at the last step."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not math.isfinite(values[-1]) or values[-1] <= 0:
        return None
    below = np.nonzero(values[::-1] < values[-1] / factor)[0]
    return int(below[0]) if below.size else None
