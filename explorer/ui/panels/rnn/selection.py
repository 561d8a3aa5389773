"""The RNN panel's time and selection rules: the step, the unit followed, the value hovered, playback. No Qt.

A mixin of :class:`.state.RNNState` (which holds the fields); kept apart so
each file stays one idea: here only what moving through a trace does.
"""

from __future__ import annotations

import numpy as np

from explorer.ui.panels.rnn.derived import fits, term_value_text


class Selection:
    """Moving through the trace shown: every method clamps to what the trace holds."""

    @property
    def last_step(self) -> int:
        return 0 if self.trace is None else self.trace.length - 1

    def set_step(self, t: int) -> None:
        """Show step ``t`` (0-based, clamped to the trace)."""
        if self.trace is not None:
            self.step = int(min(max(t, 0), self.last_step))

    @property
    def step_text(self) -> str:
        """'t = 3 / 31 · 3 distractor · ‖hₜ‖ = 0.82': where the step is, and the state's size there."""
        t, trace = self.step, self.trace
        norm = np.linalg.norm(trace.hidden[t])
        return f"t = {t + 1} / {trace.length} · {self.sequence.step_labels[t]} · ‖hₜ‖ = {norm:.3f}"

    def set_unit(self, unit: int) -> None:
        """Follow hidden unit ``unit`` (a click on the heatmap); one the trace does not have is ignored."""
        if self.trace is not None and 0 <= unit < self.trace.hidden_size:
            self.unit = unit

    def set_hover(self, row: int, col: int) -> None:
        """The pointer is over strip ``row``, column ``col`` of the update rule (row < 0: nowhere)."""
        self.hover = (row, col) if row >= 0 and fits(self.terms, row, col) else None

    @property
    def hover_text(self) -> str:
        """The value under the pointer at the current step, said in words."""
        if self.hover is None or self.trace is None:
            return " "
        return term_value_text(self.terms, self.step, *self.hover)

    def toggle_play(self) -> None:
        """Play from here (from the start if at the end), or pause."""
        if self.playing:
            self.playing = False
            return
        if self.step >= self.last_step:
            self.set_step(0)
        self.playing = True

    def advance(self) -> None:
        """One tick of playback: the next step, or stop at the last."""
        if self.step >= self.last_step:
            self.playing = False
        else:
            self.set_step(self.step + 1)

    def set_page(self, page: str) -> None:
        """The tab shown; the long-range page computes its curves when they are stale."""
        self.page = page
        if page == "memory" and self.trace is not None and self.memory.stale:
            self.compute_sensitivity()
