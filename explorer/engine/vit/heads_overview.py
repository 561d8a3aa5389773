"""Every head at a glance: one query's attention over the image in each layer and head, and which heads are alike.

The maps are rows of each layer's softmax(Q·Kᵀ/√d) for one query token, over the
patches only (what went to the special tokens is kept as a share). Two heads are
alike when their maps put weight on the same patches: the Jensen–Shannon
distance between the two maps, each renormalised to a distribution over the
patches (base 2, so it lies in [0, 1]). Hierarchical clustering of those
distances (average linkage, leaves in optimal order) gives an ordering in which
similar heads sit together — the grouping AttentionViz shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.vit.trace import AttentionMaps

ORDERS = ("layers", "similar")


@dataclass
class HeadsOverview:
    """One query's attention in every layer and head, and the heads' distances."""

    query: int  # the token the maps read from
    maps: np.ndarray  # (depth, heads, gh, gw): weights on the patches
    special: np.ndarray  # (depth, heads): the weight left on the special tokens (not in the maps)
    distances: np.ndarray  # (depth·heads, depth·heads): Jensen–Shannon distance, base 2
    order: np.ndarray  # (depth·heads,) flat head indices (layer·heads + head), similar heads together

    @property
    def shape(self) -> tuple[int, int]:
        return self.maps.shape[0], self.maps.shape[1]

    def ordered(self, order: str) -> np.ndarray:
        """The flat head indices in the order shown: by layer, or similar heads together."""
        if order == "layers":
            return np.arange(self.maps.shape[0] * self.maps.shape[1])
        if order == "similar":
            return self.order
        raise ValueError(f"order must be one of {', '.join(ORDERS)} (got {order!r})")


def head_rows(attentions: AttentionMaps, query: int) -> torch.Tensor:
    """(depth, heads, T): the query's weights in every layer, from the stored Q and K (never whole maps)."""
    return torch.stack([attentions.rows(layer, query) for layer in range(len(attentions))])


def js_distances(maps: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance (base 2) between every pair of maps (M, …), each renormalised to sum to 1.

    JS(p, q) = √(½ KL(p‖m) + ½ KL(q‖m)), m = ½ (p + q), with 0·log 0 = 0. A map with no weight at
    all on the patches is taken as uniform.
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1).clip(min=0)  # (M, N)
    sums = flat.sum(axis=1, keepdims=True)
    flat = np.where(sums > 0, flat / np.where(sums > 0, sums, 1), 1.0 / flat.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(flat > 0, flat * np.log2(flat), 0.0).sum(axis=1)  # (M,): −H(p)
    out = np.zeros((len(flat), len(flat)))
    for i in range(len(flat)):
        m = 0.5 * (flat[i] + flat)  # (M, N)
        with np.errstate(divide="ignore", invalid="ignore"):
            mlogm = np.where(m > 0, m * np.log2(m), 0.0).sum(axis=1)  # (M,): −H(m)
        out[i] = 0.5 * (plogp[i] + plogp) - mlogm  # H(m) − ½H(p) − ½H(q)
    out = np.sqrt(np.clip(out, 0.0, 1.0))
    np.fill_diagonal(out, 0.0)
    return 0.5 * (out + out.T)


def cluster_order(distances: np.ndarray) -> np.ndarray:
    """Leaf order of average-linkage clustering of a distance matrix, optimally ordered (scipy)."""
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import squareform

    count = len(distances)
    if count < 3:
        return np.arange(count)
    condensed = squareform(distances, checks=False)
    tree = linkage(condensed, method="average")
    return leaves_list(optimal_leaf_ordering(tree, condensed)).astype(np.int64)


def heads_overview(attentions: AttentionMaps, grid: tuple[int, int], leading: int, query: int) -> HeadsOverview:
    """Every head's map for ``query``, the heads' Jensen–Shannon distances and the clustered order."""
    rows = head_rows(attentions, query).numpy()  # (depth, heads, T)
    depth, heads, _ = rows.shape
    maps = rows[..., leading:].reshape(depth, heads, *grid)
    distances = js_distances(maps.reshape(depth * heads, -1))
    return HeadsOverview(query, maps, rows[..., :leading].sum(axis=-1), distances, cluster_order(distances))


def tile_maps(maps: np.ndarray, order: np.ndarray, columns: int, per_map: bool, gap: int = 1) -> np.ndarray:
    """Maps (M, gh, gw) tiled in ``order``, ``columns`` to a row, NaN between tiles; values as shown.

    ``per_map``: each map divided by its own maximum (every head looks as strong as the strongest);
    otherwise the raw weights, for one colour scale over all.
    """
    count, gh, gw = maps.shape
    rows = (len(order) + columns - 1) // columns
    out = np.full((rows * (gh + gap) - gap, columns * (gw + gap) - gap), np.nan, dtype=np.float32)
    for slot, index in enumerate(order):
        values = maps[index]
        if per_map:
            high = float(values.max())
            values = values / high if high > 0 else values
        r, c = divmod(slot, columns)
        out[r * (gh + gap) : r * (gh + gap) + gh, c * (gw + gap) : c * (gw + gap) + gw] = values
    return out
