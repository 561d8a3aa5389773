"""The Attention panel's state driven without Qt: the rules that used to live in its widgets.

Real engine calls on small inputs (attention on a few tokens is well under a millisecond).
"""

from __future__ import annotations

import numpy as np
import pytest

from explorer.engine.attention.core import attend
from explorer.engine.attention.presets import PRESETS
from explorer.ui.panels.attention.state import D_VALUES, SLIDER_STEPS, AttentionState
from explorer.ui.panels.state import restore_settings, run_now, settings_of

WORKED = PRESETS[0].name
CAUSAL = "Causal self-attention (5 tokens)"
UNSCALED = "d_k = 64 without scaling"


@pytest.fixture
def state():
    return AttentionState()


def count(signal) -> list:
    """The values ``signal`` emits from now on."""
    seen: list = []
    signal.connect(lambda value: seen.append(value))
    return seen


# -- Q·K·V ---------------------------------------------------------------------------------------
def test_starts_on_the_worked_example(state):
    qkv = state.qkv
    assert qkv.preset == WORKED and qkv.note == PRESETS[0].description
    np.testing.assert_allclose(qkv.view.weights, [[0.401, 0.198, 0.401]], atol=5e-4)
    np.testing.assert_allclose(qkv.view.output, [[0.802, 0.599]], atol=5e-4)
    assert qkv.sizes() == {"n_q": 1, "n_k": 3, "d_k": 2, "d_v": 2}
    assert settings_of(state) == {
        "preset": WORKED, "n_q": 1, "n_k": 3, "d_k": 2, "d_v": 2, "scale": True, "temperature": 1.0,
        "tab": "qkv", "heads": 2, "cross": False,
    }


def test_an_edit_recomputes_once_and_makes_the_numbers_the_users(state):
    qkv = state.qkv
    views = count(qkv.events.view)
    k = qkv.k.copy()
    k[1, 0] = -2.0
    qkv.edit("k", k)
    assert len(views) == 1  # one redraw per edit
    np.testing.assert_allclose(qkv.view.weights, attend(qkv.q, k, qkv.v).weights.numpy())
    assert qkv.view.weights[0, 1] < 0.1
    assert qkv.note.startswith("Your own numbers (started from “Worked example")
    with pytest.raises(ValueError, match="unknown matrix"):
        qkv.edit("w", k)


def test_an_engine_error_is_reported_and_the_last_result_kept():
    errors = []
    state = AttentionState(on_error=lambda title, exc: errors.append((title, exc)))
    before = state.qkv.view
    state.qkv.edit("q", np.ones((1, 3)))  # d_k 3 against keys of d_k 2
    assert errors and errors[0][0] == "Attention" and isinstance(errors[0][1], ValueError)
    assert state.qkv.view is before
    with pytest.raises(ValueError, match=r"Q must keep its shape \(1, 2\), got \(1, 3\)"):  # no one to tell: the error reaches the caller
        AttentionState().qkv.edit("q", np.ones((1, 3)))


def test_sizes_are_clamped_said_and_keep_what_overlaps(state):
    qkv = state.qkv
    qkv.set_sizes(n_k=100)
    assert qkv.n_k == 64 and qkv.k.shape == (64, 2) and qkv.v.shape == (64, 2) and qkv.mask.shape == (1, 64)
    assert "100" in qkv.size_note and "64" in qkv.size_note
    np.testing.assert_array_equal(qkv.k[:3], [[1, 0], [0, 1], [1, 1]])
    assert not qkv.k[3:].any()
    qkv.set_sizes(d_k=0)
    assert qkv.d_k == 1 and "set to 1" in qkv.size_note
    qkv.set_sizes(d_v=3)
    assert qkv.size_note == "" and qkv.view.output.shape == (1, 3)
    assert qkv.note == PRESETS[0].description  # a program's resize is not the user's own numbers
    qkv.set_size("n_q", 2)
    assert qkv.q.shape == (2, 1) and "Your own numbers" in qkv.note
    with pytest.raises(ValueError, match="unknown size"):
        qkv.set_sizes(n=3)


def test_a_new_shape_never_leaves_a_stale_selection_or_hover(state):
    qkv = state.qkv
    qkv.load_preset(CAUSAL)
    assert qkv.selected_query == 4  # the preset's: the last token
    qkv.set_hover(4, 3)
    qkv.set_sizes(n_q=2)
    assert qkv.selected_query == 1 and qkv.hover == (-1, -1)
    qkv.set_hover(1, 2)
    qkv.set_sizes(n_k=4)
    assert qkv.hover == (1, 2)  # still inside: kept
    qkv.load_preset(WORKED)
    assert qkv.selected_query == 0 and qkv.hover == (-1, -1)
    qkv.select_query(5)
    assert qkv.selected_query == 0


def test_presets_and_reset(state):
    qkv = state.qkv
    qkv.load_preset(CAUSAL)
    assert qkv.mask_on and np.all(np.triu(qkv.view.weights, 1) == 0)
    qkv.load_preset(UNSCALED)
    assert not qkv.scale and qkv.view.weights.max(axis=1).mean() > 0.8
    qkv.set_scale(True)
    assert qkv.view.weights.max(axis=1).mean() < 0.8
    qkv.fill_zeros()
    qkv.load_preset(qkv.preset)  # Reset
    assert not qkv.scale and qkv.q.any() and qkv.note == PRESETS[4].description
    with pytest.raises(ValueError, match="unknown preset"):
        qkv.load_preset("nope")


def test_mask_rules(state):
    qkv = state.qkv
    masks = count(qkv.events.mask)
    qkv.toggle_mask_cell(0, 1)
    assert qkv.mask_on and len(masks) == 1  # a new array, so the change is an event
    assert qkv.view.weights[0, 1] == 0 and qkv.view.weights[0].sum() == pytest.approx(1)
    qkv.toggle_mask_cell(0, 0)
    qkv.toggle_mask_cell(0, 2)
    assert qkv.view.masked_rows[0] and not qkv.view.weights.any() and not qkv.view.output.any()
    qkv.toggle_mask_cell(3, 0)  # outside: ignored
    assert len(masks) == 3
    qkv.allow_all()
    np.testing.assert_allclose(qkv.view.weights, [[0.401, 0.198, 0.401]], atol=5e-4)
    qkv.set_sizes(n_q=3, n_k=3)
    qkv.set_causal()
    np.testing.assert_array_equal(qkv.mask, np.tril(np.ones((3, 3), dtype=bool)))
    qkv.set_mask_on(False)
    assert qkv.view.allowed.all()


def test_random_is_seeded_zeros_are_uniform_identity_is_eye(state):
    qkv = state.qkv
    qkv.set_sizes(n_q=4, n_k=5, d_k=3, d_v=2)
    qkv.seed = 7
    qkv.randomise()
    first = qkv.q.copy()
    assert qkv.seed == 8 and first.shape == (4, 3) and np.abs(first).sum() > 0
    qkv.seed = 7
    qkv.randomise()
    np.testing.assert_array_equal(qkv.q, first)
    qkv.fill_zeros()
    np.testing.assert_allclose(qkv.view.weights, 0.2)
    qkv.fill_identity()
    np.testing.assert_array_equal(qkv.k, np.eye(5, 3))


def test_temperature_flattens(state):
    state.qkv.set_temperature(10.0)
    assert np.ptp(state.qkv.view.weights) < 0.05 and state.qkv.view.temperature == 10.0


# -- Why scale? ----------------------------------------------------------------------------------
class LaterRunner:
    """A runner that keeps the work for later, as a worker thread would."""

    def __init__(self):
        self.calls = []

    def __call__(self, fn, *args, on_result=None, on_finished=None, on_progress=None, **kwargs):
        self.calls.append((fn, args, kwargs, on_result, on_progress, on_finished))

    def finish(self):
        fn, args, kwargs, on_result, on_progress, on_finished = self.calls[-1]
        kwargs.pop("description", None)
        on_progress(0.5, "half")
        on_result(fn(*args, **kwargs))
        on_finished()


def test_the_curves_are_measured_once_when_the_tab_opens():
    runner = LaterRunner()
    state = AttentionState(runner=runner)
    state.qkv.load_preset(UNSCALED)
    state.tab = "why"
    why = state.why
    assert why.measuring and why.stats is None and why.d_k == 63  # the stop nearest to the Q·K·V tab's d_k, 64
    state.tab = "qkv"
    state.tab = "why"
    assert len(runner.calls) == 1  # still measuring: not started again
    runner.finish()
    assert not why.measuring and why.progress == 0.5 and why.stats.d_k[-1] == 1024
    why.ensure_measured()
    assert len(runner.calls) == 1


def test_the_slider_is_logarithmic_like_the_plots():
    """Regression: the slider moved linearly through 1…1024 (its stops were D_VALUES' indices) under log plots."""
    why = AttentionState().why
    stops = {}
    for position in range(SLIDER_STEPS + 1):
        why.set_position(position)
        stops[position] = why.d_k
    assert stops[0] == 1 and stops[SLIDER_STEPS] == 1024
    for d, position in ((2, 20), (32, 100), (512, 180)):  # log₂ d / 10 of the way along
        assert abs(stops[position] - d) <= 0.05 * d, (d, stops[position])
        why.set_d_k(d)
        assert abs(why.position - position) <= 1
    assert all(stops[a] <= stops[a + 1] for a in range(SLIDER_STEPS))  # never back


def test_d_k_snaps_to_a_measured_value():
    why = AttentionState().why
    why.ensure_measured()  # run_now: measured at once
    assert why.stats is not None and not why.measuring
    why.set_d_k(1000)
    assert why.d_k == 980 and why.d_k in D_VALUES
    why.set_d_k(5000)
    assert why.d_k == 1024 and why.position == SLIDER_STEPS and why.stats_index == len(why.stats.d_k) - 1
    raw, scaled = why.example
    assert raw.max() > 0.9 and scaled.max() < raw.max()
    assert why.stats.entropy_raw[-1] < 0.5 * why.stats.entropy_scaled[-1]


# -- From input ----------------------------------------------------------------------------------
def test_weights_follow_x_not_the_parameters(state):
    fi = state.from_input
    assert fi.heads == 2 and fi.trace.weights.shape == (2, 5, 5)
    params = [p.copy() for p in fi.params]
    before = fi.trace.weights.numpy().copy()
    x = fi.x.copy()
    x[0, 0] = 3.0
    fi.edit("x", x)
    assert not np.allclose(before, fi.trace.weights.numpy())
    for a, b in zip(params, fi.params):
        np.testing.assert_array_equal(a, b)
    assert "the input X" in fi.note and "unchanged" in fi.note
    w_q = fi.w_q.copy()
    w_q[0, 0] += 1.0
    fi.edit("w_q", w_q)
    assert "a projection matrix" in fi.note
    np.testing.assert_allclose(fi.trace.q.numpy().transpose(1, 0, 2).reshape(5, -1), fi.x @ fi.w_q)


def test_sizes_heads_cross_and_causal(state):
    fi = state.from_input
    fi.set_d_model(6)
    assert fi.heads == 2 and fi.w_o.shape == (6, 6) and fi.x.shape == (5, 6)  # 2 still divides 6
    fi.set_d_model(5)
    assert fi.heads == 5  # 2 does not divide 5: the largest that does
    fi.set_heads(3)
    assert fi.heads == 5
    fi.set_d_model(40)
    assert fi.d_model == 16  # the largest the editors offer
    fi.set_d_model(4)
    fi.set_heads(4)
    fi.set_tokens(0)
    assert fi.tokens == 1 and fi.x.shape == (1, 4)
    fi.set_tokens(3)
    assert fi.trace.weights.shape == (4, 3, 3)
    fi.set_cross(True)
    assert fi.trace.weights.shape == (4, 3, 6)  # keys from X₂
    fi.set_causal(True)
    assert np.all(np.triu(fi.trace.weights.numpy()[0], 1) == 0)
    fi.seed = 3
    fi.randomise()
    first = fi.x.copy()
    fi.seed = 3
    fi.randomise()
    np.testing.assert_array_equal(fi.x, first)
    assert fi.seed == 4 and fi.heads == 4 and fi.x.shape == (3, 4)


# -- the whole panel: tabs, settings ---------------------------------------------------------------
def test_tab_settings_are_mirrored_and_saved_values_applied(state):
    state.qkv.set_scale(False)
    state.from_input.set_cross(True)
    state.qkv.set_size("d_v", 5)
    assert (state.scale, state.cross, state.d_v) == (False, True, 5)
    state.temperature = 3.0  # set here (as a restore does): applied to the tab
    assert state.qkv.temperature == 3.0 and state.qkv.view.temperature == 3.0
    state.preset = CAUSAL
    assert state.qkv.preset == CAUSAL and state.n_q == 5


def test_settings_round_trip(state):
    state.load_preset(UNSCALED)
    state.qkv.set_scale(True)
    state.qkv.set_size("n_q", 2)
    state.from_input.set_heads(4)
    state.tab = "input"
    saved = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in settings_of(state).items()}
    again = AttentionState()
    restore_settings(again, saved)  # as strings, the way a settings file gives them back
    assert settings_of(again) == settings_of(state)
    assert again.qkv.sizes() == {"n_q": 2, "n_k": 6, "d_k": 64, "d_v": 3} and again.qkv.scale
    assert "Your own numbers" in again.qkv.note and again.from_input.trace.weights.shape[0] == 4


def test_damaged_settings_are_ignored(state):
    restored = restore_settings(state, {
        "preset": "no such preset", "n_q": "abc", "n_k": "999", "d_k": "2.5", "scale": "maybe",
        "temperature": "nan", "tab": "elsewhere", "heads": "0", "cross": "[]", "d_v": "-1",
    })
    assert restored == []
    assert settings_of(state) == settings_of(AttentionState())
    restore_settings(state, {"heads": "3"})  # in range, but 3 does not divide d_model 4
    assert state.from_input.heads == 4 == state.heads


def test_a_preset_or_a_sent_head_shows_the_qkv_tab(state):
    state.tab = "input"
    state.from_input.set_tokens(4)
    state.send_head_to_qkv()
    q, k, v = state.from_input.head_qkv(0)
    assert state.tab == "qkv" and state.qkv.sizes() == {"n_q": 4, "n_k": 4, "d_k": 2, "d_v": 2}
    np.testing.assert_allclose(state.qkv.q, q)
    assert state.qkv.note.startswith("Q, K, V of head 1")
    state.tab = "input"
    state.load_preset(WORKED)
    assert state.tab == "qkv"


def test_the_default_runner_runs_now():
    assert AttentionState().why.runner is run_now
