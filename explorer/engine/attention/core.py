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
  Finite entries can still overflow a product (1e308 · 2): such scores, logits
  or outputs are refused with a ``ValueError`` (:func:`check_finite`), never shown as NaN.
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


#: Entries this large still give finite products at d_k = 1024 (1e150² · 1024 ≈ 1e303 < 1.8e308).
SAFE_MAGNITUDE = 1e150


def check_finite(values: Array, what: str, source: str) -> None:
    """Refuse an overflowed product with a message that names it and what to change.

    Every input entry is finite, yet 1e308 · 2 is not: the sums of products that
    make the scores (or the weighted sum of V) can overflow float64. Such a result
    would reach the screen as NaN; it is refused instead, and the caller keeps
    the numbers it had.
    """
    if values.numel() == 0:
        return
    low, high = torch.aminmax(values)  # NaN propagates; two numbers instead of a mask as large as ``values``
    if not (math.isfinite(float(low)) and math.isfinite(float(high))):
        raise ValueError(
            f"{what} overflows (goes past ±1.8e308, the largest float64): make the entries of {source} "
            f"smaller — up to about ±{SAFE_MAGNITUDE:.0e} is always safe"
        )


def causal_mask(n_q: int, n_k: int | None = None) -> Array:
    """Boolean ``(n_q, n_k)`` mask, True where query i may attend to key j ≤ i.

    Aligned at the top-left like ``scaled_dot_product_attention(is_causal=True)``.
    """
    n_k = n_q if n_k is None else n_k
    return torch.ones(n_q, n_k, dtype=torch.bool).tril()


def mha_mask_to_allowed(attn_mask) -> Array:
    """``torch.nn.MultiheadAttention``'s boolean mask (True = blocked) → ours (True = may attend)."""
    return ~torch.as_tensor(attn_mask, dtype=torch.bool)


def _prepare_mask(mask, shape: torch.Size) -> tuple[Array | None, Array | None]:
    """(allowed bool, additive float64) broadcast to ``shape`` (..., n_q, n_k); None where there is nothing to apply.

    No mask costs nothing: a 1370 × 1370 head (DINOv2 at 518 px) would otherwise spend
    most of its time building and applying an all-True mask and an all-zero bias.
    """
    if mask is None:
        return None, None
    if isinstance(mask, torch.Tensor):
        tensor = mask.detach().cpu()
    else:
        array = np.asarray(mask)
        tensor = torch.as_tensor(array if array.dtype == np.bool_ else array.astype(np.float64))
    try:
        if tensor.dtype == torch.bool:
            return tensor.expand(shape), None
        additive = tensor.to(torch.float64).expand(shape)
    except RuntimeError:
        raise ValueError(f"mask of shape {tuple(tensor.shape)} does not fit scores of shape {tuple(shape)}") from None
    if torch.isnan(additive).any():
        raise ValueError("the additive mask contains NaN; use -inf to block a key, 0 to allow it")
    blocked = additive == -math.inf
    return ~blocked, torch.where(blocked, torch.zeros((), dtype=torch.float64), additive)


# -- softmax ----------------------------------------------------------------------------------
def stable_softmax(logits: Array, allowed: Array | None = None) -> tuple[Array, Array]:
    """Row-wise softmax over the allowed entries (None: all); returns (weights, masked_rows).

    The row maximum is subtracted before ``exp``, so no finite logit overflows.
    A row with +inf logits splits its weight evenly among them (the limit of
    the softmax); a row with no allowed entry gets weights 0 and is flagged.
    """
    neg_inf = torch.full((), -math.inf, dtype=logits.dtype)
    x = logits if allowed is None else torch.where(allowed, logits, neg_inf)  # (..., n_q, n_k)
    masked_rows = (
        torch.zeros(logits.shape[:-1], dtype=torch.bool) if allowed is None else ~allowed.any(dim=-1)
    )  # (..., n_q)
    row_max = x.amax(dim=-1, keepdim=True)
    if not bool((row_max == math.inf).any()):  # the usual case: torch's own softmax (it subtracts the max too)
        weights = torch.softmax(x, dim=-1)
        if bool(masked_rows.any()):  # a row of -inf only: softmax gives NaN there
            weights = weights.masked_fill(masked_rows.unsqueeze(-1), 0.0)
        return weights, masked_rows
    finite_max = torch.isfinite(row_max)
    safe_max = row_max if bool(finite_max.all()) else torch.where(finite_max, row_max, torch.zeros((), dtype=logits.dtype))
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
    check_finite(scores, "Q·Kᵀ", "Q and K")
    scaled = scores * factor
    allowed, additive = _prepare_mask(mask, scores.shape)
    logits = scaled if temperature == 1.0 else scaled / temperature
    if additive is not None:
        logits = logits + additive
    check_finite(logits if allowed is None else logits[allowed], "the scaled scores", "Q and K, or raise the temperature,")
    weights, masked_rows = stable_softmax(logits, allowed)
    output = weights @ v  # (..., n_q, d_v)
    check_finite(output, "the output weights·V", "V")
    if allowed is None:
        allowed = torch.ones((), dtype=torch.bool).expand(scores.shape)  # a view: no n_q × n_k copy
    else:
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
