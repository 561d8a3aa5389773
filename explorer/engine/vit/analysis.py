"""What the ViT panel shows about a trace: attention maps, rollout, position similarity, distances, filters.

All functions take tensors from a :class:`explorer.engine.vit.model.ViTTrace` (or
the weights) and return plain tensors or arrays; nothing here knows about Qt.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

HEAD_FUSIONS = ("mean", "max", "min")


def fuse_heads(attention: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """(heads, T, T) → (T, T) by the mean, max or min over heads."""
    if how == "mean":
        return attention.mean(dim=0)
    if how == "max":
        return attention.amax(dim=0)
    if how == "min":
        return attention.amin(dim=0)
    raise ValueError(f"head fusion must be one of {', '.join(HEAD_FUSIONS)} (got {how!r})")


def rollout(attentions: list[torch.Tensor], head_fusion: str = "mean", discard_ratio: float = 0.0) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): the attention that flows from every token to every input token.

    Per layer: fuse the heads; zero the weakest ``discard_ratio`` of the entries,
    except those in the [CLS] column (attention *to* the class token is never
    discarded, so its path stays intact); add the identity for the residual
    connection; renormalise the rows; multiply the layers together, first layer
    on the right. Returns (T, T), rows summing to 1; row 0 is the [CLS] row.
    """
    if not attentions:
        raise ValueError("rollout needs at least one layer of attention")
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard ratio must be in [0, 1) (got {discard_ratio})")
    tokens = attentions[0].shape[-1]
    eye = torch.eye(tokens, dtype=attentions[0].dtype)
    result = eye.clone()
    for attention in attentions:
        fused = fuse_heads(attention, head_fusion).clone()  # (T, T)
        if discard_ratio > 0:
            candidates = fused[:, 1:].reshape(-1)  # every entry outside the [CLS] column
            count = int(candidates.numel() * discard_ratio)
            if count:
                lowest = candidates.topk(count, largest=False).indices
                rest = fused[:, 1:].clone().reshape(-1)
                rest[lowest] = 0
                fused[:, 1:] = rest.view(tokens, tokens - 1)
        a = fused + eye
        a = a / a.sum(dim=-1, keepdim=True)  # (T, T)
        result = a @ result
    return result


def attention_map(attention: torch.Tensor, grid: tuple[int, int], query: int = 0, head: int | None = None) -> torch.Tensor:
    """One query token's attention over the patches as a (gh, gw) map.

    ``attention`` is one layer's (heads, T, T); ``query`` 0 is [CLS], i + 1 is patch i;
    ``head`` None means the mean over heads. The weight on [CLS] itself is left out
    (the map sums to 1 minus it).
    """
    weights = attention.mean(dim=0) if head is None else attention[head]  # (T, T)
    return weights[query, 1:].reshape(grid)


def position_similarity(pos_embed: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every patch's position embedding with every other, (N, N) ([CLS] left out)."""
    patches = F.normalize(pos_embed[1:].detach().float(), dim=-1)  # (N, D)
    return patches @ patches.T  # (N, N)


def grid_distances(grid: tuple[int, int]) -> torch.Tensor:
    """Euclidean distance between patch cells, in patches, (N, N)."""
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], 1).float()  # (N, 2)
    return torch.cdist(centres, centres)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), as Spearman's ρ needs."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(len(values), dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D arrays."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx -= rx.mean()
    ry -= ry.mean()
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else 0.0


def position_locality(pos_embed: torch.Tensor, grid: tuple[int, int]) -> float:
    """Spearman ρ between position-embedding cosine similarity and grid distance over all patch pairs.

    Strongly negative (≤ −0.5) means near patches have similar embeddings: the model learned 2-D layout.
    """
    sim = position_similarity(pos_embed)
    dist = grid_distances(grid)
    upper = torch.triu_indices(sim.shape[0], sim.shape[0], offset=1)
    return spearman(sim[upper[0], upper[1]].numpy(), dist[upper[0], upper[1]].numpy())


def mean_attention_distance(attentions: list[torch.Tensor], grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """(depth, heads): the attention-weighted distance between patch centres, in pixels (ViT paper, Fig. 7 right).

    The class token is left out on both sides: for each query patch, its weights
    over the other patches are renormalised to sum to 1, the weighted mean
    distance is taken, and these are averaged over the query patches.
    """
    dist = grid_distances(grid) * patch_size  # (N, N) pixels
    out = []
    for attention in attentions:
        weights = attention[:, 1:, 1:].double()  # (heads, N, N)
        weights = weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-30)
        out.append((weights * dist.double()).sum(dim=-1).mean(dim=-1))  # (heads,)
    return torch.stack(out).float()  # (depth, heads)


def filter_components(proj_weight: torch.Tensor, count: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of the patch-embedding filters (ViT paper, Fig. 7 left).

    ``proj_weight`` is (D, C, P, P). Returns the first ``count`` components as
    (count, P, P, C) arrays (unit norm, signed) and the fraction of variance each explains.
    """
    d, c, p, _ = proj_weight.shape
    flat = proj_weight.reshape(d, c * p * p).double()  # (D, C·P·P)
    flat = flat - flat.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(flat, full_matrices=False)
    count = min(count, vh.shape[0])
    variance = (s**2) / (s**2).sum().clamp_min(1e-30)
    comps = vh[:count].reshape(count, c, p, p).permute(0, 2, 3, 1)  # (k, P, P, C)
    return comps.float().numpy(), variance[:count].float().numpy()


def component_tiles(components: np.ndarray) -> np.ndarray:
    """Signed components (k, P, P, C) → uint8 RGB tiles (k, P, P, 3), each stretched to its own range."""
    tiles = []
    for comp in components:
        low, high = comp.min(), comp.max()
        scaled = (comp - low) / (high - low) if high > low else np.full_like(comp, 0.5)
        if scaled.shape[-1] == 1:
            scaled = np.repeat(scaled, 3, axis=-1)
        tiles.append((scaled * 255 + 0.5).astype(np.uint8))
    return np.stack(tiles)


def upsample(values: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (gh, gw) map smoothly (bicubic, clamped to its own range) upsampled to (height, width)."""
    t = torch.as_tensor(np.asarray(values, dtype=np.float32))[None, None]  # (1, 1, gh, gw)
    up = F.interpolate(t, size=size, mode="bicubic", align_corners=False)[0, 0]
    return up.clamp(float(t.min()), float(t.max())).numpy()


def grid_of_grids(similarity: torch.Tensor, grid: tuple[int, int], gap: int = 1) -> np.ndarray:
    """Every patch's similarity map, tiled in the patch's own place (ViT paper, Fig. 7 centre).

    ``similarity`` is (N, N) from :func:`position_similarity`. Returns a float array of
    ``(gh·(gh+gap) − gap, gw·(gw+gap) − gap)`` with NaN in the gaps between tiles.
    """
    gh, gw = grid
    sim = similarity.detach().reshape(gh, gw, gh, gw).numpy()  # (row, col, row', col')
    out = np.full((gh * (gh + gap) - gap, gw * (gw + gap) - gap), np.nan, dtype=np.float32)
    for r in range(gh):
        for c in range(gw):
            top, left = r * (gh + gap), c * (gw + gap)
            out[top : top + gh, left : left + gw] = sim[r, c]
    return out
