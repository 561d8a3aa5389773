"""Reading the clips the user opens (writing generated ones is in :mod:`.writing`).

:func:`read_clip` turns a video file (mp4, webm, avi, mov, mkv … through
PyAV), an animated GIF / APNG / WebP (Pillow, all frames) or a folder of
frames (sorted naturally, each through :func:`explorer.engine.infra.images.load_image`)
into one :class:`Clip`: ``(T, H, W, 3)`` uint8 frames.

Long videos are never held whole: frames are subsampled while decoding (every
``step``-th frame, then at most ``max_frames`` spread evenly over the clip) and
each kept frame is scaled down so its longer side is at most ``max_side``
(inside the decoder for video files, which is the cheap place). Anything that
is not a readable clip raises :class:`VideoReadError` (a ``ValueError``) naming
the file and the problem, so the panel can say so and keep the clip it had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from explorer.engine.infra.images import ImageLoadError, load_image, to_rgb
from explorer.engine.infra.progress import Reporter, report

VIDEO_SUFFIXES = (".mp4", ".m4v", ".webm", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".ogv", ".wmv", ".flv")
ANIMATION_SUFFIXES = (".gif", ".png", ".apng", ".webp")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
#: Video files larger than this are refused before decoding (bytes).
MAX_FILE_BYTES = 4 * 1024**3


class VideoReadError(ValueError):
    """The file or folder could not be read as a clip; the message names it and the problem."""


@dataclass
class Clip:
    """Frames of one clip, as shown and as fed to the models."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    name: str
    fps: float | None = None
    #: Index in the source of each kept frame (after subsampling).
    source_indices: list[int] = field(default_factory=list)
    #: Frames in the source (None when the container does not say and we stopped early).
    source_frames: int | None = None
    source_size: tuple[int, int] | None = None  # (width, height) before downscaling
    label: int | None = None  # class of a generated clip

    @property
    def count(self) -> int:
        return int(self.frames.shape[0])

    def describe(self) -> str:
        h, w = self.frames.shape[1:3]
        parts = [f"{self.count} frames", f"{w} × {h} px"]
        if self.source_size and self.source_size != (w, h):
            parts[-1] += f" (from {self.source_size[0]} × {self.source_size[1]})"
        if self.source_frames and self.source_frames != self.count:
            parts.append(f"sampled from {self.source_frames}")
        if self.fps:
            parts.append(f"{self.fps:.3g} fps")
        return ", ".join(parts)


# -- entry point ----------------------------------------------------------------------------------
def read_clip(
    path: str | Path,
    *,
    max_frames: int | None = 64,
    step: int = 1,
    max_side: int | None = 256,
    reporter: Reporter | None = None,
) -> Clip:
    """Read a video file, an animated image or a folder of frames.

    Args:
        max_frames: keep at most this many frames, spread evenly (None: all).
        step: first keep every ``step``-th frame (1: all).
        max_side: scale frames down so the longer side is at most this (None: keep size).
        reporter: progress and cancel.

    Raises:
        VideoReadError: missing, empty, truncated or unreadable input, no video
        stream (audio only), unsupported codec, or no frames.
    """
    if step < 1:
        raise VideoReadError(f"the frame step must be at least 1 (got {step})")
    if max_frames is not None and max_frames < 1:
        raise VideoReadError(f"the frame cap must be at least 1 (got {max_frames})")
    path = Path(path)
    name = path.name or str(path)
    if not path.exists():
        raise VideoReadError(f"{name}: no such file or folder.")
    if path.is_dir():
        return read_frame_folder(path, max_frames=max_frames, step=step, max_side=max_side, reporter=reporter)
    size = path.stat().st_size
    if size == 0:
        raise VideoReadError(f"{name}: the file is empty (0 bytes).")
    if size > MAX_FILE_BYTES:
        raise VideoReadError(f"{name}: {size / 1024**3:.1f} GB is larger than the {MAX_FILE_BYTES // 1024**3} GB accepted.")
    if path.suffix.lower() in ANIMATION_SUFFIXES or _looks_like_image(path):
        return read_animation(path, max_frames=max_frames, step=step, max_side=max_side, reporter=reporter)
    return read_video(path, max_frames=max_frames, step=step, max_side=max_side, reporter=reporter)


def _looks_like_image(path: Path) -> bool:
    """GIF / PNG / WebP by content (a renamed file), so Pillow reads it rather than the video decoder."""
    with path.open("rb") as handle:
        head = handle.read(12)
    return head.startswith((b"GIF87a", b"GIF89a", b"\x89PNG\r\n\x1a\n")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


# -- subsampling ---------------------------------------------------------------------------------
def choose_indices(total: int, *, max_frames: int | None, step: int) -> list[int]:
    """Source frame indices to keep: every ``step``-th, then at most ``max_frames`` evenly spread."""
    candidates = list(range(0, total, step))
    if max_frames is None or len(candidates) <= max_frames:
        return candidates
    picks = np.linspace(0, len(candidates) - 1, max_frames).round().astype(int)
    return [candidates[i] for i in picks]


def _scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    factor = max_side / max(width, height)
    # even sizes keep chroma-subsampled scalers happy
    return max(2, int(round(width * factor / 2)) * 2), max(2, int(round(height * factor / 2)) * 2)


def _downscale(image: Image.Image, max_side: int | None) -> Image.Image:
    size = _scaled_size(image.width, image.height, max_side)
    return image if size == image.size else image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _stack(frames: list[np.ndarray], name: str) -> np.ndarray:
    if not frames:
        raise VideoReadError(f"{name}: holds no frames.")
    h, w = frames[0].shape[:2]
    same = [f if f.shape[:2] == (h, w) else np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.BILINEAR)) for f in frames]
    return np.ascontiguousarray(np.stack(same))  # (T, H, W, 3)


# -- video files through PyAV ---------------------------------------------------------------------
def import_av():
    """PyAV, or a VideoReadError saying how to get it (video files need it; GIFs and folders do not)."""
    try:
        import av  # noqa: PLC0415 - optional dependency
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise VideoReadError(
            "reading video files needs PyAV, which is not installed (reinstall seqvis-explorer, which depends on it, or pip install av); "
            "GIFs and folders of frames still work."
        ) from exc
    return av


def read_video(
    path: str | Path,
    *,
    max_frames: int | None = 64,
    step: int = 1,
    max_side: int | None = 256,
    reporter: Reporter | None = None,
) -> Clip:
    """Decode a video file with PyAV, keeping only the frames :func:`choose_indices` picks."""
    av = import_av()
    path = Path(path)
    name = path.name
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise VideoReadError(
            f"{name}: cannot be opened as a video — it is damaged or truncated, or not a video at all "
            f"({_ff_message(exc)})."
        ) from exc
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            what = f"only {' and '.join(kinds)} streams" if kinds else "no streams at all"
            raise VideoReadError(f"{name}: holds no video, {what} (an audio-only file?).")
        stream = container.streams.video[0]
        if stream.codec_context is None or not stream.codec_context.name:
            raise VideoReadError(f"{name}: the video codec is not supported by this installation.")
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate) if stream.average_rate else None
        width, height = stream.codec_context.width, stream.codec_context.height
        total = _estimate_frames(stream, container, fps)
        out_w, out_h = _scaled_size(width, height, max_side) if width and height else (None, None)
        wanted = set(choose_indices(total, max_frames=max_frames, step=step)) if total else None
        last_wanted = max(wanted) if wanted else None
        frames: list[np.ndarray] = []
        kept: list[int] = []
        index = -1
        ended = True  # decoded to the end (then the true frame count is known)
        try:
            for frame in container.decode(stream):
                index += 1
                if wanted is not None:
                    if index in wanted:
                        frames.append(_frame_array(frame, out_w, out_h, max_side))
                        kept.append(index)
                        report(reporter, 0.95 * len(kept) / len(wanted), f"decoded frame {index + 1} of ~{total}")
                    if last_wanted is not None and index >= last_wanted:
                        ended = False
                        break
                elif index % step == 0:
                    # unknown length: keep every step-th, thinning by half when the cap is exceeded
                    frames.append(_frame_array(frame, out_w, out_h, max_side))
                    kept.append(index)
                    if max_frames is not None and len(frames) >= 2 * max_frames:
                        frames, kept = frames[::2], kept[::2]
                        step *= 2
                    report(reporter, 0.5, f"decoded frame {index + 1}")
        except av.error.FFmpegError as exc:
            if not frames:
                raise VideoReadError(f"{name}: the video data is damaged or truncated ({_ff_message(exc)}).") from exc
            # a truncated tail: keep what decoded, like a player would
        if not frames:
            raise VideoReadError(
                f"{name}: its video stream gave no frames (zero frames: the file is truncated or damaged, "
                f"or its codec {stream.codec_context.name!r} is not supported here)."
            )
        if wanted is None and max_frames is not None and len(frames) > max_frames:
            picks = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
            frames, kept = [frames[i] for i in picks], [kept[i] for i in picks]
        clip = Clip(
            frames=_stack(frames, name),
            name=name,
            fps=fps,
            source_indices=kept,
            source_frames=index + 1 if ended else total,
            source_size=(width, height) if width and height else None,
        )
    except VideoReadError:
        raise
    except av.error.FFmpegError as exc:
        raise VideoReadError(f"{name}: the video could not be decoded ({_ff_message(exc)}).") from exc
    finally:
        container.close()
    report(reporter, 1.0, f"read {clip.count} frames")
    return clip


def _estimate_frames(stream, container, fps: float | None) -> int | None:
    if stream.frames and stream.frames > 0:
        return int(stream.frames)
    if stream.duration and stream.time_base and fps:
        return max(1, int(round(float(stream.duration * stream.time_base) * fps)))
    if container.duration and fps:
        return max(1, int(round(container.duration / 1_000_000 * fps)))
    return None


def _frame_array(frame, width: int | None, height: int | None, max_side: int | None) -> np.ndarray:
    """One decoded frame → (H, W, 3) uint8, scaled inside FFmpeg's scaler when needed."""
    if width and height and (frame.width, frame.height) != (width, height):
        # area averaging in FFmpeg's scaler: the right filter for shrinking, and faster than the default
        return frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
    array = frame.to_ndarray(format="rgb24")
    if max_side is not None and max(array.shape[:2]) > max_side:
        return np.asarray(_downscale(Image.fromarray(array), max_side))
    return array


def _ff_message(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return re.sub(r"\s*:\s*'[^']*'$", "", str(text))


# -- animations through Pillow ----------------------------------------------------------------------
def read_animation(
    path: str | Path,
    *,
    max_frames: int | None = 64,
    step: int = 1,
    max_side: int | None = 256,
    reporter: Reporter | None = None,
) -> Clip:
    """All frames of a GIF / APNG / animated WebP (a still image gives a one-frame clip)."""
    path = Path(path)
    name = path.name
    try:
        load_image(path)  # the shared checks: empty, truncated, bombs, not an image
    except ImageLoadError as exc:
        raise VideoReadError(str(exc)) from exc
    try:
        with Image.open(path) as image:
            total = int(getattr(image, "n_frames", 1))
            durations: list[float] = []
            frames: list[np.ndarray] = []
            wanted = choose_indices(total, max_frames=max_frames, step=step)
            wanted_set = set(wanted)
            source_size = image.size
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                durations.append(float(frame.info.get("duration", 0) or 0))
                if index in wanted_set:
                    frames.append(np.asarray(_downscale(to_rgb(frame), max_side)))
                    report(reporter, 0.95 * len(frames) / len(wanted), f"frame {index + 1} of {total}")
                if index >= wanted[-1]:
                    break
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        raise VideoReadError(f"{name}: the animation is truncated or damaged ({exc}).") from exc
    positive = [d for d in durations if d > 0]
    fps = 1000.0 / float(np.mean(positive)) if positive else None
    clip = Clip(frames=_stack(frames, name), name=name, fps=fps, source_indices=wanted[: len(frames)],
                source_frames=total, source_size=source_size)
    report(reporter, 1.0, f"read {clip.count} frames")
    return clip


# -- folders of frames -----------------------------------------------------------------------------
def natural_key(path: Path) -> list:
    """Sort key where ``frame2`` comes before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def read_frame_folder(
    folder: str | Path,
    *,
    max_frames: int | None = 64,
    step: int = 1,
    max_side: int | None = 256,
    reporter: Reporter | None = None,
) -> Clip:
    """Image files of a folder in natural order, each read with ``load_image``; sizes follow the first."""
    folder = Path(folder)
    name = folder.name or str(folder)
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")),
        key=natural_key,
    )
    if not files:
        raise VideoReadError(f"{name}: the folder holds no image files ({', '.join(FRAME_SUFFIXES)}).")
    wanted = choose_indices(len(files), max_frames=max_frames, step=step)
    frames = []
    source_size = None
    for count, index in enumerate(wanted):
        try:
            image = load_image(files[index])
        except ImageLoadError as exc:
            raise VideoReadError(f"{name}: frame {files[index].name} cannot be read — {exc}") from exc
        source_size = source_size or image.size
        frames.append(np.asarray(_downscale(image, max_side)))
        report(reporter, 0.95 * (count + 1) / len(wanted), f"frame {count + 1} of {len(wanted)}")
    clip = Clip(frames=_stack(frames, name), name=name, source_indices=wanted, source_frames=len(files),
                source_size=source_size)
    report(reporter, 1.0, f"read {clip.count} frames")
    return clip
