"""One run of a ViT on one image, with every analysis the pages draw; made off the GUI thread. No Qt.

The attention maps of a long sequence are large (a 1,370-token layer is 90 MB),
so :func:`compute_result` visits each layer's map once, for everything that
needs whole maps: the mean attention distance and the rollout's per-layer
factors (for the rollout settings of the moment). Views that need one query's
weights read them from the trace's queries and keys (``attentions.rows``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explorer.engine.infra.progress import report
from explorer.engine.vit import analysis as va
from explorer.engine.vit.loading import LoadedViT
from explorer.engine.vit.preprocessing import ResizePlan
from explorer.engine.vit.trace import ViTTrace

#: Above this many tokens, rollout factors for new settings are made in a worker, not at once.
LARGE_TRACE = 400


@dataclass
class ViTResult:
    """One run of the model on one image, with the analyses the pages draw (made in a worker)."""

    model: LoadedViT
    trace: ViTTrace
    plan: ResizePlan
    source: Image.Image  # the user's image
    seen: np.ndarray  # (H, W, 3) uint8: what the model saw (unnormalised input)
    patches_rgb: np.ndarray  # (N, P, P, 3) uint8
    similarity: np.ndarray  # (N, N) position-embedding cosine similarity
    tiled: np.ndarray | None  # grid of grids (NaN gaps), None when the grid is too large
    locality: float  # Spearman ρ(similarity, grid distance)
    components: np.ndarray  # (k, P, P, 3) uint8 tiles
    variance: np.ndarray  # (k,)
    distances: np.ndarray  # (depth, heads) pixels
    top: list[tuple[str, float, int]]
    norms: np.ndarray  # (depth + 1, T) L2 norm of every token after every block
    high_norm: np.ndarray  # (depth + 1, N) bool: the patch tokens with outlier norms (Darcet et al. 2024)
    rollout_key: tuple[str, float]  # (fusion, discard) the factors below were made for
    rollout_factors: list[torch.Tensor]  # depth × (T, T)

    @property
    def large(self) -> bool:
        return self.trace.layout.total > LARGE_TRACE


def rollout_factors(trace: ViTTrace, fusion: str, discard: float, reporter=None, start: float = 0.0,
                    span: float = 1.0) -> list[torch.Tensor]:
    """Every layer's rollout factor (:func:`~explorer.engine.vit.analysis.rollout_layer`), special tokens protected."""
    factors = []
    for layer in range(len(trace.attentions)):
        factors.append(va.rollout_layer(trace.attentions[layer], fusion, discard, trace.leading))
        report(reporter, start + span * (layer + 1) / len(trace.attentions), f"rollout, layer {layer + 1}")
    return factors


def compute_result(model: LoadedViT, image: Image.Image, input_size: int | None,
                   rollout: tuple[str, float] = ("mean", 0.0), head_mask: torch.Tensor | None = None,
                   reporter=None) -> ViTResult:
    """Everything the pages need, off the GUI thread; ``head_mask`` (depth, heads): 0 switches a head off."""
    report(reporter, 0.05, "resizing and normalising")
    plan = model.resize_plan(image.width, image.height, input_size)
    pixels = model.preprocess(image, input_size)
    report(reporter, 0.15, f"running the transformer on {model.device}")
    trace = model.trace(pixels, head_mask)
    report(reporter, 0.5, "analysing position embeddings and attention")
    seen = model.unnormalise(trace.pixels)
    gh, gw = trace.grid
    p, n = trace.patch_size, trace.num_patches
    patches = seen[: gh * p, : gw * p].reshape(gh, p, gw, p, 3).transpose(0, 2, 1, 3, 4).reshape(n, p, p, 3)
    sim = va.position_similarity(trace.pos_embed, n)
    tiled = va.grid_of_grids(sim, trace.grid) if n <= 1024 else None
    locality = va.position_locality(trace.pos_embed, trace.grid) if n > 2 else float("nan")
    comps, variance = va.filter_components(model.net.patch_embed.proj.weight.detach().cpu(), count=28)
    dist = va.grid_distances(trace.grid) * p
    distances, factors = [], []
    fusion, discard = rollout
    depth = len(trace.attentions)
    for layer in range(depth):  # each whole map once
        weights = trace.attentions[layer]  # (heads, T, T)
        distances.append(va.attention_distance(weights, dist))
        factors.append(va.rollout_layer(weights, fusion, discard, trace.leading))
        report(reporter, 0.5 + 0.45 * (layer + 1) / depth, f"attention of layer {layer + 1} of {depth}")
    norms = va.token_norms(trace.tokens)  # (depth + 1, T)
    high = torch.stack([va.high_norm_patches(row, trace.leading) for row in norms])
    report(reporter, 1.0, "done")
    return ViTResult(
        model, trace, plan, image, seen, np.ascontiguousarray(patches), sim.numpy(), tiled, locality,
        va.component_tiles(comps), variance, torch.stack(distances).numpy(), model.top_k(trace, 5),
        norms.numpy(), high.numpy(), (fusion, float(discard)), factors,
    )
