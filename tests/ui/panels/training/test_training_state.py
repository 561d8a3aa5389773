"""The Training panel's state without Qt: settings, validation, a run's lifecycle, what is saved."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from explorer.engine.infra.checkpoints import load_model_file
from explorer.engine.training.loop import SnapshotView, TrainConfig, TrainTask
from explorer.engine.training.registry import TaskEntry, available_tasks
from explorer.ui.panels.state import restore_settings, settings_of
from explorer.ui.panels.training.state import (
    MAX_SNAPSHOTS,
    NO_TASKS_STATUS,
    TrainingState,
)


class Blobs(TrainTask):
    """Two blobs in 4-D; a small MLP separates them. ``hook(step)`` runs before each batch."""

    name = "blobs"
    title = "Blobs"

    def __init__(self, hook=None, nan_at: int | None = None) -> None:
        self.hook, self.nan_at, self.calls = hook, nan_at, 0

    def build_model(self):
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

    def sample(self, batch_size, generator):
        self.calls += 1
        if self.hook is not None:
            self.hook(self.calls)
        y = torch.randint(0, 2, (batch_size,), generator=generator)
        return (y.float() * 2 - 1)[:, None] + torch.randn(batch_size, 4, generator=generator), y

    def loss(self, model, batch):
        x, y = batch
        logits = model(x)  # (B, 2)
        loss = nn.functional.cross_entropy(logits, y)
        if self.calls == self.nan_at:
            loss = loss * float("nan")
        return loss, (logits.argmax(1) == y).float().mean().item()

    def snapshot_view(self, model):
        weights = model[0].weight.detach().numpy().copy()  # (8, 4)
        return SnapshotView("First-layer weights", f"max {abs(weights).max():.2f}", weights)


BLOBS_DEFAULTS = TrainConfig(steps=40, batch_size=16, lr=0.01, seed=3, report_every=5)
OTHER_DEFAULTS = TrainConfig(steps=80, batch_size=8, lr=0.02, seed=4, report_every=5)


def make_state(tmp_path, factory=Blobs, **kwargs) -> TrainingState:
    tasks = {
        "blobs": TaskEntry("blobs", factory, BLOBS_DEFAULTS, "rnn"),
        "other": TaskEntry("other", Blobs, OTHER_DEFAULTS, "vit"),
    }
    return TrainingState(tmp_path / "trained", tasks=tasks, **kwargs)


def saved_files(state):
    return sorted(state.models_dir.glob("*.safetensors")) if state.models_dir.exists() else []


# -- the chosen task and its settings ---------------------------------------------------------------
def test_a_chosen_task_starts_from_its_own_defaults(tmp_path):
    state = make_state(tmp_path)
    assert state.task == "blobs" and (state.steps, state.batch_size, state.seed) == (40, 16, 3)
    assert state.lr_text == "0.01" and state.snapshot_every == 40 // MAX_SNAPSHOTS
    state.lr_text = "abc"
    state.task = "other"
    assert (state.steps, state.batch_size, state.lr, state.lr_text, state.seed) == (80, 8, 0.02, "0.02", 4)
    assert state.task_info.endswith("Shown in the ViT panel.")


def test_an_unknown_task_is_refused(tmp_path):
    state = make_state(tmp_path)
    state.task = "gone"
    assert state.task == "blobs"


@pytest.mark.parametrize("text", ["abc", "nan", "-1", "0", "1e9", ""])
def test_a_bad_learning_rate_is_refused_with_a_message(tmp_path, text):
    state = make_state(tmp_path)
    state.lr_text = text
    with pytest.raises(ValueError, match="learning rate|number") as caught:
        state.start()
    assert state.phase == "idle" and state.worker is None and state.result is None
    assert state.status == str(caught.value)


def test_a_batch_larger_than_the_task_allows_is_refused_with_a_message(tmp_path):
    class SmallBatches(Blobs):
        max_batch_size = 8

    state = make_state(tmp_path, factory=SmallBatches)
    state.batch_size = 9
    with pytest.raises(ValueError, match="batches of at most 8 \\(got 9\\)"):
        state.start()
    assert state.phase == "idle" and state.worker is None and "at most 8" in state.status
    state.batch_size = 8
    assert state.config().batch_size == 8


def test_the_config_is_built_from_the_settings(tmp_path):
    state = make_state(tmp_path)
    state.steps, state.batch_size, state.lr_text, state.seed, state.snapshot_every = 7, 4, "3e-4", 9, 0
    config = state.config()
    assert (config.steps, config.batch_size, config.lr, config.seed, config.snapshot_every) == (7, 4, 3e-4, 9, 0)
    assert config.report_every == 1 and config.warmup_steps == 0


def test_settings_round_trip_and_damaged_values_are_ignored(tmp_path):
    state = make_state(tmp_path)
    state.task = "other"
    state.steps, state.seed = 12, 5
    state.lr_text = "0.005"
    state.start()  # the rate persists as it was last used
    saved = settings_of(state)
    assert saved == {"task": "other", "steps": 12, "batch_size": 8, "lr": 0.005, "seed": 5, "snapshot_every": 10}

    fresh = make_state(tmp_path)
    restore_settings(fresh, {name: str(value) for name, value in saved.items()})  # a settings file holds text
    assert settings_of(fresh) == saved and fresh.lr_text == "0.005"

    damaged = make_state(tmp_path)
    restore_settings(damaged, {"task": "gone", "steps": "abc", "batch_size": "-3", "lr": "nan", "seed": "1.5",
                               "snapshot_every": "-1"})
    assert settings_of(damaged) == settings_of(make_state(tmp_path))
    restore_settings(damaged, {"lr": "0"})
    assert damaged.lr == 0.01


def test_no_tasks_means_nothing_to_start(tmp_path):
    state = TrainingState(tmp_path, tasks={})
    assert state.status == NO_TASKS_STATUS and not state.can_start
    with pytest.raises(ValueError, match="Pick a model"):
        state.start()


# -- a run ------------------------------------------------------------------------------------------
def test_a_finished_run_draws_curves_snapshots_and_is_saved(tmp_path):
    state = make_state(tmp_path)
    phases, saved = [], []
    state.events.phase.connect(lambda *_a: phases.append(state.phase))
    state.model_saved.connect(lambda *args: saved.append(args))
    state.snapshot_every = 4
    state.start()
    assert phases == ["running", "finished"] and state.worker is None
    assert state.result.status == "finished" and state.result.steps_done == 40
    assert len(state.history) == 20 and state.fraction == 1.0  # a report every 2 steps
    assert list(state.curves.steps) == list(range(2, 41, 2)) and state.curves.loss[-1] < state.curves.loss[0]
    assert len(state.snapshots) == MAX_SNAPSHOTS and state.snapshots[0].step == 4
    assert state.snapshot_heading == "First-layer weights: snapshots during training"
    assert saved_files(state) == [state.saved_path] and saved == [("blobs", "rnn", str(state.saved_path))]
    assert load_model_file(state.saved_path)[1]["trained_in"] == "app"
    assert state.status.startswith("Finished: 40 steps") and "Saved to" in state.status
    assert state.can_save and state.can_show and state.result_panel == "rnn"


def test_snapshots_stop_at_the_strip_length_but_the_heading_follows(tmp_path):
    state = make_state(tmp_path)
    state.steps, state.snapshot_every = 60, 1
    state.start()
    assert len(state.snapshots) == MAX_SNAPSHOTS and state.snapshots[-1].step == 3 * MAX_SNAPSHOTS
    assert state.latest_snapshot.step == 60


def test_a_new_run_starts_empty(tmp_path):
    state = make_state(tmp_path)
    state.start()
    first = state.saved_path
    state.steps = 5
    state.start()
    assert len(state.history) == 5 and len(state.curves.steps) == 5
    assert state.saved_path != first and first.is_file()


def test_video_snapshots_are_probabilities_with_a_caption(tmp_path):
    """The video tasks' snapshot is P(true class) per frame: a SnapshotView on the sequential map."""
    entry = available_tasks()["video_gru"]
    state = TrainingState(tmp_path / "trained", tasks={"video_gru": entry})
    state.steps, state.snapshot_every = 2, 1
    state.start()
    assert state.phase == "finished" and state.result.steps_done == 2
    assert [s.step for s in state.snapshots] == [1, 2]
    picture = state.snapshots[-1]
    assert picture.title.startswith("P(true class)") and picture.kind == "sequential"
    truth = np.asarray(picture.array)  # (classes, frames)
    assert truth.ndim == 2 and (truth >= 0).all() and (truth <= 1).all()
    assert picture.caption == f"last frame: {truth[:, -1].mean():.2f}"
    assert state.snapshot_heading.startswith("P(true class)")


def test_signed_snapshots_stay_diverging(tmp_path):
    state = make_state(tmp_path)
    state.snapshot_every = 20
    state.start()
    assert [s.kind for s in state.snapshots] == ["diverging", "diverging"]


def test_a_snapshot_kind_is_one_of_the_two_maps():
    with pytest.raises(ValueError, match="'diverging' or 'sequential', not 'rainbow'"):
        SnapshotView("t", "c", np.zeros((2, 2)), kind="rainbow")


def test_a_cancelled_run_is_not_saved_until_the_user_asks(tmp_path):
    box = {}
    state = make_state(tmp_path, factory=lambda: Blobs(hook=lambda step: step == 13 and box["state"].cancel()))
    box["state"] = state
    saved = []
    state.model_saved.connect(lambda *args: saved.append(args))
    state.steps = 1000
    state.start()
    assert state.phase == "cancelled" and state.result.status == "cancelled"
    assert state.result.steps_done == 13  # the step that asked to stop completes
    assert state.saved_path is None and saved_files(state) == [] and saved == []
    assert "Not saved" in state.status and state.can_save and not state.can_show

    path = state.save_to(tmp_path / "kept.safetensors")
    assert path.is_file() and state.saved_path == path and state.can_show
    assert saved == [("blobs", "rnn", str(path))] and state.status == f"Saved to {path}."


def test_a_diverged_run_keeps_its_last_good_weights_and_says_why(tmp_path):
    state = make_state(tmp_path, factory=lambda: Blobs(nan_at=8))
    state.start()
    assert state.phase == "diverged" and state.result.steps_done == 7
    assert "diverged" in state.status and state.saved_path is not None


def test_a_failing_run_reports_the_error(tmp_path):
    def broken():
        return Blobs(hook=lambda step: (_ for _ in ()).throw(RuntimeError("no data today")))

    state = make_state(tmp_path, factory=broken)
    state.start()
    assert state.phase == "failed" and isinstance(state.error, RuntimeError)
    assert state.status == "Training failed: no data today" and not state.can_save and state.can_start


class ThreadRunner:
    """A runner that does the work on a thread and hands the outcome back when asked.

    Like the app's worker, minus the event loop: :meth:`deliver` calls the callbacks
    in the calling (test) thread.
    """

    def __call__(self, fn, *args, on_result=None, on_error=None, on_finished=None, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("on_") and k != "description"}
        self.callbacks = (on_result, on_finished)
        self.thread = threading.Thread(target=lambda: setattr(self, "outcome", fn(*args, **kwargs)))
        self.thread.start()
        return self

    def deliver(self):
        self.thread.join(30)
        on_result, on_finished = self.callbacks
        on_result(self.outcome)
        on_finished()


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_pause_resume_and_cancel_from_the_gui_side(tmp_path):
    runner = ThreadRunner()
    state = make_state(tmp_path, factory=lambda: Blobs(hook=lambda step: time.sleep(0.002)), runner=runner)
    state.steps = 100_000
    state.start()
    assert state.phase == "running" and state.worker is runner and state.busy and not state.can_start
    wait_for(lambda: not state.progress_queue.empty())
    state.toggle_pause()
    assert state.phase == "paused" and state.control.paused and state.status.startswith("Paused")
    time.sleep(0.1)
    state.drain()
    count = len(state.history)
    time.sleep(0.2)
    state.drain()
    assert len(state.history) <= count + 1
    state.toggle_pause()
    assert state.phase == "running" and state.status == "Resumed."
    wait_for(lambda: not state.progress_queue.empty())
    state.cancel()
    assert state.status.startswith("Cancelling")
    runner.deliver()
    assert state.phase == "cancelled" and state.worker is None and not state.busy
    assert 0 < state.result.steps_done < 100_000 and saved_files(state) == []
    state.start()  # a finished worker lets a new run start
    assert state.phase == "running"
    state.cancel()
    runner.deliver()


def test_every_real_task_is_described_in_plain_words(tmp_path):
    panels = {"rnn": "RNN", "vit": "ViT", "captioning": "Captioning", "video": "Video"}
    state = TrainingState(tmp_path / "trained")
    assert len(state.tasks) >= 8
    for name, entry in state.tasks.items():
        state.task = name
        text, shown = state.task_info.rsplit("\n", 1)
        assert len(text) > 30 and not any(mark in text for mark in ("`", ":func:", ":class:", "``")), (name, text)
        assert shown == f"Shown in the {panels[entry.panel]} panel.", (name, shown)
