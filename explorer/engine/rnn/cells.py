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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.engine.rnn.traces import RNNTrace, StepTrace
from explorer.engine.rnn.update import (
    GATES,
    KIND_TITLES,
    MAX_HIDDEN,
    TENSOR_NAMES,
    NumpyOps,
    RNNError,
    StateDictError,
    cell_update,
    check_kind,
    n_blocks,
    run_states,
)


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
        hidden = np.empty((T, H))
        cells = np.empty((T, H)) if self.kind == "lstm" else None
        h0_arr, c0_arr = h, c
        U, b_ih, b_hh, kind = self.weight_hh, self.bias_ih, self.bias_hh, self.kind
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by term and step
            wx = x @ self.weight_ih.T  # (T, G·H): all input terms in one product
            uh, pre, gates = run_states(kind, wx, U, b_ih, b_hh, h, c, hidden, cells)  # the sequential part
        check_finite({"W·xₜ": wx, "U·hₜ₋₁": uh, "the pre-activation": pre, "cₜ": cells, "hₜ": hidden})
        return RNNTrace(kind, x, h0_arr, hidden, wx, uh, b_ih.copy(), b_hh.copy(), pre, gates, cells, c0_arr)

    def step(self, x_t, state=None, *, t: int = 0) -> StepTrace:
        """One step from ``state`` (h, or (h, c) for an LSTM; zeros if None). ``.state`` goes next."""
        x = self._inputs(np.asarray(x_t, dtype=np.float64).reshape(1, -1))[0]  # (I,)
        h_prev, c_prev = self.initial_state(state)
        with np.errstate(over="ignore", invalid="ignore"):
            wx = self.weight_ih @ x  # (G·H,)
            uh = self.weight_hh @ h_prev  # (G·H,)
            pre, gate_values, h, c = cell_update(self.kind, wx, uh, self.bias_ih, self.bias_hh, h_prev, c_prev, NumpyOps)
        check_finite({"W·xₜ": wx[None], "U·hₜ₋₁": uh[None], "the pre-activation": pre[None], "hₜ": h[None]}, first_step=t)
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
            check_norm(name, array)
            values[name] = array.copy()
        has_bias = self.has_bias or "bias_ih" in arrays or "bias_hh" in arrays
        return RecurrentCell(self.kind, values["weight_ih"], values["weight_hh"], values["bias_ih"], values["bias_hh"], has_bias)


#: Above this, w² leaves the floats (1.8e308): the norms ‖W‖, ‖U‖, ‖b‖ the panel shows would be infinite.
MAX_WEIGHT = 1e154


def check_norm(name: str, array: np.ndarray) -> None:
    """Refuse weights so large that their norm (√Σw²) overflows; the message gives the largest and the limit."""
    largest = float(np.abs(array).max()) if array.size else 0.0
    with np.errstate(over="ignore"):
        norm = float(np.sqrt(np.sum(np.square(array))))
    if largest > MAX_WEIGHT or not np.isfinite(norm):
        raise RNNError(
            f"{name}: a value of {largest:.3g} is too large: its norm √Σw² overflows (beyond ±1.8e308, the largest "
            f"float). Keep weights below about {MAX_WEIGHT:.0e}. Nothing was changed."
        )


def check_finite(terms: Mapping[str, np.ndarray | None], *, first_step: int = 0) -> None:
    """Refuse a run whose products overflowed: name the first term and step that left the floats.

    Finite weights can still overflow (1e308 · x), and an infinite or NaN term
    would reach every view as garbage; the message says what to change.
    """
    first = {}  # term → the first step where it is not finite
    for name, values in terms.items():
        if values is not None:
            rows = np.flatnonzero(~np.isfinite(values).all(axis=-1))
            if rows.size:
                first[name] = int(rows[0])
    if first:  # the earliest step names the cause; at a tie, the earlier term of the rule
        name = min(first, key=first.get)
        t = first[name] + first_step
        raise RNNError(
            f"{name} overflows at step {t + 1}: its values pass ±1.8e308, the largest number a float holds. "
            "The weights (or inputs) are too large for this sequence; use smaller values. Nothing was changed."
        )


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

    check_kind(kind)
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
    check_kind(kind)
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
        check_norm(prefix + name, array)
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
