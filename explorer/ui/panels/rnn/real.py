"""A real model's recurrence in the RNN panel: its input as a sequence, what to say about it, the way back. No Qt.

The Captioning and Video panels hand over a
:class:`~explorer.engine.rnn.real.RealRecurrence`; this module turns it into
what the RNN panel's state works with (an
:class:`~explorer.engine.rnn.sequences.InputSequence` whose columns are grouped
by the named input parts), the lines that say which model, which image or clip
and what x_t is, and the :class:`~explorer.ui.panels.state.BackLink` that
carries the current step back to the panel it came from.
"""

from __future__ import annotations

import html
from dataclasses import replace

from explorer.engine.rnn.real import RealRecurrence
from explorer.engine.rnn.sequences import InputSequence
from explorer.ui.panels.state import BackLink

REAL = "real"  # the model-box key of a real model's recurrence
#: Short names of input parts for column labels ("ctx 12"), where the full name would not fit.
SHORT = {"word embedding": "emb", "attention context": "ctx", "where it looked (x, y)": "where",
         "frame features": "feat"}


def short_name(part_name: str) -> str:
    return SHORT.get(part_name, part_name.split()[0][:6])


def kind_of(recurrence: RealRecurrence) -> str:
    """'decoder LSTM', 'GRU over the frames': which recurrence of the model this is."""
    kind = recurrence.cell.title
    return f"decoder {kind}" if recurrence.source == "Captioning" else f"{kind} over the frames"


def title(recurrence: RealRecurrence) -> str:
    """The model box's entry: 'Captioning: Attention decoder … · decoder LSTM'."""
    return f"{recurrence.source}: {recurrence.model} · {kind_of(recurrence)}"


def sequence_of(recurrence: RealRecurrence) -> InputSequence:
    """x_t as the model received it, its columns grouped and labelled by the named input parts."""
    labels = [f"{short_name(part.name)} {j + 1}" for part in recurrence.parts for j in range(part.size)]
    where = f" on {recurrence.input_name}" if recurrence.input_name else ""
    return InputSequence(
        recurrence.x, REAL,
        f"{recurrence.model}{where}: {recurrence.length} {recurrence.step_name}s, {recurrence.inputs_text()}",
        list(recurrence.step_labels), labels,
        parts=[(part.name, part.start, part.stop) for part in recurrence.parts],
    )


def describe(recurrence: RealRecurrence, error: float | None, edited: bool) -> str:
    """Rich text: which model, on which image/clip, what x_t is made of, where h0 comes from, and the parity."""
    what = "stepped through the caption it produced" if recurrence.source == "Captioning" else "reading the clip frame by frame"
    on = f" on <b>{html.escape(recurrence.input_name)}</b>" if recurrence.input_name else ""
    parts = "; ".join(f"<i>{html.escape(p.name)}</i> ({p.size}): {html.escape(p.note)}" if p.note else
                      f"<i>{html.escape(p.name)}</i> ({p.size})" for p in recurrence.parts)
    text = (f"<b>{html.escape(recurrence.model)}</b>{on}: its {kind_of(recurrence)} {what}. "
            f"These xₜ are {'its ' if len(recurrence.parts) == 1 else 'the '}{parts}. "
            f"{html.escape(recurrence.start_note)}")
    if edited:
        return text + " <b>Weights edited</b>: the states are no longer the model's (Reset weights on the Weights tab)."
    if error is not None:
        text += f" Hidden states equal the model's own: max |Δh| = {error:.1e}."
    return text


def back_link(recurrence: RealRecurrence, step: int) -> BackLink | None:
    """The way back to the source panel, at ``step`` (its word or frame); None if it gave none."""
    back = recurrence.back
    if not isinstance(back, BackLink):
        return None
    step = min(max(int(step), 0), recurrence.length - 1)
    label = f"Back to {recurrence.source} · {recurrence.step_labels[step].split(' (')[0]}"
    return replace(back, selection={**dict(back.selection), recurrence.step_name: step}, label=label)
