"""Why divide by √d_k? The spread of q·k and the softmax entropy as d_k grows, with and without scaling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.attention.core import attend, entropy


# -- why scale? -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WhyScaleStats:
    """For random unit-variance q and k: how the scores spread and how peaked the softmax is."""

    d_k: np.ndarray  # (D,)
    std_raw: np.ndarray  # (D,) std of q·k (grows like √d_k)
    std_scaled: np.ndarray  # (D,) std of q·k/√d_k (stays near 1)
    entropy_raw: np.ndarray  # (D,) mean softmax entropy, nats (falls towards 0: one key takes all)
    entropy_scaled: np.ndarray  # (D,) stays near its d-independent value
    max_weight_raw: np.ndarray  # (D,) mean largest weight in a row
    max_weight_scaled: np.ndarray  # (D,)
    n_keys: int
    samples: int

    @property
    def max_entropy(self) -> float:
        """log(n_keys): the entropy of uniform weights."""
        return math.log(self.n_keys)


def why_scale(d_values=None, *, n_keys: int = 16, samples: int = 256, seed: int = 0, reporter=None) -> WhyScaleStats:
    """Measure, for each d_k, the score spread and softmax entropy with and without ÷√d_k.

    ``samples`` queries each score ``n_keys`` keys; q and k have independent
    N(0, 1) entries drawn from a generator seeded with ``seed``. The vectors for
    a smaller d_k are the first d_k coordinates of the largest ones, so one
    running sum of q_i·k_i gives the scores for every d_k at once (the same
    statistics as separate draws, at the cost of one draw). ``d_values``
    defaults to 48 values spread log-evenly over 1…1024. ``reporter``
    (optional) gets progress.
    """
    if d_values is None:
        d_values = np.unique(np.round(np.geomspace(1, 1024, 48)).astype(int))
    d_values = np.atleast_1d(np.asarray(d_values, dtype=int))
    if (d_values < 1).any() or (d_values > 4096).any():
        raise ValueError("d_k must lie between 1 and 4096")
    d_max = int(d_values.max())
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(samples, 1, d_max, generator=gen, dtype=torch.float64)  # (S, 1, D)
    k = torch.randn(samples, n_keys, d_max, generator=gen, dtype=torch.float64)  # (S, n, D)
    running = torch.cumsum(q * k, dim=-1)  # (S, n, D): running[..., d-1] = q[:d]·k[:d]
    rows = {name: np.empty(len(d_values)) for name in ("sr", "ss", "er", "es", "mr", "ms")}
    for i, d in enumerate(d_values):
        scores = running[..., int(d) - 1]  # (S, n)
        scaled = scores / math.sqrt(d)
        w_raw = torch.softmax(scores, dim=-1)
        w_scaled = torch.softmax(scaled, dim=-1)
        rows["sr"][i] = float(scores.std())
        rows["ss"][i] = float(scaled.std())
        rows["er"][i] = float(entropy(w_raw).mean())
        rows["es"][i] = float(entropy(w_scaled).mean())
        rows["mr"][i] = float(w_raw.amax(-1).mean())
        rows["ms"][i] = float(w_scaled.amax(-1).mean())
        if reporter is not None and (i % 8 == 7 or i == len(d_values) - 1):
            reporter.report((i + 1) / len(d_values), f"d_k = {d}")
    return WhyScaleStats(
        d_k=d_values, std_raw=rows["sr"], std_scaled=rows["ss"], entropy_raw=rows["er"], entropy_scaled=rows["es"],
        max_weight_raw=rows["mr"], max_weight_scaled=rows["ms"], n_keys=n_keys, samples=samples,
    )


def why_scale_example(d_k: int, *, n_keys: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One random query's weights over ``n_keys`` random keys: (without scaling, with ÷√d_k)."""
    gen = torch.Generator().manual_seed(seed * 7919 + int(d_k))
    q = torch.randn(1, int(d_k), generator=gen, dtype=torch.float64)  # (1, d)
    k = torch.randn(n_keys, int(d_k), generator=gen, dtype=torch.float64)  # (n, d)
    raw = attend(q, k, k, scale=False).weights[0].numpy()
    scaled = attend(q, k, k, scale=True).weights[0].numpy()
    return raw, scaled
