"""Attention kept live under edits: one changed row of Q, K or V recomputes only what it touches.

The Attention panel holds a real head — up to 1,370 tokens (DINOv2 at 518 px) —
and recomputes on every keystroke or drag. :func:`~explorer.engine.attention.core.attend`
on the whole head costs ~100 ms at that size (n² exponentials, an n²·d product); an
edit must redraw within a frame. What an edit really changes is small:

* a **query row** i changes row i of the scores, scaled scores, weights and
  output — recomputed by :func:`attend` on that one row (n·d work);
* a **key row** j changes column j of the scores (n·d), and every weight row
  renormalises: with Z_i = Σ_k exp(l_ik − m_i) kept per row, the new weights are
  the old ones × Z_i / Z'_i, except column j, and the output follows as
  o'_i = (Z_i / Z'_i)·(o_i − w_ij·v_j) + w'_ij·v_j (n·d, plus one n² multiply);
* a **value row** j adds w_:j ⊗ (v'_j − v_j) to the output (n·d).

The shortcut for a key is exact to rounding except where it would cancel: a
row in which the old key held more than half the weight (Z_i − e_ij loses
digits), or whose new logit exceeds the row's reference maximum by a lot; such
rows are recomputed by :func:`attend` on the row. Tests compare long random
edit sequences with a fresh :func:`attend` (agreement ~1e-13). Anything else —
several rows at once, the mask, the scale, the temperature — recomputes the
whole head through :func:`attend`. An edit whose products overflow raises
``ValueError`` before anything is changed: the numbers stay as they were.

Only boolean masks (True = may attend) are supported here: the panel's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.attention.core import AttentionTrace, attend, check_finite

#: A key that held more than this share of a row's weight makes that row recompute exactly.
CANCEL_SHARE = 0.5
#: A new logit this far above the row's reference maximum makes that row recompute exactly.
MAX_LOGIT_JUMP = 300.0
MATRICES = ("q", "k", "v")


@dataclass(frozen=True)
class Change:
    """What one edit changed, so the views redraw only that.

    ``rows``: query rows whose scores, scaled scores, logits, weights and output all
    changed; ``key_cols``: key columns whose scores, scaled scores and logits changed
    for every query; ``weights_all`` / ``output_all``: every weight / output row
    changed; ``full``: everything, shapes included (a reset).
    """

    full: bool = False
    rows: tuple[int, ...] = ()
    key_cols: tuple[int, ...] = ()
    weights_all: bool = False
    output_all: bool = False

    @classmethod
    def everything(cls) -> Change:
        return cls(full=True, weights_all=True, output_all=True)

    @property
    def empty(self) -> bool:
        return not (self.full or self.rows or self.key_cols or self.weights_all or self.output_all)


class LiveAttention:
    """One attention head's every step (float64 NumPy arrays), updated in place by row edits.

    The arrays (``q k v scores scaled logits weights output allowed masked_rows``) are
    the object's own and change in place; read them, copy what you keep.
    """

    def __init__(self, q, k, v, *, mask=None, scale: bool | float = True, temperature: float = 1.0) -> None:
        self._settings = (mask, scale, temperature)
        self._adopt(attend(q, k, v, mask=mask, scale=scale, temperature=temperature), mask)

    # -- whole-head recomputation --------------------------------------------------------------
    def _adopt(self, trace: AttentionTrace, mask) -> None:
        own = lambda t: np.array(t.numpy(), dtype=np.float64)  # copies: attend may share its inputs
        self.q, self.k, self.v = own(trace.q), own(trace.k), own(trace.v)
        self.scores, self.scaled, self.logits = own(trace.scores), own(trace.scaled), own(trace.logits)
        self.weights, self.output = own(trace.weights), own(trace.output)
        self.allowed = np.array(trace.allowed.numpy(), dtype=bool)
        self.masked_rows = np.array(trace.masked_rows.numpy(), dtype=bool)
        self.has_mask = mask is not None
        self.factor, self.temperature, self.notes = trace.scale, trace.temperature, trace.notes
        self._reference_rows(np.arange(self.q.shape[0]))

    def _reference_rows(self, rows: np.ndarray) -> None:
        """m_i (the row's largest logit) and Z_i = Σ exp(l − m_i) = 1 / max_j w_ij, without an exp."""
        if not hasattr(self, "_m") or len(self._m) != self.q.shape[0]:
            self._m = np.zeros(self.q.shape[0])
            self._z = np.ones(self.q.shape[0])
        if len(rows) == 0:
            return
        logits = self.logits[rows]
        top = np.max(logits, axis=1)
        peak = np.max(self.weights[rows], axis=1)
        alive = ~self.masked_rows[rows]
        self._m[rows] = np.where(alive, top, 0.0)
        self._z[rows] = np.where(alive & (peak > 0), 1.0 / np.where(peak > 0, peak, 1.0), 1.0)

    def recompute(self, *, mask=..., scale=..., temperature=...) -> Change:
        """Everything again through :func:`attend` (with new settings where given)."""
        old_mask, old_scale, old_temperature = self._settings
        settings = (
            old_mask if mask is ... else mask,
            old_scale if scale is ... else scale,
            old_temperature if temperature is ... else temperature,
        )
        trace = attend(self.q, self.k, self.v, mask=settings[0], scale=settings[1], temperature=settings[2])
        self._settings = settings
        self._adopt(trace, settings[0])
        return Change.everything()

    def replace(self, q, k, v, *, mask=...) -> Change:
        """New matrices (any shapes that fit together), recomputed through :func:`attend`."""
        settings = (self._settings[0] if mask is ... else mask, *self._settings[1:])
        trace = attend(q, k, v, mask=settings[0], scale=settings[1], temperature=settings[2])
        self._settings = settings
        self._adopt(trace, settings[0])
        return Change.everything()

    def trace(self) -> AttentionTrace:
        """The numbers now as an :class:`AttentionTrace` (views of these arrays, no copy)."""
        t = torch.from_numpy
        return AttentionTrace(
            q=t(self.q), k=t(self.k), v=t(self.v), scores=t(self.scores), scaled=t(self.scaled),
            logits=t(self.logits), weights=t(self.weights), output=t(self.output), allowed=t(self.allowed),
            masked_rows=t(self.masked_rows), scale=self.factor, temperature=self.temperature, notes=self.notes,
        )

    # -- edits ---------------------------------------------------------------------------------
    def set_matrix(self, name: str, matrix) -> Change:
        """``name``'s new values: one changed row is an incremental edit, more recompute everything."""
        if name not in MATRICES:
            raise ValueError(f"unknown matrix {name!r}; use q, k or v")
        matrix = np.asarray(matrix, dtype=np.float64)
        old = getattr(self, name)
        if matrix.shape != old.shape:
            q, k, v = (matrix if n == name else getattr(self, n) for n in MATRICES)
            return self.replace(q, k, v)
        changed = np.flatnonzero((matrix != old).any(axis=1))
        if len(changed) == 0:
            return Change()
        if len(changed) == 1:
            return self.set_row(name, int(changed[0]), matrix[changed[0]])
        q, k, v = (matrix if n == name else getattr(self, n) for n in MATRICES)
        return self.replace(q, k, v, mask=self._settings[0])

    def set_row(self, name: str, row: int, values) -> Change:
        """Row ``row`` of ``name`` ("q", "k" or "v") becomes ``values``; returns what changed."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        matrix = getattr(self, name) if name in MATRICES else None
        if matrix is None:
            raise ValueError(f"unknown matrix {name!r}; use q, k or v")
        if not 0 <= row < matrix.shape[0] or values.shape != (matrix.shape[1],):
            raise ValueError(f"{name.upper()} row {row} with {values.size} values does not fit shape {matrix.shape}")
        if not np.isfinite(values).all():
            raise ValueError(f"{name.upper()} contains NaN or infinity; every entry must be a finite number")
        return {"q": self._set_query, "k": self._set_key, "v": self._set_value}[name](row, values)

    def _set_query(self, i: int, values: np.ndarray) -> Change:
        q = self.q.copy()
        q[i] = values
        self._attend_rows(np.array([i]), q)  # raises before changing anything
        self.q[i] = values
        return Change(rows=(i,))

    def _set_value(self, j: int, values: np.ndarray) -> Change:
        with np.errstate(over="ignore", invalid="ignore"):
            delta = values - self.v[j]  # (d_v,): 1e308 − (−1e308) overflows though the result need not
            output = self.output + np.outer(self.weights[:, j], delta)  # (n_q, d_v)
        if not np.isfinite(output).all():  # the weighted average itself: weights · V, as attend forms it
            v = self.v.copy()
            v[j] = values
            output = self.weights @ v
            check_finite(torch.from_numpy(output), "the output weights·V", "V")
        self.v[j] = values
        self.output = output
        return Change(output_all=True)

    def _set_key(self, j: int, values: np.ndarray) -> Change:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is checked for, and refused, below
            scores = self.q @ values  # (n_q,)
            scaled = scores * self.factor
            logits = scaled if self.temperature == 1.0 else scaled / self.temperature
        check_finite(torch.from_numpy(scores), "Q·Kᵀ", "Q and K")
        allowed = self.allowed[:, j]
        check_finite(torch.from_numpy(logits[allowed]), "the scaled scores", "Q and K, or raise the temperature,")
        logits = np.where(allowed, logits, -np.inf)

        old_w = self.weights[:, j].copy()
        jump = np.where(allowed, logits - self._m, -np.inf)  # (n_q,)
        exact = allowed & ((old_w > CANCEL_SHARE) | (jump > MAX_LOGIT_JUMP))
        e_old = old_w * self._z
        with np.errstate(over="ignore", under="ignore"):
            e_new = np.where(allowed & ~exact, np.exp(np.minimum(jump, MAX_LOGIT_JUMP)), 0.0)
        z_new = self._z - e_old + e_new
        quick = allowed & ~exact
        exact |= quick & ~(z_new > 1e-200)  # so many keys shrank that Z underflows: start the row afresh
        quick &= ~exact
        if exact.any():  # these rows go through attend: check them before anything changes
            k = self.k.copy()
            k[j] = values
            rows = np.flatnonzero(exact)
            fresh = self._attend_rows(rows, self.q, k, commit=False)

        self.k[j] = values
        self.scores[:, j], self.scaled[:, j], self.logits[:, j] = scores, scaled, logits
        if quick.any():
            ratio = np.where(quick, self._z / np.where(quick, z_new, 1.0), 1.0)  # (n_q,), ≤ 2 here
            new_w = np.where(quick, e_new / np.where(quick, z_new, 1.0), old_w)
            self.weights *= ratio[:, None]
            self.weights[:, j] = new_w
            v_j = self.v[j]
            self.output = ratio[:, None] * (self.output - old_w[:, None] * v_j) + new_w[:, None] * v_j
            self._z = np.where(quick, z_new, self._z)
        if exact.any():
            self._write_rows(rows, fresh)
        return Change(key_cols=(j,), weights_all=True, output_all=True)

    # -- rows through attend -------------------------------------------------------------------
    def _attend_rows(self, rows: np.ndarray, q: np.ndarray, k: np.ndarray | None = None, *, commit: bool = True):
        """:func:`attend` on these query rows (with ``q`` and ``k`` as given); written back if ``commit``."""
        k = self.k if k is None else k
        mask = self.allowed[rows] if self.has_mask else None
        trace = attend(q[rows], k, self.v, mask=mask, scale=self.factor, temperature=self.temperature)
        if commit:
            self._write_rows(rows, trace)
        return trace

    def _write_rows(self, rows: np.ndarray, trace: AttentionTrace) -> None:
        self.scores[rows] = trace.scores.numpy()
        self.scaled[rows] = trace.scaled.numpy()
        self.logits[rows] = trace.logits.numpy()
        self.weights[rows] = trace.weights.numpy()
        self.output[rows] = trace.output.numpy()
        self.masked_rows[rows] = trace.masked_rows.numpy()
        self._reference_rows(rows)
