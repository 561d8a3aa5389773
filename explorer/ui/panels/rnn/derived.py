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


def input_terms(x: np.ndarray, parts) -> list[Term]:
    """x_t as one strip, or one strip per named part (each as wide as the rule), so hundreds of
    inputs stay legible: 'xₜ · word embedding (32)', 'xₜ · attention context (64)'."""
    if len(parts) < 2:
        return [("x", "xₜ  (input)", x, "diverging")]
    return [(f"x:{start}", f"xₜ · {name} ({stop - start})", x[:, start:stop], "diverging") for name, start, stop in parts]


def strip_terms(trace, parts=()) -> list[Term]:
    """The update rule's terms in reading order: (key, label, values over time (T, n), colour kind).

    ``colour kind`` is "diverging" (signed) or "sequential" (a sigmoid gate, 0…1);
    ``parts`` ((name, start, stop) of x_t's columns) split x_t into its named blocks.
    """
    T = trace.length
    kind = trace.kind
    b = np.broadcast_to(trace.bias_ih + trace.bias_hh, trace.pre.shape)  # (T, blocks·H)
    terms = [*input_terms(trace.x, parts), ("h_prev", "hₜ₋₁", trace.h_prev, "diverging")]
    if kind == "lstm":
        c_prev = np.vstack([trace.c0[None, :], trace.cell[:-1]])  # (T, H)
        terms.append(("c_prev", "cₜ₋₁  (cell)", c_prev, "diverging"))
    blocks = "  [i | f | g | o]" if kind == "lstm" else "  [r | z | n]" if kind == "gru" else ""
    terms += [
        ("wx", "W·xₜ" + blocks, trace.wx, "diverging"),
        ("uh", "U·hₜ₋₁" + blocks, trace.uh, "diverging"),
        ("b", "b  (bᵢₕ + bₕₕ)", b, "diverging"),
        ("pre", "pre-activation" + ("  (n: r ⊙ U·h)" if kind == "gru" else ""), trace.pre, "diverging"),
    ]
    for name in trace.gates:
        label = {"g": "g = tanh  (candidate)", "n": "n = tanh  (candidate)"}.get(name, f"{name} = σ  (gate)")
        terms.append((f"gate_{name}", label, trace.gates[name], "sequential" if name in SIGMOID_GATES else "diverging"))
    if kind == "lstm":
        terms.append(("c", "cₜ = f⊙cₜ₋₁ + i⊙g", trace.cell, "diverging"))
    final = {"rnn_tanh": "hₜ = tanh(pre)", "rnn_relu": "hₜ = relu(pre)", "lstm": "hₜ = o ⊙ tanh(cₜ)",
             "gru": "hₜ = (1−z)⊙n + z⊙hₜ₋₁"}[kind]
    terms.append(("h", final, trace.hidden, "diverging"))
    assert all(values.shape[0] == T for _, _, values, _ in terms)
    return terms


def fits(terms: list[Term], row: int, col: int) -> bool:
    """Whether (row, col) names a value of these strips (a hover kept from another trace may not)."""
    return 0 <= row < len(terms) and 0 <= col < terms[row][2].shape[1]


def term_value_text(terms: list[Term], t: int, row: int, col: int) -> str:
    """'U·hₜ₋₁ at t = 3, block 2, unit 5:  0.25': which value of which strip, at step ``t``."""
    key, label, values, _ = terms[row]
    width = values.shape[1]
    H = terms[-1][2].shape[1]  # the last strip is h_t
    is_input = key == "x" or key.startswith("x:")
    where = f"feature {col + 1}" if is_input else f"unit {col % H + 1}"
    if not is_input and width > H:
        where = f"block {col // H + 1}, unit {col % H + 1}"
    return f"{label.split('  ')[0]} at t = {t + 1}, {where}:  {values[t, col]:.6g}"


@dataclass(frozen=True)
class Readout:
    """A trained model's read-out on one trace: ``probabilities`` (T, K) over ``classes``.

    ``target`` is the class the sequence was generated for, when the sequence is
    of the model's own task; ``off_task`` says, when it is not (a photo read row
    by row, a sine, the other task's data), that the model knows only its
    generated inputs: its probabilities there are confident numbers about nothing.
    """

    probabilities: np.ndarray  # (T, K)
    classes: list[str]
    target: int | None
    off_task: str = ""  # why the answers mean nothing here ("" on the model's own task)

    @classmethod
    def of(cls, model, hidden: np.ndarray, sequence) -> Readout:
        """``model``'s probabilities after each step of ``hidden`` (T, H) on ``sequence``, judged only on its own task."""
        probabilities = model.probabilities(hidden)  # (T, K)
        classes = list(model.classes)
        own = model.task_input is not None and sequence.source == model.task_input
        target = sequence.target if own and sequence.target is not None and 0 <= sequence.target < len(classes) else None
        off_task = "" if own else (
            f"meaningless here: it knows only {model.task_title}" + (", never photos" if sequence.picture is not None else ""))
        return cls(probabilities, classes, target, off_task)

    @property
    def title(self) -> str:
        return "Read-out after each step" + ("  (meaningless on this input)" if self.off_task else "")

    def answer(self, t: int) -> str:
        """What the model answers after step ``t``, and whether that is right — or that it means nothing here (rich text)."""
        row = self.probabilities[t]
        best = int(row.argmax())
        if self.off_task:
            return f"After step {t + 1}: <s>{self.classes[best]} {row[best]:.0%}</s> — {self.off_task}."
        truth = ""
        if self.target is not None:
            truth = f" — the answer is {self.classes[self.target]} ({'right' if best == self.target else 'wrong'} so far)"
        return f"After step {t + 1}: <b>{self.classes[best]}</b> {row[best]:.0%}{truth}"
