"""The step-6 map's rules, part of :class:`~explorer.ui.panels.vit.state.ViTState`. No Qt.

:meth:`AttentionRules._refresh_attention` remakes :attr:`ViTState.attention`
only when what it depends on changed (the result, the view, its settings, the
query token). A rollout needs every layer's factor: those of the settings a
run was made with come with the result; for other settings a short trace's are
made at once and a long one's (1,370 tokens: all 12 full maps) in the runner,
the map following when they are ready.
"""

from __future__ import annotations

from typing import Any

import torch

from explorer.ui.panels.vit.maps import layer_map, pool_map, rollout_map
from explorer.ui.panels.vit.result import rollout_factors
from explorer.ui.panels.vit.selection import POOL_QUERY

HOVER_HINT = "Point at a patch to read its weight; click to attend from it."


def _same(key: tuple, other: tuple | None) -> bool:
    """Two cache keys agree: their first item (a result or trace) is the same object, the rest equal."""
    return other is not None and key[0] is other[0] and key[1:] == other[1:]


class AttentionRules:
    """Methods of ViTState that make and describe the map step 6 draws."""

    def readout(self) -> str:
        """The line under the step-6 map: the weight under the pointer and where it comes from."""
        if self.hovered is None:
            return ""
        if self.attention is None or self.result is None or not 0 <= self.hovered < self.result.trace.num_patches:
            return HOVER_HINT
        r, c = divmod(self.hovered, self.result.trace.grid[1])
        weight = float(self.attention.values.reshape(-1)[self.hovered])
        return f"patch {self.hovered} (row {r}, col {c}): weight {weight:.4f} — {self.attention.source}"

    # -- the attention map ----------------------------------------------------------------------
    def _refresh_attention(self, *_args: Any) -> None:
        """Recompute :attr:`attention` when its inputs changed (a no-op when they did not)."""
        layout = self.layout
        if layout is None:
            self._attention_key, self.attention = None, None
            return
        sel = self.selection
        query = sel.query_token(layout)
        rollout = self.attention_view == "rollout"
        view = (self.head_fusion, self.discard_ratio) if rollout else (sel.layer, sel.head)
        key = (self.result, self.attention_view, view, query)
        if _same(key, self._attention_key):
            return
        self._refreshing = True
        try:
            if rollout:
                factors = self._factors()
                if factors is None:  # being made in the runner; the map follows when they are
                    return
                made = rollout_map(self.result, layout, query, factors, self.head_fusion, self.discard_ratio)
            elif query == POOL_QUERY:
                made = pool_map(self.result, sel.head, query)
            else:
                made = layer_map(self.result, layout, query, sel.layer, sel.head)
            self.attention, self._attention_key = made, key
        finally:
            self._refreshing = False

    def _factors(self) -> list[torch.Tensor] | None:
        """The rollout's layer factors for the current trace and settings; a long trace's are made in the runner."""
        t = self.result.trace
        key = (t, self.head_fusion, self.discard_ratio)
        if self._rollout is not None and _same(key, self._rollout[0]):
            return self._rollout[1]
        if not self.result.large:
            self._rollout = key, rollout_factors(t, self.head_fusion, self.discard_ratio)
            return self._rollout[1]
        self._factor_request += 1
        request = self._factor_request
        if self._factor_job is not None and not self._factor_job.done:
            self._factor_job.cancel()

        def made(factors: list[torch.Tensor]) -> None:
            if request == self._factor_request and self.result is not None and self.result.trace is t:
                self._rollout = key, factors
                if not self._refreshing:
                    self._refresh_attention()

        self._factor_job = self.runner(
            rollout_factors, t, self.head_fusion, self.discard_ratio, on_result=made,
            on_error=lambda exc: self._report("Rollout", exc), on_cancelled=None,
            on_progress=lambda fraction, text: setattr(self, "progress", (fraction, text)),
            on_finished=lambda: setattr(self, "progress", None), description="rollout",
        )
        if self._rollout is not None and _same(key, self._rollout[0]):  # a runner that ran at once
            return self._rollout[1]
        return None

