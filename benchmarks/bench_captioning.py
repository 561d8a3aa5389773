"""How long one caption takes, and how ours compares with transformers' generate().

    python benchmarks/bench_captioning.py [--threads N] [--repeats 30]

1. The bundled captioners (target ≤ 150 ms): median and 90th percentile over
   repeats (after a warm-up), attention and classic decoders, greedy and beam 5,
   on a generated scene and a photo resized to 224 × 224.
2. The tiny random Hugging Face captioners of the tests (VisionEncoderDecoder
   ViT + GPT-2, and BLIP; tests/engine/captioning/hf_captioners.py), greedy and
   beam 3 under their generation config, beside ``generate()`` on the same
   image with the cross-attention asked for: time per caption, and parity
   (captions equal, max |Δ score|, max |Δ cross-attention| of the best caption).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
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


def hugging_face(repeats: int) -> None:
    """Ours beside generate() on the tests' tiny random models (no download)."""
    import numpy as np
    import transformers

    transformers.logging.set_verbosity_error()
    path = Path(__file__).resolve().parent.parent / "tests" / "engine" / "captioning" / "hf_captioners.py"
    spec = importlib.util.spec_from_file_location("hf_captioners", path)
    helpers = importlib.util.module_from_spec(spec)
    sys.modules["hf_captioners"] = helpers
    spec.loader.exec_module(helpers)
    with tempfile.TemporaryDirectory() as tmp:
        for family, build in (("VisionEncoderDecoder", helpers.build_ved), ("BLIP", helpers.build_blip)):
            model = captioning.load(build(Path(tmp) / family))
            grid = model.grid[0] * model.grid[1]
            for beams in (1, 3):
                equal, d_score, d_alpha = 0, 0.0, 0.0
                for image in helpers.images():
                    trace = model.caption(image, beam_size=beams)
                    captions, scores, cross = helpers.generate_reference(model, image, beams)
                    equal += [(a.tokens, a.ended) for a in trace.alternatives] == captions
                    ours = [trace.total] if beams == 1 else [a.score for a in trace.alternatives]
                    d_score = max(d_score, max(abs(a - b) for a, b in zip(ours, scores)))
                    n = len(trace.words)
                    if n:
                        maps = cross.mean(dim=(1, 2))[:n, -grid:]  # (T, g·g), the class token dropped
                        maps = (maps / maps.sum(-1, keepdim=True)).numpy()
                        d_alpha = max(d_alpha, float(np.abs(trace.alphas.reshape(n, grid) - maps).max()))
                image = helpers.images()[0]
                ours_ms, _ = timed(lambda: model.caption(image, beam_size=beams), repeats)
                ref_ms, _ = timed(lambda: helpers.generate_reference(model, image, beams), repeats)
                print(f"{family:20s} beam {beams}: ours {ours_ms:6.1f} ms, generate() {ref_ms:6.1f} ms (median); "
                      f"captions equal {equal}/8, max |Δ score| {d_score:.1e}, max |Δ cross-attention| {d_alpha:.1e}")


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
    hugging_face(max(args.repeats // 3, 3))


if __name__ == "__main__":
    main()
