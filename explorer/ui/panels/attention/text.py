"""The words of the attention panel: the formula with live numbers, one note per step, the hover lines.

Pure functions of a trace's arrays (no Qt), so they are cheap to call on every
edit, easy to test, and usable by the panel's state. Long rows are shortened: at most :data:`MAX_TERMS`
terms are written out, the largest weights first, and the rest counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

import numpy as np

from explorer.engine.attention.live import Change, LiveAttention

MAX_TERMS = 6
MAX_DOT_TERMS = 4


@dataclass(frozen=True)
class TraceView:
    """The arrays of an attention head as NumPy (2-D, no batch): what the widgets draw and the words describe.

    ``labels`` name the tokens of a real head (queries and keys are the same tokens:
    "[CLS]", "(3, 5)", "frame 2"); None means q1, k1, … ``change`` says what differs
    from the view before, so a 1,370-token head redraws only that. A view made
    :meth:`from_live` shares the live arrays, which the next edit changes in place.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray
    scaled: np.ndarray
    logits: np.ndarray
    weights: np.ndarray
    output: np.ndarray
    allowed: np.ndarray
    masked_rows: np.ndarray
    scale: float
    temperature: float
    notes: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    change: Change = field(default_factory=Change.everything)

    @classmethod
    def of(cls, trace, labels: tuple[str, ...] | None = None) -> TraceView:
        return cls(
            q=trace.q.numpy(), k=trace.k.numpy(), v=trace.v.numpy(), scores=trace.scores.numpy(),
            scaled=trace.scaled.numpy(), logits=trace.logits.numpy(), weights=trace.weights.numpy(),
            output=trace.output.numpy(), allowed=trace.allowed.numpy(), masked_rows=trace.masked_rows.numpy(),
            scale=trace.scale, temperature=trace.temperature, notes=trace.notes, labels=labels,
        )

    @classmethod
    def from_live(cls, live: LiveAttention, change: Change, labels: tuple[str, ...] | None = None) -> TraceView:
        return cls(
            q=live.q, k=live.k, v=live.v, scores=live.scores, scaled=live.scaled, logits=live.logits,
            weights=live.weights, output=live.output, allowed=live.allowed, masked_rows=live.masked_rows,
            scale=live.factor, temperature=live.temperature, notes=live.notes, labels=labels, change=change,
        )

    def name(self, prefix: str, index: int) -> str:
        """``q3``, or for a real head the token's own name: ``q[CLS]``, ``k(3, 5)``, ``v[frame 2]``."""
        if self.labels is None or index >= len(self.labels):
            return f"{prefix}{index + 1}"
        label = self.labels[index]
        return f"{prefix}{label}" if label[:1] in "([" else f"{prefix}[{label}]"


def num(value: float, digits: int = 3) -> str:
    """A number as people write it: 0.707, -1, 1.2e+05; minus sign typographic."""
    if not math.isfinite(value):
        return "−∞" if value < 0 else ("∞" if value > 0 else "NaN")
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 10 ** -digits):
        text = f"{value:.{digits - 1}e}"
    else:
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
    return text.replace("-", "−")


def vec(values: np.ndarray, limit: int = 6) -> str:
    items = [num(float(x)) for x in values[:limit]]
    if len(values) > limit:
        items.append(f"… {len(values) - limit} more")
    return "[" + ", ".join(items) + "]"


def _shown_keys(weights: np.ndarray, allowed: np.ndarray) -> tuple[list[int], int]:
    """Keys to write out (in key order): all when few, else the largest weights."""
    n = len(weights)
    if n <= MAX_TERMS:
        return list(range(n)), 0
    top = np.argsort(-weights, kind="stable")[:MAX_TERMS]
    return sorted(int(j) for j in top), n - MAX_TERMS


def formula_html(view: TraceView, row: int) -> str:
    """softmax(q·Kᵀ/√d_k)·V written out for query ``row`` with its actual numbers (its largest weights first)."""
    q = view.q[row]
    d_k = len(q)
    keys, hidden = _shown_keys(view.weights[row], view.allowed[row])
    more = f" <i>… and {hidden} more keys</i>" if hidden else ""
    qi = escape(view.name("q", row))
    kn = lambda j: escape(view.name("k", j))
    vn = lambda j: escape(view.name("v", j))
    lines = [f"<b>{qi}</b> = {vec(q)}"]

    # 1. scores
    terms = []
    for j in keys:
        if d_k <= MAX_DOT_TERMS:  # short enough to write every product
            products = " + ".join(f"{num(a, 2)}·{num(b, 2)}" for a, b in zip(q, view.k[j])) + " = "
        else:
            products = ""
        terms.append(f"{kn(j)}: {products}<b>{num(view.scores[row, j])}</b>")
    sum_note = f" (sums of {d_k} products)" if d_k > MAX_DOT_TERMS else ""
    lines.append("<b>① scores</b> " + qi + "·k<sub>j</sub>" + sum_note + " &nbsp; " + " &nbsp;│&nbsp; ".join(terms) + more)

    # 2. scaling (and temperature)
    if view.scale == 1.0:
        step = "<b>② scaling off</b> (÷1)"
    elif abs(view.scale * math.sqrt(d_k) - 1) < 1e-12:
        step = f"<b>② ÷√d<sub>k</sub></b> = ÷√{d_k} = ÷{num(math.sqrt(d_k))}"
    else:
        step = f"<b>② × {num(view.scale)}</b>"
    step += " → " + ", ".join(f"{kn(j)}: {num(view.scaled[row, j])}" for j in keys) + more
    if view.temperature != 1.0:
        step += f" &nbsp; then ÷ temperature {num(view.temperature)}"
    lines.append(step)

    # 3. softmax
    allowed = view.allowed[row]
    if view.masked_rows[row]:
        lines.append("<b>③ softmax</b>: every key is masked for this query — no weights (all 0), output 0.")
    else:
        logits = view.logits[row]
        finite = logits[allowed]
        top = float(finite.max())
        exps = np.where(allowed, np.exp(np.where(allowed, logits, top) - top), 0.0)
        total = float(exps.sum())
        parts = []
        for j in keys:
            if not allowed[j]:
                parts.append(f"{kn(j)}: masked → 0")
            else:
                parts.append(f"{kn(j)}: e<sup>{num(logits[j] - top)}</sup> = {num(exps[j])}")
        lines.append(
            "<b>③ softmax</b> (subtract the row max " + num(top) + ", exponentiate, divide by the sum "
            + num(total) + "): " + ", ".join(parts) + more
            + " → weights " + ", ".join(f"<b>{num(view.weights[row, j])}</b>" for j in keys)
        )

    # 4. weighted sum of V rows
    terms = [f"{num(view.weights[row, j])}·{vn(j)}" for j in keys]
    lines.append(
        f"<b>④ output</b> {escape(view.name('o', row))} = " + " + ".join(terms) + (f" + … ({hidden} more)" if hidden else "")
        + f" = <b>{vec(view.output[row])}</b>"
    )
    return "<br>".join(lines)


def _spread(values: np.ndarray) -> float:
    """The standard deviation; ∞ (said as such) when the squares of huge entries pass float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(values.std())


def step_notes(view: TraceView, row: int) -> list[tuple[str, str]]:
    """(title, html) for each step, about the numbers on screen now."""
    n_q, n_k = view.scores.shape
    d_k = view.q.shape[1]
    qi = escape(view.name("q", row))
    scores = view.scores[row]  # every statistic is of the selected query's row: n_k numbers, however large the head
    best = int(np.argmax(np.where(view.allowed[row], scores, -np.inf))) if view.allowed[row].any() else int(np.argmax(scores))
    notes: list[tuple[str, str]] = []
    notes.append((
        "Scores",
        f"Q·Kᵀ compares every query with every key ({n_q}×{n_k} dot products). {qi} scores highest with "
        f"{escape(view.name('k', best))} ({num(scores[best])}): the two point the same way. "
        f"{qi}'s scores spread with std {num(_spread(scores))}.",
    ))
    if view.scale == 1.0:
        text = (f"Scaling is off. With d<sub>k</sub> = {d_k}, random scores spread like √{d_k} ≈ {num(math.sqrt(d_k))}; "
                "large spreads push the softmax to one-hot (see <i>Why scale?</i>).")
    else:
        text = (f"Dividing by √{d_k} = {num(math.sqrt(d_k))} takes the spread of {qi}'s scores from std "
                f"{num(_spread(scores))} to {num(_spread(view.scaled[row]))}, so the softmax stays soft as "
                "d<sub>k</sub> grows.")
    if view.temperature != 1.0:
        text += (f" Temperature {num(view.temperature)} {'flattens' if view.temperature > 1 else 'sharpens'} "
                 "the weights further.")
    notes.append(("Scale", text))
    if view.masked_rows[row]:
        soft = f"Every key is masked for {qi}: there is nothing to average, so its weights and output are 0."
    else:
        w = view.weights[row]
        top = int(np.argmax(w))
        h = float(-(w[w > 0] * np.log(w[w > 0])).sum())
        soft = (f"Softmax turns {qi}'s scores into weights that sum to 1: {escape(view.name('k', top))} gets "
                f"{num(100 * float(w[top]), 1)}%. "
                f"Entropy {num(h, 2)} nats of at most ln {int(view.allowed[row].sum())} = "
                f"{num(math.log(max(int(view.allowed[row].sum()), 1)), 2)} (lower = more focused).")
        masked = int((~view.allowed[row]).sum())
        if masked:
            soft += f" {masked} masked key{'s get' if masked > 1 else ' gets'} weight 0."
    notes.append(("Softmax", soft))
    w = view.weights[row]
    order = np.argsort(-w)[:2]
    mix = " and ".join(f"{escape(view.name('v', j))} ({num(100 * float(w[j]), 1)}%)" for j in order if w[j] > 0)
    notes.append((
        "Output",
        f"{escape(view.name('o', row))} = {vec(view.output[row], 4)} is a weighted average of the value rows, mostly {mix or 'nothing'}: "
        "attention mixes values, it does not create new ones." if mix else
        f"{escape(view.name('o', row))} is 0: no key is visible to {qi}.",
    ))
    notes.append((
        "Common mistake",
        "The attention weights are not parameters: they are computed from the input, so changing any number of "
        "Q or K moves them at once. The parameters are the projections W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub> "
        "that make Q, K, V from the tokens (<i>From input</i>); they stay fixed until training changes them.",
    ))
    for note in view.notes:
        notes.append(("Masked rows", escape(note)))
    return notes


def notes_html(view: TraceView, row: int) -> str:
    return "<br>".join(f"<b>{escape(title)}.</b> {body}" for title, body in step_notes(view, row))


def explain_cell(view: TraceView, row: int, col: int) -> tuple[str, str, str]:
    """Where the hovered (query, key) numbers came from: the lines under the scores, scaled and weights maps."""
    qi, kj = view.name("q", row), view.name("k", col)
    scores = f"{qi}·{kj} = {num(view.scores[row, col])}"
    if view.scale == 1.0:
        scaled = f"{qi}·{kj} unscaled = {num(view.scaled[row, col])}"
    else:
        scaled = f"{num(view.scores[row, col])} × {num(view.scale)} = {num(view.scaled[row, col])}"
    if not view.allowed[row, col]:
        weights = f"{qi} → {kj}: masked, weight 0"
    elif view.masked_rows[row]:
        weights = f"{qi}: every key masked, weight 0"
    else:
        logits = view.logits[row]
        top = float(logits[view.allowed[row]].max())
        total = float(np.exp(logits[view.allowed[row]] - top).sum())
        weights = f"{qi} → {kj}: e^({num(logits[col] - top)}) / {num(total)} = {num(view.weights[row, col])}"
    return scores, scaled, weights


def input_note_html(source: str, change: float | None, params_moved: bool, heads: int, d_model: int) -> str:
    """The From-input tab's note after an edit of ``source``: what moved (``change``: largest weight change)."""
    lines = []
    if change is not None and source == "the input X":
        lines.append(
            f"You changed <b>the input X</b>: attention weights moved by up to <b>{num(change)}</b>, "
            f"while W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub>, W<sub>O</sub> stayed exactly the same "
            f"({'changed' if params_moved else 'unchanged'}). The weights are computed from the input."
        )
    elif change is not None and source == "a projection matrix":
        lines.append(
            f"You changed <b>a projection matrix</b>, a parameter: in a real model only training does that, "
            f"not a new input. The weights moved by up to {num(change)}."
        )
    if not lines:
        lines.append(
            "Attention weights are <b>not</b> parameters: they are recomputed from X for every input. "
            "The parameters are W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub>, W<sub>O</sub>; "
            "they stay fixed until training changes them. Edit X to see it."
        )
    lines.append(
        f"{heads} head{'s' if heads > 1 else ''} of d<sub>k</sub> = {d_model // heads}: each head has its own slice of the "
        "projections, so each can attend to different tokens; the heads' outputs are concatenated and mixed by W<sub>O</sub>."
    )
    return "<br>".join(lines)
