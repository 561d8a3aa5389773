"""Steps 8–11's rules, part of :class:`~explorer.ui.panels.vit.state.ViTState`: relevance, ablation, heads, lens. No Qt.

What each step shows is made from the current result by the engine and kept in
a field of the state (``comparison``, ``importance``, ``overview``, ``lens``,
``intact_logits``) with the key it was made for, so a field never holds
another trace's numbers: a new result clears what no longer fits. Work longer
than a frame — relevance (a forward and a backward), the logit lens, the
overview, the head-importance loop — runs in the state's runner, one job per
kind (a new request cancels the older of its kind), with progress and cancel;
it runs only while its step is shown, except head importance, which runs when
asked. Switching heads off runs the model again with the mask, so every map
of every step is of the switched model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import torch

from explorer.engine.vit import ablation as ab
from explorer.engine.vit import heads_overview as ho
from explorer.engine.vit import logit_lens as ll
from explorer.engine.vit import relevance as rl
from explorer.ui.panels.state import hold_events
from explorer.ui.panels.vit import explain_export as export
from explorer.ui.panels.vit.explain_maps import raw_map, relevance_map, rollout_explain_map
from explorer.ui.panels.vit.result import rollout_factors
from explorer.ui.panels.vit.selection import POOL_QUERY

#: The steps (1-based) of the four views.
RELEVANCE_STEP, ABLATION_STEP, HEADS_STEP, LENS_STEP = 8, 9, 10, 11


def _same(key: tuple | None, other: tuple | None) -> bool:
    """Two keys agree: their first items (a result, a model) are the same objects, the rest equal."""
    return key is not None and other is not None and key[0] is other[0] and key[1:] == other[1:]


def intact_logits(net, pixels: torch.Tensor) -> torch.Tensor:
    """(1, K) the model's logits with every head on (for the comparison with the switched model)."""
    with torch.no_grad():
        return net(pixels.to(net.pos_embed.device)).cpu()


class ExplainRules:
    """Methods of ViTState for steps 8–11."""

    def _init_explain(self) -> None:
        self._keys: dict[str, tuple | None] = {}
        self._side_jobs: dict[str, tuple[int, Any]] = {}
        self._side_request = 0
        self._intact: tuple[tuple, torch.Tensor] | None = None
        self.events.model.connect(self._model_switched)
        for name in ("result", "step", "explain_class", "selection", "discard_ratio", "head_fusion",
                     "relevance_method"):
            getattr(self.events, name).connect(self._refresh_explain)

    # -- what the views read ---------------------------------------------------------------------
    @property
    def explain_target(self) -> int | None:
        """The class explained: the one chosen, else the top class; None without a classifier."""
        if not self.has_classifier:
            return None
        k = self.result.trace.logits.shape[-1]
        chosen = self.explain_class
        return chosen if chosen is not None and 0 <= chosen < k else self.result.top[0][2]

    def class_choices(self) -> list[tuple[str, float, int]]:
        """(name, probability, index) of the top-5, and the chosen class if it fell out of them."""
        if not self.has_classifier:
            return []
        choices = list(self.result.top)
        target = self.explain_target
        if target not in [index for _n, _p, index in choices]:
            prob = float(self.result.trace.probabilities[0, target])
            choices.append((self.result.model.class_names[target], prob, target))
        return choices

    def class_name(self, index: int) -> str:
        return self.result.model.class_names[index]

    @property
    def switched_off(self) -> list[tuple[int, int]]:
        """The heads the current result ran without."""
        return [] if self.result is None else ab.switched_off(self.result.trace.head_mask)

    def head_mask_tensor(self) -> torch.Tensor | None:
        """The (depth, heads) mask of ``heads_off`` for the next run, or None when every head is on."""
        if self.model is None or not self.heads_off:
            return None
        cfg = self.model.config
        return ab.head_mask(cfg.depth, cfg.heads, [(l, h) for l, h in self.heads_off if l < cfg.depth and h < cfg.heads])

    # -- user actions ----------------------------------------------------------------------------
    def set_explain_class(self, index: int | None) -> None:
        self.explain_class = index

    def toggle_head(self, layer: int, head: int) -> Any:
        """Switch one head off (or on again) and run the model with the new mask."""
        return self.set_heads_off(set(self.heads_off) ^ {(layer, head)})

    def set_layer_heads(self, layer: int, on: bool) -> Any:
        heads = self.layout.heads if self.layout is not None else 0
        pairs = {(layer, h) for h in range(heads)}
        return self.set_heads_off(set(self.heads_off) - pairs if on else set(self.heads_off) | pairs)

    def set_heads_off(self, pairs: Iterable[tuple[int, int]]) -> Any:
        layout = self.layout
        pairs = frozenset((int(l), int(h)) for l, h in pairs
                          if layout is None or (0 <= l < layout.depth and 0 <= h < layout.heads))
        if pairs == self.heads_off:
            return None
        self.heads_off = pairs
        return self.run_model()

    def open_head(self, layer: int, head: int) -> None:
        """A thumbnail clicked in step 10: that layer and head, from the same query, in step 6."""
        query = self.overview.query if self.overview is not None else None
        with hold_events(self):
            if query is not None and self.layout is not None and query >= self.layout.leading:
                self.selection = replace(self.selection, patch=query - self.layout.leading, query=None)
            elif query is not None:
                self.selection = replace(self.selection, query=query)
            self.show_head(layer, head)
            self.step = 6

    def compute_importance(self) -> Any:
        """The head-importance loop for the chosen class, in the runner, with progress per head."""
        if self.result is None:
            return None
        t, target = self.result.trace, self.explain_target
        key = (self.result, target)
        if _same(key, self._keys.get("importance")) and self.importance is not None:
            return None
        return self._side("importance", key, ab.head_importance, self.result.model.net, t.pixels, target,
                          t.head_mask, description="head importance")

    # -- keeping the fields in step with the result ----------------------------------------------------
    def _model_switched(self, new, old) -> None:
        if new is None or old is None or new.net is not old.net:
            self.heads_off, self.explain_class = frozenset(), None

    def _refresh_explain(self, *_args: Any) -> None:
        """Clear what no longer fits the result and start what the shown step needs."""
        result = self.result
        for kind in ("importance", "overview", "lens", "comparison", "relevance"):
            key = self._keys.get(kind)
            if key is not None and key[0] is not result:
                self._keys[kind] = None
                setattr(self, kind, None)
        if result is None:
            return
        self._remember_intact()
        if self.step == RELEVANCE_STEP:
            self._want_relevance()
            self._refresh_comparison()
        elif self.step == HEADS_STEP:
            query = self.query_token if self.query_token != POOL_QUERY else self.layout.token_of_patch(self.selection.patch)
            t = result.trace
            self._side("overview", (result, query), ho.heads_overview, t.attentions, t.grid, t.leading, query,
                       description="all heads")
        elif self.step == LENS_STEP and self.has_classifier:
            classes = tuple(dict.fromkeys([index for _n, _p, index in self.class_choices()]))
            self._side("lens", (result, classes), ll.logit_lens, result.model.net, result.trace.tokens, classes,
                       description="logit lens")
        elif self.step == ABLATION_STEP and self.switched_off and self.intact_logits is None:
            self._side("intact_logits", self._intact_key(), intact_logits, result.model.net, result.trace.pixels,
                       description="the intact model")
        if self.importance is not None and self._keys["importance"][1] != self.explain_target:
            self._keys["importance"], self.importance = None, None  # made for another class

    def _intact_key(self) -> tuple:
        r = self.result
        return (r.source, r.model.net, tuple(r.trace.pixels.shape), r.plan)  # the image by identity

    def _remember_intact(self) -> None:
        """The logits with every head on: free when the result has none off, else kept from before."""
        key = self._intact_key()
        if not self.switched_off:
            self._intact = key, self.result.trace.logits
        if self._intact is not None and _same(key, self._intact[0]):
            self._keys["intact_logits"] = key
            self.intact_logits = self._intact[1]
        elif not _same(key, self._keys.get("intact_logits")):
            self.intact_logits = None

    def _want_relevance(self) -> None:
        target = self.explain_target
        if target is None:
            return
        t = self.result.trace
        self._side("relevance", (self.result, target, self.discard_ratio), rl.relevance, self.result.model.net,
                   t.pixels, target, t.head_mask, self.discard_ratio, description="relevance")

    def _refresh_comparison(self, *_args: Any) -> None:
        """Raw attention, rollout and relevance of the same query, as step 8 lays them side by side."""
        result, layout, sel = self.result, self.layout, self.selection
        if result is None or self.step != RELEVANCE_STEP:
            return
        query = self.query_token
        rollout_key = (result.trace, self.head_fusion, self.discard_ratio)
        factors = self._rollout[1] if self._rollout is not None and _same(rollout_key, self._rollout[0]) else None
        if factors is None:
            if result.large:
                self._side("rollout", (result, self.head_fusion, self.discard_ratio), rollout_factors, result.trace,
                           self.head_fusion, self.discard_ratio, description="rollout")
            else:
                factors = rollout_factors(result.trace, self.head_fusion, self.discard_ratio)
                self._rollout = rollout_key, factors
        target = self.explain_target
        relevance = self.relevance if self.relevance is not None and self.relevance.target == target else None
        maps = (
            raw_map(result, layout, query, sel.layer, sel.head),
            None if factors is None else rollout_explain_map(result, layout, query, factors, self.head_fusion,
                                                             self.discard_ratio),
            None if relevance is None else relevance_map(result, layout, query, relevance, self.relevance_method,
                                                         self.class_name(target)),
        )
        self._keys["comparison"] = (result,)
        self.comparison = maps

    # -- the runner, one job per kind ------------------------------------------------------------------
    def _side(self, kind: str, key: tuple, fn: Callable[..., Any], *args: Any, description: str) -> Any:
        """Run ``fn`` for field ``kind`` unless it already holds (or is making) the result for ``key``."""
        if _same(key, self._keys.get(kind)) or _same(key, self._keys.get(f"{kind} wanted")):
            return None
        self._side_request += 1
        request = self._side_request
        self._keys[f"{kind} wanted"] = key
        previous = self._side_jobs.get(kind)
        if previous is not None and not previous[1].done:
            previous[1].cancel()

        def latest(callback: Callable[..., None]) -> Callable[..., None]:
            return lambda *values: callback(*values) if self._side_jobs.get(kind, (None,))[0] == request else None

        def made(value: Any) -> None:
            if key[0] is not self.result and kind != "intact_logits":
                return
            self._keys[kind] = key
            if kind == "rollout":
                self._rollout = (self.result.trace, key[1], key[2]), value
            elif kind == "intact_logits":
                self._intact = key, value
                self.intact_logits = value
            else:
                setattr(self, kind, value)
            if kind in ("rollout", "relevance"):
                self._refresh_comparison()

        def ended() -> None:
            self._keys[f"{kind} wanted"] = None
            self.progress = None

        def failed(exc: BaseException) -> None:
            self._report(description.capitalize(), exc)

        self._side_jobs[kind] = (request, None)
        self.progress = (0.0, description)  # the panel shows the bar and its Cancel button at once
        job = self.runner(fn, *args, on_result=latest(made), on_error=latest(failed), on_cancelled=None,
                          on_progress=latest(lambda fraction, text: setattr(self, "progress", (fraction, text))),
                          on_finished=latest(ended), description=description)
        if self._side_jobs.get(kind, (None,))[0] == request:
            self._side_jobs[kind] = (request, job)
        return job

    def _cancel_side_jobs(self) -> None:
        for _request, job in self._side_jobs.values():
            if job is not None and not job.done:
                job.cancel()

    # -- export -----------------------------------------------------------------------------------------
    def export_comparison(self, path) -> Any:
        return export.comparison(path, list(self.comparison or ()))

    def export_importance(self, path) -> Any:
        return export.importance(path, self.importance, self.switched_off)

    def export_overview(self, path) -> Any:
        return export.overview(path, self.overview)

    def export_lens(self, path) -> Any:
        if self.explain_target is None:
            raise ValueError(ll.NO_CLASSIFIER)
        return export.lens(path, self.lens, self.explain_target, self.layout.leading, self.result.model.class_names)
