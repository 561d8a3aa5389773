"""What the ViT panel shows, and the rules that keep it consistent. No Qt.

:class:`ViTState` holds the loaded model, the result of running it on the
current image, the step of the walk, the :class:`Selection` (patch, layer,
head, query token), the attention view (one layer's weights or the rollout)
and the :class:`AttentionMap` derived from them, with the hover readout under
it. The panel's widgets forward user actions to its methods and redraw on its
events; model loads and runs go through the ``runner`` (a worker in the app,
:func:`~explorer.ui.panels.state.run_now` in tests), and the latest request
wins.

Two rules are worth knowing before changing anything:

* **One clamp rule.** Whenever a new result arrives, :meth:`Selection.fitted`
  makes the selection valid for its :class:`TokenLayout`; nothing else clamps.
* **Derived values are set with their inputs.** A method that changes several
  fields does so inside :func:`hold_events` and refreshes :attr:`ViTState.attention`
  before the events go out, so no listener ever sees a map of another trace
  or view. A single field set from outside (a combo box, restored settings)
  refreshes it through the state's own event handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image
from psygnal import evented

from explorer.engine import vit
from explorer.engine.infra.progress import report
from explorer.engine.vit import analysis as va
from explorer.engine.vit import heads_overview as ho
from explorer.engine.vit import relevance as rl
from explorer.engine.vit.tasks import CLASS_NAMES, render_scene
from explorer.ui.panels.state import Runner, hold_events, identity_fields, persisted, run_now
from explorer.ui.panels.vit.attention_rules import AttentionRules
from explorer.ui.panels.vit.explain_maps import MAP_SCALES
from explorer.ui.panels.vit.explain_rules import ExplainRules
from explorer.ui.panels.vit.maps import AttentionMap
from explorer.ui.panels.vit.result import ViTResult, compute_result
from explorer.ui.panels.vit.selection import POOL_QUERY, Selection, TokenLayout

#: The steps of the walk, in order (``ViTState.step`` is 1-based): six of the cheatsheet, then token norms,
#: relevance, head ablation, all heads at a glance and the logit lens.
STEP_COUNT = 11
#: Where the model runs: the GPU torch has (CUDA or MPS) when there is one, or the CPU.
DEVICE_CHOICES = ("auto", "cpu")
#: What step 6 draws: one layer's attention, or the rollout through all layers.
ATTENTION_VIEWS = ("raw", "rollout")
MAX_DISCARD = 0.95


def load_model(path_or_name: str | Path, device: str = "cpu", reporter=None) -> vit.LoadedViT:
    """:func:`explorer.engine.vit.load` with progress (for the runner)."""
    report(reporter, 0.1, "reading weights")
    model = vit.load(path_or_name, device=device)
    report(reporter, 1.0, f"loaded on {model.device}")
    return model


def move_model(model: vit.LoadedViT, device: str, reporter=None) -> vit.LoadedViT:
    """The same network on ``device``, as a new LoadedViT (so the state sees a change)."""
    report(reporter, 0.2, f"moving the model to {device}")
    return replace(model).to(device)


@evented(equality_operators=identity_fields("model", "image", "result", "attention", "comparison", "relevance",
                                            "importance", "overview", "lens", "intact_logits"))
@dataclass
class ViTState(AttentionRules, ExplainRules):
    """The ViT panel's model, result, selection and settings, and the rules that tie them together."""

    PERSISTED: ClassVar[tuple[str, ...]] = (
        "step", "attention_view", "head_fusion", "discard_ratio", "input_size", "show_grid", "model_path", "device",
        "relevance_method", "map_scale", "heads_order",
    )
    step: int = persisted(1, min=1, max=STEP_COUNT)
    attention_view: str = persisted("raw", choices=ATTENTION_VIEWS)
    head_fusion: str = persisted("mean", choices=va.HEAD_FUSIONS)
    discard_ratio: float = persisted(0.0, min=0.0, max=MAX_DISCARD)
    input_size: int = persisted(0, min=0, max=vit.MAX_INPUT)  # pixels; 0: the model's own size
    show_grid: bool = persisted(True)
    #: The weight file or folder the model came from ("" for a bundled model), restored at start.
    model_path: str = persisted("")
    device: str = persisted("auto", choices=DEVICE_CHOICES)
    relevance_method: str = persisted("chefer", choices=rl.METHODS)
    map_scale: str = persisted("shared", choices=MAP_SCALES)  # one colour scale for the compared maps, or each its own
    heads_order: str = persisted("layers", choices=ho.ORDERS)

    model: vit.LoadedViT | None = None
    image: Image.Image | None = None
    result: ViTResult | None = None
    selection: Selection = field(default_factory=Selection)
    attention: AttentionMap | None = None
    hovered: int | None = None  # patch under the pointer on step 6; -1 when it left, None before
    progress: tuple[float, str] | None = None  # (fraction, text) while a load or run is under way
    # -- steps 8-11 (explain_rules.py): made from the result, each with the key it was made for
    heads_off: frozenset[tuple[int, int]] = frozenset()  # (layer, head) pairs switched off in the next run
    explain_class: int | None = None  # the class relevance, importance and the lens explain; None: the top one
    comparison: tuple | None = None  # step 8's ExplainMaps: raw attention, rollout, relevance (None: not yet)
    relevance: rl.Relevance | None = None
    importance: Any = None  # ablation.HeadImportance
    overview: ho.HeadsOverview | None = None
    lens: Any = None  # logit_lens.LogitLens
    intact_logits: torch.Tensor | None = None  # (1, K) with every head on, beside the switched model's

    runner: Runner = field(default=run_now, repr=False, compare=False)
    #: Called with (title, exception) for a failure the user must see; None raises it instead.
    on_error: Callable[[str, BaseException], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._request = 0  # the latest request; callbacks of older ones are ignored
        self._job: Any = None
        self._loading = False
        self._run_waiting = False  # a run was asked for while a model loaded
        self._first_model = True
        self._scene_seed = 0
        self._attention_key: tuple | None = None  # (result, view, settings, query) the map was made for
        self._rollout: tuple[tuple, list[torch.Tensor]] | None = None  # ((trace, fusion, discard), layer factors)
        self._factor_job: Any = None  # rollout factors being made in the runner (long traces)
        self._factor_request = 0
        self._refreshing = False
        for name in ("attention_view", "head_fusion", "discard_ratio", "selection"):
            getattr(self.events, name).connect(self._refresh_attention)
        self._init_explain()

    # -- derived values -------------------------------------------------------------------------
    @property
    def layout(self) -> TokenLayout | None:
        return None if self.result is None else self.result.trace.layout

    @property
    def query_token(self) -> int:
        layout = self.layout
        return 0 if layout is None else self.selection.query_token(layout)

    @property
    def meaningless_on_photos(self) -> bool:
        """A bundled or retrained model knows only generated scenes: its answer on a photo means nothing."""
        return self.model is not None and self.model.generated_only

    @property
    def pooled(self) -> bool:
        """The model pools by attention (SigLIP): its probe can be the query."""
        return self.result is not None and self.result.trace.pool_attention is not None

    @property
    def has_classifier(self) -> bool:
        return self.result is not None and bool(self.result.top)

    def device_text(self) -> str:
        """Where the model runs, for the panel: 'cpu', or 'cuda (NVIDIA …)'."""
        if self.model is None:
            return ""
        device = self.model.device
        if device == "cuda" and torch.cuda.is_available():
            return f"cuda ({torch.cuda.get_device_name(0)})"
        return device

    def input_size_range(self) -> tuple[int, int, int] | None:
        """(smallest, largest, step) input size in pixels the current model accepts."""
        if self.model is None:
            return None
        p = self.model.config.patch_size
        return p, min(vit.MAX_INPUT, int(vit.MAX_PATCHES**0.5) * p), p

    # -- selection ------------------------------------------------------------------------------
    def select_patch(self, index: int) -> None:
        """Select patch ``index`` (raster order) in every view; a query on the patch follows it."""
        if self.result is None or not 0 <= index < self.result.trace.num_patches:
            return
        self.selection = replace(self.selection, patch=index)

    def attend_from_patch(self, index: int) -> None:
        """A click on the step-6 map: select that patch and read the attention from it."""
        if self.result is None or not 0 <= index < self.result.trace.num_patches:
            return
        self.selection = replace(self.selection, patch=index, query=None)

    def set_query(self, token: int | None) -> None:
        """Read attention from special token ``token`` (0: [CLS]), the pool's probe (POOL_QUERY) or the selected patch (None)."""
        layout = self.layout
        if token == POOL_QUERY:
            if not self.pooled:
                return
        elif token is not None and (token < 0 or (layout is not None and token >= layout.leading)):
            return
        self.selection = replace(self.selection, query=token)

    def set_layer(self, layer: int) -> None:
        layout = self.layout
        if layout is not None and 0 <= layer < layout.depth:
            self.selection = replace(self.selection, layer=layer)

    def set_head(self, head: int | None) -> None:
        """Show head ``head`` of the layer, or the mean of the heads (None)."""
        layout = self.layout
        if head is None or (layout is not None and 0 <= head < layout.heads):
            self.selection = replace(self.selection, head=head)

    def show_head(self, layer: int, head: int) -> None:
        """One layer's attention of one head (a dot clicked in the distance plot)."""
        with hold_events(self):
            self.attention_view = "raw"
            self.set_layer(layer)
            self.set_head(head)
            self._refresh_attention()

    def hover(self, index: int) -> None:
        self.hovered = index

    # -- model and runs -------------------------------------------------------------------------
    def start(self) -> Any:
        """Load the model used last time if its file is still there, else the bundled one (in the runner)."""
        remembered = self.model_path
        if remembered and Path(remembered).exists():
            return self.load_model(remembered, fallback=vit.DEFAULT_BUNDLED)
        return self.load_model(vit.DEFAULT_BUNDLED)

    def load_model(self, path_or_name: str | Path, *, fallback: str | None = None) -> Any:
        """Load weights in the runner; on failure say why and keep the model we had (or load ``fallback``).

        While it loads, runs wait: the load runs the new model on the image
        that is current when it ends (or, if it fails, the old model does).
        """
        name = Path(str(path_or_name)).name

        def loaded(model: vit.LoadedViT) -> None:
            self._loading = False
            self._model_loaded(model, path_or_name)

        def failed(exc: BaseException) -> None:
            self._loading = False
            try:
                self._report(f"Could not open {name} as a ViT", exc)
            finally:
                if fallback is not None:
                    self.load_model(fallback)
                elif self._run_waiting:
                    self.run_model()

        def cancelled() -> None:
            self._loading = False
            if self._run_waiting:
                self.run_model()

        self._loading, self._run_waiting = True, False
        return self._start(
            load_model, path_or_name, vit.pick_device(self.device), on_result=loaded, on_error=failed,
            on_cancelled=cancelled, description=f"loading {name}",
        )

    def _model_loaded(self, model: vit.LoadedViT, path_or_name: str | Path) -> None:
        with hold_events(self):
            self.model = model
            self.model_path = "" if str(path_or_name) in vit.BUNDLED else str(Path(path_or_name).resolve())
            lowest, highest, _step = self.input_size_range()
            keep = self._first_model and lowest <= self.input_size <= highest
            self.input_size = self.input_size if keep else min(model.config.default_input_size, highest)
            self._first_model = False
        self.run_model()

    def set_image(self, image: Image.Image | None) -> Any:
        """The current image changed: run the model on it."""
        self.image = image
        return self.run_model()

    def set_device(self, choice: str) -> Any:
        """Run on the GPU torch has ("auto") or on the CPU; the model moves in the runner and runs again."""
        if choice not in DEVICE_CHOICES:
            return None
        self.device = choice
        if self.model is None or self.model.device == vit.pick_device(choice):
            return None
        return self._start(move_model, self.model, vit.pick_device(choice), on_result=self._model_replaced,
                           on_error=lambda exc: self._report("Could not move the model", exc),
                           description="moving the model")

    def set_preprocessing(self, **fields: Any) -> Any:
        """Your own mean, std, crop or interpolation where the model's files store none; runs again."""
        if self.model is None:
            return None
        try:
            model = self.model.with_preprocessing(**fields)
        except ValueError as exc:
            self._report("Preprocessing", exc)
            return None
        return self._model_replaced(model)

    def _model_replaced(self, model: vit.LoadedViT) -> Any:
        """The same network with another device or preprocessing: keep the selection, run again."""
        self.model = model
        return self.run_model()

    def set_input_size(self, size: int) -> Any:
        """Run at ``size`` pixels (other sizes than the trained one resample the position embeddings)."""
        self.input_size = size
        return self.run_model()

    def run_model(self) -> Any:
        """Run the model on the current image in the runner, or do nothing until both are there."""
        if self.model is None or self.image is None:
            return None
        if self._loading:  # the model may be about to change: the load runs it when it ends
            self._run_waiting = True
            return None
        return self._start(
            compute_result, self.model, self.image, self.input_size or None, (self.head_fusion, self.discard_ratio),
            self.head_mask_tensor(), on_result=self._apply_result, on_error=lambda exc: self._report("ViT", exc), description="running the ViT",
        )

    def _apply_result(self, result: ViTResult) -> None:
        """Adopt a new result: the selection is fitted to it and the map redone before anyone hears."""
        fresh = self.result is None or self.result.model.net is not result.model.net
        fusion, discard = result.rollout_key
        self._rollout = ((result.trace, fusion, discard), result.rollout_factors)  # no old trace's kept alive
        with hold_events(self):
            self.result = result
            self.selection = self.selection.fitted(result.trace.layout, fresh_model=fresh,
                                                   pooled=result.trace.pool_attention is not None)
            if self.hovered is not None and self.hovered >= result.trace.num_patches:
                self.hovered = -1
            self._refresh_attention()

    def _start(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None],
               on_error: Callable[[BaseException], None], on_cancelled: Callable[[], None] | None = None,
               description: str) -> Any:
        """Run ``fn`` in the runner; only the latest request's callbacks count, and it cancels the one before."""
        self._request += 1
        request = self._request
        if self._job is not None and not self._job.done:
            self._job.cancel()
        self.progress = (0.0, "")

        def latest(callback: Callable[..., None] | None) -> Callable[..., None]:
            return lambda *values: callback(*values) if callback is not None and request == self._request else None

        def finished() -> None:
            if request == self._request:
                self.progress = None

        job = self.runner(
            fn, *args, on_result=latest(on_result), on_error=latest(on_error), on_cancelled=latest(on_cancelled),
            on_progress=latest(lambda fraction, text: setattr(self, "progress", (fraction, text))),
            on_finished=finished, description=description,
        )
        if request == self._request:
            self._job = job
        return job

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self._cancel_side_jobs()

    def _report(self, title: str, exc: BaseException) -> None:
        if self.on_error is None:
            raise exc
        self.on_error(title, exc)

    # -- sample scenes and export ---------------------------------------------------------------
    def next_sample_scene(self) -> tuple[Image.Image, str]:
        """A new generated scene like those the bundled model learned, and its name."""
        self._scene_seed += 1
        image, label = render_scene(10_000 + self._scene_seed)
        return image, f"generated scene {self._scene_seed} ({CLASS_NAMES[label]})"

    def export_attention(self, path: str | Path) -> Path:
        """All attention weights as one (layers, heads, T, T) float32 .npy, written a layer at a time.

        The tokens are in the trace's order: its special tokens (``layout.special``), then the patches.
        """
        if self.result is None:
            raise ValueError("nothing to export yet: the model has not run")
        path = Path(path)
        maps = self.result.trace.attentions
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(maps), *maps.shape_of_layer))
        for layer in range(len(maps)):
            out[layer] = maps[layer].numpy()
        out.flush()
        del out
        return path
