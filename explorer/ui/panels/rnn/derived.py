"""What the RNN panel's state derives from a trace for the views to draw. No Qt.

- :func:`strip_terms`: every term of the update rule, in reading order, each
  over the whole sequence, so a step only picks a row of each.
- :func:`term_value_text`: the sentence a hover over one strip shows.
- :class:`Readout`: a trained model's class probabilities after each step,
  with the answer it should give, made together with the trace they read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Gates that are sigmoids (0…1) are shown on the sequential map; the rest are signed.
SIGMOID_GATES = ("i", "f", "o", "r", "z")

#: One strip of the update rule: (key, label, values over time (T, n), colour kind).
Term = tuple[str, str, np.ndarray, str]


def strip_terms(trace) -> list[Term]:
    """The update rule's terms in reading order: (key, label, values over time (T, n), colour kind).

    ``colour kind`` is "diverging" (signed) or "sequential" (a sigmoid gate, 0…1).
    """
    T = trace.length
    kind = trace.kind
    b = np.broadcast_to(trace.bias_ih + trace.bias_hh, trace.pre.shape)  # (T, blocks·H)
    terms = [("x", "x_t  (input)", trace.x, "diverging"), ("h_prev", "h_{t-1}", trace.h_prev, "diverging")]
    if kind == "lstm":
        c_prev = np.vstack([trace.c0[None, :], trace.cell[:-1]])  # (T, H)
        terms.append(("c_prev", "c_{t-1}  (cell)", c_prev, "diverging"))
    blocks = "  [i | f | g | o]" if kind == "lstm" else "  [r | z | n]" if kind == "gru" else ""
    terms += [
        ("wx", "W·x_t" + blocks, trace.wx, "diverging"),
        ("uh", "U·h_{t-1}" + blocks, trace.uh, "diverging"),
        ("b", "b  (b_ih + b_hh)", b, "diverging"),
        ("pre", "pre-activation" + ("  (n: r ⊙ U·h)" if kind == "gru" else ""), trace.pre, "diverging"),
    ]
    for name in trace.gates:
        label = {"g": "g = tanh  (candidate)", "n": "n = tanh  (candidate)"}.get(name, f"{name} = σ  (gate)")
        terms.append((f"gate_{name}", label, trace.gates[name], "sequential" if name in SIGMOID_GATES else "diverging"))
    if kind == "lstm":
        terms.append(("c", "c_t = f⊙c_{t-1} + i⊙g", trace.cell, "diverging"))
    final = {"rnn_tanh": "h_t = tanh(pre)", "rnn_relu": "h_t = relu(pre)", "lstm": "h_t = o ⊙ tanh(c_t)",
             "gru": "h_t = (1−z)⊙n + z⊙h_{t-1}"}[kind]
    terms.append(("h", final, trace.hidden, "diverging"))
    assert all(values.shape[0] == T for _, _, values, _ in terms)
    return terms


def fits(terms: list[Term], row: int, col: int) -> bool:
    """Whether (row, col) names a value of these strips (a hover kept from another trace may not)."""
    return 0 <= row < len(terms) and 0 <= col < terms[row][2].shape[1]


def term_value_text(terms: list[Term], t: int, row: int, col: int) -> str:
    """'U·h_{t-1} at t = 3, block 2, unit 5:  0.25': which value of which strip, at step ``t``."""
    key, label, values, _ = terms[row]
    width = values.shape[1]
    H = terms[-1][2].shape[1]  # the last strip is h_t
    where = f"feature {col + 1}" if key == "x" else f"unit {col % H + 1}"
    if key != "x" and width > H:
        where = f"block {col // H + 1}, unit {col % H + 1}"
    return f"{label.split('  ')[0]} at t = {t + 1}, {where}:  {values[t, col]:.6g}"


@dataclass(frozen=True)
class Readout:
    """A trained model's read-out on one trace: ``probabilities`` (T, K) over ``classes``.

    ``target`` is the class the sequence was generated for, or None when the
    sequence names none of the model's classes (a memory symbol shown to the
    shapes model): then there is no right answer to compare with.
    """

    probabilities: np.ndarray  # (T, K)
    classes: list[str]
    target: int | None

    @classmethod
    def of(cls, model, hidden: np.ndarray, target: int | None) -> Readout:
        """``model``'s probabilities after each step of ``hidden`` (T, H), and the target if it is a class."""
        probabilities = model.probabilities(hidden)  # (T, K)
        classes = list(model.classes)
        known = target is not None and 0 <= target < len(classes)
        return cls(probabilities, classes, target if known else None)

    def answer(self, t: int) -> str:
        """What the model answers after step ``t``, and whether that is right (rich text)."""
        row = self.probabilities[t]
        best = int(row.argmax())
        truth = ""
        if self.target is not None:
            truth = f" — the answer is {self.classes[self.target]} ({'right' if best == self.target else 'wrong'} so far)"
        return f"After step {t + 1}: <b>{self.classes[best]}</b> {row[best]:.0%}{truth}"
