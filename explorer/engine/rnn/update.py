"""The recurrence itself, written once: h_t = f(W·x_t + U·h_{t-1} + b), the LSTM and the GRU.

The same update rule runs on NumPy (whole-sequence traces, float64) and on
torch (autograd for the long-range sensitivity) through a tiny ops table, so
the two can never disagree. Kinds, gate names and the errors live here too.
"""

from __future__ import annotations

import numpy as np

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
KIND_TITLES = {"rnn_tanh": "RNN (tanh)", "rnn_relu": "RNN (ReLU)", "lstm": "LSTM", "gru": "GRU"}
GATES: dict[str, tuple[str, ...]] = {"rnn_tanh": (), "rnn_relu": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
#: What each gate does, for tooltips and legends.
GATE_MEANINGS = {
    "i": "input gate: how much of the candidate g enters the cell",
    "f": "forget gate: how much of the old cell state cₜ₋₁ is kept",
    "g": "candidate values (tanh) written into the cell",
    "o": "output gate: how much of tanh(cₜ) is shown as hₜ",
    "r": "reset gate: how much of U·hₜ₋₁ enters the candidate n",
    "z": "update gate: how much of hₜ₋₁ is kept (1 = keep all)",
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
    check_kind(kind)
    return max(1, len(GATES[kind]))


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise RNNError(f"cell type must be one of {', '.join(KINDS)} (got {kind!r}).")


# -- the update rule, once, for NumPy (traces) and torch (autograd) ----------------------------
class NumpyOps:
    tanh = staticmethod(np.tanh)
    relu = staticmethod(lambda a: np.maximum(a, 0.0))
    sigmoid = staticmethod(lambda a: 0.5 + 0.5 * np.tanh(0.5 * a))  # overflow-free logistic


class TorchOps:
    def __init__(self) -> None:
        import torch

        self.tanh, self.relu, self.sigmoid = torch.tanh, torch.relu, torch.sigmoid


def cell_update(kind: str, wx, uh, b_ih, b_hh, h_prev, c_prev, ops):
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
    pre = concat_blocks(ops, [gx[..., : 2 * H] + gh[..., : 2 * H], pre_n])
    return pre, (r, z, n), h, None


def concat_blocks(ops, parts):
    if isinstance(ops, TorchOps):
        import torch

        return torch.cat(parts, dim=-1)
    return np.concatenate(parts, axis=-1)


def run_states(kind, wx, U, b_ih, b_hh, h, c, hidden, cells) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Run the recurrence step by step, filling ``hidden`` (and ``cells``); → (uh, pre, gates).

    The only sequential work of a trace: the same rule as :func:`cell_update`,
    fused to a few array operations per step (call overhead and the U·h
    product dominate at these sizes), keeping U·h_{t-1} and the activations as
    they are computed so nothing is recomputed afterwards; array operations
    write in place (``out=``). σ(a) = ½ + ½·tanh(a/2) lets one tanh serve all
    four LSTM blocks; halving is exact in floating point. The tests check every
    term against torch.nn and against
    :meth:`RecurrentCell.step` (which uses :func:`cell_update`).
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


def describe_update(kind: str) -> str:
    """The update rule of ``kind`` as one or two lines of text."""
    check_kind(kind)
    if kind == "rnn_tanh":
        return "hₜ = tanh(W·xₜ + U·hₜ₋₁ + b)"
    if kind == "rnn_relu":
        return "hₜ = relu(W·xₜ + U·hₜ₋₁ + b)"
    if kind == "lstm":
        return "i, f, o = σ(·), g = tanh(W·xₜ + U·hₜ₋₁ + b);  cₜ = f ⊙ cₜ₋₁ + i ⊙ g;  hₜ = o ⊙ tanh(cₜ)"
    return "r, z = σ(W·xₜ + U·hₜ₋₁ + b);  n = tanh(Wₙ·xₜ + bᵢₙ + r ⊙ (Uₙ·hₜ₋₁ + bₕₙ));  hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁"
