"""The RNN panel's state without Qt: which model and input are shown, what a new trace resets, what persists.

Real engine calls on small inputs (the bundled models, random cells with fixed
seeds). ``Deferred`` stands in for the worker thread: it holds each job until
the test runs it, so the order in which results arrive is the test's choice.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.ui.panels.rnn import state as rnn_state
from explorer.ui.panels.rnn.state import CUSTOM, FILE, RNNState
from explorer.ui.panels.state import restore_settings, run_now, settings_of


class Job:
    def __init__(self, call) -> None:
        self.call, self.done, self.cancelled = call, False, False

    def cancel(self) -> None:
        self.cancelled = True


class Deferred:
    """A runner that keeps each job until :meth:`run` runs it (as a worker would, but when the test says)."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def __call__(self, fn, *args, **kwargs) -> Job:
        job = Job(lambda: run_now(fn, *args, **kwargs))
        self.jobs.append(job)
        return job

    def run(self, index: int = 0) -> None:
        job = self.jobs.pop(index)
        job.call()
        job.done = True


@pytest.fixture
def state() -> RNNState:
    """The state as the panel starts it: the trained LSTM on the memory task."""
    s = RNNState(image=Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)))
    s.start()
    return s


def custom(s: RNNState, **settings) -> RNNState:
    s.choose_model(CUSTOM)
    if settings:
        s.set_cell_settings(**settings)
    return s


def test_start_shows_the_trained_lstm_on_its_own_task(state):
    assert state.source == "rnn_memory_lstm" and state.cell.kind == "lstm"
    assert state.input_kind == "memory" and state.sequence.source == "memory"
    assert state.readout.probabilities.shape == (state.trace.length, 8)
    assert state.readout.probabilities[-1].argmax() == state.sequence.target  # it remembers the first symbol
    assert set(state.memory.accuracy) == {"rnn_memory_rnn", "rnn_memory_lstm", "rnn_memory_gru"}


def test_your_own_cell_keeps_its_settings_while_a_trained_model_is_shown(state):
    custom(state, kind="gru", hidden_size=12, seed=3, bias=False)
    assert state.cell_settings == ("gru", 12, False) and state.readout is None
    state.choose_model("rnn_shapes_gru")
    assert state.cell_settings == ("gru", 64, True)  # the trained model's cell
    assert (state.kind, state.hidden_size, state.seed, state.bias) == ("gru", 12, 3, False)
    state.set_cell_settings(hidden_size=20)  # remembered, but the trained model stays
    assert state.cell.hidden_size == 64
    state.choose_model(CUSTOM)
    assert (state.cell.kind, state.cell.hidden_size, state.cell.has_bias) == ("gru", 20, False)


def test_a_trained_model_first_reads_the_input_it_was_trained_on(state):
    custom(state).set_input(input_kind="sine")
    state.choose_model("rnn_shapes_gru")
    assert state.input_kind == "shape" and state.sequence.source == "shape"
    state.set_input(input_kind="image_rows")  # other inputs stay one click away, fitted to the model
    assert state.sequence.input_size == 24 and state.cell.input_size == 24
    state.choose_model("rnn_memory_gru")
    assert state.input_kind == "memory"


def test_a_new_trace_clamps_the_step_and_the_unit(state):
    custom(state, hidden_size=16).set_input(input_kind="sine", steps=60)
    state.set_step(50)
    state.set_unit(15)
    state.set_input(input_kind="text", text="abc")
    assert state.trace.length == 3 and state.step == 2
    state.set_cell_settings(hidden_size=4)
    assert state.unit == 3
    state.set_step(99)
    state.set_unit(7)  # a unit the trace does not have is ignored
    assert (state.step, state.unit) == (2, 3)


def test_every_event_of_a_new_trace_sees_the_whole_new_trace(state):
    """A handler of ``step`` (the panel's slider redraw) never meets the old trace or an old read-out."""
    seen = []

    def check(*_args) -> None:
        s = state
        seen.append(s.step < s.trace.length and s.readout.probabilities.shape[0] == s.trace.length
                    and len(s.terms[0][2]) == s.trace.length and len(s.sequence.step_labels) == s.trace.length)

    state.set_step(25)
    state.events.step.connect(check)
    state.events.trace.connect(check)
    state.set_input(steps=5)  # T = 31 → 6: the step is clamped
    assert state.step == 5 and seen == [True, True]


def test_latest_request_wins(state):
    runner = Deferred()
    state.runner = runner
    custom(state, kind="lstm").set_input(input_kind="sine", steps=1000)
    assert not runner.jobs and state.trace.length == 1000  # H = 16: small enough to run at once
    assert 1000 * 4 * 100 * 100 > rnn_state.SYNC_WORK  # each request below runs in the worker
    for hidden in (100, 256, 200):  # typed quickly: three requests
        state.set_cell_settings(hidden_size=hidden)
    assert state.running.startswith("running 1000 steps")
    for index in (2, 0, 0):  # the last request's result arrives first, the older ones after it
        runner.run(index)
    assert state.trace.hidden.shape == (1000, 200) and state.cell.hidden_size == 200
    assert state.base_cell is state.cell and state.running == ""


def test_a_stale_hover_is_dropped_with_the_trace_it_pointed_into(state):
    """Old bug: the update-rule view kept the hovered strip across traces, and ``terms[row]`` raised."""
    custom(state, kind="lstm", hidden_size=16).set_input(input_kind="sine", steps=20)
    last = len(state.terms) - 1  # hₜ, the 14th strip of an LSTM
    state.set_hover(last, 15)
    assert state.hover_text.startswith("hₜ = o ⊙ tanh(cₜ) at t = 1, unit 16:")
    state.set_step(4)
    assert " at t = 5, " in state.hover_text
    state.set_cell_settings(kind="rnn_tanh", hidden_size=4)  # 8 strips of 4 units
    assert not rnn_state.fits(state.terms, last, 15)  # where the old view read
    assert state.hover is None and state.hover_text == " "
    state.set_hover(1, 3)
    state.set_cell_settings(hidden_size=8)  # the strip and unit are still there: the hover stays
    assert state.hover == (1, 3) and state.hover_text.startswith("hₜ₋₁ at t = 5, unit 4:")


def test_a_target_the_model_has_no_class_for_is_no_answer(state):
    """Old bugs: the shapes model (4 classes) on a memory sequence whose symbol is 5 to 8: ``classes[target]``
    raised; with symbols 1 to 4 it compared a memory symbol with a shape and said '(right so far)'."""
    state.choose_model("rnn_shapes_gru")
    targets = {}
    for example in range(8):
        state.set_input(input_kind="memory", example=example)
        targets[example] = state.sequence.target
        readout = state.readout
        assert readout.classes == ["circle", "square", "triangle", "cross"]
        assert readout.target is None and readout.off_task  # a memory symbol is no shape
        for t in range(state.trace.length):
            answer = readout.answer(t)
            assert answer.startswith(f"After step {t + 1}: <s>") and "meaningless here" in answer
            assert "so far" not in answer
    assert min(targets.values()) < 4 <= max(targets.values())  # both old cases are among them
    state.set_input(input_kind="shape")
    assert "— the answer is" in state.readout.answer(state.last_step) and not state.readout.off_task


@pytest.mark.parametrize("model", ["rnn_memory_lstm", "rnn_memory_rnn", "rnn_shapes_gru"])
def test_a_bundled_model_on_a_photo_says_its_answer_is_meaningless(state, model):
    """Regression: on a photo the panel said 'symbol 6 97 %', 'square 95 %' with no word that the bundled
    models know only their generated inputs."""
    state.choose_model(model)
    own = "memory" if "memory" in model else "shape"
    assert state.input_kind == own and not state.readout.off_task
    for input_kind in ("image_rows", "image_patches", "sine", "noise", "text", "shape" if own == "memory" else "memory"):
        state.set_input(input_kind=input_kind)
        readout = state.readout
        assert readout.off_task and readout.target is None, (model, input_kind)
        assert "meaningless" in readout.title
        for t in (0, state.last_step):
            answer = readout.answer(t)
            assert "meaningless here: it knows only generated" in answer and "<b>" not in answer, answer
        if input_kind.startswith("image"):
            assert "never photos" in readout.answer(0)


def test_the_readout_is_of_the_trace_shown_while_a_model_runs_in_a_worker(state, monkeypatch):
    """Old bug: the trained model was set before its trace arrived; a step on the old, longer trace read ``probs[t]`` out of range."""
    custom(state).set_input(input_kind="sine", steps=300)
    state.set_step(250)
    runner = Deferred()
    state.runner = runner
    monkeypatch.setattr(rnn_state, "SYNC_WORK", 1000)  # as a retrained model with a large hidden state is
    state.choose_model("rnn_memory_lstm")  # the read-out of its first trace (T = 31) was shown before
    assert state.source == "rnn_memory_lstm" and runner.jobs  # chosen, its trace still running
    assert state.trace.length == 300 and state.readout is None  # what is shown is still your own cell's
    state.set_step(260)
    assert state.step == 260
    runner.run()
    assert state.sequence.source == "memory" and state.trace.length == 301  # 300 distractors
    assert state.readout.probabilities.shape == (301, 8)
    assert state.readout.answer(state.step).startswith("After step 261")


def test_a_users_state_dict_and_a_cell_type_it_does_not_fit(state, tmp_path):
    reports = []
    state.report = lambda title, exc: reports.append((title, str(exc)))
    gru = torch.nn.GRU(16, 8)
    torch.save(gru.state_dict(), tmp_path / "gru.pt")
    state.open_file(tmp_path / "gru.pt")
    assert state.source == FILE and (FILE, "File: gru.pt") in state.choices
    assert state.input_kind == "image_rows" and state.sequence.input_size == 16  # the image, not generated data
    np.testing.assert_allclose(state.cell.weight_hh, gru.weight_hh_l0.detach().double().numpy())
    assert state.sequence_note.startswith("gru.pt: GRU, input 16, hidden 8 · ")
    cell = state.cell
    state.choose_kind("lstm")
    assert reports[-1][0] == "This state dict does not fit that cell type" and "weight_hh_l0" in reports[-1][1]
    assert state.cell is cell and state.cell_settings[0] == "gru"
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "linear.pt")
    state.open_file(tmp_path / "linear.pt")
    assert reports[-1][0] == "Could not load the state dict" and state.cell is cell


def test_bad_input_is_refused_and_the_state_kept(state):
    custom(state).set_input(input_kind="text", text="abc")
    trace = state.trace
    with pytest.raises(ValueError, match="empty"):
        state.set_input(text="")
    assert state.trace is trace
    state.image = None
    with pytest.raises(ValueError, match="no current image"):
        state.set_input(input_kind="image_rows")
    assert state.trace is trace


def test_editing_the_weights_reruns_and_reset_brings_them_back(state):
    base, x = state.base_cell, state.sequence.values  # the trained LSTM's own weights
    state.edit_weights(base.weight_ih, base.weight_hh * 2, base.bias_ih, base.bias_hh)
    assert state.edited and state.cell is not base
    np.testing.assert_allclose(state.trace.hidden, base.replace(weight_hh=base.weight_hh * 2).trace(x).hidden)
    state.set_input(steps=10)  # a trained model keeps the edit on a new input
    assert state.edited and state.trace.length == 11
    state.reset_weights()
    assert state.cell is base and not state.edited
    custom(state)
    cell = state.cell
    state.edit_weights(cell.weight_ih, cell.weight_hh * 2, cell.bias_ih, cell.bias_hh)
    state.set_input(steps=12)  # your own cell is drawn again from its settings
    assert not state.edited and state.cell is state.base_cell


def test_playback_runs_to_the_end_and_starts_over(state):
    state.set_step(state.last_step)
    state.toggle_play()
    assert state.playing and state.step == 0
    for _ in range(state.last_step):
        state.advance()
    assert state.step == state.last_step and state.playing
    state.advance()
    assert not state.playing
    state.toggle_play()
    state.choose_model(CUSTOM)  # a new model stops playback
    assert not state.playing


def test_the_long_range_page_computes_when_shown_and_stale(state):
    state.set_page("memory")
    results = state.memory.results
    assert set(results) == {"rnn_memory_rnn", "rnn_memory_lstm", "rnn_memory_gru"}  # the LSTM shown is one of them
    assert not state.memory.stale and not state.memory.running
    first = {key: values[0] / values[-1] for key, (_legend, values) in results.items()}
    assert first["rnn_memory_lstm"] > 100 * first["rnn_memory_rnn"]
    assert "after" in state.memory.status
    state.choose_model(CUSTOM)  # a new trace on the page shown: computed again, with your own cell
    assert len(state.memory.results["current"][1]) == state.trace.length
    state.set_page("step")
    state.set_input(steps=12)
    assert state.memory.stale


def test_only_the_latest_sensitivity_request_reports():
    s = RNNState()
    runner = Deferred()
    s.runner = runner
    s.models.update({key: rnn_state.bundled.load_bundled(key) for key in rnn_state.bundled.MEMORY_MODELS})
    s.input_kind, s.steps = "memory", 5
    s.compute_sensitivity()
    s.compute_sensitivity()
    assert runner.jobs[0].cancelled and not runner.jobs[1].cancelled
    runner.run(1)
    shown = s.memory.results
    runner.run(0)  # the replaced request finishes late: its results and its "finished" do not count
    assert s.memory.results is shown and not s.memory.running


def test_settings_round_trip_and_damaged_values_are_ignored(state):
    custom(state, kind="gru", hidden_size=33, seed=7, bias=False).set_input(input_kind="noise", steps=44, example=5)
    state.set_input(text="typed")
    state.speed = 20
    saved = {name: str(value).lower() if isinstance(value, bool) else str(value)
             for name, value in settings_of(state).items()}  # as a settings file gives them back
    fresh = RNNState()
    assert sorted(restore_settings(fresh, saved)) == sorted(RNNState.PERSISTED)
    assert settings_of(fresh) == settings_of(state)
    assert fresh.model_key == CUSTOM
    damaged = {"model_key": FILE, "kind": "transformer", "hidden_size": "999", "seed": "x", "bias": "maybe",
               "input_kind": "video", "steps": "0", "example": "1.5", "speed": "3", "text": "still fine"}
    other = RNNState()
    assert restore_settings(other, damaged) == ["text"]
    assert settings_of(other) == {**settings_of(RNNState()), "text": "still fine"}


def test_a_file_or_a_retrained_model_is_not_kept_as_the_model_to_start_with(state, tmp_path):
    import shutil

    custom(state)
    path = tmp_path / "retrained.safetensors"
    shutil.copy(rnn_state.bundled.bundled_path("rnn_memory_gru"), path)
    state.open_retrained(path, "rnn_memory_gru")
    assert state.source == "retrained:rnn_memory_gru" and state.cell.kind == "gru"
    assert ("retrained:rnn_memory_gru", "Retrained: Memory task · GRU") in state.choices
    assert state.input_kind == "memory" and state.model_key == CUSTOM
