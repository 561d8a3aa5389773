"""The ViT panel's state with real families' extra tokens (no Qt): registers, the attention pool, long traces.

Small random transformers models saved with ``save_pretrained``; the state is
driven as the panel drives it and checked against the engine's own functions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.engine import vit
from explorer.engine.vit import analysis as va
from explorer.ui.panels.vit.result import LARGE_TRACE
from explorer.ui.panels.vit.selection import POOL_QUERY, Selection
from explorer.ui.panels.vit.state import ViTState

T = pytest.importorskip("transformers")
SMALL = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96, image_size=56,
             patch_size=14)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, size=(70, 90, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def registers_folder(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("dinov2_reg")
    T.Dinov2WithRegistersModel(T.Dinov2WithRegistersConfig(**SMALL, num_register_tokens=4)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def siglip_folder(tmp_path_factory):
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("siglip")
    T.SiglipVisionModel(T.SiglipVisionConfig(**SMALL)).save_pretrained(folder)
    return folder


def _state(folder, image) -> ViTState:
    state = ViTState(device="cpu")
    state.set_image(image)
    state.load_model(folder)
    return state


def test_registers_are_queries_and_are_left_off_the_grid(registers_folder, photo):
    state = _state(registers_folder, photo)
    layout = state.layout
    assert layout.special == ("[CLS]", "[REG1]", "[REG2]", "[REG3]", "[REG4]") and layout.grid == (4, 4)
    state.set_query(2)  # [REG2]
    trace = state.result.trace
    full = trace.attentions[1]  # (heads, 21, 21)
    np.testing.assert_allclose(state.attention.values, full.mean(0)[2, 5:].reshape(4, 4).numpy(), atol=1e-6)
    assert "where [REG2] looks" in state.attention.description and "the 4 registers" in state.attention.description
    assert dict(state.attention.special)["[CLS]"] == pytest.approx(float(full.mean(0)[2, 0]), abs=1e-6)
    state.attend_from_patch(3)
    assert state.attention.query == 8
    state.attention_view = "rollout"
    joint = va.rollout(trace.attentions, "mean", 0.0, protect=5)
    np.testing.assert_allclose(state.attention.values, joint[8, 5:].reshape(4, 4).numpy(), atol=1e-5)
    assert state.result.norms.shape == (3, 21) and state.result.high_norm.shape == (3, 16)


def test_siglip_reads_from_its_pooling_probe(siglip_folder, photo):
    state = _state(siglip_folder, photo)
    assert state.layout.special == () and state.pooled
    assert state.selection.query == POOL_QUERY  # nothing else to read from but the probe or a patch
    probe = state.result.trace.pool_attention  # (heads, 1, 16)
    np.testing.assert_allclose(state.attention.values, probe[:, 0].mean(0).reshape(4, 4).numpy(), atol=1e-6)
    state.set_head(2)
    np.testing.assert_allclose(state.attention.values, probe[2, 0].reshape(4, 4).numpy(), atol=1e-6)
    state.attention_view = "rollout"
    factors = [va.rollout_layer(a, "mean", 0.0, 0) for a in state.result.trace.attentions]
    expected = va.rollout_row(factors, probe[:, 0].mean(0))
    np.testing.assert_allclose(state.attention.values, expected.reshape(4, 4).numpy(), atol=1e-6)
    state.set_query(0)  # no [CLS] here: ignored
    assert state.selection.query == POOL_QUERY


def test_the_probe_query_falls_back_when_the_model_has_none(siglip_folder, photo):
    state = _state(siglip_folder, photo)
    state.load_model(vit.DEFAULT_BUNDLED)
    assert state.selection.query == 0 and state.attention.query == 0
    fitted = Selection(query=POOL_QUERY).fitted(state.layout, fresh_model=False, pooled=False)
    assert fitted.query == 0


def test_assumed_preprocessing_can_be_changed_and_reruns(registers_folder, photo):
    state = _state(registers_folder, photo)
    assert state.model.preprocessing_assumed
    before = state.result
    state.set_preprocessing(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), crop_pct=1.0, resize_mode="squash")
    assert state.result is not before and state.model.config.preprocessing_from == "set by you"
    assert state.result.plan.resized == (56, 56)  # the whole image squashed
    expected = state.model.preprocess(photo)
    torch.testing.assert_close(state.result.trace.pixels, expected)
    errors = []
    state.on_error = lambda title, exc: errors.append((title, str(exc)))
    state.set_preprocessing(crop_pct=2.0)
    assert errors and errors[0][0] == "Preprocessing" and "crop_pct" in errors[0][1]


def test_the_device_setting(photo):
    state = ViTState()
    assert state.device == "auto"
    state.set_image(photo)
    state.start()
    assert state.model.device == vit.pick_device("auto") and state.device_text().startswith(state.model.device)
    state.set_device("cpu")
    assert state.model.device == "cpu" and state.device == "cpu"
    state.set_device("tpu")  # not a choice: ignored
    assert state.device == "cpu"


def test_a_retrained_model_is_said_to_be_and_is_meaningless_on_photos(tmp_path, photo):
    from explorer.engine.training.loop import save_trained, train
    from explorer.engine.training.registry import available_tasks

    entry = available_tasks()["vit-shapes"]
    task = entry.make()
    result = train(task, entry.default_config(steps=1, batch_size=2, warmup_steps=0))
    path = save_trained(tmp_path / "vit-shapes_20250101-071448.safetensors", task, result, extra={"trained_in": "app"})
    state = _state(path, photo)
    assert state.model.config.source == "trained in this app" and state.meaningless_on_photos


def test_a_long_trace_makes_new_rollout_factors_in_the_runner(photo):
    """Above LARGE_TRACE tokens a new discard ratio is a job; the map follows when it is done."""
    from test_vit_state import HeldRunner

    runner = HeldRunner()
    state = ViTState(runner=runner, input_size=21 * 8)  # bundled model, 21 × 21 = 441 patches
    state.set_image(photo)
    state.start()
    runner.jobs[0].finish()
    runner.jobs[1].finish()
    assert state.result.large and state.layout.total > LARGE_TRACE
    state.attention_view = "rollout"  # the factors for (mean, 0) came with the result
    first = state.attention
    state.discard_ratio = 0.5
    assert len(runner.jobs) == 3 and state.attention is first  # being made
    runner.jobs[2].finish()
    joint = va.rollout(state.result.trace.attentions, "mean", 0.5)
    np.testing.assert_allclose(state.attention.values, joint[0, 1:].reshape(21, 21).numpy(), atol=1e-5)
