"""Where the ViT panel's views point: a patch, a layer, a head and the query token. No Qt.

A :class:`Selection` is one frozen value, so a change is one event and one
rule, :meth:`Selection.fitted`, makes it valid for each new trace's
:class:`~explorer.engine.vit.TokenLayout` — which the engine's trace carries
(``trace.layout``): the names of its special tokens, its grid, depth and heads.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.engine.vit.config import TokenLayout

#: ``Selection.query`` for the attention-pooling probe (SigLIP), which reads after the last layer.
POOL_QUERY = -1

__all__ = ["POOL_QUERY", "Selection", "TokenLayout"]


@dataclass(frozen=True)
class Selection:
    """What the views point at: one value, so one rule (:meth:`fitted`) keeps it valid."""

    patch: int = 0  # raster order
    layer: int = 0
    head: int | None = None  # None: the mean of the heads
    #: index of a special token (0: the first, [CLS] where there is one); None: the selected patch;
    #: POOL_QUERY: the attention pool's probe.
    query: int | None = 0

    def query_token(self, layout: TokenLayout) -> int:
        """The row of the attention matrix the map reads (POOL_QUERY for the probe)."""
        return layout.token_of_patch(self.patch) if self.query is None else self.query

    def fitted(self, layout: TokenLayout, *, fresh_model: bool, pooled: bool = False) -> Selection:
        """This selection made valid for ``layout``; a new model starts on its last layer, mean of heads.

        A model without special tokens reads from its pooling probe if it has one
        (``pooled``), else from the selected patch.
        """
        patch = min(max(self.patch, 0), layout.patches - 1)
        if fresh_model:
            layer, head = layout.depth - 1, None
        else:
            layer = min(max(self.layer, 0), layout.depth - 1)
            head = self.head if self.head is not None and 0 <= self.head < layout.heads else None
        query = self.query
        valid = query is None or (query == POOL_QUERY and pooled) or (query is not None and 0 <= query < layout.leading)
        if not valid:
            query = 0 if layout.leading else (POOL_QUERY if pooled else None)
        return Selection(patch, layer, head, query)
