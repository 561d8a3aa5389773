"""Where the ViT panel's views point: a patch, a layer, a head and the query token. No Qt.

A :class:`Selection` is one frozen value, so a change is one event and one
rule, :meth:`Selection.fitted`, makes it valid for each new trace's
:class:`TokenLayout`.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.ui.panels.vit.result import ViTResult


@dataclass(frozen=True)
class TokenLayout:
    """The shape of one result's token sequence: special tokens first, then the patches in raster order.

    Only the class token exists today; registers or a distillation token would
    be more ``special`` names, and every index rule follows from them.
    """

    special: tuple[str, ...]
    patches: int
    depth: int
    heads: int

    @classmethod
    def of(cls, result: ViTResult) -> TokenLayout:
        cfg = result.model.config
        return cls(("[CLS]",), result.trace.num_patches, cfg.depth, cfg.heads)

    @property
    def leading(self) -> int:
        return len(self.special)

    def token_of_patch(self, patch: int) -> int:
        return self.leading + patch

    def name_of(self, token: int) -> str:
        """'[CLS]' or 'patch 5', for the sentences that say where attention comes from."""
        return self.special[token] if token < self.leading else f"patch {token - self.leading}"


@dataclass(frozen=True)
class Selection:
    """What the views point at: one value, so one rule (:meth:`fitted`) keeps it valid."""

    patch: int = 0  # raster order
    layer: int = 0
    head: int | None = None  # None: the mean of the heads
    query: int | None = 0  # index of a special token (0: [CLS]); None: the selected patch

    def query_token(self, layout: TokenLayout) -> int:
        """The row of the attention matrix the map reads."""
        return layout.token_of_patch(self.patch) if self.query is None else self.query

    def fitted(self, layout: TokenLayout, *, fresh_model: bool) -> Selection:
        """This selection made valid for ``layout``; a new model starts on its last layer, mean of heads."""
        patch = min(max(self.patch, 0), layout.patches - 1)
        if fresh_model:
            layer, head = layout.depth - 1, None
        else:
            layer = min(max(self.layer, 0), layout.depth - 1)
            head = self.head if self.head is not None and 0 <= self.head < layout.heads else None
        query = self.query if self.query is None or 0 <= self.query < layout.leading else 0
        return Selection(patch, layer, head, query)
