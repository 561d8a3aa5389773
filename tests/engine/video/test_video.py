"""The video models: recurrence equal to torch.nn, causal attention, importance, the generator.

Random weights and inputs come from fixed seeds (each test's ids name them), so a failure
reproduces exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from explorer.engine.infra.progress import Cancelled, Reporter
from explorer.engine.training.loop import SnapshotView
from explorer.engine.video.analysis import analyse, frame_importance, to_model_frames
from explorer.engine.video.generated import CLASSES, generate
from explorer.engine.video.models import VideoClassifier, VideoModelError, build, load, run_recurrent_stepwise


SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_stepwise_recurrence_equals_torch_nn(kind, seed):
    """The frame-by-frame equations reproduce torch.nn.GRU / LSTM with random weights and inputs."""
    torch.manual_seed(seed)
    F, H, B, T = 13, 17, 3, 11
    module = (nn.GRU if kind == "gru" else nn.LSTM)(F, H, batch_first=True)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.5)
    feats = torch.randn(B, T, F) * 2
    expected, _ = module(feats)  # (B, T, H)
    got = run_recurrent_stepwise(module, feats)
    assert torch.allclose(got, expected, atol=1e-5), (seed, (got - expected).abs().max())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("arch", ["gru", "lstm"])
def test_trace_hidden_equals_a_fresh_torch_module_loaded_from_the_state_dict(arch, seed):
    torch.manual_seed(seed)
    model = build({"arch": arch, "frame_size": 32, "features": 24, "hidden": 20}).eval()
    frames = np.random.default_rng(seed).integers(0, 256, (9, 40, 56, 3), dtype=np.uint8)
    trace = analyse(model, frames)
    reference = (nn.GRU if arch == "gru" else nn.LSTM)(24, 20, batch_first=True)
    reference.load_state_dict({k.removeprefix("temporal.rnn."): v for k, v in model.state_dict().items() if k.startswith("temporal.rnn.")})
    with torch.no_grad():
        expected, _ = reference(trace.features[None])
        logits = model(to_model_frames(frames, 32)[None])[0]  # the batched training path
    assert torch.allclose(trace.hidden, expected[0], atol=1e-5), (seed, (trace.hidden - expected[0]).abs().max())
    assert torch.allclose(trace.logits, logits, atol=1e-4), seed
    assert torch.allclose(trace.probs.sum(-1), torch.ones(9), atol=1e-5)
    assert trace.features.shape == (9, 24) and trace.attentions is None


@pytest.mark.parametrize("seed", SEEDS)
def test_transformer_attention_is_causal_and_matches_the_batched_path(seed):
    torch.manual_seed(seed)
    model = build({"arch": "transformer", "frame_size": 32, "features": 24, "hidden": 32, "heads": 4, "layers": 2, "max_frames": 20}).eval()
    frames = np.random.default_rng(seed).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    trace = analyse(model, frames)
    assert len(trace.attentions) == 2
    for weights in trace.attentions:
        assert weights.shape == (4, 12, 12)
        assert torch.allclose(weights.sum(-1), torch.ones(4, 12), atol=1e-5)  # rows are distributions
        assert torch.all(weights.triu(1) == 0)  # no frame attends to a later one
    with torch.no_grad():
        logits = model(to_model_frames(frames, 32)[None])[0]
    assert torch.allclose(trace.logits, logits, atol=1e-4)
    # causal: changing the last frame leaves every earlier prediction unchanged
    changed = frames.copy()
    changed[-1] = 255 - changed[-1]
    other = analyse(model, changed, importance=False)
    assert torch.allclose(other.logits[:-1], trace.logits[:-1], atol=1e-5)
    assert not torch.allclose(other.logits[-1], trace.logits[-1], atol=1e-5)
    with pytest.raises(VideoModelError, match="frame cap"):
        analyse(model, np.zeros((21, 32, 32, 3), np.uint8))


@pytest.mark.parametrize("seed, frame", [(0, 0), (1, 3), (2, 5)])
def test_importance_is_the_gradient_norm_per_frame(seed, frame):
    torch.manual_seed(seed)
    model = build({"arch": "gru", "frame_size": 32, "features": 16, "hidden": 16}).eval()
    inputs = torch.rand(6, 3, 32, 32, dtype=torch.float32)
    target = 3
    importance = frame_importance(model, inputs, target)
    # central differences (float64, tiny step: ReLU kinks) along a random direction in one frame
    direction = torch.zeros(6, 3, 32, 32, dtype=torch.float64)
    direction[frame] = torch.randn(3, 32, 32, dtype=torch.float64)
    model64 = build({"arch": "gru", "frame_size": 32, "features": 16, "hidden": 16}).double().eval()
    model64.load_state_dict(model.state_dict())
    x = inputs.double()[None].clone().requires_grad_(True)
    model64(x)[0, -1, target].backward()
    eps = 1e-7
    with torch.no_grad():
        up = model64((inputs.double() + eps * direction)[None])[0, -1, target]
        down = model64((inputs.double() - eps * direction)[None])[0, -1, target]
    numeric = float((up - down) / (2 * eps))
    analytic = float((x.grad[0] * direction).sum())
    assert abs(analytic) > 1e-6, (seed, analytic)  # the check is not a trivial 0 == 0
    assert numeric == pytest.approx(analytic, rel=1e-4, abs=1e-9), seed
    assert torch.allclose(importance.double(), x.grad[0].flatten(1).norm(dim=1), rtol=1e-4, atol=1e-7)


def test_analyse_reports_progress_and_can_be_cancelled():
    model = build({"arch": "gru", "frame_size": 32, "features": 16, "hidden": 16})
    frames = np.zeros((70, 32, 32, 3), np.uint8)
    seen = []
    analyse(model, frames, reporter=Reporter(lambda f, t: seen.append(f)))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    reporter = Reporter()
    reporter.cancel()
    with pytest.raises(Cancelled, match="cancelled on request"):
        analyse(model, frames, reporter=reporter)


def test_generator_is_seeded_and_classes_need_several_frames():
    a = generate(16, torch.Generator().manual_seed(4))
    b = generate(16, torch.Generator().manual_seed(4))
    assert torch.equal(a.frames, b.frames) and torch.equal(a.labels, b.labels)
    assert a.frames.shape == (16, 16, 3, 48, 48) and a.frames.min() >= 0 and a.frames.max() <= 1
    clips = generate(len(CLASSES) * 8, torch.Generator().manual_seed(9), noise=0.0,
                     labels=torch.arange(len(CLASSES)).repeat_interleave(8))
    # every class changes over time (no class is visible in a single frame)
    change = (clips.frames[:, -1] - clips.frames[:, 0]).abs().flatten(1).amax(1)
    assert torch.all(change > 0.2)
    # direction classes move their centre of mass the right way
    background = clips.frames[..., :1, :1]  # (B, T, 3, 1, 1): corners are background
    mass = ((clips.frames - background).abs().amax(2) > 0.25).float()  # (B, T, S, S) shape pixels
    ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    cx = (mass * xs).sum((-1, -2)) / mass.sum((-1, -2))
    cy = (mass * ys).sum((-1, -2)) / mass.sum((-1, -2))
    moved_x = cx[:, -1] - cx[:, 0]
    moved_y = cy[:, -1] - cy[:, 0]
    assert torch.all(moved_x[0:8] > 5) and torch.all(moved_x[8:16] < -5)
    assert torch.all(moved_y[16:24] > 5) and torch.all(moved_y[24:32] < -5)


def test_bad_model_files_and_settings(tmp_path):
    from explorer.engine.infra.checkpoints import CheckpointError, save_model

    with pytest.raises(VideoModelError, match="architecture"):
        build({"arch": "cnn3d"})
    with pytest.raises(VideoModelError, match="unknown video model settings"):
        build({"arch": "gru", "dropout": 0.5})
    model = VideoClassifier(arch="gru", hidden=16, features=16)
    save_model(tmp_path / "wrong.safetensors", model.state_dict(), {"model": {"arch": "gru", "hidden": 32, "features": 16}})
    with pytest.raises(VideoModelError, match="do not fit"):
        load(tmp_path / "wrong.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not weights at all")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="no frames"):
        to_model_frames(np.zeros((0, 8, 8, 3), np.uint8), 32)


def test_training_tasks_are_registered_and_give_a_loss_and_a_snapshot():
    from explorer.engine.training.registry import available_tasks
    from explorer.engine.video.tasks import TRAIN_DEFAULTS, TRAIN_TASKS

    entries = available_tasks()
    for name in ("video_gru", "video_transformer"):
        assert entries[name].panel == "video" and entries[name].defaults is TRAIN_DEFAULTS[name]
        task = TRAIN_TASKS[name]()
        model = task.build_model()
        batch = task.sample(4, torch.Generator().manual_seed(1))
        loss, accuracy = task.loss(model, batch)
        assert loss.ndim == 0 and torch.isfinite(loss) and 0 <= accuracy <= 1
        view = task.snapshot_view(model)
        assert isinstance(view, SnapshotView) and view.kind == "sequential"  # probabilities
        assert view.title.startswith("P(true class)") and view.caption.startswith("last frame: ")
        truth = view.array  # (K, T): row k is the belief in class k on a clip of class k
        assert truth.shape == (len(CLASSES), 16) and (truth >= 0).all() and (truth <= 1).all()
        assert view.caption == f"last frame: {truth[:, -1].mean():.2f}"
        assert model.training  # the snapshot leaves the model in training mode


def test_later_frames_weigh_more_in_the_loss():
    from explorer.engine.video.models import time_weights
    from explorer.engine.video.tasks import VideoClipTask

    assert torch.allclose(time_weights(4), torch.tensor([0.1, 0.2, 0.3, 0.4]))
    task = VideoClipTask("gru", frame_size=32, features=16, hidden=16, channels=8)
    torch.manual_seed(0)
    model = task.build_model()
    batch = task.sample(3, torch.Generator().manual_seed(2))
    loss, accuracy = task.loss(model, batch)
    logits = model(batch.frames)  # (B, T, K)
    T = logits.shape[1]
    per_frame = torch.stack([nn.functional.cross_entropy(logits[:, t], batch.labels, reduction="none") for t in range(T)], 1)
    expected = (per_frame * torch.arange(1, T + 1) / (T * (T + 1) / 2)).sum(1).mean()  # (B, T) → scalar
    assert torch.allclose(loss, expected, atol=1e-6)
    assert accuracy == float((logits[:, -1].argmax(-1) == batch.labels).float().mean())
