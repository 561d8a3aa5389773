"""The map step 6 draws over the image, made from a result by the engine's analysis functions. No Qt.

One function per kind of map (one layer's attention, the rollout, the
attention pool's probe); each returns an :class:`AttentionMap` with the words
that say where it came from. Only the patches are drawn on the grid; what went
to the special tokens ([CLS], [DIST], registers) is said in numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.vit import analysis as va
from explorer.engine.vit.config import TokenLayout
from explorer.ui.panels.vit.result import ViTResult


@dataclass(frozen=True)
class AttentionMap:
    """A query token's weight on every patch, and where it came from."""

    values: np.ndarray  # (gh, gw)
    query: int  # the token index the map reads from (POOL_QUERY: the pooling probe)
    source: str  # short, for the hover readout: "rollout", "layer 4, head 2"
    description: str  # the sentence under the map
    layer: int | None = None  # the (layer, head) dot to ring in the distance plot, when one head is shown
    head: int | None = None
    special: tuple[tuple[str, float], ...] = ()  # (token name, weight) of the special tokens, not drawn


def special_shares(row: torch.Tensor, layout: TokenLayout) -> tuple[tuple[str, float], ...]:
    """(name, weight) of each special token in one (T,) row of weights."""
    return tuple((name, float(row[i])) for i, name in enumerate(layout.special))


def _shares_text(shares: tuple[tuple[str, float], ...]) -> str:
    if not shares:
        return ""
    registers = [w for name, w in shares if name.startswith("[REG")]
    parts = [f"{name} {w:.0%}" for name, w in shares if not name.startswith("[REG")]
    if registers:
        parts.append(f"the {len(registers)} registers {sum(registers):.0%}")
    total = sum(w for _name, w in shares)
    return f" {total:.0%} of it goes to the special tokens ({', '.join(parts)}), which the map leaves out."


def layer_map(result: ViTResult, layout: TokenLayout, query: int, layer: int, head: int | None) -> AttentionMap:
    """Row ``query`` of one layer's softmax(Q·Kᵀ/√d), of one head or the mean of the heads (from Q and K, not the full map)."""
    t = result.trace
    rows = t.attentions.rows(layer, query)  # (heads, T)
    values = va.attention_map(rows, t.grid, head=head).numpy()
    head_text = "the mean of the heads" if head is None else f"head {head + 1}"
    row = rows.mean(dim=0) if head is None else rows[head]
    shares = special_shares(row, layout)
    description = (f"Layer {layer + 1}, {head_text}: where {layout.name_of(query)} looks; a row of "
                   f"softmax(Q·Kᵀ/√d).{_shares_text(shares)}")
    source = f"layer {layer + 1}, {'mean of heads' if head is None else f'head {head + 1}'}"
    return AttentionMap(values, query, source, description, layer, head, shares)


def rollout_map(result: ViTResult, layout: TokenLayout, query: int, factors: list[torch.Tensor],
                fusion: str, discard: float) -> AttentionMap:
    """Row ``query`` of the rollout, from its per-layer factors (:func:`~explorer.engine.vit.analysis.rollout_row`).

    From the pooling probe (``query`` < 0) the probe's mean weights over the final tokens are rolled back.
    """
    t = result.trace
    start = t.pool_attention[:, 0].mean(dim=0) if query < 0 else query
    row = va.rollout_row(factors, start)  # (T,)
    values = row[layout.leading:].reshape(t.grid).numpy()
    shares = special_shares(row, layout)
    name = "the attention pool's probe" if query < 0 else layout.name_of(query)
    description = (
        f"Rollout from {name}: attention multiplied through all {len(factors)} layers "
        f"(heads fused by {fusion}, weakest {discard:.0%} discarded, identity added for the residual path; "
        f"attention to the special tokens is never discarded).{_shares_text(shares)}"
    )
    return AttentionMap(values, query, "rollout", description, special=shares)


def pool_map(result: ViTResult, head: int | None, query: int) -> AttentionMap:
    """The attention-pooling probe's weights over the patches (SigLIP): what the pooled output is made of."""
    t = result.trace
    weights = t.pool_attention[:, 0]  # (heads, T): the first probe
    row = weights.mean(dim=0) if head is None else weights[head]
    values = row[t.leading:].reshape(t.grid).numpy()
    head_text = "the mean of the heads" if head is None else f"head {head + 1}"
    description = (f"The attention pool, {head_text}: a learned probe query attends over the final tokens; "
                   "the pooled output is this weighted average (then a residual MLP).")
    return AttentionMap(values, query, f"attention pool, {'mean of heads' if head is None else f'head {head + 1}'}",
                        description)
