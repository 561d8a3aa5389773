"""The From input tab's state: tokens X and projections W_Q, W_K, W_V, W_O → multi-head attention. No Qt.

Two sources of numbers. **Your own**: a few tokens of a small width, drawn from a
seed and edited freely. **The image through a ViT**: X is the current image's
tokens entering a chosen layer (or its patch embeddings plus position embeddings),
passed through that layer's LayerNorm as the model does, and the W's and biases are
that layer's own — real projections turning real tokens into Q, K and V. A real
layer's multi-head attention (up to 1,370 tokens × 1,024 wide) runs through the
``runner`` (a worker in the app); the latest request wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from psygnal import evented

from explorer.engine.attention.core import causal_mask
from explorer.engine.attention.heads import RealHead
from explorer.engine.attention.multi_head import MultiHeadTrace, multi_head_attention
from explorer.engine.attention.presets import InputPreset, default_input
from explorer.engine.vit.heads import SOURCES, RealLayer, ViTInput, run_vit, vit_layer
from explorer.ui.panels.attention.qkv_state import ErrorSink, fail, resized
from explorer.ui.panels.attention.text import input_note_html, num
from explorer.ui.panels.state import Runner, hold_events, identity_fields, run_now

MAX_TOKENS = 16
MAX_D_MODEL = 16
MAX_HEADS_SHOWN = 8
INPUT_MATRICES = ("x", "x_kv", "w_q", "w_k", "w_v", "w_o")


def head_choices(d_model: int) -> list[int]:
    """The head counts that split d_model evenly (up to :data:`MAX_HEADS_SHOWN`)."""
    return [h for h in range(1, min(d_model, MAX_HEADS_SHOWN) + 1) if d_model % h == 0]


def _array(tensor) -> np.ndarray | None:
    return None if tensor is None else np.array(tensor.detach().cpu().numpy(), dtype=np.float64)


@evented(equality_operators=identity_fields(*INPUT_MATRICES, "trace", "real", "vit"))
@dataclass
class FromInputState:
    """The From input tab: Q, K, V made from tokens by projections; the weights follow X, not the parameters."""

    tokens: int = 1
    d_model: int = 1
    heads: int = 1  # one of head_choices(d_model) for your own numbers; the model's count for a real layer
    cross: bool = False  # keys and values from X₂ instead of X
    causal: bool = False
    seed: int = 0  # of the next New random
    x: np.ndarray = field(init=False)  # (tokens, d_model)
    x_kv: np.ndarray = field(init=False)  # (m, d_model): X₂, used when cross
    w_q: np.ndarray = field(init=False)  # (d_model, d_model), as w_k, w_v, w_o
    w_k: np.ndarray = field(init=False)
    w_v: np.ndarray = field(init=False)
    w_o: np.ndarray = field(init=False)
    trace: MultiHeadTrace | None = None
    note: str = ""  # what the last change did to the weights (HTML)
    real: RealLayer | None = None  # the ViT layer X and the W's came from; None: your own numbers
    vit: ViTInput | None = None  # a ViT traced on the current image, to read layers from
    busy: bool = False  # a real layer is being computed
    send_head: int = 0  # the head "Send to Q·K·V" sends
    runner: Runner = field(default=run_now, repr=False, compare=False)
    on_error: ErrorSink | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._previous_weights: np.ndarray | None = None  # (h, n_q, n_k) before the last change
        self._previous_params: list[np.ndarray] | None = None
        self._request = 0
        self.load(default_input())

    @property
    def params(self) -> list[np.ndarray]:
        """The model's parameters: W_Q, W_K, W_V, W_O."""
        return [self.w_q, self.w_k, self.w_v, self.w_o]

    @property
    def labels(self) -> tuple[str, ...] | None:
        return None if self.real is None else self.real.token_labels

    def load(self, item: InputPreset) -> None:
        with hold_events(self):
            self.real = None
            self.tokens, self.d_model = item.x.shape
            self.heads = self._valid_heads(item.num_heads)
            self.send_head = min(self.send_head, self.heads - 1)
            for name in INPUT_MATRICES:
                setattr(self, name, getattr(item, name).copy())
            self._previous_weights = None
            self.recompute("")

    def randomise(self) -> None:
        """New tokens and projections from the seed, at the sizes now; the seed moves on."""
        self.load(default_input(min(self.tokens, MAX_TOKENS), min(self.d_model, MAX_D_MODEL), self.heads, self.seed))
        self.seed += 1

    # -- the image through a ViT ---------------------------------------------------------------
    def set_vit(self, source: ViTInput | None) -> None:
        """The ViT (and its trace on the image) that layers are read from."""
        self.vit = source

    def run_vit(self, model_or_name, image, input_name: str = "", *, show: bool = True) -> object:
        """Trace ``image`` with ``model_or_name`` (a LoadedViT, or a name such as the bundled one), in the runner.

        Then the layer shown now is read again from the new trace; with ``show`` and no
        layer shown yet, the tokens entering layer 1.
        """
        def arrived(source: ViTInput) -> None:
            self.set_vit(source)
            real = self.real
            if real is not None:
                self.load_layer(min(real.layer, source.depth - 1), real.source, normalise=real.normalised)
            elif show:
                self.load_layer(0, "tokens")

        self.busy = True
        return self.runner(
            run_vit, model_or_name, image, input_name, on_result=arrived,
            on_error=lambda exc: fail(self.on_error, "From input: running the ViT", exc),
            on_finished=lambda: setattr(self, "busy", False), description="running the ViT on the image",
        )

    def load_layer(self, layer: int, source: str = "tokens", *, normalise: bool = True) -> None:
        """X from the image's tokens entering ``layer`` (or its patch embeddings + positions), and that layer's W's."""
        if self.vit is None:
            fail(self.on_error, "From input", ValueError("no ViT has run on the image yet: run one first"))
            return
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        v = self.vit
        try:
            real = vit_layer(v.model, v.trace, layer, source=source, normalise=normalise, model_name=v.model_name,
                             input_name=v.input_name, picture=v.picture)
        except ValueError as exc:
            fail(self.on_error, "From input", exc)
            return
        with hold_events(self):
            self.real = real
            self.cross, self.causal = False, False
            self.tokens, self.d_model = real.x.shape
            self.heads, self.send_head = real.heads, min(self.send_head, real.heads - 1)
            self.x = _array(real.x)
            self.x_kv = resized(self.x_kv, len(self.x_kv), self.d_model)
            self.w_q, self.w_k, self.w_v, self.w_o = (_array(w) for w in (real.w_q, real.w_k, real.w_v, real.w_o))
            self._previous_weights = self._previous_params = None
            self.recompute("")

    # -- what the user changes -----------------------------------------------------------------
    def set_tokens(self, n: int) -> None:
        if (n := int(min(max(n, 1), MAX_TOKENS))) != self.tokens:
            self.tokens = n
            self._resize()

    def set_d_model(self, d_model: int) -> None:
        """A new width (1…16); the head count stays if it still divides it, else the largest that does."""
        if (d_model := int(min(max(d_model, 1), MAX_D_MODEL))) != self.d_model:
            self.d_model = d_model
            self.heads = self._valid_heads(self.heads)
            self._resize()

    def set_heads(self, heads: int) -> None:
        if self.real is None and (heads := self._valid_heads(heads)) != self.heads:
            self.heads = heads
            self._resize()

    def set_cross(self, on: bool) -> None:
        if on != self.cross and self.real is None:
            self.cross = bool(on)
            self._previous_weights = None  # other keys: nothing to compare with
            self.recompute("cross-attention")

    def set_causal(self, on: bool) -> None:
        if on != self.causal:
            self.causal = bool(on)
            self.recompute("the causal mask")

    def edit(self, name: str, matrix: np.ndarray) -> None:
        """The user changed ``name`` (one of :data:`INPUT_MATRICES`); the note says what that moved."""
        if name not in INPUT_MATRICES:
            raise ValueError(f"unknown matrix {name!r}; use {', '.join(INPUT_MATRICES)}")
        setattr(self, name, np.asarray(matrix, dtype=np.float64))
        self.recompute("the input X" if name in ("x", "x_kv") else "a projection matrix")

    def head_qkv(self, head: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Q, K, V of one head: (n_q, d_k), (n_k, d_k), (n_k, d_v)."""
        return self.trace.q[head].numpy(), self.trace.k[head].numpy(), self.trace.v[head].numpy()

    def head_as_real(self, head: int) -> RealHead:
        """A real layer's head as the Q·K·V tab opens a model's head.

        Its reference weights are the model's own when X is exactly what the layer read
        (else this tab's computation), so the Q·K·V tab's agreement line stays meaningful.
        """
        real, trace = self.real, self.trace
        model = real.model_weights
        reference = model[head] if model is not None and model.shape == trace.weights.shape else trace.weights[head]
        return RealHead(
            q=trace.q[head], k=trace.k[head], v=trace.v[head], weights=reference,
            token_labels=real.token_labels, scale=trace.heads.scale, query=0, grid=real.grid,
            first_patch=real.first_patch, image=real.picture, model=real.model,
            input_name=f"{real.input_name} (from the From input tab)", layer=real.layer, head=head,
        )

    # -- compute -------------------------------------------------------------------------------
    def recompute(self, source: str) -> None:
        """Multi-head attention on X (and X₂); ``source`` names what changed, for the note.

        Your own numbers are computed now (a few tokens); a real layer through the runner.
        """
        x_kv = self.x_kv if self.cross else None
        mask = causal_mask(self.tokens, len(self.x_kv) if self.cross else self.tokens) if self.causal else None
        biases = {}
        if self.real is not None:
            biases = {f"b_{n}": getattr(self.real, f"b_{n}") for n in ("q", "k", "v", "o")}
        self._request += 1
        request = self._request

        def done(trace: MultiHeadTrace) -> None:
            if request == self._request:
                self._adopt(trace, source)

        self.busy = self.real is not None
        runner = self.runner if self.real is not None else run_now  # a few tokens: well under a frame, now
        runner(
            multi_head_attention, self.x, *self.params, num_heads=self.heads, x_kv=x_kv, mask=mask, **biases,
            on_result=done, on_error=lambda exc: fail(self.on_error, "Attention from input", exc),
            on_finished=lambda: setattr(self, "busy", False) if request == self._request else None,
            description="attention from the input",
        )

    def _adopt(self, trace: MultiHeadTrace, source: str) -> None:
        weights, previous, params = trace.weights.numpy(), self._previous_weights, self.params  # (h, n_q, n_k)
        change = None
        if previous is not None and previous.shape == weights.shape and source:
            change = float(np.abs(weights - previous).max())
        moved = self._previous_params is not None and not all(map(np.array_equal, params, self._previous_params))
        self._previous_weights, self._previous_params = weights.copy(), params
        self.trace = trace
        self.note = input_note_html(source, change, moved, self.heads, self.d_model) + self._real_note(trace)

    def _real_note(self, trace: MultiHeadTrace) -> str:
        real = self.real
        if real is None:
            return ""
        text = (f"<br><b>{real.title}</b>: X = LayerNorm₁(tokens)" if real.normalised else f"<br><b>{real.title}</b>: X = tokens")
        text += ", and Q = X·W<sub>Q</sub> + b<sub>Q</sub> (K, V alike) with the layer's own parameters."
        if real.model_weights is not None and trace.weights.shape == real.model_weights.shape:
            error = float((trace.weights - real.model_weights.to(torch.float64)).abs().max())
            text += f" These weights equal the model's own to {num(error, 2)} (max |Δ| over {real.heads} heads)."
        return text

    def _valid_heads(self, wanted: int) -> int:
        choices = head_choices(self.d_model)
        return wanted if wanted in choices else choices[-1]

    def _resize(self) -> None:
        d = self.d_model
        with hold_events(self):
            if self.real is not None:  # your own numbers again, starting from the real ones that fit
                self.real = None
                self.tokens, self.d_model = min(self.tokens, MAX_TOKENS), min(d, MAX_D_MODEL)
                d = self.d_model
                self.heads = self._valid_heads(self.heads)
            self.x = resized(self.x, self.tokens, d)
            self.x_kv = resized(self.x_kv, len(self.x_kv), d)
            for name in ("w_q", "w_k", "w_v", "w_o"):
                setattr(self, name, resized(getattr(self, name), d, d))
            self._previous_weights = None
            self.recompute("the sizes")
