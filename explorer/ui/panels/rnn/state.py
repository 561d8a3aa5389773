"""What the RNN panel shows, and the rules that keep it consistent. No Qt.

The panel forwards the user's actions to the methods here and redraws on the
fields' events. Your own cell keeps its settings while another model is shown;
a trained model first reads the input it was trained on, a file the image, a
real model (the captioner's decoder, the video GRU, :mod:`.real`) what it read; a
trace runs at once when small (:data:`SYNC_WORK`), through the runner when
large, and only the latest request is shown; a new trace arrives with all that
is drawn from it and clamps the step, the unit and the hover, so no view
indexes a trace it does not hold; the long-range curves (:mod:`.memory`) go
stale with it and are computed when their page is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from psygnal import evented

from explorer.engine import rnn as engine
from explorer.engine.rnn import models as bundled
from explorer.ui.panels.rnn import real as real_model
from explorer.ui.panels.rnn.derived import Readout, Term, fits, strip_terms
from explorer.ui.panels.rnn.inputs import EXAMPLE_INPUTS, IMAGE_INPUTS, INPUTS, STEP_INPUTS, build_sequence
from explorer.ui.panels.rnn.memory import MemoryComparison
from explorer.ui.panels.rnn.real import REAL
from explorer.ui.panels.rnn.selection import Selection
from explorer.ui.panels.rnn.sources import CUSTOM, DEFAULT_MODEL, FILE, load_retrained, model_choices
from explorer.ui.panels.state import Runner, hold_events, identity_fields, persisted, run_now

SPEEDS = (1, 2, 5, 10, 20, 50)
#: Traces up to this many multiply-adds in U·h (T × size of U; ≈ 7 ms) run at once, bigger ones in a worker.
SYNC_WORK = 20_000_000

#: What a new trace changes. Their events wait until all are set, then come last-paused first: the trace last.
APPLIED = ("trace", "running", "hover", "step", "unit", "terms", "readout", "edited", "sequence", "cell", "base_cell")
HEAVY = ("image", "models", "trained", "file_cell", "real", "base_cell", "cell", "sequence", "trace", "readout", "terms", "memory")


@evented(equality_operators=identity_fields(*HEAVY))
@dataclass
class RNNState(Selection):
    """The RNN panel's model, input, trace and selection."""

    PERSISTED: ClassVar[tuple[str, ...]] = (
        "model_key", "kind", "hidden_size", "seed", "bias", "input_kind", "steps", "example", "text", "speed")
    #: The model to show at start: your own cell or a bundled one (a file or a retrained model is not kept).
    model_key: str = persisted(DEFAULT_MODEL, choices=(CUSTOM, *bundled.BUNDLED))
    kind: str = persisted("rnn_tanh", choices=engine.KINDS)  # your own cell's
    hidden_size: int = persisted(16, min=1, max=256)
    seed: int = persisted(0, min=0, max=9999)
    bias: bool = persisted(True)
    input_kind: str = persisted("memory", choices=[key for key, _ in INPUTS])
    steps: int = persisted(30, min=1, max=1000)  # steps of a signal, distractors of the memory task
    example: int = persisted(0, min=0, max=9999)  # which generated example (the generator's seed)
    text: str = persisted("hello world")
    speed: int = persisted(5, choices=SPEEDS)  # playback, steps per second

    #: What is shown: CUSTOM, FILE, REAL, or a bundled / retrained model's name.
    source: str = CUSTOM
    loading: str | None = None  # a model being loaded, shown when it arrives
    choices: tuple[tuple[str, str], ...] = field(default_factory=model_choices)
    image: Any = None  # the current PIL image, read by the image inputs
    models: dict = field(default_factory=dict, repr=False)  # name → TrainedModel, loaded once
    trained: Any = None  # the TrainedModel of the source, when it is one
    file_cell: Any = None  # a user's state dict, as loaded (or as re-read as another kind)
    file_note: str = ""
    real: Any = None  # a real model's recurrence (engine.rnn.real.RealRecurrence), as handed over
    # -- what the views show, all from one run ------------------------------------------------
    base_cell: Any = None  # the model's own weights
    cell: Any = None  # what ran: base_cell, or base_cell edited
    edited: bool = False
    sequence: Any = None
    readout: Readout | None = None  # a trained model's probabilities on this trace
    terms: list[Term] = field(default_factory=list, repr=False)  # the update rule's strips of this trace
    trace: Any = None
    running: str = ""  # what runs in a worker, while it does
    # -- the selection ---------------------------------------------------------------------------
    step: int = 0
    unit: int = 0
    hover: tuple[int, int] | None = None  # (strip, column) under the pointer in the update rule
    playing: bool = False
    page: str = "step"
    memory: MemoryComparison = field(default_factory=MemoryComparison, repr=False)

    runner: Runner = field(default=run_now, repr=False, compare=False)
    #: (title, exception) → shown to the user; without it, the state raises.
    report: Callable[[str, BaseException], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._generation = 0  # of trace requests; only the latest is shown
        self._next_step: int | None = None  # the step a new trace opens at (a real model's word or frame)

    def _fail(self, title: str, exc: BaseException) -> None:
        if self.report is None:
            raise exc
        self.report(title, exc)

    # -- choosing the model ----------------------------------------------------------------------
    def start(self) -> None:
        """Show the model chosen last time (the trained LSTM on the memory task at first launch)."""
        available = {key for key, _ in self.choices}
        self.choose_model(self.model_key if self.model_key in available else CUSTOM)
        self.memory.fill_accuracy(self.models)

    def choose_model(self, key: str) -> None:
        """Show your own cell (with its own settings back), a file, or a trained model (loaded once)."""
        self.playing = False
        self.loading = None
        if key in (CUSTOM, *bundled.BUNDLED):
            self.model_key = key
        if key == REAL and self.real is not None:
            self.show_real(self.real)
        elif key in (CUSTOM, FILE):
            self.source, self.trained = key, None
            self.rebuild(new_cell=True)
        elif key in self.models:
            self._use_trained(key)
        else:
            self.loading = key
            self.runner(bundled.load_bundled, key, on_result=lambda model: self._bundled_loaded(key, model),
                        on_error=self._load_failed, description=f"loading {bundled.BUNDLED[key]}")

    def show_real(self, recurrence) -> None:
        """A real model's recurrence (Captioning's decoder, Video's GRU), opened at its panel's word or frame."""
        self.playing = False
        self.loading = None  # a bundled model still loading no longer replaces what is shown
        self.real, self.trained = recurrence, None
        self.choices = tuple(c for c in self.choices if c[0] != REAL) + ((REAL, real_model.title(recurrence)),)
        self.source = REAL
        self._next_step = recurrence.step
        self.rebuild(new_cell=True)

    @property
    def back_link(self):
        """The way back to the panel the real model came from, at the current step (None otherwise)."""
        if self.source != REAL or self.real is None or self.trace is None:
            return None
        return real_model.back_link(self.real, self.step)

    @property
    def real_text(self) -> str:
        """What the real model's view shows (rich text), with its parity to the model; '' for other sources."""
        if self.source != REAL or self.real is None or self.trace is None:
            return ""
        return real_model.describe(self.real, self.real.max_error(self.trace), self.edited)

    def _bundled_loaded(self, key: str, model) -> None:
        self.models[key] = model
        if self.loading == key:  # still wanted
            self.loading = None
            self._use_trained(key)

    def _load_failed(self, exc: BaseException) -> None:
        self.loading = None  # the choice falls back to what is shown
        self._fail("Could not load the model", exc)

    def _use_trained(self, key: str) -> None:
        self.trained = self.models[key]
        self.source = key
        # A trained model first reads the kind of data it was trained on; other inputs stay one click away.
        self.input_kind = "memory" if self.trained.task.startswith("rnn_memory") else "shape"
        self.rebuild(new_cell=True)

    def open_retrained(self, path: str | Path, task: str):
        """A model retrained in the Training panel joins the choices and is shown (again, if it was)."""
        return self.runner(
            load_retrained, Path(path), task, on_result=self._retrained_loaded,
            on_error=lambda exc: self._fail("Could not open the retrained model", exc),
            description=f"loading the retrained {task}",
        )

    def _retrained_loaded(self, model) -> None:
        self.models[model.name] = model
        if model.name not in {key for key, _ in self.choices}:
            self.choices = (*self.choices, (model.name, model.title))
        self.loading = None
        if self.source != model.name:
            self.playing = False
        self._use_trained(model.name)

    def open_file(self, path: str | Path):
        """Read a user's state dict through the runner; on failure the message names the problem and nothing changes."""
        return self.runner(
            bundled.load_cell_file, Path(path), on_result=self._file_loaded,
            on_error=lambda exc: self._fail("Could not load the state dict", exc),
            description=f"loading {Path(path).name}",
        )

    def _file_loaded(self, result) -> None:
        cell, note = result
        self.file_cell, self.file_note = cell, note
        title = f"File: {note.split(':')[0]}"
        self.choices = tuple(c for c in self.choices if c[0] != FILE) + ((FILE, title),)
        self.loading = None
        self.source, self.trained = FILE, None
        if self.input_kind in ("memory", "shape"):  # generated data means nothing to a user's model
            self.input_kind = "image_rows"
        self.rebuild(new_cell=True)

    # -- your own cell's settings, the input's settings ----------------------------------------------
    def choose_kind(self, kind: str) -> None:
        """A new cell type: your own cell's, or a file's tensors read as that type (if they fit)."""
        if self.source == FILE and self.file_cell is not None:
            try:
                cell = engine.from_state_dict(kind, self.file_cell.state_dict())
            except ValueError as exc:
                self._fail("This state dict does not fit that cell type", exc)
                return
            self.file_cell = cell
            self.rebuild(new_cell=True)
        elif self.source == CUSTOM:
            self.set_cell_settings(kind=kind)

    def set_cell_settings(self, **settings) -> None:
        """Your own cell's ``kind`` / ``hidden_size`` / ``seed`` / ``bias``; a new cell runs if it is shown."""
        for name, value in settings.items():
            setattr(self, name, value)
        if self.source == CUSTOM:
            self.rebuild(new_cell=True)

    def set_input(self, **settings) -> None:
        """``input_kind`` / ``steps`` / ``example`` / ``text`` changed: build the sequence again and run it."""
        for name, value in settings.items():
            setattr(self, name, value)
        if self.source != REAL:  # a real model reads what it read
            self.rebuild(new_cell=self.source == CUSTOM)

    def set_image(self, image) -> None:
        """The shared image changed: the image inputs read it again."""
        self.image = image
        if self.input_kind in IMAGE_INPUTS and self.base_cell is not None and self.source != REAL:
            self.rebuild()

    @property
    def cell_settings(self) -> tuple[str, int, bool]:
        """(kind, hidden size, bias) the cell controls show: your own cell's, or those of the cell shown."""
        if self.source == CUSTOM or self.cell is None:
            return self.kind, self.hidden_size, self.bias
        return self.cell.kind, self.cell.hidden_size, self.cell.has_bias

    @property
    def uses_steps(self) -> bool:
        return self.input_kind in STEP_INPUTS

    @property
    def uses_example(self) -> bool:
        return self.input_kind in EXAMPLE_INPUTS

    @property
    def sequence_note(self) -> str:
        """One line on the input read (and on the file's tensors, for a file)."""
        if self.sequence is None:
            return " "
        if self.source == FILE:
            return f"{self.file_note} · {self.sequence.description}"
        return self.sequence.description

    # -- building the sequence and the trace ---------------------------------------------------------
    def _fixed_input_size(self) -> int | None:
        if self.source == CUSTOM:
            return None
        if self.source == REAL:
            return self.real.cell.input_size
        cell = self.trained.cell if self.trained is not None else self.file_cell
        return None if cell is None else cell.input_size

    def build_sequence(self):
        """The input sequence for the current settings (fitted to a fixed model's input size)."""
        if self.source == REAL:
            return real_model.sequence_of(self.real)
        return build_sequence(self.input_kind, steps=self.steps, example=self.example, text=self.text,
                              image=self.image, input_size=self._fixed_input_size())

    def _make_cell(self, sequence):
        if self.source == CUSTOM:
            return engine.random_cell(self.kind, sequence.input_size, self.hidden_size, seed=self.seed, bias=self.bias)
        if self.trained is not None:
            return self.trained.cell
        return self.real.cell if self.source == REAL else self.file_cell

    def _start_state(self) -> tuple:
        """(h0, c0) a trace starts from: a real model's own, else zeros (None)."""
        return self.real.initial_state if self.source == REAL else (None, None)

    def rebuild(self, *, new_cell: bool = False) -> bool:
        """Rebuild the sequence (and the cell if asked) and re-run; on bad input say why and keep the old state."""
        try:
            sequence = self.build_sequence()
            cell = self._make_cell(sequence) if (new_cell or self.cell is None) else self.cell
            if cell.input_size != sequence.input_size:  # your own cell follows its input
                cell = self._make_cell(sequence)
                new_cell = True
        except ValueError as exc:
            self._fail("RNN", exc)
            return False
        return self._run(cell, sequence, base=cell if new_cell else None, edited=False if new_cell else self.edited)

    def _run(self, cell, sequence, *, base=None, edited: bool = False, title: str = "RNN") -> bool:
        """Trace ``sequence`` through ``cell``: at once when small, else through the runner.

        Only the latest request is shown (a spin box typed "256" asks three times).
        ``base``: the model's own weights, when this run starts from a new model.
        """
        self._generation += 1
        generation, model = self._generation, self.trained  # the read-out is of the model asked for
        start = self._start_state()

        def apply(trace) -> None:
            self._apply(generation, model, cell, sequence, trace, base, edited)

        if sequence.length * cell.weight_hh.size <= SYNC_WORK:
            try:
                trace = cell.trace(sequence.values, *start)
            except ValueError as exc:
                self._fail(title, exc)
                return False
            apply(trace)
            return True
        self.running = f"running {sequence.length} steps of {cell.title}, H = {cell.hidden_size}…"
        self.runner(cell.trace, sequence.values, *start, on_result=apply, on_error=self._run_failed,
                    description=f"running the {cell.title}")
        return True

    def _run_failed(self, exc: BaseException) -> None:
        self.running = ""
        self._fail("RNN", exc)

    def _apply(self, generation: int, model, cell, sequence, trace, base, edited: bool) -> None:
        if generation != self._generation:
            return  # a newer request superseded this one
        with hold_events(self, *APPLIED):  # a handler of any of these events sees them all set: no new step on an old trace
            if base is not None:
                self.base_cell = base
            self.cell, self.sequence, self.edited = cell, sequence, edited
            self.readout = None if model is None else Readout.of(model, trace.hidden, sequence)
            self.terms = strip_terms(trace, sequence.parts)
            self.unit = min(self.unit, cell.hidden_size - 1)
            step, self._next_step = (self.step if self._next_step is None else self._next_step), None
            self.step = min(step, trace.length - 1)
            if self.hover is not None and not fits(self.terms, *self.hover):
                self.hover = None  # the strip or unit under the pointer is not in this trace
            self.running = ""
            self.trace = trace
        self.memory.stale = True
        if self.page == "memory":
            self.compute_sensitivity()

    # -- editing the weights ---------------------------------------------------------------------------
    def edit_weights(self, W, U, b_ih, b_hh) -> bool:
        """Run the sequence again with these weights (the model's own stay in ``base_cell``).

        Weights that are not finite, or whose products overflow on this
        sequence, are refused with a message and the weights shown stay: False.
        """
        try:
            cell = self.cell.replace(weight_ih=W, weight_hh=U, bias_ih=b_ih, bias_hh=b_hh)
        except ValueError as exc:
            self._fail("RNN weights", exc)
            return False
        return self._run(cell, self.sequence, edited=True, title="RNN weights")

    def reset_weights(self) -> None:
        """Back to the model's own weights (undo every edit)."""
        if self.base_cell is not None:
            self._run(self.base_cell, self.sequence, edited=False)

    # -- long-range sensitivity -------------------------------------------------------------------------
    def compute_sensitivity(self):
        """RNN vs LSTM vs GRU (bundled) on one memory sequence, plus the current cell, through the runner."""
        distractors, seed = (self.steps, self.example) if self.input_kind == "memory" else (50, 0)
        bundled_shown = self.trained is not None and any(
            self.models.get(key) is self.trained for key in bundled.MEMORY_MODELS)
        current = None if self.trace is None or bundled_shown else (self.cell, self.trace.x, self._start_state())  # a fourth curve
        return self.memory.compute(self.runner, self.models, distractors, seed, current, self._fail)
