"""The Q·K·V tab's state: Q, K, V, the mask, ÷√d_k, the temperature, the selection, and their trace. No Qt.

A part of :class:`~explorer.ui.panels.attention.state.AttentionState` (``state.qkv``), in a
module of its own because it is the largest. The numbers are either a preset and the
user's edits (1…64 per size), or a real model's head (:class:`RealHead`, up to 1,370
tokens and more) opened from the ViT or Video panel, which **Reset to model** restores.

Every change recomputes through :class:`~explorer.engine.attention.live.LiveAttention`:
an edit of one row recomputes what that row touches, anything else the whole head
through :func:`~explorer.engine.attention.core.attend`. The result is published as
``view`` (with what changed), which the widgets redraw from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from psygnal import evented

from explorer.engine.attention.core import causal_mask
from explorer.engine.attention.heads import RealHead
from explorer.engine.attention.live import Change, LiveAttention
from explorer.engine.attention.presets import (
    PRESETS,
    identity_like,
    preset,
    random_matrix,
)
from explorer.ui.panels.attention.text import TraceView
from explorer.ui.panels.state import hold_events, identity_fields

#: Someone to tell of an error the user must see: ``on_error(title, exception)``. None: raise it.
ErrorSink = Callable[[str, BaseException], None]

SIZE_NAMES = ("n_q", "n_k", "d_k", "d_v")
MIN_SIZE, MAX_SIZE = 1, 64  # per dimension, for numbers of the user's making
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def resized(values: np.ndarray, rows: int, cols: int, fill: float | bool = 0) -> np.ndarray:
    """``values`` cut or padded with ``fill`` to (rows, cols), keeping the overlap; the same array if it fits."""
    if values.shape == (rows, cols):
        return values
    new = np.full((rows, cols), fill, dtype=values.dtype)
    r, c = min(rows, values.shape[0]), min(cols, values.shape[1])
    new[:r, :c] = values[:r, :c]
    return new


def fail(on_error: ErrorSink | None, title: str, exc: BaseException) -> None:
    if on_error is None:
        raise exc
    on_error(title, exc)


@evented(equality_operators=identity_fields("q", "k", "v", "mask", "view", "real"))
@dataclass
class QKVState:
    """The Q·K·V tab. Starts on the first preset, the cheatsheet's worked example."""

    preset: str = PRESETS[0].name
    q: np.ndarray = field(init=False)  # (n_q, d_k)
    k: np.ndarray = field(init=False)  # (n_k, d_k)
    v: np.ndarray = field(init=False)  # (n_k, d_v)
    mask: np.ndarray = field(init=False)  # bool (n_q, n_k), True = may attend
    mask_on: bool = False
    scale: bool = True
    temperature: float = 1.0
    n_q: int = 1  # the sizes: always the shapes of q and v
    n_k: int = 1
    d_k: int = 1
    d_v: int = 1
    seed: int = 1  # of the next Random
    selected_query: int = 0  # always a row of the view
    selected_key: int = -1  # a key clicked (its patch is outlined on the image); -1: none
    hover: tuple[int, int] = (-1, -1)  # (query, key) under the pointer, always in the view; (-1, -1): none
    size_note: str = ""  # why a size was clamped; empty when none was
    note: str = ""  # where the numbers come from (a preset, the user, the From input tab, a model)
    view: TraceView | None = None  # what the widgets draw
    real: RealHead | None = None  # the model's head these numbers came from (Reset to model restores it)
    edited: bool = False  # the numbers differ from the model's (or the preset's)
    model_error: float | None = None  # max |weights − the model's own| when the real head was opened
    on_error: ErrorSink | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._live: LiveAttention | None = None
        self.load_preset(self.preset)

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The tokens' names of a real head ("[CLS]", "(3, 5)", "frame 2"); None for q1, k1, …"""
        return None if self.real is None else self.real.token_labels

    # -- what the user sets --------------------------------------------------------------------
    def load_preset(self, name: str) -> None:
        """Matrices, sizes, mask, scaling and temperature of preset ``name``; no hover left over."""
        item = preset(name)
        n_q, n_k = item.q.shape[0], item.k.shape[0]
        with hold_events(self):
            self.preset, self.real, self.model_error = name, None, None
            self.mask = item.mask.copy() if item.mask is not None else np.ones((n_q, n_k), dtype=bool)
            self.mask_on = item.mask is not None
            self.scale, self.temperature = item.scale, item.temperature
            self._set_matrices(item.q.copy(), item.k.copy(), item.v.copy())
            self.selected_query, self.selected_key = min(item.selected_query, n_q - 1), -1
            self.hover = (-1, -1)
            self.size_note = ""
            self.note = item.description
            self.edited = False
            self.recompute()

    def load_real(self, head: RealHead, *, query: int | None = None) -> None:
        """A model's head: its own Q, K, V (and causal mask), selected at its query (or ``query``)."""
        q, k, v = (head_matrix(m) for m in (head.q, head.k, head.v))
        n = q.shape[0]
        allowed = None if head.allowed is None else head_matrix(head.allowed).astype(bool)
        with hold_events(self):
            self.real = head
            self.mask = allowed if allowed is not None else np.ones((n, n), dtype=bool)
            self.mask_on = allowed is not None
            self.scale, self.temperature = True, 1.0
            self._set_matrices(q, k, v)
            self.selected_query = head.query if query is None else min(max(query, 0), n - 1)
            self.selected_key, self.hover = -1, (-1, -1)
            self.size_note = ""
            self.edited = False
            self.recompute()
            weights = np.asarray(head.weights, dtype=np.float64)
            self.model_error = float(np.abs(self.view.weights - weights).max())
            self.note = "The model's own Q, K and V on this input, one row per token: edit any value to see what follows."

    def reset(self) -> None:
        """Reset: the model's values when a real head is open (the query stays), else the preset again."""
        if self.real is not None:
            self.load_real(self.real, query=self.selected_query)
        else:
            self.load_preset(self.preset)

    def set_qkv(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, note: str = "") -> None:
        """Numbers from elsewhere (the From input tab); the mask keeps what still fits."""
        q, k, v = (np.array(m, dtype=np.float64) for m in (q, k, v))
        with hold_events(self):
            self.real, self.model_error = None, None
            self.mask = resized(self.mask, q.shape[0], k.shape[0], fill=True)
            self._set_matrices(q, k, v)
            self.recompute()
            self.note = note or self.note

    def sizes(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SIZE_NAMES}

    def set_sizes(self, **sizes: int) -> None:
        """Resize (clamped to 1…64, saying so in ``size_note``), keeping the overlapping values.

        A real head's numbers become the user's own: its tokens no longer fit.
        """
        new, clamped = self.sizes(), []
        for name, value in sizes.items():
            if name not in new:
                raise ValueError(f"unknown size {name!r}; use {', '.join(SIZE_NAMES)}")
            new[name] = int(min(max(int(value), MIN_SIZE), MAX_SIZE))
            if new[name] != value:
                clamped.append(f"{name} = {value} is outside {MIN_SIZE}…{MAX_SIZE}; it was set to {new[name]}.")
        n_q, n_k, d_k, d_v = (new[name] for name in SIZE_NAMES)
        with hold_events(self):
            if self.real is not None and new != self.sizes():
                self.real, self.model_error = None, None
            self.mask = resized(self.mask, n_q, n_k, fill=True)
            self._set_matrices(resized(self.q, n_q, d_k), resized(self.k, n_k, d_k), resized(self.v, n_k, d_v))
            self.size_note = " ".join(clamped)
            self.recompute()

    def set_size(self, name: str, value: int) -> None:
        """One size the user typed: the numbers become the user's own."""
        if value != getattr(self, name):
            self.set_sizes(**{name: value})
            self._mark_own()

    def edit(self, name: str, matrix: np.ndarray) -> str | None:
        """The user changed numbers of ``q``, ``k`` or ``v`` (``matrix``: the whole new matrix).

        Returns None, or why the change was refused (its products overflow): then
        nothing changed, and the caller shows the message beside the old numbers.
        """
        if name not in ("q", "k", "v"):
            raise ValueError(f"unknown matrix {name!r}; use q, k or v")
        matrix = np.array(matrix, dtype=np.float64)
        if matrix.shape != getattr(self, name).shape:  # not an edit: a program's mistake
            fail(self.on_error, "Attention", ValueError(
                f"{name.upper()} must keep its shape {getattr(self, name).shape}, got {matrix.shape}"))
            return None
        try:
            change = self._live.set_matrix(name, matrix)
        except ValueError as exc:
            return f"{exc}. The old value was kept."
        if change.empty:
            return None
        with hold_events(self, name, "view", "note", "edited"):  # only what an edit changes: cheap on every drag step
            setattr(self, name, matrix)
            self._publish(change)
            self._mark_own()
        return None

    def randomise(self) -> None:
        """N(0, 1) numbers from the seed, which then moves on (the same seed gives the same numbers)."""
        seed, self.seed = self.seed, self.seed + 1
        self._replace(random_matrix(self.n_q, self.d_k, seed), random_matrix(self.n_k, self.d_k, seed + 10_000),
                      random_matrix(self.n_k, self.d_v, seed + 20_000))

    def fill_zeros(self) -> None:
        self._replace(*(np.zeros_like(m) for m in (self.q, self.k, self.v)))

    def fill_identity(self) -> None:
        self._replace(*(identity_like(*m.shape) for m in (self.q, self.k, self.v)))

    def set_scale(self, on: bool) -> None:
        if on != self.scale:
            self.scale = bool(on)
            self.recompute()

    def set_temperature(self, temperature: float) -> None:
        if temperature != self.temperature:
            self.temperature = float(temperature)
            self.recompute()

    # -- the mask ----------------------------------------------------------------------------
    def set_mask_on(self, on: bool) -> None:
        if on != self.mask_on:
            self.mask_on = bool(on)
            self.recompute()

    def set_causal(self) -> None:
        """Query i sees keys 1…i; the mask is switched on."""
        self.mask = causal_mask(self.n_q, self.n_k).numpy()
        self.mask_on = True
        self.recompute()

    def allow_all(self) -> None:
        self.mask = np.ones((self.n_q, self.n_k), dtype=bool)
        self.recompute()

    def toggle_mask_cell(self, row: int, col: int) -> None:
        """Block or allow key ``col`` for query ``row``; the mask is switched on."""
        if 0 <= row < self.n_q and 0 <= col < self.n_k:
            mask = self.mask.copy()  # a new array: a change in place would emit no event
            mask[row, col] = not mask[row, col]
            self.mask = mask
            self.mask_on = True
            self.recompute()

    # -- selection ---------------------------------------------------------------------------
    def select_query(self, row: int) -> None:
        if self.view is not None and 0 <= row < self.view.scores.shape[0]:
            self.selected_query = row

    def select_key(self, col: int) -> None:
        """A key clicked (-1: none); on a real image head its patch is outlined."""
        if self.view is not None and -1 <= col < self.view.scores.shape[1]:
            self.selected_key = col

    def set_hover(self, row: int, col: int) -> None:
        self.hover = (row, col)

    # -- compute -----------------------------------------------------------------------------
    def recompute(self) -> None:
        """The whole head again through attend; the widgets follow ``view``.

        The selection and the hover are fitted to the new shape first: a new trace never
        leaves an index outside it.
        """
        mask = self.mask if self.mask_on else None
        scale: bool | float = self.scale
        if self.scale and self.real is not None and abs(self.real.scale * math.sqrt(self.d_k) - 1) > 1e-9:
            scale = self.real.scale  # a model with its own factor on the scores
        try:
            live = LiveAttention(self.q, self.k, self.v, mask=mask, scale=scale, temperature=self.temperature)
        except ValueError as exc:
            fail(self.on_error, "Attention", exc)
            return
        self._live = live
        self._publish(Change.everything())

    def _publish(self, change: Change) -> None:
        view = TraceView.from_live(self._live, change, self.labels)
        n_q, n_k = view.scores.shape
        with hold_events(self, "selected_query", "selected_key", "hover", "view"):
            self.selected_query = min(self.selected_query, n_q - 1)
            if self.selected_key >= n_k:
                self.selected_key = -1
            if self.hover[0] >= n_q or self.hover[1] >= n_k:
                self.hover = (-1, -1)
            self.view = view

    def _set_matrices(self, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        self.q, self.k, self.v = q, k, v
        self.n_q, self.d_k = q.shape
        self.n_k, self.d_v = v.shape

    def _replace(self, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        """New numbers of the user's making, at the sizes now."""
        with hold_events(self):
            self._set_matrices(q, k, v)
            self.recompute()
            self._mark_own()

    def _mark_own(self) -> None:
        self.edited = True
        if self.real is not None:
            self.note = "Edited: these are no longer the model's numbers. Reset to model restores them."
        else:
            self.note = f"Your own numbers (started from “{self.preset}”; Reset goes back to it)."


def head_matrix(values) -> np.ndarray:
    """A real head's tensor (float32 from the model) as the panel's own float64 array."""
    array = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)
    return np.array(array, dtype=np.float64)
