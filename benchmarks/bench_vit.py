"""Traced ViT forward (every attention map kept) vs a plain forward through nn.MultiheadAttention.

Same ViT-B/16 weights (random init) at 224 px, one image. The plain model is
``explorer.engine.vit.reference.ReferenceViT`` (torchvision's layout on
``nn.MultiheadAttention`` with ``need_weights=False``, so PyTorch may use its
fused attention path); the traced one is what the app runs
(``LoadedViT.trace``). Runs alternate A, B, A, B … so machine load hits both
alike; the medians and their ratio are printed. Target: ratio ≤ 1.10.

    python benchmarks/bench_vit.py --threads 2 --repeats 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from explorer.engine.vit.formats import build, infer_config, to_timm_layout
from explorer.engine.vit.loading import LoadedViT
from explorer.engine.vit.reference import ReferenceViT


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    reference = ReferenceViT(image_size=args.size).eval()  # ViT-B/16: width 768, 12 layers, 12 heads
    fmt, sd = to_timm_layout(reference.state_dict())
    config, _ = infer_config(sd, source=fmt, pos_interpolation="bicubic-corners")
    traced = LoadedViT(build(sd, config), config, "ViT-B/16 (random)")
    pixels = torch.randn(1, 3, args.size, args.size)

    with torch.no_grad():
        plain_logits, _ = reference(pixels)
        trace = traced.trace(pixels)
    error = (plain_logits - trace.logits).abs().max().item()

    def plain() -> None:
        with torch.no_grad():
            reference(pixels)

    def traced_run() -> None:
        traced.trace(pixels)

    for _ in range(3):  # warm-up
        plain()
        traced_run()
    times: dict[str, list[float]] = {"plain": [], "traced": []}
    for _ in range(args.repeats):
        for name, fn in (("plain", plain), ("traced", traced_run)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    plain_ms = statistics.median(times["plain"]) * 1000
    traced_ms = statistics.median(times["traced"]) * 1000
    kept = trace.attentions.nbytes * len(trace.attentions) / 1e6  # if every map were formed
    print(f"ViT-B/16 at {args.size} px, batch 1, torch {torch.__version__}, {args.threads} thread(s), {args.repeats} runs each")
    print(f"plain forward (nn.MultiheadAttention, need_weights=False): {plain_ms:8.1f} ms (median)")
    print(f"traced forward (fused attention, Q/K/V kept):              {traced_ms:8.1f} ms (median)")
    print(f"ratio traced / plain: {traced_ms / plain_ms:.3f}   (target ≤ 1.10)")
    print(f"all maps, when formed: {len(trace.attentions)} × {trace.attentions.shape_of_layer} = {kept:.1f} MB; "
          f"max |logit difference| {error:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
