"""How far back the last state still feels its inputs: ‖∂h_T/∂x_t‖ by autograd through the update rule."""

from __future__ import annotations

import math

import numpy as np

from explorer.engine.infra.progress import Reporter, report
from explorer.engine.rnn.cells import RecurrentCell
from explorer.engine.rnn.update import TorchOps, cell_update


def sensitivity(cell: RecurrentCell, x, h0=None, *, chunk: int = 64, reporter: Reporter | None = None) -> np.ndarray:
    """‖∂h_T/∂x_t‖ (Frobenius norm of the H × I Jacobian) for every step t, by autograd. → (T,)

    How strongly the last hidden state still depends on each input: it fades
    geometrically in a vanilla RNN and can last in an LSTM or GRU. The update
    rule (:func:`cell_update`) runs in torch float64 on ``k`` copies of the
    sequence at once, copy j differentiating hidden unit j of h_T, so one
    backward pass gives k rows of every Jacobian (``chunk`` units at a time;
    progress and cancel between chunks).
    """
    import torch

    x_np = cell._inputs(x)
    h_np, c_np = cell.initial_state(h0)
    T, H = x_np.shape[0], cell.hidden_size
    W, U, b_ih, b_hh = (torch.from_numpy(a) for a in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    ops = TorchOps()
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
                _, _, h, c = cell_update(cell.kind, wx[:, t], h @ U.T, b_ih, b_hh, h, c, ops)  # (k, H)
            picked = h[torch.arange(k), units].sum()  # copy j contributes h_T[unit j] only
            (grads,) = torch.autograd.grad(picked, xs)  # (k, T, I): row j = ∂h_T[unit j]/∂x_t
        squares += grads.pow(2).sum(dim=(0, 2))
        report(reporter, min(start + chunk, H) / H, f"∂h_T/∂x_t: hidden units {start + 1}–{start + k} of {H}")
    return squares.sqrt().numpy()


def fading_steps(values: np.ndarray, factor: float = 100.0) -> int | None:
    """How many steps back the sensitivity falls below 1/``factor`` of its value at the last step."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not math.isfinite(values[-1]) or values[-1] <= 0:
        return None
    below = np.nonzero(values[::-1] < values[-1] / factor)[0]
    return int(below[0]) if below.size else None
