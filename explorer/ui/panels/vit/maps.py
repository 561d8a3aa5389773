"""The map step 6 draws over the image, made from a result by the engine's analysis functions. No Qt.

One function per kind of map (one layer's attention, the rollout); each
returns an :class:`AttentionMap` with the words that say where it came from.
Another kind (a relevance map, a head ablated) is another function here and
another ``ViTState.attention_view``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.vit import analysis as va
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.selection import TokenLayout


@dataclass(frozen=True)
class AttentionMap:
    """A query token's weight on every patch, and where it came from."""

    values: np.ndarray  # (gh, gw)
    query: int  # the token index the map reads from
    source: str  # short, for the hover readout: "rollout", "layer 4, head 2"
    description: str  # the sentence under the map
    layer: int | None = None  # the (layer, head) dot to ring in the distance plot, when one head is shown
    head: int | None = None


def layer_map(result: ViTResult, layout: TokenLayout, query: int, layer: int, head: int | None) -> AttentionMap:
    """Row ``query`` of one layer's softmax(Q·Kᵀ/√d), of one head or the mean of the heads."""
    t = result.trace
    weights = t.attentions[layer]  # (heads, T, T)
    values = va.attention_map(weights, t.grid, query, head).numpy()
    head_text = "the mean of the heads" if head is None else f"head {head + 1}"
    cls_share = float(weights[:, query, 0].mean() if head is None else weights[head, query, 0])
    description = (
        f"Layer {layer + 1}, {head_text}: where {layout.name_of(query)} looks; rows of softmax(Q·Kᵀ/√d) — "
        f"{cls_share:.0%} of it goes to [CLS] itself (not drawn)."
    )
    source = f"layer {layer + 1}, {'mean of heads' if head is None else f'head {head + 1}'}"
    return AttentionMap(values, query, source, description, layer, head)


def rollout_map(result: ViTResult, layout: TokenLayout, query: int, joint: torch.Tensor,
                fusion: str, discard: float) -> AttentionMap:
    """Row ``query`` of ``joint``, the rollout :func:`explorer.engine.vit.analysis.rollout` made."""
    t = result.trace
    values = joint[query, layout.leading:].reshape(t.grid).numpy()  # joint: (T, T)
    description = (
        f"Rollout from {layout.name_of(query)}: attention multiplied through all {len(t.attentions)} layers "
        f"(heads fused by {fusion}, weakest {discard:.0%} discarded, identity added for the residual path)."
    )
    return AttentionMap(values, query, "rollout", description)
