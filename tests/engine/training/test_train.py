"""The one training loop: deterministic, cancellable, pausable, safe against divergence."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from explorer.engine.infra.checkpoints import load_model_file
from explorer.engine.training.loop import TrainConfig, TrainControl, TrainTask, save_trained, train


class Blobs(TrainTask):
    """Two Gaussian blobs in 8-D; a small MLP separates them. Random each batch."""

    name = "blobs"

    def __init__(self, hidden: int = 16) -> None:
        self.hidden = hidden

    def model_config(self):
        return {"hidden": self.hidden}

    def build_model(self):
        return nn.Sequential(nn.Linear(8, self.hidden), nn.Tanh(), nn.Linear(self.hidden, 2))

    def sample(self, batch_size, generator):
        labels = torch.randint(0, 2, (batch_size,), generator=generator)
        centres = (labels.float() * 2 - 1)[:, None] * torch.ones(batch_size, 8)  # (B, 8)
        return centres + torch.randn(batch_size, 8, generator=generator), labels

    def loss(self, model, batch):
        x, y = batch
        logits = model(x)
        return nn.functional.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean().item()


def weights(result):
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_same_seed_same_weights_different_seed_different():
    config = TrainConfig(steps=30, batch_size=32, lr=1e-2, seed=3)
    a, b = weights(train(Blobs(), config)), weights(train(Blobs(), config))
    c = weights(train(Blobs(), TrainConfig(steps=30, batch_size=32, lr=1e-2, seed=4)))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


class Recording(Blobs):
    """Blobs that keeps every batch it draws."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = []

    def sample(self, batch_size, generator):
        batch = super().sample(batch_size, generator)
        self.batches.append(batch)
        return batch


@pytest.mark.parametrize("seed", [3, 4])
def test_the_data_are_drawn_from_the_configs_seed(seed):
    """Batch i of a run is the i-th draw of a generator seeded with config.seed, nothing else."""
    task = Recording()
    train(task, TrainConfig(steps=3, batch_size=5, seed=seed))
    generator = torch.Generator().manual_seed(seed)
    expected = [Blobs().sample(5, generator) for _ in range(3)]
    assert len(task.batches) == 3
    for (x, y), (x_ref, y_ref) in zip(task.batches, expected):
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref), seed


def test_the_weights_start_from_the_configs_seed():
    config = TrainConfig(steps=1, batch_size=4, lr=1e-9, seed=11)
    torch.manual_seed(11)
    fresh = Blobs().build_model()
    trained = train(Blobs(), config).model
    for (name, a), b in zip(fresh.state_dict().items(), trained.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name  # one step at lr 1e-9 barely moves them


def test_loss_goes_down_and_progress_is_reported():
    seen = []
    result = train(Blobs(), TrainConfig(steps=60, batch_size=64, lr=1e-2, report_every=10), callback=seen.append)
    assert [p.step for p in seen] == [10, 20, 30, 40, 50, 60]
    assert seen[-1].loss < seen[0].loss * 0.5
    assert seen[-1].accuracy > 0.9
    assert all(p.samples_per_second > 0 and p.eta >= 0 for p in seen)
    assert result.status == "finished" and result.steps_done == 60


def test_cancel_stops_within_one_step():
    control = TrainControl()
    steps_seen = []

    class Counting(Blobs):
        def sample(self, batch_size, generator):
            steps_seen.append(1)
            if len(steps_seen) == 5:
                control.cancel()
            return super().sample(batch_size, generator)

    result = train(Counting(), TrainConfig(steps=1000, report_every=1), control=control)
    assert result.status == "cancelled"
    assert result.steps_done == 5 and len(steps_seen) == 5


def test_pause_blocks_until_resumed():
    control = TrainControl()
    control.pause()
    done = threading.Event()
    out = {}

    def run():
        out["result"] = train(Blobs(), TrainConfig(steps=5), control=control)
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert not done.wait(0.3), "a paused run went on"
    control.resume()
    assert done.wait(30)
    thread.join()
    assert out["result"].steps_done == 5


def test_divergence_stops_with_message_and_keeps_good_weights():
    class Exploding(Blobs):
        calls = 0

        def loss(self, model, batch):
            Exploding.calls += 1
            loss, acc = super().loss(model, batch)
            return (loss * float("nan") if Exploding.calls > 12 else loss), acc

    result = train(Exploding(), TrainConfig(steps=100, report_every=5, snapshot_every=5))
    assert result.status == "diverged" and "step 13" in result.message
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    assert result.steps_done == 12
    # the weights are those of the last report (step 10), not of step 12 after it
    last_good = result.history[-1]
    assert last_good.step == 10
    assert all(torch.equal(v, last_good.snapshot[k]) for k, v in result.model.state_dict().items())


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"lr": float("nan")}, "learning rate"),
        ({"lr": -1.0}, "learning rate"),
        ({"lr": 100.0}, "learning rate"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 0}, "batch size"),
        ({"warmup_steps": 50, "steps": 10}, "warm-up"),
        ({"schedule": "zigzag"}, "schedule"),
    ],
)
def test_out_of_range_settings_refused(changes, words):
    with pytest.raises(ValueError, match=words):
        train(Blobs(), TrainConfig(**changes))


def test_schedule_warmup_then_cosine():
    config = TrainConfig(steps=100, lr=1.0, warmup_steps=10)
    assert config.lr_at(0) == pytest.approx(0.1)
    assert config.lr_at(9) == pytest.approx(1.0)
    assert config.lr_at(10) == pytest.approx(1.0)
    assert config.lr_at(99) < 0.01


def test_save_trained_round_trip(tmp_path):
    task = Blobs(hidden=5)
    result = train(task, TrainConfig(steps=10))
    state, config = load_model_file(save_trained(tmp_path / "m.safetensors", task, result, extra={"note": "x"}))
    assert config["task"] == "blobs" and config["model"] == {"hidden": 5} and config["note"] == "x"
    assert config["steps_done"] == 10
    rebuilt = task.build_model()
    rebuilt.load_state_dict(state)
    assert all(torch.equal(rebuilt.state_dict()[k], result.model.state_dict()[k]) for k in state)


def test_a_batch_over_the_tasks_bound_is_refused_before_any_step():
    class SmallBatches(Blobs):
        max_batch_size = 4

    steps = []
    with pytest.raises(ValueError, match=r"at most 4 \(got 5\)"):
        train(SmallBatches(), TrainConfig(steps=3, batch_size=5), callback=steps.append)
    assert steps == []


#: What one run may hold for backpropagation at the task's largest batch.
RUN_MEMORY_BUDGET = 2 * 1024**3


@pytest.mark.parametrize("name", sorted(__import__("explorer.engine.training.registry", fromlist=["x"]).available_tasks()))
def test_every_task_s_largest_batch_fits_the_memory_budget(name):
    """The activations autograd keeps for one step, measured at a small batch and scaled to the bound."""
    from explorer.engine.training.registry import available_tasks

    task = available_tasks()[name].make()
    model = task.build_model()
    batch_size, saved = 4, {}

    def keep(tensor):  # by storage: views of one buffer are kept once
        saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    generator = torch.Generator().manual_seed(0)
    batch = task.sample(batch_size, generator)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        loss, _accuracy = task.loss(model, batch)
    per_sample = sum(saved.values()) / batch_size
    assert per_sample > 0, f"{name}: nothing saved for backward"
    limit = min(task.max_batch_size, 4096)  # the Training panel offers up to 4,096
    assert per_sample * limit <= RUN_MEMORY_BUDGET, (
        f"{name}: {per_sample / 2**20:.2f} MB per sample × {limit} = {per_sample * limit / 2**30:.1f} GB"
    )
