"""Reading clips: round trips through mp4 / webm / GIF / a frames folder, subsampling, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from explorer.engine.infra.progress import Cancelled, Reporter
from explorer.engine.video.generated import CLASSES, example
from explorer.engine.video.io import (
    VideoReadError,
    choose_indices,
    read_clip,
)
from explorer.engine.video.writing import write_frame_folder, write_gif, write_video



@pytest.fixture
def needs_av():
    """Video files need PyAV (a dependency); CI fails instead of skipping without it (conftest)."""
    return pytest.importorskip("av")


def _nearest_original(decoded: np.ndarray, original: np.ndarray) -> list[int]:
    """For each decoded frame, the index of the closest original frame."""
    d = decoded.astype(np.float32)[:, None] - original.astype(np.float32)[None]  # (T, T, H, W, 3)
    return list(np.abs(d).mean(axis=(2, 3, 4)).argmin(axis=1))


@pytest.mark.parametrize("label, seed", [(0, 11), (6, 12), (len(CLASSES) - 1, 13)])
@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif", "folder"])
def test_generated_clip_survives_write_and_read(tmp_path, suffix, label, seed):
    frames, _ = example(label, seed=seed, size=64)
    if suffix in (".mp4", ".webm"):
        pytest.importorskip("av")
    if suffix == "folder":
        path = write_frame_folder(tmp_path / "frames", frames)
    elif suffix == ".gif":
        path = write_gif(tmp_path / "clip.gif", frames, fps=12)
    else:
        path = write_video(tmp_path / f"clip{suffix}", frames, fps=12)
    clip = read_clip(path, max_side=None)
    assert clip.frames.shape == frames.shape and clip.frames.dtype == np.uint8
    error = np.abs(clip.frames.astype(int) - frames.astype(int)).mean()
    assert error < (0.5 if suffix == "folder" else 10), error  # lossy codecs smooth the noise
    # frame order and content survive: each frame is nearest to its own original
    assert _nearest_original(clip.frames, frames) == list(range(len(frames)))
    # a frames folder has no frame rate; files keep theirs
    assert clip.fps is None if suffix == "folder" else clip.fps == pytest.approx(12, rel=0.1), clip.fps


def test_frame_cap_subsamples_evenly_and_downscales(tmp_path, needs_av):
    frames = np.zeros((40, 120, 160, 3), np.uint8)
    for i in range(40):
        frames[i, :, 4 * i : 4 * i + 4] = 255  # a bar that moves one step per frame
    path = write_video(tmp_path / "long.mp4", frames, fps=25)
    clip = read_clip(path, max_frames=8, max_side=80)
    assert clip.count == 8 and clip.frames.shape[1:] == (60, 80, 3)
    assert clip.source_indices == choose_indices(40, max_frames=8, step=1)
    assert clip.source_frames == 40 and clip.source_size == (160, 120)
    # the bar of each kept frame is where the source frame had it (scaled by 1/2)
    columns = [int(np.argmax(f[..., 0].mean(axis=0))) for f in clip.frames]
    assert columns == pytest.approx([2 * i + 1 for i in clip.source_indices], abs=1.5)


def test_choose_indices_step_and_cap():
    assert choose_indices(10, max_frames=None, step=3) == [0, 3, 6, 9]
    picked = choose_indices(1000, max_frames=16, step=2)
    assert len(picked) == 16 and picked[0] == 0 and picked[-1] == 998 and all(i % 2 == 0 for i in picked)


def test_natural_order_in_frame_folders(tmp_path):
    frames, _ = example(0, seed=3)
    write_frame_folder(tmp_path / "f", frames)  # frame1 … frame16: "frame10" must come after "frame9"
    clip = read_clip(tmp_path / "f")
    assert np.array_equal(clip.frames, frames)


def test_progress_and_cancel(tmp_path, needs_av):
    frames, _ = example(1, seed=4)
    path = write_video(tmp_path / "c.mp4", frames)
    seen = []
    read_clip(path, reporter=Reporter(lambda f, t: seen.append(f)))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    reporter = Reporter()
    reporter.cancel()
    with pytest.raises(Cancelled, match="cancelled on request"):
        read_clip(path, reporter=reporter)


def _audio_only(path):
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        for _ in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _video_stream_without_frames(path):
    """A Matroska file that declares an H.264 stream but carries only audio packets."""
    import av

    with av.open(str(path), "w", format="matroska") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = container.add_stream("aac", rate=44100)
        for _ in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


def test_bad_files_give_clear_messages(tmp_path, needs_av):
    frames, _ = example(2, seed=5)
    good = write_video(tmp_path / "good.mp4", frames).read_bytes()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("this is a shopping list, not a video\n" * 30)
    (tmp_path / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.txt").write_text("no frames here")
    (tmp_path / "broken.gif").write_bytes(_half(write_gif(tmp_path / "g.gif", frames).read_bytes()))
    cases = {
        "empty.mp4": "empty",
        "text.mp4": "not a video",
        "truncated.mp4": "truncated",
        "missing.mp4": "no such file",
        "nothing": "no image files",
        "broken.gif": "truncated",
    }
    _audio_only(tmp_path / "audio.mp4")
    cases["audio.mp4"] = "audio-only"
    _video_stream_without_frames(tmp_path / "zero.mkv")
    cases["zero.mkv"] = "zero frames"
    for name, words in cases.items():
        with pytest.raises(VideoReadError, match=re.escape(name)) as info:
            read_clip(tmp_path / name)
        assert words in str(info.value), str(info.value)


def test_bad_settings_are_refused(tmp_path):
    frames, _ = example(0, seed=0)
    path = write_gif(tmp_path / "c.gif", frames)
    with pytest.raises(VideoReadError, match="frame cap"):
        read_clip(path, max_frames=0)
    with pytest.raises(VideoReadError, match="step"):
        read_clip(path, step=0)


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def test_without_pyav_video_files_say_what_is_missing(tmp_path, monkeypatch, needs_av):
    import sys

    frames, _ = example(0, seed=1)
    path = write_video(tmp_path / "c.mp4", frames)
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    with pytest.raises(VideoReadError, match="needs PyAV"):
        read_clip(path)
    assert read_clip(write_gif(tmp_path / "c.gif", frames)).count == 16  # GIFs still work
