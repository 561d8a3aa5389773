"""The shipped small ViT, checked on freshly generated scenes (never trained here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.engine import vit
from explorer.engine.vit.analysis import position_locality
from explorer.engine.vit.tasks import CLASS_NAMES, generate_scenes, normalise, render_scene

FRESH_SEED = 424_242  # neither the training seed nor the script's evaluation seed


@pytest.fixture(scope="module")
def model() -> vit.LoadedViT:
    return vit.load("shapes")


def test_bundled_file_is_small_and_carries_its_figures(model):
    path = vit.bundled_path()
    assert path.stat().st_size < 5_000_000
    assert model.config.source == "bundled" and model.class_names == CLASS_NAMES
    assert model.metrics["accuracy_fresh"] >= 0.9
    assert model.metrics["position_spearman"] <= -0.5
    assert model.metrics["task"] == "vit-shapes"


def test_accuracy_on_fresh_scenes(model):
    images, labels = generate_scenes(400, torch.Generator().manual_seed(FRESH_SEED))
    with torch.no_grad():
        predicted = model.net(normalise(images)).argmax(-1)
    assert (predicted == labels).float().mean().item() >= 0.9


def test_position_embeddings_learned_two_dimensional_locality(model):
    rho = position_locality(model.net.pos_embed.detach()[0], (model.config.grid, model.config.grid))
    assert rho <= -0.5
    assert rho == pytest.approx(model.metrics["position_spearman"], abs=1e-3)


def test_the_app_pipeline_sees_what_training_saw(model):
    """A generated scene as a PIL image, through preprocess, equals the training input and is classified right."""
    correct = 0
    for seed in range(20):
        image, label = render_scene(5_000 + seed)
        pixels = model.preprocess(image)
        generator = torch.Generator().manual_seed(5_000 + seed)
        images, _ = generate_scenes(1, generator)
        np.testing.assert_allclose(pixels.numpy(), normalise(images).numpy(), atol=1e-5)
        trace = model.trace(pixels)
        correct += int(trace.logits.argmax().item() == label)
        assert model.top_k(trace)[0][0] == CLASS_NAMES[int(trace.logits.argmax())]
    assert correct >= 17
