"""How long a person waits for a clip: decode + per-frame CNN + RNN for 10 s of 30-fps 480p video.

    python benchmarks/bench_video.py [--threads N] [--repeat 3]

Writes a 300-frame 854×480 H.264 mp4 (crf 20; a ball crossing a panning, textured
background with fresh sensor noise in every frame, a few Mbit/s like real footage)
to a temporary folder with PyAV, then times, with the bundled CNN + GRU:
decoding every frame (scaled in the decoder to ≤ 256 px), features of all
300 frames, the GRU stepped frame by frame, and separately the gradient
importance pass. Target: decode + features + RNN under 5 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def write_test_clip(path: Path, frames: int = 300, width: int = 854, height: int = 480, fps: int = 30, crf: int = 20) -> Path:
    from explorer.engine.video.writing import write_video

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    background = (np.stack([xx / width, yy / height, 0.5 + 0.2 * np.sin(xx / 23.0)], -1) * 180).astype(np.float32)
    clip = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        cx, cy = 60 + (width - 120) * t / (frames - 1), height / 2 + 120 * np.sin(t / 20)
        ball = (xx - cx) ** 2 + (yy - cy) ** 2 < 40**2
        frame = np.roll(background, 2 * t, axis=1)  # the camera pans
        frame = frame + rng.standard_normal(frame.shape, dtype=np.float32) * 4  # fresh sensor noise
        frame[ball] = (240, 60, 40)
        clip[t] = np.clip(frame, 0, 255)
    return write_video(path, clip, fps=fps, crf=crf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--crf", type=int, default=20, help="x264 quality of the test clip (lower: more bits to decode)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from explorer.engine.video.analysis import analyse
    from explorer.engine.video.io import read_clip
    from explorer.engine.video.models import load

    loaded = load("video_gru")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = write_test_clip(Path(folder) / "bench_480p.mp4", crf=args.crf)
        print(f"wrote {path.name}: 300 frames 854×480 @ 30 fps, {path.stat().st_size / 1e6:.1f} MB "
              f"({path.stat().st_size * 8 / 10 / 1e6:.1f} Mbit/s) "
              f"in {time.perf_counter() - start:.1f} s")
        best = None
        for run in range(args.repeat):
            t0 = time.perf_counter()
            clip = read_clip(path, max_frames=None, max_side=256)
            t1 = time.perf_counter()
            trace = analyse(loaded, clip.frames, importance=False)
            t2 = time.perf_counter()
            analyse(loaded, clip.frames, importance=True)
            t3 = time.perf_counter()
            times = (t1 - t0, t2 - t1, (t3 - t2) - (t2 - t1))
            print(f"run {run + 1}: decode {times[0]:.2f} s ({clip.count} frames → {clip.frames.shape[2]}×{clip.frames.shape[1]}), "
                  f"features + GRU {times[1]:.2f} s, total {times[0] + times[1]:.2f} s; "
                  f"+ gradient importance {times[2]:.2f} s")
            best = times if best is None or sum(times[:2]) < sum(best[:2]) else best
        assert trace.hidden.shape[0] == 300
        total = best[0] + best[1]
        print(f"best: decode + features + RNN = {total:.2f} s with {args.threads} torch thread(s) "
              f"({'under' if total < 5 else 'OVER'} the 5 s target); importance adds {best[2]:.2f} s")


if __name__ == "__main__":
    main()
