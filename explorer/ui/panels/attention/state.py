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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from psygnal import evented

from explorer.engine.attention.presets import PRESETS
from explorer.engine.attention.why_scale import (
    WhyScaleStats,
    why_scale,
    why_scale_example,
)
from explorer.ui.panels.attention.from_input_state import (
    INPUT_MATRICES,
    MAX_D_MODEL,
    MAX_HEADS_SHOWN,
    MAX_TOKENS,
    FromInputState,
    head_choices,
)
from explorer.ui.panels.attention.qkv_state import (
    MAX_SIZE,
    MAX_TEMPERATURE,
    MIN_SIZE,
    MIN_TEMPERATURE,
    SIZE_NAMES,
    ErrorSink,
    QKVState,
)
from explorer.ui.panels.state import Runner, identity_fields, persisted, run_now

__all__ = [
    "INPUT_MATRICES", "MAX_D_MODEL", "MAX_HEADS_SHOWN", "MAX_SIZE", "MAX_TEMPERATURE", "MAX_TOKENS", "MIN_SIZE",
    "MIN_TEMPERATURE", "SIZE_NAMES", "AttentionState", "ErrorSink", "FromInputState", "QKVState", "WhyScaleState",
    "head_choices",
]

#: The d_k values the curves are measured at: every small value, then log-spaced up to 1024.
D_VALUES = np.unique(np.round(np.geomspace(1, 1024, 160)).astype(int))
#: The Why scale? slider's stops: evenly spaced in log₂ d_k from 1 to 1024, like the plots' x axis
#: (a slider over the D_VALUES' indices would move linearly where the values are every integer).
SLIDER_STEPS = 200
N_KEYS = 16
TABS = ("qkv", "why", "input")


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
        """The slider's stop for d_k: 0 … SLIDER_STEPS, evenly spaced in log₂ d_k."""
        return round(math.log2(self.d_k) / math.log2(D_VALUES[-1]) * SLIDER_STEPS)

    def set_position(self, position: int) -> None:
        """The slider moved: the d_k at that point of the log scale (snapped to a measured value)."""
        self.set_d_k(round(2 ** (min(max(position, 0), SLIDER_STEPS) / SLIDER_STEPS * math.log2(D_VALUES[-1]))))

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
        self.from_input = FromInputState(runner=self.runner, on_error=self.on_error)
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
        """The chosen head's Q, K and V from the From input tab into the Q·K·V tab, shown.

        A real layer's head arrives as a real head: its tokens' names and its picture come along.
        """
        source = self.from_input
        if source.trace is None:
            return
        head = min(source.send_head, source.trace.num_heads - 1)
        if source.real is not None:
            self.qkv.load_real(source.head_as_real(head))
            self.qkv.note = f"Q, K, V of head {head + 1}, computed from the image's tokens on the From input tab."
        else:
            note = f"Q, K, V of head {head + 1}, computed from the tokens on the From input tab."
            self.qkv.set_qkv(*source.head_qkv(head), note=note)
        self.tab = "qkv"

    def _on_tab(self, tab: str) -> None:
        if tab == "why":  # the curves open at the d_k of the Q·K·V tab
            self.why.set_d_k(max(self.qkv.d_k, 1))
            self.why.ensure_measured()
