"""The Video panel's state without Qt: the real engine on small generated clips, fixed seeds."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from explorer.engine.video.generated import CLASSES, example
from explorer.engine.video.writing import write_gif
from explorer.ui.panels.state import restore_settings, run_now, settings_of
from explorer.ui.panels.video.state import DEFAULT_EXAMPLE, VideoState


class Deferred:
    """A runner that holds every job until the test runs it, in any order (a slow worker, made explicit)."""

    def __init__(self) -> None:
        self.jobs: list[Deferred.Job] = []

    class Job:
        def __init__(self, fn, args, kwargs) -> None:
            self.fn, self.args, self.kwargs = fn, args, kwargs
            self.done = False
            self.cancelled = False

        def cancel(self) -> None:
            self.cancelled = True

        def run(self, *, honour_cancel: bool = True) -> None:
            """Do the work now; ``honour_cancel=False``: a result that was already on its way when cancelled."""
            fn = self.fn

            def work(*args, reporter):
                if self.cancelled and honour_cancel:
                    reporter.cancel()  # the engine stops at its first progress report
                return fn(*args, reporter=reporter)

            run_now(work, *self.args, **self.kwargs)
            self.done = True

    def __call__(self, fn, *args, **kwargs):
        job = Deferred.Job(fn, args, kwargs)
        self.jobs.append(job)
        return job


@pytest.fixture
def gif(tmp_path):
    """A 32-frame GIF of class 0 ("moves right"): the default cap samples 16 of its frames."""
    frames, _ = example(0, seed=77)
    return write_gif(tmp_path / "right.gif", np.concatenate([frames, frames]), fps=10)


@pytest.fixture
def shown():
    state = VideoState()
    state.show_example()
    return state


def test_a_generated_example_is_analysed(shown):
    assert shown.clip.label == DEFAULT_EXAMPLE and shown.clip.name == f"generated: {CLASSES[DEFAULT_EXAMPLE]}"
    assert shown.trace.hidden.shape[0] == shown.clip.count == 16
    assert shown.current == 0 and shown.source_path is None
    assert "video_gru" in shown.models and not shown.busy
    assert "Final answer" in shown.status and "true class: bounces" in shown.status
    assert shown.frame_text() == "frame 1 / 16" and shown.hidden_title == "Hidden state × time (GRU)"
    first = shown.clip
    shown.show_example(2)
    assert shown.example == 2 and shown.clip.label == 2 and shown.clip is not first
    assert not np.array_equal(shown.clip.frames, first.frames)  # a fresh seed every time


def test_a_new_clip_clamps_the_current_frame(shown, gif):
    shown.set_frame(99)
    assert shown.current == 15
    shown.set_frame(-3)
    assert shown.current == 0
    shown.set_frame(15)
    shown.max_frames = 8
    shown.open_path(gif)
    assert shown.clip.count == 8 and shown.current == 7
    assert shown.source_path == gif
    assert shown.frame_text() == f"frame 8 / 8 (#{shown.clip.source_indices[7] + 1})"


def test_views_hear_of_a_new_clip_only_once_it_agrees_with_its_trace_and_frame(shown, gif):
    seen = []

    def check(*_args):
        assert shown.trace.hidden.shape[0] == shown.clip.count
        assert 0 <= shown.current < shown.clip.count
        seen.append(shown.clip.name)

    shown.events.trace.connect(check)
    shown.events.current.connect(check)
    shown.set_frame(15)
    shown.max_frames = 4
    shown.open_path(gif)
    assert seen == ["generated: bounces", "right.gif", "right.gif"]


def test_a_new_frame_cap_rereads_the_file(gif):
    state = VideoState()
    state.open_path(gif)
    assert state.clip.count == 16 and state.clip.source_frames == 32
    assert state.apply_frame_cap() is None  # the cap the clip was read with: nothing to do
    state.max_frames = 24
    state.apply_frame_cap()
    assert state.clip.name == "right.gif" and state.clip.count == 24 and state.source_path == gif
    state.show_example()
    state.max_frames = 8
    assert state.apply_frame_cap() is None and state.clip.count == 16  # generated: a fixed length


def test_the_latest_request_wins(gif):
    runner = Deferred()
    state = VideoState(runner=runner)
    state.open_path(gif)
    state.show_example(3)
    first, second = runner.jobs
    assert first.cancelled and not second.cancelled and state.busy
    second.run()
    assert state.clip.label == 3 and not state.busy
    first.run(honour_cancel=False)  # its result was already on its way: dropped
    assert state.clip.label == 3 and state.source_path is None
    assert state.current == 0 and state.status.startswith("<b>generated: moves up")


def test_a_model_chosen_while_a_clip_is_read_applies_to_it(gif):
    runner = Deferred()
    state = VideoState(runner=runner)
    state.open_path(gif)
    state.select_model("video_transformer")
    first, second = runner.jobs
    assert first.cancelled
    second.run()
    assert state.clip.name == "right.gif" and state.trace.arch == "transformer" and state.source_path == gif
    first.run()  # cancelled at its first report: nothing changes
    assert state.trace.arch == "transformer"


def test_another_model_reads_the_same_clip(shown):
    clip = shown.clip
    assert shown.select_model("video_gru") is None  # already chosen: no new run
    shown.select_model("video_transformer")
    assert shown.clip is clip and shown.trace.arch == "transformer"
    assert shown.trace.mean_attention.shape == (16, 16)
    assert set(shown.models) == {"video_gru", "video_transformer"}
    assert "CNN + transformer" in shown.status and "causal self-attention" in shown.status


def test_a_clip_that_cannot_be_read_keeps_the_previous_one(shown, tmp_path):
    shown.set_frame(5)
    before, trace = shown.clip, shown.trace
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    with pytest.raises(ValueError, match="broken.mp4"):  # without on_error the caller sees it
        shown.open_path(broken)
    assert shown.clip is before and shown.trace is trace and shown.current == 5 and not shown.busy
    assert shown.status.startswith("Kept the previous clip (generated: bounces). ")
    errors = []
    shown.on_error = lambda title, exc: errors.append((title, str(exc)))
    shown.open_path(broken)
    assert errors[0][0] == "Opening broken.mp4 failed" and "broken.mp4" in errors[0][1]
    assert shown.clip is before


def test_cancel_keeps_the_previous_clip(gif):
    runner = Deferred()
    state = VideoState(runner=runner)
    state.show_example()
    runner.jobs[0].run()
    before = state.clip
    state.open_path(gif)
    state.cancel()
    runner.jobs[1].run()
    assert state.clip is before and not state.busy and state.source_path is None


def test_progress_is_the_latest_requests(gif):
    runner = Deferred()
    state = VideoState(runner=runner)
    seen = []
    state.events.progress.connect(seen.append)
    state.open_path(gif)
    runner.jobs[0].run()
    assert seen and seen == sorted(seen) and 0 < seen[-1] <= 1 and not state.busy


def test_a_trained_model_is_offered_and_shown(shown, tmp_path):
    from explorer.assets import resource_path

    path = str(shutil.copy(resource_path("models", "video_gru.safetensors"), tmp_path / "video_gru-retrained.safetensors"))
    shown.add_trained_model(path)
    assert shown.model_name == path and shown.trained == (path,)
    assert shown.model_choices[-1] == (path, "trained: video_gru-retrained")
    assert shown.models[path].name == "video_gru-retrained" and "trained: video_gru-retrained" in shown.status
    first = shown.models[path]
    shown.add_trained_model(path)  # saved again under the same name: read again, offered once
    assert shown.models[path] is not first and shown.trained == (path,)


def test_playback_loops_at_the_clips_rate(shown):
    assert shown.play_interval_ms == 125  # generated clips play at 8 fps
    shown.set_frame(15)
    shown.advance()
    assert shown.current == 0
    empty = VideoState()
    empty.advance()
    empty.set_frame(4)
    assert empty.current == 0 and empty.frame_text() == "frame –"


def test_settings_round_trip():
    state = VideoState(model_name="video_transformer", max_frames=24, example=2)
    saved = settings_of(state)
    assert saved == {"model_name": "video_transformer", "max_frames": 24, "example": 2}
    fresh = VideoState()
    assert restore_settings(fresh, {name: str(value) for name, value in saved.items()}) == list(saved)
    assert (fresh.model_name, fresh.max_frames, fresh.example) == ("video_transformer", 24, 2)


def test_damaged_settings_are_ignored():
    state = VideoState()
    damaged = {"model_name": "resnet50", "max_frames": "lots", "example": "3.5"}
    assert restore_settings(state, damaged) == []
    assert restore_settings(state, {"max_frames": 1000, "example": -1, "model_name": "/gone/video.safetensors"}) == []
    assert (state.model_name, state.max_frames, state.example) == ("video_gru", 16, DEFAULT_EXAMPLE)
