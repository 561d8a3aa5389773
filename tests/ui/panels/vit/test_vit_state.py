"""The ViT panel's state driven without Qt: loads and runs, the selection rule, the step-6 map, settings.

Real engine calls on the bundled model (64 px, 8×8 patches, 4 layers, 4 heads);
runs happen at once (``run_now``) or, where the order of answers matters, when
the test says so (:class:`HeldRunner`).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.engine import vit
from explorer.engine.vit import analysis as va
from explorer.engine.vit.tasks import render_scene
from explorer.ui.panels.state import restore_settings, run_now, settings_of
from explorer.ui.panels.vit.attention_rules import HOVER_HINT
from explorer.ui.panels.vit.state import Selection, TokenLayout, ViTState


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return render_scene(7)[0]


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A non-square image, so resizing and cropping do something."""
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(70, 90, 3), dtype=np.uint8))


@pytest.fixture
def state(scene) -> ViTState:
    s = ViTState()
    s.set_image(scene)
    s.start()
    return s


class HeldJob:
    def __init__(self, fn, args, kwargs, callbacks) -> None:
        self.fn, self.args, self.kwargs, self.callbacks = fn, args, kwargs, callbacks
        self.done = False
        self.is_cancelled = False

    def cancel(self) -> None:
        self.is_cancelled = True

    def finish(self) -> None:
        """Do the work now and call back, as the worker would (a cancelled job only says so)."""
        self.done = True
        if self.is_cancelled:
            if self.callbacks["on_cancelled"] is not None:
                self.callbacks["on_cancelled"]()
            self.callbacks["on_finished"]()
            return
        run_now(self.fn, *self.args, **self.callbacks, **self.kwargs)


class HeldRunner:
    """A runner that holds every job until the test finishes it, in any order (as threads may)."""

    def __init__(self) -> None:
        self.jobs: list[HeldJob] = []

    def __call__(self, fn, *args, on_result=None, on_error=None, on_progress=None, on_cancelled=None,
                 on_finished=None, description="", **kwargs) -> HeldJob:
        callbacks = {"on_result": on_result, "on_error": on_error, "on_progress": on_progress,
                     "on_cancelled": on_cancelled, "on_finished": on_finished, "description": description}
        self.jobs.append(HeldJob(fn, args, kwargs, callbacks))
        return self.jobs[-1]


# -- loading and running --------------------------------------------------------------------------
def test_start_loads_the_bundled_model_and_runs_it_on_the_image(state, scene):
    cfg = state.model.config
    assert state.model_path == "" and state.input_size == cfg.image_size
    assert state.result.source is scene and state.progress is None
    assert state.selection == Selection(patch=0, layer=cfg.depth - 1, head=None, query=0)
    trace = state.result.trace
    expected = va.attention_map(trace.attentions[-1], trace.grid, 0, None).numpy()
    np.testing.assert_allclose(state.attention.values, expected, atol=1e-6)
    assert state.meaningless_on_photos and state.has_classifier


def test_nothing_runs_until_both_model_and_image_are_there():
    s = ViTState()
    assert s.run_model() is None
    s.start()
    assert s.model is not None and s.result is None


def test_the_latest_run_wins_whatever_order_the_answers_come_in(scene):
    runner = HeldRunner()
    s = ViTState(runner=runner)
    s.set_image(scene)
    s.start()
    runner.jobs[0].finish()  # the model; its own run is job 1
    runner.jobs[1].finish()
    p = s.model.config.patch_size
    s.set_input_size(4 * p)
    s.set_input_size(6 * p)
    first, second = runner.jobs[2], runner.jobs[3]
    assert first.is_cancelled and not second.is_cancelled
    second.finish()
    assert s.result.trace.grid == (6, 6) and s.progress is None
    first.finish()  # late, and cancelled: ignored
    assert s.result.trace.grid == (6, 6) and s.progress is None


def test_progress_is_shown_until_the_latest_request_ends(scene):
    runner = HeldRunner()
    s = ViTState(runner=runner)
    seen = []
    s.events.progress.connect(seen.append)
    s.start()
    assert s.progress == (0.0, "")
    runner.jobs[0].finish()
    assert s.progress is None
    assert (0.1, "reading weights") in seen and (1.0, "loaded on cpu") in seen


def test_a_run_asked_for_while_a_model_loads_waits_for_it(scene, photo):
    runner = HeldRunner()
    s = ViTState(runner=runner)
    s.set_image(scene)
    s.start()
    runner.jobs[0].finish()
    runner.jobs[1].finish()
    old = s.model
    s.load_model(vit.DEFAULT_BUNDLED)
    s.set_image(photo)  # must not cancel the load nor run the old model
    assert len(runner.jobs) == 3 and not runner.jobs[2].is_cancelled
    runner.jobs[2].finish()
    runner.jobs[3].finish()
    assert s.model is not old and s.result.model is s.model and s.result.source is photo


def test_a_cancelled_load_runs_the_old_model_on_the_new_image(scene, photo):
    runner = HeldRunner()
    s = ViTState(runner=runner)
    s.set_image(scene)
    s.start()
    runner.jobs[0].finish()
    runner.jobs[1].finish()
    old = s.model
    s.load_model(vit.DEFAULT_BUNDLED)
    s.set_image(photo)
    s.cancel()
    runner.jobs[2].finish()
    runner.jobs[3].finish()
    assert s.model is old and s.result.source is photo and s.progress is None


def test_a_bad_model_file_is_reported_and_the_model_kept(state, tmp_path):
    bad = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3)}, bad)
    before = state.model
    with pytest.raises(ValueError, match=r"conv1\.weight"):
        state.load_model(bad)
    errors = []
    state.on_error = lambda title, exc: errors.append((title, str(exc)))
    state.load_model(bad)
    assert state.model is before and state.model_path == ""
    assert errors[0][0] == "Could not open resnet.pth as a ViT" and "conv1.weight" in errors[0][1]


def test_a_run_that_fails_is_reported(state):
    errors = []
    state.on_error = lambda title, exc: errors.append(title)
    state.set_image(Image.new("RGB", (0, 0)))
    assert errors == ["ViT"]


# -- the selection --------------------------------------------------------------------------------
def test_a_new_trace_clamps_the_selection_and_keeps_layer_and_head_of_the_same_model(state):
    state.select_patch(63)
    state.set_layer(1)
    state.set_head(2)
    state.set_query(None)
    state.set_input_size(4 * state.model.config.patch_size)  # 4×4 grid
    assert state.selection == Selection(patch=15, layer=1, head=2, query=None)
    assert state.attention.query == 16


def test_a_new_model_starts_on_its_last_layer_and_the_mean_of_heads(state):
    state.set_layer(0)
    state.set_head(3)
    state.select_patch(9)
    state.load_model(vit.DEFAULT_BUNDLED)  # a new model object
    assert state.selection == Selection(patch=9, layer=state.model.config.depth - 1, head=None, query=0)


def test_the_clamp_rule_on_a_layout_with_more_special_tokens():
    registers = TokenLayout(("[CLS]", "[REG1]", "[REG2]"), grid=(4, 4), depth=2, heads=3)
    plain = TokenLayout(("[CLS]",), grid=(3, 3), depth=4, heads=2)
    selection = Selection(patch=12, layer=1, head=2, query=2)
    assert selection.query_token(registers) == 2
    assert selection.fitted(plain, fresh_model=False) == Selection(patch=8, layer=1, head=None, query=0)
    on_patch = Selection(patch=5, query=None)
    assert on_patch.query_token(registers) == 8 and on_patch.query_token(plain) == 6
    assert on_patch.fitted(registers, fresh_model=True) == Selection(patch=5, layer=1, head=None, query=None)


def test_out_of_range_choices_are_ignored(state):
    before = state.selection
    state.select_patch(64)
    state.select_patch(-1)
    state.set_layer(4)
    state.set_head(4)
    state.set_query(1)  # no such special token
    assert state.selection == before


# -- the step-6 map and its readout ---------------------------------------------------------------
def test_clicking_the_map_while_from_cls_attends_from_that_patch(state):
    """The tracker's bug: a click did nothing while 'from [CLS]' was chosen although the text says to click."""
    assert state.selection.query == 0
    state.set_head(1)
    state.attend_from_patch(5)
    assert state.selection.patch == 5 and state.selection.query is None
    trace = state.result.trace
    expected = va.attention_map(trace.attentions[-1], trace.grid, 6, 1).numpy()
    np.testing.assert_allclose(state.attention.values, expected, atol=1e-6)
    assert "where patch 5 looks" in state.attention.description
    state.select_patch(7)  # the query follows the selected patch
    assert state.attention.query == 8
    state.set_query(0)
    assert state.attention.query == 0 and state.selection.patch == 7


def test_the_readout_follows_a_switch_to_rollout(state):
    """The tracker's bug: the readout under the map kept the old view's weight."""
    trace = state.result.trace
    state.hover(2)
    assert f"weight {state.attention.values[0, 2]:.4f} — layer 4, mean of heads" in state.readout()
    maps = []
    state.events.attention.connect(maps.append)
    state.attention_view = "rollout"
    joint = va.rollout(trace.attentions, "mean", 0.0)
    assert maps and f"weight {float(joint[0, 3]):.4f} — rollout" in state.readout()
    state.discard_ratio = 0.5
    joint = va.rollout(trace.attentions, "mean", 0.5)
    assert f"weight {float(joint[0, 3]):.4f} — rollout" in state.readout()
    np.testing.assert_allclose(state.attention.values, joint[0, 1:].reshape(trace.grid).numpy(), atol=1e-6)


def test_the_readout_follows_a_new_model_and_says_when_the_pointer_left(state):
    assert state.readout() == ""  # the pointer has not been over the map
    state.set_layer(0)
    state.hover(10)
    state.load_model(vit.DEFAULT_BUNDLED)
    trace = state.result.trace
    expected = va.attention_map(trace.attentions[-1], trace.grid, 0, None)[1, 2]
    assert f"patch 10 (row 1, col 2): weight {float(expected):.4f} — layer 4, mean of heads" == state.readout()
    state.hover(-1)
    assert state.readout() == HOVER_HINT


def test_a_dot_in_the_distance_plot_shows_that_head_of_that_layer(state):
    state.attention_view = "rollout"
    state.show_head(1, 2)
    assert state.attention_view == "raw" and state.attention.layer == 1 and state.attention.head == 2
    trace = state.result.trace
    np.testing.assert_allclose(state.attention.values, va.attention_map(trace.attentions[1], trace.grid, 0, 2).numpy(), atol=1e-6)


def test_the_map_is_not_redone_when_nothing_it_depends_on_changed(state):
    maps = []
    state.events.attention.connect(maps.append)
    state.select_patch(3)  # the query is [CLS]: the map stays
    state.step = 6
    assert maps == []


# -- settings -------------------------------------------------------------------------------------
def test_settings_round_trip_and_damaged_values_are_ignored(state):
    state.step, state.attention_view, state.head_fusion, state.discard_ratio = 6, "rollout", "max", 0.5
    state.show_grid = False
    saved = {name: str(value) for name, value in settings_of(state).items()}  # as a settings file holds them
    fresh = ViTState()
    assert set(restore_settings(fresh, saved)) == set(ViTState.PERSISTED)
    assert settings_of(fresh) == settings_of(state)
    damaged = {"step": "12", "attention_view": "sideways", "head_fusion": "median", "discard_ratio": "nan",
               "input_size": "-8", "show_grid": "maybe"}
    assert restore_settings(ViTState(), damaged) == []


def test_the_remembered_model_file_comes_back_at_start_with_its_input_size(tmp_path, scene):
    path = tmp_path / "mine.safetensors"
    shutil.copy(vit.bundled_path(), path)
    s = ViTState()
    s.set_image(scene)
    s.start()
    s.load_model(path)
    s.set_input_size(96)
    assert s.model_path == str(path.resolve())
    again = ViTState()
    restore_settings(again, settings_of(s))
    again.set_image(scene)
    again.start()
    assert again.model.name == "mine.safetensors" and again.input_size == 96
    assert again.result.trace.grid == (12, 12)
    again.load_model(vit.DEFAULT_BUNDLED)  # only the first model keeps the remembered size
    assert again.input_size == 64 and again.model_path == ""


def test_a_remembered_model_that_is_gone_or_broken_gives_the_bundled_one(tmp_path):
    gone = ViTState(model_path=str(tmp_path / "gone.safetensors"))
    gone.start()
    assert gone.model.name == "bundled 'shapes'" and gone.model_path == ""
    broken_file = tmp_path / "broken.safetensors"
    broken_file.write_bytes(b"not weights")
    errors = []
    broken = ViTState(model_path=str(broken_file), on_error=lambda title, exc: errors.append(title))
    broken.start()
    assert errors == ["Could not open broken.safetensors as a ViT"]
    assert broken.model.name == "bundled 'shapes'" and broken.model_path == ""


def test_a_remembered_input_size_that_does_not_fit_the_model_is_replaced(scene):
    s = ViTState(input_size=vit.MAX_INPUT)  # more patches than the trace keeps
    s.set_image(scene)
    s.start()
    assert s.input_size == s.model.config.image_size and s.result is not None


# -- sample scenes and export ---------------------------------------------------------------------
def test_sample_scenes_are_new_each_time(state):
    first, name = state.next_sample_scene()
    second, other = state.next_sample_scene()
    assert name.startswith("generated scene 1 (") and other.startswith("generated scene 2 (")
    assert first.tobytes() != second.tobytes()


def test_export_attention(state, tmp_path):
    array = np.load(state.export_attention(tmp_path / "att.npy"))
    cfg = state.model.config
    assert array.shape == (cfg.depth, cfg.heads, 65, 65) and array.dtype == np.float32
    with pytest.raises(ValueError, match="has not run"):
        ViTState().export_attention(tmp_path / "none.npy")
