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
from explorer.engine.vit.tasks import CLASS_NAMES, render_scene
from explorer.ui.panels.state import Runner, hold_events, identity_fields, persisted, run_now
from explorer.ui.panels.vit.maps import AttentionMap, layer_map, rollout_map
from explorer.ui.panels.vit.result import ViTResult, compute_result
from explorer.ui.panels.vit.selection import Selection, TokenLayout

#: The six steps of the walk, in order (``ViTState.step`` is 1-based).
STEP_COUNT = 6
#: What step 6 draws: one layer's attention, or the rollout through all layers.
ATTENTION_VIEWS = ("raw", "rollout")
MAX_DISCARD = 0.95
HOVER_HINT = "Point at a patch to read its weight; click to attend from it."


def _same(key: tuple, other: tuple | None) -> bool:
    """Two cache keys agree: their first item (a result or trace) is the same object, the rest equal."""
    return other is not None and key[0] is other[0] and key[1:] == other[1:]


def load_model(path_or_name: str | Path, reporter=None) -> vit.LoadedViT:
    """:func:`explorer.engine.vit.load` with progress (for the runner)."""
    report(reporter, 0.1, "reading weights")
    model = vit.load(path_or_name)
    report(reporter, 1.0, "loaded")
    return model


@evented(equality_operators=identity_fields("model", "image", "result", "attention"))
@dataclass
class ViTState:
    """The ViT panel's model, result, selection and settings, and the rules that tie them together."""

    PERSISTED: ClassVar[tuple[str, ...]] = (
        "step", "attention_view", "head_fusion", "discard_ratio", "input_size", "show_grid", "model_path",
    )
    step: int = persisted(1, min=1, max=STEP_COUNT)
    attention_view: str = persisted("raw", choices=ATTENTION_VIEWS)
    head_fusion: str = persisted("mean", choices=va.HEAD_FUSIONS)
    discard_ratio: float = persisted(0.0, min=0.0, max=MAX_DISCARD)
    input_size: int = persisted(0, min=0, max=vit.MAX_INPUT)  # pixels; 0: the model's own size
    show_grid: bool = persisted(True)
    #: The weight file or folder the model came from ("" for a bundled model), restored at start.
    model_path: str = persisted("")

    model: vit.LoadedViT | None = None
    image: Image.Image | None = None
    result: ViTResult | None = None
    selection: Selection = field(default_factory=Selection)
    attention: AttentionMap | None = None
    hovered: int | None = None  # patch under the pointer on step 6; -1 when it left, None before
    progress: tuple[float, str] | None = None  # (fraction, text) while a load or run is under way

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
        self._rollout: tuple[tuple, torch.Tensor] | None = None  # ((trace, fusion, discard), joint matrix)
        for name in ("attention_view", "head_fusion", "discard_ratio", "selection"):
            getattr(self.events, name).connect(self._refresh_attention)

    # -- derived values -------------------------------------------------------------------------
    @property
    def layout(self) -> TokenLayout | None:
        return None if self.result is None else TokenLayout.of(self.result)

    @property
    def query_token(self) -> int:
        layout = self.layout
        return 0 if layout is None else self.selection.query_token(layout)

    @property
    def meaningless_on_photos(self) -> bool:
        """A bundled model knows only generated scenes: its answer on a photo means nothing."""
        return self.model is not None and self.model.config.source == "bundled"

    @property
    def has_classifier(self) -> bool:
        return self.result is not None and bool(self.result.top)

    def input_size_range(self) -> tuple[int, int, int] | None:
        """(smallest, largest, step) input size in pixels the current model accepts."""
        if self.model is None:
            return None
        p = self.model.config.patch_size
        return p, min(vit.MAX_INPUT, int(vit.MAX_PATCHES**0.5) * p), p

    def readout(self) -> str:
        """The line under the step-6 map: the weight under the pointer and where it comes from."""
        if self.hovered is None:
            return ""
        if self.attention is None or self.result is None or not 0 <= self.hovered < self.result.trace.num_patches:
            return HOVER_HINT
        r, c = divmod(self.hovered, self.result.trace.grid[1])
        weight = float(self.attention.values.reshape(-1)[self.hovered])
        return f"patch {self.hovered} (row {r}, col {c}): weight {weight:.4f} — {self.attention.source}"

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
        """Read attention from special token ``token`` (0: [CLS]), or from the selected patch (None)."""
        layout = self.layout
        if token is not None and (token < 0 or (layout is not None and token >= layout.leading)):
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
            load_model, path_or_name, on_result=loaded, on_error=failed, on_cancelled=cancelled,
            description=f"loading {name}",
        )

    def _model_loaded(self, model: vit.LoadedViT, path_or_name: str | Path) -> None:
        with hold_events(self):
            self.model = model
            self.model_path = "" if str(path_or_name) in vit.BUNDLED else str(Path(path_or_name).resolve())
            lowest, highest, _step = self.input_size_range()
            keep = self._first_model and lowest <= self.input_size <= highest
            self.input_size = self.input_size if keep else model.config.image_size
            self._first_model = False
        self.run_model()

    def set_image(self, image: Image.Image | None) -> Any:
        """The current image changed: run the model on it."""
        self.image = image
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
            compute_result, self.model, self.image, self.input_size or None, on_result=self._apply_result,
            on_error=lambda exc: self._report("ViT", exc), description="running the ViT",
        )

    def _apply_result(self, result: ViTResult) -> None:
        """Adopt a new result: the selection is fitted to it and the map redone before anyone hears."""
        fresh = self.result is None or self.result.model is not result.model
        self._rollout = None  # a trace's attentions can be large: keep no old one alive
        with hold_events(self):
            self.result = result
            self.selection = self.selection.fitted(TokenLayout.of(result), fresh_model=fresh)
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

    def _report(self, title: str, exc: BaseException) -> None:
        if self.on_error is None:
            raise exc
        self.on_error(title, exc)

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
        if not _same(key, self._attention_key):
            self.attention = (
                rollout_map(self.result, layout, query, self._joint(), self.head_fusion, self.discard_ratio)
                if rollout else layer_map(self.result, layout, query, sel.layer, sel.head)
            )
            self._attention_key = key

    def _joint(self) -> torch.Tensor:
        """The rollout matrix (T, T) for the current trace and settings; one serves every query."""
        t = self.result.trace
        key = (t, self.head_fusion, self.discard_ratio)
        if self._rollout is None or not _same(key, self._rollout[0]):
            self._rollout = key, va.rollout(t.attentions, self.head_fusion, self.discard_ratio)
        return self._rollout[1]

    # -- sample scenes and export ---------------------------------------------------------------
    def next_sample_scene(self) -> tuple[Image.Image, str]:
        """A new generated scene like those the bundled model learned, and its name."""
        self._scene_seed += 1
        image, label = render_scene(10_000 + self._scene_seed)
        return image, f"generated scene {self._scene_seed} ({CLASS_NAMES[label]})"

    def export_attention(self, path: str | Path) -> Path:
        """All attention weights as one (layers, heads, T, T) float32 array; token 0 is [CLS]."""
        if self.result is None:
            raise ValueError("nothing to export yet: the model has not run")
        path = Path(path)
        stacked = np.stack([a.numpy() for a in self.result.trace.attentions]).astype(np.float32)
        np.save(path, stacked)
        return path
