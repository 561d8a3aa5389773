"""What the Attention panel shows, and the rules that keep it consistent. No Qt.

One evented dataclass per tab, composed into :class:`AttentionState`: :class:`QKVState`
(matrices, mask, ÷√d_k, temperature, selection, the trace of ``attend``; in
:mod:`.qkv_state`, the largest), :class:`WhyScaleState` (a d_k, the curves measured
once) and :class:`FromInputState` (tokens, projections, heads, the multi-head trace).
A tab's fields change through its methods, which recompute the trace; the widgets
redraw on the fields' events. The panel's persisted settings are fields of
:class:`AttentionState`, mirrored from the tabs that own them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from psygnal import evented

from explorer.engine.attention.core import causal_mask
from explorer.engine.attention.multi_head import MultiHeadTrace, multi_head_attention
from explorer.engine.attention.presets import PRESETS, InputPreset, default_input
from explorer.engine.attention.why_scale import WhyScaleStats, why_scale, why_scale_example
from explorer.ui.panels.attention.qkv_state import (
    MAX_SIZE,
    MAX_TEMPERATURE,
    MIN_SIZE,
    MIN_TEMPERATURE,
    SIZE_NAMES,
    ErrorSink,
    QKVState,
    fail,
    resized,
)
from explorer.ui.panels.attention.text import input_note_html
from explorer.ui.panels.state import Runner, identity_fields, persisted, run_now

__all__ = ["AttentionState", "FromInputState", "QKVState", "WhyScaleState"]

#: The d_k values the Why scale? slider visits: every small value, then log-spaced up to 1024.
D_VALUES = np.unique(np.round(np.geomspace(1, 1024, 160)).astype(int))
N_KEYS = 16
MAX_TOKENS = 16
MAX_D_MODEL = 16
MAX_HEADS_SHOWN = 8
INPUT_MATRICES = ("x", "x_kv", "w_q", "w_k", "w_v", "w_o")
TABS = ("qkv", "why", "input")


def head_choices(d_model: int) -> list[int]:
    """The head counts that split d_model evenly (up to :data:`MAX_HEADS_SHOWN`)."""
    return [h for h in range(1, min(d_model, MAX_HEADS_SHOWN) + 1) if d_model % h == 0]


@evented(equality_operators=identity_fields("example", "stats"))
@dataclass
class WhyScaleState:
    """The Why scale? tab: one d_k at a time, against curves measured once in the background."""

    d_k: int = int(D_VALUES[np.searchsorted(D_VALUES, 64)])  # always one of D_VALUES
    example: tuple[np.ndarray, np.ndarray] = field(init=False)  # one random query's weights at d_k: raw, scaled
    stats: WhyScaleStats | None = None
    measuring: bool = False
    progress: float = 0.0  # of the measuring, 0…1
    runner: Runner = field(default=run_now, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.example = why_scale_example(self.d_k, n_keys=N_KEYS)

    @property
    def position(self) -> int:
        """Where d_k is in :data:`D_VALUES` (the slider's position)."""
        return int(np.searchsorted(D_VALUES, self.d_k))

    @property
    def stats_index(self) -> int | None:
        """d_k's row in the measured statistics; None before they arrive."""
        return None if self.stats is None else int(np.searchsorted(self.stats.d_k, self.d_k))

    def set_d_k(self, d_k: int) -> None:
        """Look at the d_k of :data:`D_VALUES` nearest to ``d_k``."""
        nearest = int(D_VALUES[int(np.argmin(np.abs(D_VALUES - d_k)))])
        if nearest != self.d_k:
            self.example = why_scale_example(nearest, n_keys=N_KEYS)
            self.d_k = nearest

    def ensure_measured(self) -> None:
        """Measure the curves (about half a second, through the runner), once."""
        if self.stats is not None or self.measuring:
            return
        self.progress, self.measuring = 0.0, True
        self.runner(
            why_scale, D_VALUES, n_keys=N_KEYS, samples=256, seed=0,
            on_result=lambda stats: setattr(self, "stats", stats),
            on_progress=lambda fraction, _text: setattr(self, "progress", fraction),
            on_finished=lambda: setattr(self, "measuring", False),
            description="measuring why attention scales by 1/√d_k",
        )


@evented(equality_operators=identity_fields(*INPUT_MATRICES, "trace"))
@dataclass
class FromInputState:
    """The From input tab: Q, K, V made from tokens by projections; the weights follow X, not the parameters."""

    tokens: int = 1
    d_model: int = 1
    heads: int = 1  # always one of head_choices(d_model)
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
    on_error: ErrorSink | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._previous_weights: np.ndarray | None = None  # (h, n_q, n_k) before the last change
        self._previous_params: list[np.ndarray] | None = None
        self.load(default_input())

    @property
    def params(self) -> list[np.ndarray]:
        """The model's parameters: W_Q, W_K, W_V, W_O."""
        return [self.w_q, self.w_k, self.w_v, self.w_o]

    def load(self, item: InputPreset) -> None:
        self.tokens, self.d_model = item.x.shape
        self.heads = self._valid_heads(item.num_heads)
        for name in INPUT_MATRICES:
            setattr(self, name, getattr(item, name).copy())
        self._previous_weights = None
        self.recompute("")

    def randomise(self) -> None:
        """New tokens and projections from the seed, at the sizes now; the seed moves on."""
        self.load(default_input(self.tokens, self.d_model, self.heads, self.seed))
        self.seed += 1

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
        if (heads := self._valid_heads(heads)) != self.heads:
            self.heads = heads
            self._resize()

    def set_cross(self, on: bool) -> None:
        if on != self.cross:
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

    def recompute(self, source: str) -> None:
        """Multi-head attention on X (and X₂); ``source`` names what changed, for the note."""
        x_kv = self.x_kv if self.cross else None
        mask = causal_mask(self.tokens, len(self.x_kv) if self.cross else self.tokens) if self.causal else None
        try:
            trace = multi_head_attention(self.x, *self.params, num_heads=self.heads, x_kv=x_kv, mask=mask)
        except ValueError as exc:
            fail(self.on_error, "Attention from input", exc)
            return
        weights, previous, params = trace.weights.numpy(), self._previous_weights, self.params  # (h, n_q, n_k)
        change = None
        if previous is not None and previous.shape == weights.shape and source:
            change = float(np.abs(weights - previous).max())
        moved = self._previous_params is not None and not all(map(np.array_equal, params, self._previous_params))
        self._previous_weights, self._previous_params = weights.copy(), params
        self.trace = trace
        self.note = input_note_html(source, change, moved, self.heads, self.d_model)

    def _valid_heads(self, wanted: int) -> int:
        choices = head_choices(self.d_model)
        return wanted if wanted in choices else choices[-1]

    def _resize(self) -> None:
        d = self.d_model
        self.x = resized(self.x, self.tokens, d)
        self.x_kv = resized(self.x_kv, len(self.x_kv), d)
        for name in ("w_q", "w_k", "w_v", "w_o"):
            setattr(self, name, resized(getattr(self, name), d, d))
        self._previous_weights = None
        self.recompute("the sizes")


#: The settings that persist: each is a field of the tab that owns it, mirrored on AttentionState
#: (the panel base stores the fields of the object it binds), and how a restored value is applied.
_SETTINGS: dict[str, tuple[str, Callable]] = {
    "preset": ("qkv", QKVState.load_preset),
    **{name: ("qkv", lambda tab, value, name=name: tab.set_size(name, value)) for name in SIZE_NAMES},
    "scale": ("qkv", QKVState.set_scale),
    "temperature": ("qkv", QKVState.set_temperature),
    "heads": ("from_input", FromInputState.set_heads),
    "cross": ("from_input", FromInputState.set_cross),
}


@evented(equality_operators=identity_fields("qkv", "why", "from_input"))
@dataclass
class AttentionState:
    """The Attention panel: its three tabs, the tab shown, and the settings that persist.

    A setting changed in its tab is copied here (and saved by the panel base); one set here
    (restored at start-up, or by a test) is applied to its tab through the tab's own method.
    """

    PERSISTED: ClassVar[tuple[str, ...]] = ("preset", *SIZE_NAMES, "scale", "temperature", "tab", "heads", "cross")
    preset: str = persisted(PRESETS[0].name, choices=[item.name for item in PRESETS])
    n_q: int = persisted(1, min=MIN_SIZE, max=MAX_SIZE)
    n_k: int = persisted(3, min=MIN_SIZE, max=MAX_SIZE)
    d_k: int = persisted(2, min=MIN_SIZE, max=MAX_SIZE)
    d_v: int = persisted(2, min=MIN_SIZE, max=MAX_SIZE)
    scale: bool = persisted(True)
    temperature: float = persisted(1.0, min=MIN_TEMPERATURE, max=MAX_TEMPERATURE)
    tab: str = persisted("qkv", choices=TABS)
    heads: int = persisted(2, min=1, max=MAX_HEADS_SHOWN)
    cross: bool = persisted(False)
    runner: Runner = field(default=run_now, repr=False, compare=False)  # the panel passes run_task
    on_error: ErrorSink | None = field(default=None, repr=False, compare=False)  # the panel passes show_error
    qkv: QKVState = field(init=False, repr=False, compare=False)
    why: WhyScaleState = field(init=False, repr=False, compare=False)
    from_input: FromInputState = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.qkv = QKVState(on_error=self.on_error)
        self.why = WhyScaleState(runner=self.runner)
        self.from_input = FromInputState(on_error=self.on_error)
        for name, (part, apply) in _SETTINGS.items():
            self._mirror(name, getattr(self, part), apply)
        self.events.tab.connect(self._on_tab)

    def _mirror(self, name: str, tab: object, apply: Callable) -> None:
        setattr(self, name, getattr(tab, name))
        getattr(tab.events, name).connect(lambda value: setattr(self, name, value))
        getattr(self.events, name).connect(lambda value: apply(tab, value) if getattr(tab, name) != value else None)

    def load_preset(self, name: str) -> None:
        """A preset fills the Q·K·V tab and shows it (Reset loads the same one again)."""
        self.qkv.load_preset(name)
        self.tab = "qkv"

    def open_real(self, head) -> None:
        """A model's head (:class:`~explorer.engine.attention.heads.RealHead`) in the Q·K·V tab, shown."""
        self.qkv.load_real(head)
        self.tab = "qkv"

    def send_head_to_qkv(self) -> None:
        """Head 1's Q, K and V from the From input tab into the Q·K·V tab, shown."""
        if self.from_input.trace is not None:
            note = "Q, K, V of head 1, computed from the tokens on the From input tab."
            self.qkv.set_qkv(*self.from_input.head_qkv(0), note=note)
            self.tab = "qkv"

    def _on_tab(self, tab: str) -> None:
        if tab == "why":  # the curves open at the d_k of the Q·K·V tab
            self.why.set_d_k(max(self.qkv.d_k, 1))
            self.why.ensure_measured()
