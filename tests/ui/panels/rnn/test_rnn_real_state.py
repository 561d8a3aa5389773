"""A real model's recurrence in the RNN panel's state, without Qt: the captioner's decoder word by word and the
video GRU frame by frame, shown at the source panel's word or frame, with the way back carrying the step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.engine import captioning
from explorer.engine.captioning.recurrence import decoder_recurrence
from explorer.engine.infra import scenes
from explorer.engine.rnn.real import RealRecurrence
from explorer.ui.panels.rnn.real import REAL
from explorer.ui.panels.rnn.state import CUSTOM, RNNState
from explorer.ui.panels.state import BackLink, run_now


class Deferred:
    """A runner that keeps each job until the test runs it, as a worker that has not finished yet."""

    def __init__(self) -> None:
        self.jobs = []

    def __call__(self, fn, *args, **kwargs):
        self.jobs.append(lambda: run_now(fn, *args, **kwargs))
        return self

    done = False

    def cancel(self) -> None:
        pass

    def run(self) -> None:
        self.jobs.pop(0)()


def scene(seed: int) -> Image.Image:
    return scenes.generate(scenes.split_seed("val", 960_000 + seed), size=256).image


@pytest.fixture(scope="module")
def captioner():
    return captioning.load("attention_boxes")  # x_t = [word embedding (32) | attention context (64)]


def handed_over(captioner, seed: int, word: int = 2) -> tuple[RealRecurrence, np.ndarray]:
    """The decoder at ``word`` as the Captioning panel hands it over, and the captioner's own float32 states."""
    image = scene(seed)
    own = []
    handle = captioner.model.lstm.register_forward_hook(lambda _m, _i, out: own.append(out[0][0].double().numpy().copy()))
    try:
        trace = captioner.caption(image, beam_size=1)
    finally:
        handle.remove()
    back = BackLink("captioning", {"word": word}, "Back to Captioning")
    return decoder_recurrence(captioner, image, trace, step=word, image_name=f"scene {seed}", back=back), np.stack(own)


def reports():
    seen = []
    return seen, lambda title, exc: seen.append((title, str(exc)))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_captioners_decoder_steps_with_the_captioners_own_states_word_by_word(captioner, seed):
    rec, own = handed_over(captioner, seed)
    state = RNNState()
    state.start()
    state.show_real(rec)
    assert state.source == REAL and state.cell is rec.cell and state.readout is None
    assert state.trace.length == rec.length == own.shape[0]
    for t in range(rec.length):  # word by word, as the step slider shows them
        state.set_step(t)
        step = state.trace.step(t)
        assert np.abs(step.h - rec.hidden[t]).max() < 1e-12, (seed, t)  # the model's own modules (float64)
        assert np.abs(step.h - own[t]).max() < 1e-5, (seed, t)  # what the captioner computed (float32)
        np.testing.assert_array_equal(step.x, rec.x[t])
    np.testing.assert_array_equal(state.trace.h0, rec.h0)
    np.testing.assert_array_equal(state.trace.c0, rec.c0)


def test_it_opens_at_the_source_word_and_the_way_back_carries_the_current_one(captioner):
    rec, _ = handed_over(captioner, 0, word=2)
    state = RNNState()
    state.start()
    state.set_step(7)
    state.show_real(rec)
    assert state.step == 2  # the Captioning panel's word, not the step shown before
    link = state.back_link
    assert link.panel == "captioning" and link.selection == {"word": 2}
    assert link.label.startswith("Back to Captioning · word 3 '")
    state.set_step(4)
    assert state.back_link.selection == {"word": 4} and "word 5" in state.back_link.label
    assert rec.back.selection == {"word": 2}  # the hand-over itself is not changed


def test_the_panel_says_which_model_which_image_and_what_x_t_is(captioner):
    rec, _ = handed_over(captioner, 1)
    state = RNNState()
    state.show_real(rec)
    text = state.real_text
    assert captioner.title in text and "scene 1" in text and "decoder LSTM" in text
    assert "These xₜ are the <i>word embedding</i> (32)" in text and "<i>attention context</i> (64)" in text
    assert "β·Σ α·a" in text and "learned constants" in text
    assert "max |Δh| = " in text
    assert [name for name, _, _ in state.sequence.parts] == ["word embedding", "attention context"]
    keys = [key for key, *_ in state.terms]
    assert keys[:2] == ["x:0", "x:32"]  # x_t as its named parts, each strip as wide as the rule
    labels = [label for _, label, _, _ in state.terms]
    assert labels[:2] == ["xₜ · word embedding (32)", "xₜ · attention context (64)"]
    assert state.sequence.feature_labels[31:33] == ["emb 32", "ctx 1"]
    state.set_hover(1, 5)
    assert state.hover_text.startswith("xₜ · attention context (64) at t = ") and "feature 6" in state.hover_text
    title, _ = dict(state.choices)[REAL], None
    assert title.startswith("Captioning: ") and title.endswith(" · decoder LSTM")


def test_the_real_input_stays_while_shown_and_comes_back_after_another_model(captioner):
    rec, _ = handed_over(captioner, 2)
    state = RNNState()
    state.start()
    state.show_real(rec)
    x = state.trace.x
    state.set_input(input_kind="sine", steps=12)  # the input box is off; even so the real input stays
    assert state.trace.x is x or np.array_equal(state.trace.x, x)
    state.choose_model(CUSTOM)
    assert state.source == CUSTOM and state.sequence.source == "sine"
    state.choose_model(REAL)
    assert state.source == REAL and np.array_equal(state.trace.x, rec.x) and state.step == rec.step


def test_a_bundled_model_still_loading_does_not_replace_the_real_one(captioner):
    rec, _ = handed_over(captioner, 3)
    runner = Deferred()
    state = RNNState(runner=runner)
    state.start()  # the bundled LSTM loads in a worker
    assert state.loading == "rnn_memory_lstm" and runner.jobs
    state.runner = run_now
    state.show_real(rec)
    runner.run()  # the bundled model arrives after the hand-over
    assert state.source == REAL and state.cell is rec.cell


def test_the_video_gru_in_the_rnn_panel_equals_the_video_models_states():
    from explorer.ui.panels.video.state import VideoState

    video = VideoState()
    video.show_example(6)
    video.set_frame(9)
    rec = video.recurrence()
    state = RNNState()
    state.show_real(rec)
    assert state.step == 9 and state.cell.kind == "gru" and state.back_link.selection == {"frame": 9}
    assert np.abs(state.trace.hidden - rec.hidden).max() < 1e-12
    assert np.abs(state.trace.hidden - video.trace.hidden.double().numpy()).max() < 1e-5  # the panel's float32 states
    assert "xₜ are its <i>frame features</i> (64)" in state.real_text and "generated: bounces" in state.real_text
    video.select_model("video_transformer")
    with pytest.raises(ValueError, match="no recurrence"):
        video.recurrence()


def test_the_long_range_curve_of_a_real_model_starts_from_its_own_state(captioner, monkeypatch):
    rec, _ = handed_over(captioner, 0)
    state = RNNState()
    state.show_real(rec)
    seen = {}
    monkeypatch.setattr(state.memory, "compute", lambda runner, models, d, s, current, fail: seen.setdefault("current", current))
    state.compute_sensitivity()
    cell, x, start = seen["current"]
    assert cell is state.cell and np.array_equal(x, rec.x) and start[0] is rec.h0 and start[1] is rec.c0


def test_overflowing_weights_are_refused_and_the_old_ones_kept():
    seen, report = reports()
    state = RNNState(report=report, image=scene(0))
    state.choose_model(CUSTOM)
    state.set_input(input_kind="image_rows")  # 32 inputs in [0, 1] per step
    cell, trace = state.cell, state.trace
    W = cell.weight_ih.copy()
    W[0] = 1e308  # its norm ‖W‖ (shown beside ‖hₜ‖) would be infinite, and the sum over 32 inputs too
    assert state.edit_weights(W, cell.weight_hh, cell.bias_ih, cell.bias_hh) is False
    assert seen and seen[-1][0] == "RNN weights" and "1e+308 is too large" in seen[-1][1]
    assert state.cell is cell and state.trace is trace and not state.edited
    big = state.sequence.values.copy()
    W = cell.weight_ih.copy()
    W[0] = 1e150  # representable, and so is its norm; W·x_t is too, until an input is huge
    assert state.edit_weights(W, cell.weight_hh, cell.bias_ih, cell.bias_hh) is True and state.edited
    state.reset_weights()
    assert state.cell is cell and np.array_equal(state.sequence.values, big)
    W = cell.weight_ih.copy()
    W[0, 0] = np.nan
    assert state.edit_weights(W, cell.weight_hh, cell.bias_ih, cell.bias_hh) is False
    assert "NaN" in seen[-1][1] and state.cell is cell


def test_a_folder_as_state_dict_names_the_folder_not_a_missing_file(tmp_path):
    seen, report = reports()
    state = RNNState(report=report, image=scene(1))
    state.choose_model(CUSTOM)
    (tmp_path / "weights").mkdir()
    state.open_file(tmp_path / "weights")
    assert seen and "is a folder with no weight file" in seen[-1][1] and "no such file" not in seen[-1][1].lower()
    torch.save(torch.nn.LSTM(3, 5).state_dict(), tmp_path / "weights" / "lstm.pt")
    state.open_file(tmp_path / "weights")
    assert state.source == "file" and state.cell.kind == "lstm" and state.cell.input_size == 3
