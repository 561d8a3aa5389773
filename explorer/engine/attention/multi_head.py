"""Multi-head attention from token inputs: Q = X·W_Q, K = X·W_K, V = X·W_V, split into heads, attend, ·W_O.

Built on :func:`explorer.engine.attention.core.attend` (float64, every step kept),
so the From-input view shows the same intermediates per head as the Q·K·V view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.attention.core import Array, AttentionTrace, as_matrix, attend


# -- multi-head attention ---------------------------------------------------------------------
@dataclass(frozen=True)
class MultiHeadTrace:
    """Multi-head attention from token inputs: projections, each head's attention, concat, output."""

    x_q: Array  # (..., n_q, d_model)
    x_kv: Array  # (..., n_k, d_kv)
    q: Array  # (..., h, n_q, d_k)
    k: Array  # (..., h, n_k, d_k)
    v: Array  # (..., h, n_k, d_v)
    heads: AttentionTrace  # batched over heads: weights (..., h, n_q, n_k), output (..., h, n_q, d_v)
    concat: Array  # (..., n_q, h·d_v)
    output: Array  # (..., n_q, d_out)

    @property
    def num_heads(self) -> int:
        return int(self.q.shape[-3])

    @property
    def weights(self) -> Array:
        return self.heads.weights


def _split_heads(x: Array, num_heads: int) -> Array:
    *lead, n, width = x.shape
    return x.reshape(*lead, n, num_heads, width // num_heads).transpose(-3, -2)  # (..., h, n, width/h)


def multi_head_attention(
    x,
    w_q,
    w_k,
    w_v,
    w_o,
    *,
    num_heads: int = 1,
    x_kv=None,
    b_q=None,
    b_k=None,
    b_v=None,
    b_o=None,
    mask=None,
    scale: bool | float = True,
    temperature: float = 1.0,
) -> MultiHeadTrace:
    """Q = X·W_Q, K = X_kv·W_K, V = X_kv·W_V; split into heads; attend; concatenate; ·W_O.

    Weights use the textbook orientation (input dimension first): W_Q is
    ``(d_model, h·d_k)``, W_V ``(d_kv, h·d_v)``, W_O ``(h·d_v, d_out)``. For
    ``torch.nn`` layouts use :func:`weights_from_torch`. ``x_kv`` None is
    self-attention; otherwise cross-attention (queries from ``x``, keys and values
    from ``x_kv``). The mask ``(..., n_q, n_k)`` has the leading dimensions of ``x``
    and is shared by the heads; give it one more dimension ``(..., h, n_q, n_k)``
    for a mask per head.
    """
    x = as_matrix(x, "X")
    x_kv = x if x_kv is None else as_matrix(x_kv, "X (keys/values)")
    w_q, w_k, w_v, w_o = (as_matrix(w, name) for w, name in ((w_q, "W_Q"), (w_k, "W_K"), (w_v, "W_V"), (w_o, "W_O")))
    if num_heads < 1:
        raise ValueError("num_heads must be at least 1")
    for w, name, rows in ((w_q, "W_Q", x.shape[-1]), (w_k, "W_K", x_kv.shape[-1]), (w_v, "W_V", x_kv.shape[-1])):
        if w.shape[-2] != rows:
            raise ValueError(f"{name} needs {rows} rows (the width of its input), got shape {tuple(w.shape)}")
        if w.shape[-1] % num_heads:
            raise ValueError(f"{name} has {w.shape[-1]} columns, not divisible into {num_heads} heads")
    if w_q.shape[-1] != w_k.shape[-1]:
        raise ValueError(f"W_Q and W_K need the same number of columns, got {w_q.shape[-1]} and {w_k.shape[-1]}")
    if w_o.shape[-2] != w_v.shape[-1]:
        raise ValueError(f"W_O needs {w_v.shape[-1]} rows (h·d_v), got shape {tuple(w_o.shape)}")

    def project(inp: Array, w: Array, b, name: str) -> Array:
        out = inp @ w  # (..., n, width)
        return out if b is None else out + as_matrix(b, name).reshape(-1)

    q = _split_heads(project(x, w_q, b_q, "b_Q"), num_heads)  # (..., h, n_q, d_k)
    k = _split_heads(project(x_kv, w_k, b_k, "b_K"), num_heads)  # (..., h, n_k, d_k)
    v = _split_heads(project(x_kv, w_v, b_v, "b_V"), num_heads)  # (..., h, n_k, d_v)
    if mask is not None:
        mask = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
        if mask.ndim <= x.ndim:
            mask = mask.unsqueeze(-3)  # (..., 1, n_q, n_k): the same for every head
    heads = attend(q, k, v, mask=mask, scale=scale, temperature=temperature)
    out_heads = heads.output  # (..., h, n_q, d_v)
    concat = out_heads.transpose(-3, -2).reshape(*out_heads.shape[:-3], out_heads.shape[-2], -1)  # (..., n_q, h·d_v)
    output = concat @ w_o
    if b_o is not None:
        output = output + as_matrix(b_o, "b_O").reshape(-1)
    return MultiHeadTrace(x_q=x, x_kv=x_kv, q=q, k=k, v=v, heads=heads, concat=concat, output=output)


def weights_from_torch(in_proj_weight, out_proj_weight, in_proj_bias=None, out_proj_bias=None) -> dict[str, Array]:
    """Keyword arguments for :func:`multi_head_attention` from ``torch.nn.MultiheadAttention`` tensors.

    torch stores ``in_proj_weight`` as ``(3E, E)`` = [W_Qᵀ; W_Kᵀ; W_Vᵀ] applied as
    ``x @ Wᵀ``; ours are applied as ``x @ W``, hence the transposes.
    """
    w = torch.as_tensor(in_proj_weight).detach().to(torch.float64)
    w_q, w_k, w_v = w.chunk(3, dim=0)
    out = {"w_q": w_q.T, "w_k": w_k.T, "w_v": w_v.T, "w_o": torch.as_tensor(out_proj_weight).detach().to(torch.float64).T}
    if in_proj_bias is not None:
        b = torch.as_tensor(in_proj_bias).detach().to(torch.float64)
        out["b_q"], out["b_k"], out["b_v"] = b.chunk(3)
    if out_proj_bias is not None:
        out["b_o"] = torch.as_tensor(out_proj_bias).detach().to(torch.float64)
    return out
