"""One run of a ViT on one image, with every analysis the six pages draw; made off the GUI thread. No Qt."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from explorer.engine.infra.progress import report
from explorer.engine.vit import analysis as va
from explorer.engine.vit.loading import LoadedViT, ResizePlan
from explorer.engine.vit.model import ViTTrace


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


def compute_result(model: LoadedViT, image: Image.Image, input_size: int | None, reporter=None) -> ViTResult:
    """Everything the pages need, off the GUI thread."""
    report(reporter, 0.05, "resizing and normalising")
    plan = model.resize_plan(image.width, image.height, input_size)
    pixels = model.preprocess(image, input_size)
    report(reporter, 0.2, "running the transformer")
    trace = model.trace(pixels)
    report(reporter, 0.7, "analysing position embeddings and attention")
    seen = model.unnormalise(trace.pixels)
    gh, gw = trace.grid
    p = trace.patch_size
    patches = seen[: gh * p, : gw * p].reshape(gh, p, gw, p, 3).transpose(0, 2, 1, 3, 4).reshape(gh * gw, p, p, 3)
    sim = va.position_similarity(trace.pos_embed)
    tiled = va.grid_of_grids(sim, trace.grid) if gh * gw <= 1024 else None
    locality = va.position_locality(trace.pos_embed, trace.grid) if gh * gw > 2 else float("nan")
    comps, variance = va.filter_components(model.net.patch_embed.proj.weight.detach(), count=28)
    distances = va.mean_attention_distance(trace.attentions, trace.grid, p).numpy()
    report(reporter, 1.0, "done")
    return ViTResult(
        model, trace, plan, image, seen, np.ascontiguousarray(patches), sim.numpy(), tiled, locality,
        va.component_tiles(comps), variance, distances, model.top_k(trace, 5),
    )
