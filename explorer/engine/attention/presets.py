"""Starting points for the attention panel: each makes one idea visible.

Plain data (NumPy), no Qt. The first preset is the cheatsheet's worked
example and the panel's default state: q = [1, 0]; keys [1, 0], [0, 1],
[1, 1]; values the same, giving weights [0.401, 0.198, 0.401].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AttentionPreset:
    name: str
    q: np.ndarray  # (n_q, d_k)
    k: np.ndarray  # (n_k, d_k)
    v: np.ndarray  # (n_k, d_v)
    description: str
    mask: np.ndarray | None = None  # bool (n_q, n_k), True = may attend; None = no mask
    scale: bool = True
    temperature: float = 1.0
    selected_query: int = 0
    extra: dict = field(default_factory=dict)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _worked_example() -> AttentionPreset:
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    return AttentionPreset(
        "Worked example (cheatsheet)",
        q=np.array([[1.0, 0.0]]), k=keys, v=keys.copy(),
        description="q = [1, 0] against keys [1, 0], [0, 1], [1, 1]: scores [1, 0, 1], "
        "÷√2 → [0.707, 0, 0.707], softmax → [0.401, 0.198, 0.401], output [0.802, 0.599].",
    )


def _lookup() -> AttentionPreset:
    keys = np.eye(4) * 3.0
    values = _rng(1).normal(size=(4, 3)).round(2)
    return AttentionPreset(
        "Sharp lookup: each query matches one key",
        q=np.array([[0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 3.0]]), k=keys, v=values,
        description="Each query points at one key: its weight is near 1 and the output is almost that key's "
        "value row: attention as a soft dictionary lookup.",
    )


def _uniform() -> AttentionPreset:
    return AttentionPreset(
        "Uniform: all keys alike",
        q=_rng(2).normal(size=(2, 3)).round(2), k=np.tile([[0.5, -0.5, 1.0]], (4, 1)),
        v=np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]),
        description="Identical keys give identical scores, so every weight is 1/4 and the output is the "
        "plain mean of the value rows, whatever the query.",
    )


def _causal() -> AttentionPreset:
    x = _rng(3).normal(size=(5, 4)).round(2)
    return AttentionPreset(
        "Causal self-attention (5 tokens)",
        q=x, k=x.copy(), v=x.copy(), mask=np.tril(np.ones((5, 5), dtype=bool)), selected_query=4,
        description="Q = K = V = the same 5 tokens, with a causal mask: token i sees tokens 1…i only, as in a "
        "decoder generating words one at a time.",
    )


def _large_dk_unscaled() -> AttentionPreset:
    gen = _rng(4)
    return AttentionPreset(
        "d_k = 64 without scaling",
        q=gen.normal(size=(4, 64)).round(2), k=gen.normal(size=(6, 64)).round(2),
        v=gen.normal(size=(6, 3)).round(2), scale=False,
        description="Random unit-variance q and k with d_k = 64: the scores spread with std ≈ 8, so without "
        "÷√d_k each softmax row is nearly one-hot. Turn scaling on to see the weights soften.",
    )


def _random_8() -> AttentionPreset:
    gen = _rng(0)
    return AttentionPreset(
        "Random 8 × 8 (seed 0)",
        q=gen.normal(size=(8, 8)).round(2), k=gen.normal(size=(8, 8)).round(2), v=gen.normal(size=(8, 8)).round(2),
        description="Random Q, K, V: a typical, unstructured attention map.",
    )


PRESETS: tuple[AttentionPreset, ...] = (
    _worked_example(),
    _lookup(),
    _uniform(),
    _causal(),
    _large_dk_unscaled(),
    _random_8(),
)


def preset(name: str) -> AttentionPreset:
    for item in PRESETS:
        if item.name == name:
            return item
    raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(p.name for p in PRESETS)}")


def random_matrix(rows: int, cols: int, seed: int) -> np.ndarray:
    """N(0, 1) entries, rounded to 2 decimals so they read well in the editors."""
    return _rng(seed).normal(size=(rows, cols)).round(2)


def identity_like(rows: int, cols: int) -> np.ndarray:
    """Ones on the main diagonal of a possibly rectangular matrix."""
    return np.eye(rows, cols)


# -- "From input": token inputs and projections -------------------------------------------------
@dataclass(frozen=True)
class InputPreset:
    x: np.ndarray  # (n, d_model)
    w_q: np.ndarray  # (d_model, h·d_k)
    w_k: np.ndarray
    w_v: np.ndarray  # (d_model, h·d_v)
    w_o: np.ndarray  # (h·d_v, d_model)
    num_heads: int
    x_kv: np.ndarray  # (m, d_model) second input for cross-attention


def default_input(n: int = 5, d_model: int = 4, num_heads: int = 2, seed: int = 0) -> InputPreset:
    """Tokens and projections drawn once from ``seed`` (weights ~ N(0, 1/d_model), as at initialisation)."""
    gen = _rng(seed)
    std = 1 / np.sqrt(d_model)
    return InputPreset(
        x=gen.normal(size=(n, d_model)).round(2),
        w_q=(gen.normal(size=(d_model, d_model)) * std).round(2),
        w_k=(gen.normal(size=(d_model, d_model)) * std).round(2),
        w_v=(gen.normal(size=(d_model, d_model)) * std).round(2),
        w_o=(gen.normal(size=(d_model, d_model)) * std).round(2),
        num_heads=num_heads,
        x_kv=gen.normal(size=(n + 1, d_model)).round(2),
    )
