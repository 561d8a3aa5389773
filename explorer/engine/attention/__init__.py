"""Scaled dot-product attention, the one mechanism every model here uses: softmax(Q·Kᵀ/√d_k)·V.

- :mod:`.core`: :func:`attend`, the float64 path that keeps every step (scores,
  scaled, logits, weights, output) with masks and a temperature — what the
  Attention panel shows.
- :mod:`.batched`: the float32 path the models run (the ViT, the video
  transformer): batched over heads, the weights returned only when asked.
- :mod:`.live`: :class:`LiveAttention`, the same trace kept live under edits — one edited row
  recomputes what it touches (the panel's path for real heads of 1,370 tokens).
- :mod:`.heads`: :class:`RealHead`, a model's head on the current input as a model panel hands it over.
- :mod:`.multi_head`: multi-head attention from token inputs and projections.
- :mod:`.why_scale`: what the ÷√d_k is for, measured.
- :mod:`.presets`: the panel's starting points (the cheatsheet's worked example first).
"""

from explorer.engine.attention.batched import scaled_dot_product
from explorer.engine.attention.core import (
    AttentionTrace,
    as_matrix,
    attend,
    causal_mask,
    check_finite,
    entropy,
    mha_mask_to_allowed,
    stable_softmax,
)
from explorer.engine.attention.heads import RealHead
from explorer.engine.attention.live import Change, LiveAttention
from explorer.engine.attention.multi_head import MultiHeadTrace, multi_head_attention, weights_from_torch
from explorer.engine.attention.why_scale import WhyScaleStats, why_scale, why_scale_example

__all__ = [
    "AttentionTrace", "Change", "LiveAttention", "MultiHeadTrace", "RealHead", "WhyScaleStats", "as_matrix",
    "attend", "causal_mask", "check_finite", "entropy", "mha_mask_to_allowed", "multi_head_attention",
    "scaled_dot_product", "stable_softmax", "weights_from_torch", "why_scale", "why_scale_example",
]
