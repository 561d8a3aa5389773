"""What the ViT panel shows about a trace: attention maps, rollout, position similarity, distances, filters.

All functions take tensors from a :class:`explorer.engine.vit.model.ViTTrace` (or
the weights) and return plain tensors or arrays; nothing here knows about Qt.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def rollout_layer(attention: torch.Tensor, head_fusion: str = "mean", discard_ratio: float = 0.0,
                  protect: int = 1) -> torch.Tensor:
    """One layer's factor of the rollout: heads fused, weakest entries discarded, identity added, rows renormalised.

    The first ``protect`` columns — attention *to* the special tokens ([CLS],
    [DIST], registers) — are never discarded, so their paths stay intact.
    Returns (T, T).
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard ratio must be in [0, 1) (got {discard_ratio})")
    tokens = attention.shape[-1]
    fused = fuse_heads(attention, head_fusion).clone()  # (T, T)
    if discard_ratio > 0 and protect < tokens:
        rest = fused[:, protect:].reshape(-1).clone()  # every entry outside the protected columns
        count = int(rest.numel() * discard_ratio)
        if count:
            rest[rest.topk(count, largest=False).indices] = 0
            fused[:, protect:] = rest.view(tokens, tokens - protect)
    a = fused + torch.eye(tokens, dtype=fused.dtype)
    return a / a.sum(dim=-1, keepdim=True)  # (T, T)


def rollout(attentions: Sequence[torch.Tensor], head_fusion: str = "mean", discard_ratio: float = 0.0,
            protect: int = 1) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): the attention that flows from every token to every input token.

    The product of :func:`rollout_layer` over the layers, first layer on the right.
    Returns (T, T), rows summing to 1. For one query row of a long sequence,
    :func:`rollout_row` on the layer factors costs T² a layer instead of T³.
    """
    if not len(attentions):
        raise ValueError("rollout needs at least one layer of attention")
    fuse_heads(attentions[0][:1, :1, :1], head_fusion)  # a bad fusion name fails before any work
    result = None
    for attention in attentions:
        a = rollout_layer(attention, head_fusion, discard_ratio, protect)
        result = a if result is None else a @ result
    return result


def rollout_row(layers: Sequence[torch.Tensor], query: int | torch.Tensor) -> torch.Tensor:
    """Row ``query`` of the rollout from its layer factors (:func:`rollout_layer`), (T,): e_q·A_L·…·A_1.

    ``query`` may be a (T,) row of weights instead of a token index (the attention
    pool's probe over the final tokens): the rollout of that mixture.
    """
    row = layers[-1][query] if isinstance(query, int) else query @ layers[-1]  # (T,)
    for a in reversed(layers[:-1]):
        row = row @ a
    return row


def leading_tokens(attention: torch.Tensor, grid: tuple[int, int]) -> int:
    """How many special tokens precede the patches in a (…, T) attention over a gh×gw grid."""
    leading = attention.shape[-1] - grid[0] * grid[1]
    if leading < 0:
        raise ValueError(f"{attention.shape[-1]} tokens cannot hold a {grid[0]}×{grid[1]} grid of patches")
    return leading


def attention_map(attention: torch.Tensor, grid: tuple[int, int], query: int = 0, head: int | None = None) -> torch.Tensor:
    """One query token's attention over the patches as a (gh, gw) map.

    ``attention`` is one layer's (heads, T, T), or one query's rows (heads, T);
    ``head`` None means the mean over heads. The weights on the special tokens
    in front ([CLS], [DIST], registers) are left out: the map sums to 1 minus them.
    """
    leading = leading_tokens(attention, grid)
    rows = attention[:, query] if attention.ndim == 3 else attention  # (heads, T)
    weights = rows.mean(dim=0) if head is None else rows[head]  # (T,)
    return weights[leading:].reshape(grid)


def position_similarity(pos_embed: torch.Tensor, patches: int | None = None) -> torch.Tensor:
    """Cosine similarity of every patch's position embedding with every other, (N, N).

    The patches' embeddings are the last ``patches`` rows (the special tokens' come first);
    None: all rows but the first (a table with one class token).
    """
    rows = pos_embed[1:] if patches is None else pos_embed[pos_embed.shape[0] - patches:]
    unit = F.normalize(rows.detach().float(), dim=-1)  # (N, D)
    return unit @ unit.T  # (N, N)


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
    sim = position_similarity(pos_embed, grid[0] * grid[1])
    dist = grid_distances(grid)
    upper = torch.triu_indices(sim.shape[0], sim.shape[0], offset=1)
    return spearman(sim[upper[0], upper[1]].numpy(), dist[upper[0], upper[1]].numpy())


def attention_distance(attention: torch.Tensor, distances: torch.Tensor) -> torch.Tensor:
    """(heads,): one layer's attention-weighted distance between patches; ``distances`` (N, N) from :func:`grid_distances`.

    The special tokens are left out on both sides: each query patch's weights over
    the patches are renormalised to sum to 1, the weighted mean distance is taken,
    and these are averaged over the query patches. Float32 with one pass over the
    map (a 1,370-token layer is 22 M weights).
    """
    n = distances.shape[0]
    weights = attention[:, -n:, -n:]  # (heads, N, N)
    weighted = torch.einsum("hij,ij->hi", weights, distances.to(weights.dtype))  # (heads, N)
    mass = weights.sum(dim=-1).clamp_min(1e-30)  # (heads, N)
    return (weighted / mass).mean(dim=-1)  # (heads,)


def mean_attention_distance(attentions: Sequence[torch.Tensor], grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """(depth, heads): the attention-weighted distance between patch centres, in pixels (ViT paper, Fig. 7 right)."""
    dist = grid_distances(grid) * patch_size  # (N, N) pixels
    return torch.stack([attention_distance(a, dist) for a in attentions])  # (depth, heads)


def token_norms(tokens: Sequence[torch.Tensor]) -> torch.Tensor:
    """(depth + 1, T): the L2 norm of every token after every block (row 0: the encoder input)."""
    return torch.stack([t.float().norm(dim=-1) for t in tokens])


def high_norm_patches(norms: torch.Tensor, leading: int, spread: float = 6.0) -> torch.Tensor:
    """(N,) bool: the patch tokens whose norm is an outlier among the patches of one layer.

    Darcet et al. (2024) find a few patch tokens, mostly in background regions,
    whose output norm is many times the rest's from the middle layers on; they
    hold global information and dominate [CLS] attention maps. Outlier here:
    above the median by more than ``spread`` robust standard deviations
    (1.4826 · median absolute deviation) and above twice the median.
    """
    patches = norms[leading:].double()  # (N,)
    median = patches.median()
    mad = (patches - median).abs().median() * 1.4826
    return (patches > median + spread * mad) & (patches > 2 * median)


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
