"""A DINOv2-B/14 trace at 518 px (1,370 tokens) beside timm's plain fused forward of the same weights.

The trace keeps every layer's tokens, queries, keys and values; attention maps
are formed only when a view asks (all 12 × 12 of them would be
12·12·1370²·4 B ≈ 1.08 GB). Runs alternate plain, traced, plain … so machine
load hits both alike; medians and their ratio are printed (target ≤ 1.15), then
each one's peak memory above the loaded model (Linux: VmHWM after resetting it
through /proc/self/clear_refs; target < 1.5 GB), then what the panel does with
a trace (one layer's full map, one query's rows, the rollout factors, the mean
attention distance of every layer).

    PYTHONPATH=. python benchmarks/bench_vit_scale.py --threads 2 --repeats 10 [--device cuda]
    PYTHONPATH=. python benchmarks/bench_vit_scale.py --process-peak
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from explorer.engine import vit  # noqa: E402
from explorer.engine.vit import analysis as va  # noqa: E402


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def peak_above_now(fn) -> float | None:
    """MB the process's resident peak rose above its current size while ``fn`` ran (None where Linux's counters are absent)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed heap back, so the peak cannot hide in it
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    base = _status("VmRSS")
    fn()
    return (_status("VmHWM") - base) / 1e6


def timed(fn, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--size", type=int, default=518)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    parser.add_argument("--process-peak", action="store_true",
                        help="only: the peak of a process that holds our model alone while it traces (CPU)")
    args = parser.parse_args()
    import timm

    torch.set_num_threads(args.threads)
    device = vit.pick_device(args.device)
    torch.manual_seed(0)
    plain = timm.create_model("vit_base_patch14_dinov2", pretrained=False, img_size=args.size).eval()
    with torch.no_grad():  # a little on every weight, so no layer scale or norm is the identity
        for p in plain.parameters():
            p.add_(torch.randn(p.shape) * 0.02)
    ours = vit.from_state_dict(plain.state_dict(), "DINOv2-B/14 (random)", device=device)
    x = torch.randn(1, 3, args.size, args.size, device=device)
    if args.process_peak:
        del plain
        model_mb = sum(p.numel() for p in ours.net.parameters()) * 4 / 1e6
        above = peak_above_now(lambda: ours.trace(x))
        print(f"process holding only our model ({model_mb:.0f} MB of weights): peak {_status('VmHWM') / 1e6:.0f} MB "
              f"while tracing ({above:.0f} MB above its size before)")
        return 0
    plain.to(device)

    def run_plain() -> None:
        with torch.no_grad():
            plain.forward_features(x)

    def run_traced() -> None:
        ours.trace(x)

    with torch.no_grad():
        error = (plain.forward_head(plain.forward_features(x), pre_logits=True).cpu() - ours.trace(x).features).abs().max().item()
    for _ in range(2):  # warm-up
        run_plain()
        run_traced()
    times: dict[str, list[float]] = {"plain": [], "traced": []}
    for _ in range(args.repeats):
        for name, fn in (("plain", run_plain), ("traced", run_traced)):
            times[name].append(timed(fn, device))
    plain_ms = statistics.median(times["plain"]) * 1000
    traced_ms = statistics.median(times["traced"]) * 1000
    trace = ours.trace(x)
    tokens = trace.layout.total
    print(f"DINOv2-B/14 at {args.size} px ({tokens} tokens), batch 1, torch {torch.__version__}, device {device}, "
          f"{args.threads} thread(s), {args.repeats} runs each")
    print(f"plain fused forward (timm, F.scaled_dot_product_attention): {plain_ms:8.1f} ms (median)")
    print(f"traced forward (all tokens, Q, K, V kept):                  {traced_ms:8.1f} ms (median)")
    print(f"ratio traced / plain: {traced_ms / plain_ms:.3f}   (target ≤ 1.15); max |feature difference| {error:.2e}")
    if device == "cpu":
        del trace
        plain_mb = peak_above_now(run_plain)
        traced_mb = peak_above_now(run_traced)
        if plain_mb is not None:
            print(f"peak memory above the loaded models: plain {plain_mb:.0f} MB, traced {traced_mb:.0f} MB "
                  f"(target < 1500 MB; process peak {_status('VmHWM') / 1e6:.0f} MB)")
        trace = ours.trace(x)
    else:
        torch.cuda.reset_peak_memory_stats() if device == "cuda" else None
    maps = trace.attentions
    print(f"one layer's full map would be {maps.nbytes / 1e6:.0f} MB; all {len(maps)} layers "
          f"{maps.nbytes * len(maps) / 1e9:.2f} GB — never held at once")
    kept = sum(t.numel() for t in trace.tokens + trace.queries + trace.keys + trace.values) * 4 / 1e6
    print(f"kept by the trace: {kept:.0f} MB (tokens, queries, keys, values)")
    for label, fn in (
        ("one layer's (heads, T, T) map", lambda: maps._cache.clear() or maps[5]),
        ("one query's rows of one layer", lambda: maps.rows(7, 0)),
        ("rollout factors of all layers", lambda: [va.rollout_layer(maps[i], "mean", 0.0, trace.leading) for i in range(len(maps))]),
        ("mean attention distance, all layers", lambda: va.mean_attention_distance(maps, trace.grid, trace.patch_size)),
    ):
        samples = [timed(fn, "cpu") for _ in range(3)]
        print(f"  {label:38s} {statistics.median(samples) * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
