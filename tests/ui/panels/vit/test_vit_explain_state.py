"""Steps 8–11 driven through the ViT state without Qt: relevance, ablation, every head, the logit lens.

The bundled model (4 layers × 4 heads, 4 classes) on a generated scene; every
number checked against the engine's own functions on the same trace.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from explorer.engine import vit
from explorer.engine.infra.checkpoints import save_model
from explorer.engine.vit import ablation as ab
from explorer.engine.vit import analysis as va
from explorer.engine.vit import heads_overview as ho
from explorer.engine.vit import logit_lens as ll
from explorer.engine.vit import relevance as rl
from explorer.engine.vit.tasks import render_scene
from explorer.ui.panels.state import restore_settings, settings_of
from explorer.ui.panels.vit.explain_maps import levels
from explorer.ui.panels.vit.explain_rules import ABLATION_STEP, HEADS_STEP, LENS_STEP, RELEVANCE_STEP
from explorer.ui.panels.vit.state import ViTState


@pytest.fixture
def state() -> ViTState:
    s = ViTState()
    s.set_image(render_scene(7)[0])
    s.start()
    return s


def test_step_8_lays_raw_attention_rollout_and_relevance_of_the_same_query_side_by_side(state):
    assert state.comparison is None  # nothing is made before its step is shown
    state.step = RELEVANCE_STEP
    trace = state.result.trace
    raw, rolled, relevant = state.comparison
    np.testing.assert_allclose(raw.values, va.attention_map(trace.attentions[-1], trace.grid, 0).numpy(), atol=1e-6)
    np.testing.assert_allclose(rolled.values, va.rollout(trace.attentions)[0, 1:].reshape(trace.grid).numpy(), atol=1e-6)
    target = state.result.top[0][2]
    expected = rl.relevance(state.model.net, trace.pixels, target).chefer[0, 1:].reshape(trace.grid)
    np.testing.assert_allclose(relevant.values, expected.numpy(), atol=1e-6)
    assert state.class_name(target) in relevant.title and "own entry" in relevant.description
    shared, own = levels(list(state.comparison), "shared"), levels(list(state.comparison), "per map")
    top = max(m.high for m in state.comparison)
    assert shared == [(0.0, top)] * 3 and own == [(0.0, m.high) for m in state.comparison]
    assert "raw range" in relevant.range_text()


def test_relevance_follows_the_class_method_and_query_chosen(state):
    state.step = RELEVANCE_STEP
    trace = state.result.trace
    second = state.result.top[1][2]
    state.set_explain_class(second)
    r = rl.relevance(state.model.net, trace.pixels, second)
    np.testing.assert_allclose(state.comparison[2].values, r.chefer[0, 1:].reshape(trace.grid).numpy(), atol=1e-6)
    state.relevance_method = "gradient rollout"
    np.testing.assert_allclose(state.comparison[2].values, r.gradient_rollout[0, 1:].reshape(trace.grid).numpy(),
                               atol=1e-6)
    state.select_patch(9)
    state.set_query(None)
    np.testing.assert_allclose(state.comparison[2].values, r.gradient_rollout[10, 1:].reshape(trace.grid).numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(state.comparison[0].values,
                               va.attention_map(trace.attentions[-1], trace.grid, 10).numpy(), atol=1e-6)


def test_switching_heads_off_runs_the_model_again_and_keeps_the_intact_prediction(state):
    intact = state.result.trace.logits.clone()
    before = state.result
    state.toggle_head(2, 1)
    state.set_layer_heads(0, on=False)
    off = {(2, 1), (0, 0), (0, 1), (0, 2), (0, 3)}
    assert state.result is not before and set(state.switched_off) == off
    mask = ab.head_mask(4, 4, off)
    expected = state.model.trace(state.result.trace.pixels, mask)
    torch.testing.assert_close(state.result.trace.logits, expected.logits)
    np.testing.assert_allclose(state.attention.values,
                               va.attention_map(expected.attentions[-1], expected.grid, 0).numpy(), atol=1e-6)
    state.step = ABLATION_STEP
    torch.testing.assert_close(state.intact_logits, intact)
    state.set_heads_off(())
    assert state.result.trace.head_mask is None and state.switched_off == []


def test_head_importance_is_made_on_request_for_the_chosen_class_and_cleared_when_it_no_longer_fits(state):
    state.step = ABLATION_STEP
    assert state.importance is None
    state.compute_importance()
    target = state.result.top[0][2]
    expected = ab.head_importance(state.model.net, state.result.trace.pixels, target)
    np.testing.assert_allclose(state.importance.drop, expected.drop, atol=1e-5)
    state.set_explain_class(state.result.top[1][2])
    assert state.importance is None  # made for another class
    state.compute_importance()
    assert state.importance.target == state.result.top[1][2]
    state.toggle_head(1, 1)
    assert state.importance is None  # made for another set of switches


def test_step_10_shows_every_head_for_the_query_and_a_click_opens_it_in_step_6(state):
    state.select_patch(12)
    state.set_query(None)
    state.step = HEADS_STEP
    trace = state.result.trace
    expected = ho.heads_overview(trace.attentions, trace.grid, trace.leading, 13)
    np.testing.assert_allclose(state.overview.maps, expected.maps, atol=1e-7)
    assert state.overview.order.tolist() == expected.order.tolist()
    state.open_head(1, 3)
    assert state.step == 6 and state.selection.layer == 1 and state.selection.head == 3
    assert state.selection.query is None and state.selection.patch == 12 and state.attention_view == "raw"
    np.testing.assert_allclose(state.attention.values, expected.maps[1, 3], atol=1e-6)


def test_step_11_reads_every_layer_and_its_last_is_the_prediction(state):
    state.step = LENS_STEP
    lens = state.lens
    np.testing.assert_allclose(lens.readout[-1], state.result.trace.probabilities[0].numpy(), atol=1e-6)
    assert set(lens.classes) == {index for _n, _p, index in state.result.top}
    assert lens.settled == ll.settle_layer(lens.top1.tolist())


def test_a_new_model_starts_with_every_head_on_and_the_top_class(state, tmp_path):
    state.toggle_head(0, 0)
    state.set_explain_class(2)
    save_model(tmp_path / "copy.safetensors", state.model.net.state_dict(), state.model.config.to_dict())
    state.load_model(tmp_path / "copy.safetensors")
    assert state.heads_off == frozenset() and state.explain_class is None
    assert state.result.trace.head_mask is None


def test_exports_write_arrays_and_tables(state, tmp_path):
    state.step = RELEVANCE_STEP
    maps = np.load(state.export_comparison(tmp_path / "rel.npy"))
    assert maps.shape == (3, 8, 8) and np.allclose(maps[2], state.comparison[2].values)
    with (state.export_comparison(tmp_path / "rel.csv")).open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["patch", "row", "col"] and len(rows) == 65
    assert float(rows[10][5]) == pytest.approx(float(state.comparison[2].values.reshape(-1)[9]), rel=1e-6)
    with pytest.raises(ValueError, match="press “Compute importance” first"):
        state.export_importance(tmp_path / "imp.npy")
    state.compute_importance()
    np.testing.assert_allclose(np.load(state.export_importance(tmp_path / "imp.npy")), state.importance.drop, atol=1e-6)
    assert len(list(csv.reader(state.export_importance(tmp_path / "imp.csv").open()))) == 17
    state.step = HEADS_STEP
    assert np.load(state.export_overview(tmp_path / "heads.npy")).shape == (4, 4, 8, 8)
    state.step = LENS_STEP
    table = list(csv.reader(state.export_lens(tmp_path / "lens.csv").open()))
    assert len(table) == 6 and table[-1][1] == str(state.result.top[0][2])
    with pytest.raises(ValueError, match="export as .npy"):
        state.export_lens(tmp_path / "lens.txt")


def test_settings_of_the_new_steps_persist(state):
    state.relevance_method, state.map_scale, state.heads_order, state.step = "gradient rollout", "per map", "similar", 10
    again = ViTState()
    assert set(restore_settings(again, settings_of(state))) >= {"relevance_method", "map_scale", "heads_order", "step"}
    assert (again.relevance_method, again.map_scale, again.heads_order, again.step) == ("gradient rollout", "per map",
                                                                                         "similar", 10)
    assert restore_settings(ViTState(), {"map_scale": "sideways", "step": 12}) == []


def test_without_a_classifier_relevance_and_the_lens_say_why_and_importance_uses_the_output(tmp_path):
    pytest.importorskip("timm")
    import timm

    torch.manual_seed(0)
    dino = timm.create_model("vit_small_patch16_224", pretrained=False, img_size=64, depth=2, num_classes=0)
    save_model(tmp_path / "features.safetensors", dino.state_dict(), {})
    s = ViTState()
    s.set_image(render_scene(3)[0])
    s.load_model(tmp_path / "features.safetensors")
    assert not s.has_classifier and s.explain_target is None and s.class_choices() == []
    s.step = RELEVANCE_STEP
    assert s.comparison[0] is not None and s.comparison[1] is not None and s.comparison[2] is None
    s.step = LENS_STEP
    assert s.lens is None
    with pytest.raises(ValueError, match="classifier head, and this model has none"):
        s.export_lens(tmp_path / "lens.npy")
    s.compute_importance()
    assert s.importance.measure == "cosine" and s.importance.drop.shape == (2, 6)
    model = vit.load(tmp_path / "features.safetensors")
    expected = ab.head_importance(model.net, s.result.trace.pixels)
    np.testing.assert_allclose(s.importance.drop, expected.drop, atol=1e-6)


class PendingRunner:
    """Holds each job until the test runs it (through run_now) or ends it as a cancelled worker would."""

    def __init__(self) -> None:
        self.jobs = []

    def __call__(self, fn, *args, **callbacks):
        from explorer.ui.panels.state import run_now

        job = type("Job", (), {"done": False, "cancelled": False})()
        job.cancel = lambda: setattr(job, "cancelled", True)

        def run():
            job.done = True
            run_now(fn, *args, **callbacks)

        def end_cancelled():
            job.done = True
            callbacks["on_finished"]()

        job.run, job.end_cancelled = run, end_cancelled
        self.jobs.append((fn, job))
        return job


def test_the_importance_loop_reports_each_head_and_cancel_stops_it():
    runner = PendingRunner()
    s = ViTState(runner=runner)
    s.set_image(render_scene(7)[0])
    s.start()
    runner.jobs[0][1].run()  # the model, then its run
    runner.jobs[1][1].run()
    assert s.result is not None
    s.compute_importance()
    fn, job = runner.jobs[-1]
    assert fn is ab.head_importance and s.progress == (0.0, "head importance")
    s.cancel()
    assert job.cancelled
    job.end_cancelled()
    assert s.importance is None and s.progress is None
    seen = []
    s.events.progress.connect(lambda value: seen.append(value))
    s.compute_importance()  # asked again after the cancel: a new job
    fn, again = runner.jobs[-1]
    assert again is not job
    again.run()
    texts = [value[1] for value in seen if value]
    assert "head importance: 4 of 16 heads" in texts and "head importance: 16 of 16 heads" in texts
    assert s.progress is None and s.importance is not None
