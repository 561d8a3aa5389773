"""How long one caption takes: a 224-px image, beam 5, the bundled captioners (target ≤ 150 ms).

    python benchmarks/bench_captioning.py [--threads N] [--repeats 30]

Prints the median and 90th percentile over repeats (after a warm-up), for the
attention and classic decoders, greedy and beam 5, on a generated scene and
a photo resized to 224 × 224.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from explorer.assets import sample_image_paths  # noqa: E402
from explorer.engine import captioning
from explorer.engine.infra import scenes
from explorer.engine.infra.images import load_image


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photo = load_image(sample_image_paths()[0][0]).resize((224, 224), Image.Resampling.BILINEAR)
    scene = scenes.generate(scenes.split_seed("test", 777), size=224).image
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    for name in ("attention", "classic"):
        model = captioning.load(name)
        for label, image in (("scene", scene), ("photo", photo)):
            for beam in (1, 5):
                median, p90 = timed(lambda: model.caption(image, beam_size=beam), args.repeats)
                words = len(model.caption(image, beam_size=beam).words)
                print(f"{name:9s} {label:5s} beam {beam}: median {median:6.1f} ms  p90 {p90:6.1f} ms  ({words} words)")


if __name__ == "__main__":
    main()
