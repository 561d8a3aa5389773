"""What one forward pass leaves behind (:class:`ViTTrace`), with the attention maps formed on demand.

At 518 px DINOv2-B/14 reads 1,370 tokens: its 12 layers × 12 heads of full
attention maps are 12·12·1370²·4 bytes ≈ 1.08 GB. The trace keeps what they
are made of instead — each layer's queries and keys (2·1370·768·4 bytes ≈ 8 MB
a layer) — and :class:`AttentionMaps` computes a layer's (heads, T, T) weights
when it is indexed, or only the rows a view needs (:meth:`AttentionMaps.rows`).
``trace.attentions[l]`` therefore works as it always did.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from explorer.engine.vit.config import TokenLayout


class AttentionMaps(Sequence):
    """``maps[l]`` → layer l's softmax(Q·Kᵀ·scale), (heads, T, T), computed from the stored Q and K.

    The product is formed as (Q·scale)·Kᵀ, as :func:`~explorer.engine.attention.scaled_dot_product`'s
    written-out path does; the last ``cache`` layers asked for are kept.
    """

    def __init__(self, queries: list[torch.Tensor], keys: list[torch.Tensor], scale: float, cache: int = 2) -> None:
        if len(queries) != len(keys):
            raise ValueError(f"{len(queries)} layers of queries but {len(keys)} of keys")
        self._q, self._k, self.scale = queries, keys, scale
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._cache_size = cache

    def __len__(self) -> int:
        return len(self._q)

    def _index(self, layer: int) -> int:
        n = len(self._q)
        if not -n <= layer < n:
            raise IndexError(f"layer {layer} out of range for {n} layers")
        return layer % n

    def __getitem__(self, layer):  # int → (heads, T, T); slice → list of them
        if isinstance(layer, slice):
            return [self[i] for i in range(*layer.indices(len(self)))]
        layer = self._index(int(layer))
        if layer in self._cache:
            self._cache.move_to_end(layer)
            return self._cache[layer]
        weights = ((self._q[layer] * self.scale) @ self._k[layer].transpose(-2, -1)).softmax(dim=-1)  # (h, T, T)
        self._cache[layer] = weights
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return weights

    def __iter__(self) -> Iterator[torch.Tensor]:
        return (self[i] for i in range(len(self)))

    def rows(self, layer: int, query: int) -> torch.Tensor:
        """(heads, T): one query token's weights in one layer, without forming the whole map."""
        layer = self._index(int(layer))
        if layer in self._cache:
            return self._cache[layer][:, query]
        q = self._q[layer][:, query : query + 1] * self.scale  # (h, 1, d_h)
        return (q @ self._k[layer].transpose(-2, -1)).softmax(dim=-1)[:, 0]  # (h, T)

    @property
    def shape_of_layer(self) -> tuple[int, int, int]:
        h, t, _ = self._q[0].shape
        return h, t, t

    @property
    def nbytes(self) -> int:
        """What one layer's full map would take, in bytes (float32)."""
        h, t, _ = self.shape_of_layer
        return h * t * t * 4


@dataclass
class ViTTrace:
    """Every intermediate of one forward pass (batch of one), on the CPU. Shapes in the comments.

    N = patches (gh·gw), S = special tokens (``layout.special``), T = S + N,
    P0 = leading tokens with a position embedding (``pos_prefix``), D = width,
    P = patch size, C = channels.
    """

    pixels: torch.Tensor  # (1, C, H, W), normalised input
    grid: tuple[int, int]  # (gh, gw)
    patch_size: int
    layout: TokenLayout  # which token is which
    patches: torch.Tensor  # (N, P·P·C), each patch flattened row, column, channel
    patch_embeddings: torch.Tensor  # (N, D), the linear embedding of each patch (before position)
    pos_embed: torch.Tensor  # (P0 + N, D), the position embeddings used (resampled if the grid differs)
    sequence: torch.Tensor  # (T, D), the assembled tokens before any pre-norm (CLIP's ln_pre)
    tokens: list[torch.Tensor]  # depth + 1 entries of (T, D): encoder input, then after each block
    queries: list[torch.Tensor]  # depth entries of (heads, T, d_h)
    keys: list[torch.Tensor]  # depth entries of (heads, T, d_h)
    values: list[torch.Tensor]  # depth entries of (heads, T, d_h)
    attentions: AttentionMaps  # depth entries of (heads, T, T), rows sum to 1 (formed when indexed)
    logits: torch.Tensor  # (1, K); K = 0 for a model without classifier
    features: torch.Tensor  # (1, D), the pooled (normed) representation the head reads
    pool_attention: torch.Tensor | None = None  # (heads, probes, T): SigLIP's attention-pool weights
    embedding: torch.Tensor | None = None  # (1, E): CLIP's projected image embedding
    device: str = "cpu"  # where the forward ran
    head_mask: torch.Tensor | None = None  # (depth, heads): 0 where a head was switched off; None: all on

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def leading(self) -> int:
        return self.layout.leading

    @property
    def patch_pos_embed(self) -> torch.Tensor:
        return self.pos_embed[-self.num_patches :]  # (N, D)

    @property
    def probabilities(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=-1)  # (1, K)
