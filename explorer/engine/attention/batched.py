"""The attention the models run: batched, float32, the weights returned only when asked.

:func:`scaled_dot_product` is the same softmax(Q·Kᵀ/√d_k)·V as
:func:`explorer.engine.attention.core.attend`, shaped for models rather than
for the panel: any leading batch and head dimensions, the input's dtype and
device, and no intermediate kept unless ``need_weights``. Every model in the
app calls it (the ViT's blocks, the video transformer), so the mechanism the
Attention panel teaches is literally the one the models use.

Two paths, one meaning:

* ``need_weights=False``: :func:`torch.nn.functional.scaled_dot_product_attention`
  (a fused kernel where torch has one), for training and plain forwards.
* ``need_weights=True``: written out — scale, mask, softmax, weighted sum of V —
  because a fused kernel never returns the weights (PITFALLS.md), and editing
  or showing a head needs them. The product is formed as ``(Q·scale)·Kᵀ``, the
  order timm and our traces have always used, so traced maps stay bit-stable.

Masks follow SDPA: a boolean mask is True where a query *may* attend; a float
mask is added to the scaled scores (−inf blocks).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def scaled_dot_product(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
    need_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(Q·Kᵀ·scale + mask)·V → ``(output, weights or None)``.

    Args:
        q: (..., n_q, d_k); k: (..., n_k, d_k); v: (..., n_k, d_v). Leading dimensions broadcast.
        mask: None, boolean (True = may attend) or additive float, broadcastable to (..., n_q, n_k).
        scale: the factor on the scores; None → 1/√d_k.
        need_weights: also return the weights (..., n_q, n_k); forces the written-out path.
    Returns:
        output (..., n_q, d_v), and the weights or None.
    """
    factor = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=factor), None
    scores = (q * factor) @ k.transpose(-2, -1)  # (..., n_q, n_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf) if mask.dtype == torch.bool else scores + mask
    weights = scores.softmax(dim=-1)  # (..., n_q, n_k)
    return weights @ v, weights  # (..., n_q, d_v)
