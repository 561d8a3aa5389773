"""The maps step 8 lays side by side — raw attention, rollout, relevance — and their colour scales. No Qt.

Each is one query token's row over the patches, made by the engine (the trace's
attention, the rollout factors, :mod:`explorer.engine.vit.relevance`), with the
words that say where it came from and its raw range. The special tokens are
handled as rollout handles them: never drawn on the grid, their share said in
numbers. The scale is chosen explicitly: one colour scale for all maps, or
each map to its own maximum; the raw range is always given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.vit.config import TokenLayout
from explorer.engine.vit.relevance import Relevance
from explorer.ui.panels.vit.maps import AttentionMap, layer_map, pool_map, rollout_map
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.selection import POOL_QUERY

MAP_SCALES = ("shared", "per map")
METHOD_NAMES = {"chefer": "Relevance (Chefer et al.)", "gradient rollout": "Gradient rollout"}


@dataclass(frozen=True)
class ExplainMap:
    """One map of the comparison: values over the patch grid and what they are."""

    values: np.ndarray  # (gh, gw)
    title: str  # above the map: "Raw attention · layer 12, mean of heads"
    description: str  # what it is, one or two sentences
    special: str = ""  # what went to the special tokens, which the map leaves out

    @property
    def low(self) -> float:
        return float(self.values.min())

    @property
    def high(self) -> float:
        return float(self.values.max())

    @property
    def total(self) -> float:
        return float(self.values.sum())

    def range_text(self) -> str:
        return f"raw range {self.low:.3g} … {self.high:.3g} · sum over patches {self.total:.3g}"


def levels(maps: list[ExplainMap | None], scale: str) -> list[tuple[float, float]]:
    """The colour levels of each map: (0, max over all maps) for ``shared``, (0, its own max) ``per map``."""
    if scale not in MAP_SCALES:
        raise ValueError(f"scale must be one of {', '.join(MAP_SCALES)} (got {scale!r})")
    highs = [m.high if m is not None else 0.0 for m in maps]
    top = max([h for h in highs if h > 0], default=1.0)
    return [(0.0, top if scale == "shared" else (h if h > 0 else 1.0)) for h in highs]


def _from_attention(made: AttentionMap, title: str, description: str) -> ExplainMap:
    special = ", ".join(f"{name} {weight:.1%}" for name, weight in made.special)
    return ExplainMap(made.values, title, description, f"left out: {special}" if special else "")


def raw_map(result: ViTResult, layout: TokenLayout, query: int, layer: int, head: int | None) -> ExplainMap:
    """One layer's attention row (or the pooling probe's weights) as step 6 draws it."""
    if query == POOL_QUERY:
        made = pool_map(result, head, query)
        return _from_attention(made, f"Raw attention · {made.source}",
                               "The pooling probe's softmax weights over the final tokens.")
    made = layer_map(result, layout, query, layer, head)
    return _from_attention(made, f"Raw attention · {made.source}",
                           f"Where {layout.name_of(query)} looks in layer {layer + 1}: a row of softmax(Q·Kᵀ/√d).")


def rollout_explain_map(result: ViTResult, layout: TokenLayout, query: int, factors: list[torch.Tensor],
                        fusion: str, discard: float) -> ExplainMap:
    made = rollout_map(result, layout, query, factors, fusion, discard)
    return _from_attention(made, f"Rollout · {fusion} of heads, discard {discard:.0%}",
                           f"Attention multiplied through all {len(factors)} layers, identity added for the "
                           "residual path; the same for every class.")


def relevance_map(result: ViTResult, layout: TokenLayout, query: int, relevance: Relevance, method: str,
                  class_name: str) -> ExplainMap:
    """The query's row of Chefer's R (without its own entry) or of the gradient rollout, for the chosen class."""
    row = relevance.row(method, query)  # (T,)
    values = row[layout.leading:].reshape(result.trace.grid).numpy()
    others = [(name, float(row[i])) for i, name in enumerate(layout.special) if i != query]
    source = "the pooling probe" if query < 0 else layout.name_of(query)
    if method == "chefer":
        description = (f"Row of {source} in R = I + Σ Ē·R, Ē = mean over heads of (∇A ⊙ A)⁺, gradients of "
                       f"“{class_name}”'s logit ({relevance.logit:.3g}); its own entry "
                       f"({float(row[query]) if query >= 0 else 0:.3g}) left out.")
    else:
        description = (f"Rollout of (mean over heads of ∇A ⊙ A)⁺ from {source}, gradients of “{class_name}”'s "
                       "logit; identity added and rows renormalised as in rollout.")
    special = ", ".join(f"{name} {weight:.3g}" for name, weight in others)
    return ExplainMap(values, f"{METHOD_NAMES[method]} · “{class_name}”", description,
                      f"left out: {special}" if special else "")
