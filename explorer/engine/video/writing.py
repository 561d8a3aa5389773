"""Writing clips: generated examples, test fixtures and benchmark inputs (video files need PyAV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from explorer.engine.video.io import import_av


def write_video(path: str | Path, frames: np.ndarray, fps: float = 10, *, codec: str | None = None, crf: int = 18) -> Path:
    """Write (T, H, W, 3) uint8 frames as a video file (H.264 in mp4 by default) with PyAV."""
    av = import_av()
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if codec is None:
        codec = {".webm": "libvpx", ".avi": "mpeg4"}.get(path.suffix.lower(), "libx264")
    from fractions import Fraction

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width = frames.shape[2] + frames.shape[2] % 2
        stream.height = frames.shape[1] + frames.shape[1] % 2
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        else:
            stream.bit_rate = 8_000_000  # near-lossless for small generated clips
        for array in frames:
            if array.shape[:2] != (stream.height, stream.width):
                array = np.pad(array, ((0, stream.height - array.shape[0]), (0, stream.width - array.shape[1]), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_gif(path: str | Path, frames: np.ndarray, fps: float = 10) -> Path:
    """Write (T, H, W, 3) uint8 frames as a looping GIF with Pillow (palette per frame)."""
    path = Path(path)
    images = [Image.fromarray(np.asarray(f)) for f in frames]
    if not images:
        raise ValueError("no frames to write")
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=0, optimize=False)
    return path


def write_frame_folder(folder: str | Path, frames: np.ndarray, *, prefix: str = "frame", suffix: str = ".png") -> Path:
    """Write each frame as ``frame1.png``, ``frame2.png``, … (unpadded numbers: tests natural order)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        Image.fromarray(np.asarray(frame)).save(folder / f"{prefix}{index + 1}{suffix}")
    return folder
