"""Scaled dot-product attention, step by step: Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k) · V.

:func:`attend` returns an :class:`AttentionTrace` holding every intermediate a
learner wants to see (scores, scaled scores, the logits that enter the softmax,
the weights and the output), not just the result. :func:`multi_head_attention`
builds multi-head attention from token inputs on top of it, and
:func:`why_scale` measures what the ÷√d_k is for.

Numerics, because the panel lets people type anything:

* Inputs may be nested lists, NumPy arrays or tensors, with any leading
  batch/head dimensions (``(..., n, d)``). NaN or ±Inf inputs are refused
  with a ``ValueError`` that says which matrix.
* The arithmetic runs in float64 whatever the input dtype, so entries up to
  ±1e30 give finite scores (1e30·1e30·64 ≈ 6e61 ≪ 1.8e308); the trace is float64.
* The softmax subtracts the row maximum; a row whose keys are all masked gets
  weights 0 and output 0 and is listed in ``masked_rows`` — never NaN.

Masks follow :func:`torch.nn.functional.scaled_dot_product_attention`: a
boolean mask is True where a query *may* attend; a float mask is added to the
logits (−inf blocks). Note that ``torch.nn.MultiheadAttention``'s boolean
``attn_mask`` means the opposite (True = blocked); :func:`mha_mask_to_allowed`
converts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

Array = torch.Tensor


# -- conversion -------------------------------------------------------------------------------
def as_matrix(values, name: str) -> Array:
    """``values`` as a float64 tensor of at least 2 dimensions ``(..., n, d)``; refuse non-finite entries."""
    if isinstance(values, torch.Tensor):
        tensor = values.detach().to(dtype=torch.float64, device="cpu")
    else:
        try:
            tensor = torch.as_tensor(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a matrix of numbers: {exc}") from None
    if tensor.ndim == 1:
        tensor = tensor[None, :]  # one row
    if tensor.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (rows × columns), got shape {tuple(tensor.shape)}")
    if tensor.shape[-1] == 0 or tensor.shape[-2] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinity; every entry must be a finite number")
    return tensor


def causal_mask(n_q: int, n_k: int | None = None) -> Array:
    """Boolean ``(n_q, n_k)`` mask, True where query i may attend to key j ≤ i.

    Aligned at the top-left like ``scaled_dot_product_attention(is_causal=True)``.
    """
    n_k = n_q if n_k is None else n_k
    return torch.ones(n_q, n_k, dtype=torch.bool).tril()


def mha_mask_to_allowed(attn_mask) -> Array:
    """``torch.nn.MultiheadAttention``'s boolean mask (True = blocked) → ours (True = may attend)."""
    return ~torch.as_tensor(attn_mask, dtype=torch.bool)


def _prepare_mask(mask, shape: torch.Size) -> tuple[Array, Array]:
    """(allowed bool, additive float64) both broadcast to ``shape`` (..., n_q, n_k)."""
    if mask is None:
        return torch.ones(shape, dtype=torch.bool), torch.zeros(shape, dtype=torch.float64)
    if isinstance(mask, torch.Tensor):
        tensor = mask.detach().cpu()
    else:
        array = np.asarray(mask)
        tensor = torch.as_tensor(array if array.dtype == np.bool_ else array.astype(np.float64))
    try:
        if tensor.dtype == torch.bool:
            allowed = tensor.expand(shape)
            return allowed, torch.zeros(shape, dtype=torch.float64)
        additive = tensor.to(torch.float64).expand(shape)
    except RuntimeError:
        raise ValueError(f"mask of shape {tuple(tensor.shape)} does not fit scores of shape {tuple(shape)}") from None
    if torch.isnan(additive).any():
        raise ValueError("the additive mask contains NaN; use -inf to block a key, 0 to allow it")
    blocked = additive == -math.inf
    return ~blocked, torch.where(blocked, torch.zeros((), dtype=torch.float64), additive)


# -- softmax ----------------------------------------------------------------------------------
def stable_softmax(logits: Array, allowed: Array) -> tuple[Array, Array]:
    """Row-wise softmax over the allowed entries; returns (weights, masked_rows).

    The row maximum is subtracted before ``exp``, so no finite logit overflows.
    A row with +inf logits splits its weight evenly among them (the limit of
    the softmax); a row with no allowed entry gets weights 0 and is flagged.
    """
    neg_inf = torch.full((), -math.inf, dtype=logits.dtype)
    x = torch.where(allowed, logits, neg_inf)  # (..., n_q, n_k)
    masked_rows = ~allowed.any(dim=-1)  # (..., n_q)
    row_max = x.amax(dim=-1, keepdim=True)
    safe_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros((), dtype=logits.dtype))
    e = torch.exp(x - safe_max)  # exp(-inf) = 0 for blocked keys
    posinf = x == math.inf
    e = torch.where(posinf.any(dim=-1, keepdim=True), posinf.to(logits.dtype), e)
    total = e.sum(dim=-1, keepdim=True)
    weights = e / torch.where(total > 0, total, torch.ones((), dtype=logits.dtype))
    return weights, masked_rows


# -- single-head attention --------------------------------------------------------------------
@dataclass(frozen=True)
class AttentionTrace:
    """Every step of one scaled dot-product attention (float64 tensors)."""

    q: Array  # (..., n_q, d_k)
    k: Array  # (..., n_k, d_k)
    v: Array  # (..., n_k, d_v)
    scores: Array  # (..., n_q, n_k)  Q·Kᵀ
    scaled: Array  # (..., n_q, n_k)  scores × scale
    logits: Array  # (..., n_q, n_k)  scaled / temperature + additive mask; −inf where blocked
    weights: Array  # (..., n_q, n_k)  softmax rows (sum 1; all 0 for a fully masked row)
    output: Array  # (..., n_q, d_v)  weights · V
    allowed: Array  # bool (..., n_q, n_k)
    masked_rows: Array  # bool (..., n_q): queries whose every key is masked
    scale: float  # the factor applied to the scores: 1/√d_k, 1, or the number given
    temperature: float
    notes: tuple[str, ...] = field(default=())

    @property
    def d_k(self) -> int:
        return int(self.q.shape[-1])

    @property
    def any_masked_rows(self) -> bool:
        return bool(self.masked_rows.any())


def attend(q, k, v, *, mask=None, scale: bool | float = True, temperature: float = 1.0) -> AttentionTrace:
    """softmax((Q·Kᵀ) · scale / temperature + mask) · V, keeping every step.

    Args:
        q: queries ``(..., n_q, d_k)``; k: keys ``(..., n_k, d_k)``; v: values ``(..., n_k, d_v)``.
            Leading dimensions broadcast (batch, heads).
        mask: None; boolean (True = may attend) or additive float, broadcastable to ``(..., n_q, n_k)``.
        scale: True → multiply the scores by 1/√d_k (the paper); False → leave them;
            a number → multiply by it (the same meaning as SDPA's ``scale=``).
        temperature: the scaled scores are divided by it before the softmax
            (> 1 flattens the weights, < 1 sharpens them); 1 is plain attention.
    """
    q, k, v = as_matrix(q, "Q"), as_matrix(k, "K"), as_matrix(v, "V")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"Q and K need the same number of columns d_k: Q has {q.shape[-1]}, K has {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"K and V need one row per key: K has {k.shape[-2]} rows, V has {v.shape[-2]}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, not {temperature!r}")
    if scale is True:
        factor = 1.0 / math.sqrt(q.shape[-1])
    elif scale is False or scale is None:
        factor = 1.0
    else:
        factor = float(scale)
        if not math.isfinite(factor):
            raise ValueError(f"scale must be finite, not {scale!r}")

    scores = q @ k.transpose(-2, -1)  # (..., n_q, n_k)
    scaled = scores * factor
    allowed, additive = _prepare_mask(mask, scores.shape)
    logits = scaled / temperature + additive
    weights, masked_rows = stable_softmax(logits, allowed)
    output = weights @ v  # (..., n_q, d_v)
    logits = torch.where(allowed, logits, torch.full((), -math.inf, dtype=torch.float64))

    notes: list[str] = []
    if masked_rows.any():
        count = int(masked_rows.sum())
        notes.append(
            f"{count} quer{'y has' if count == 1 else 'ies have'} every key masked: "
            "weights and output are 0 for them (a softmax over nothing is undefined)."
        )
    return AttentionTrace(
        q=q, k=k, v=v, scores=scores, scaled=scaled, logits=logits, weights=weights, output=output,
        allowed=allowed.expand(scores.shape), masked_rows=masked_rows, scale=factor,
        temperature=float(temperature), notes=tuple(notes),
    )


def entropy(weights: Array) -> Array:
    """Shannon entropy (nats) of each weight row ``(..., n)`` → ``(...)``; 0·log 0 = 0."""
    w = torch.as_tensor(weights, dtype=torch.float64)
    return -(torch.where(w > 0, w * torch.log(w.clamp_min(1e-300)), torch.zeros((), dtype=w.dtype))).sum(-1)


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


# -- why scale? -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WhyScaleStats:
    """For random unit-variance q and k: how the scores spread and how peaked the softmax is."""

    d_k: np.ndarray  # (D,)
    std_raw: np.ndarray  # (D,) std of q·k (grows like √d_k)
    std_scaled: np.ndarray  # (D,) std of q·k/√d_k (stays near 1)
    entropy_raw: np.ndarray  # (D,) mean softmax entropy, nats (falls towards 0: one key takes all)
    entropy_scaled: np.ndarray  # (D,) stays near its d-independent value
    max_weight_raw: np.ndarray  # (D,) mean largest weight in a row
    max_weight_scaled: np.ndarray  # (D,)
    n_keys: int
    samples: int

    @property
    def max_entropy(self) -> float:
        """log(n_keys): the entropy of uniform weights."""
        return math.log(self.n_keys)


def why_scale(d_values=None, *, n_keys: int = 16, samples: int = 256, seed: int = 0, reporter=None) -> WhyScaleStats:
    """Measure, for each d_k, the score spread and softmax entropy with and without ÷√d_k.

    ``samples`` queries each score ``n_keys`` keys; q and k have independent
    N(0, 1) entries drawn from a generator seeded with ``seed``. The vectors for
    a smaller d_k are the first d_k coordinates of the largest ones, so one
    running sum of q_i·k_i gives the scores for every d_k at once (the same
    statistics as separate draws, at the cost of one draw). ``d_values``
    defaults to 48 values spread log-evenly over 1…1024. ``reporter``
    (optional) gets progress.
    """
    if d_values is None:
        d_values = np.unique(np.round(np.geomspace(1, 1024, 48)).astype(int))
    d_values = np.atleast_1d(np.asarray(d_values, dtype=int))
    if (d_values < 1).any() or (d_values > 4096).any():
        raise ValueError("d_k must lie between 1 and 4096")
    d_max = int(d_values.max())
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(samples, 1, d_max, generator=gen, dtype=torch.float64)  # (S, 1, D)
    k = torch.randn(samples, n_keys, d_max, generator=gen, dtype=torch.float64)  # (S, n, D)
    running = torch.cumsum(q * k, dim=-1)  # (S, n, D): running[..., d-1] = q[:d]·k[:d]
    rows = {name: np.empty(len(d_values)) for name in ("sr", "ss", "er", "es", "mr", "ms")}
    for i, d in enumerate(d_values):
        scores = running[..., int(d) - 1]  # (S, n)
        scaled = scores / math.sqrt(d)
        w_raw = torch.softmax(scores, dim=-1)
        w_scaled = torch.softmax(scaled, dim=-1)
        rows["sr"][i] = float(scores.std())
        rows["ss"][i] = float(scaled.std())
        rows["er"][i] = float(entropy(w_raw).mean())
        rows["es"][i] = float(entropy(w_scaled).mean())
        rows["mr"][i] = float(w_raw.amax(-1).mean())
        rows["ms"][i] = float(w_scaled.amax(-1).mean())
        if reporter is not None and (i % 8 == 7 or i == len(d_values) - 1):
            reporter.report((i + 1) / len(d_values), f"d_k = {d}")
    return WhyScaleStats(
        d_k=d_values, std_raw=rows["sr"], std_scaled=rows["ss"], entropy_raw=rows["er"], entropy_scaled=rows["es"],
        max_weight_raw=rows["mr"], max_weight_scaled=rows["ms"], n_keys=n_keys, samples=samples,
    )


def why_scale_example(d_k: int, *, n_keys: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One random query's weights over ``n_keys`` random keys: (without scaling, with ÷√d_k)."""
    gen = torch.Generator().manual_seed(seed * 7919 + int(d_k))
    q = torch.randn(1, int(d_k), generator=gen, dtype=torch.float64)  # (1, d)
    k = torch.randn(n_keys, int(d_k), generator=gen, dtype=torch.float64)  # (n, d)
    raw = attend(q, k, k, scale=False).weights[0].numpy()
    scaled = attend(q, k, k, scale=True).weights[0].numpy()
    return raw, scaled
