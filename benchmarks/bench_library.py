"""What the Models library costs: describing a model from its headers beside loading its weights, and a download.

* **describe vs load** — a ViT-B/16 (timm layout, random weights, 86.6 M parameters) saved
  as safetensors and as ``.pth``: :func:`explorer.engine.library.entries.inspect_file` (the
  header, or the memory-mapped pickle) beside
  :func:`explorer.engine.infra.checkpoints.load_state_dict` (what opening the model reads);
* **a cache scan** — ``--models`` ViT-B/16-sized repositories in a Hugging Face cache layout
  (one file shared through blobs), :func:`hf_cache_entries` end to end;
* **a download** — a 100 MB safetensors file from the stand-in hub on 127.0.0.1 through
  :func:`download_folder` (byte progress on, 1 MiB chunks) beside huggingface_hub's own
  ``snapshot_download`` of the same file with its default settings.

Usage::

    PYTHONPATH=. python benchmarks/bench_library.py [--repeats 5] [--models 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "engine" / "library"))  # the stand-in hub and the cache builder


def timed(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", type=int, default=20)
    args = parser.parse_args()

    import numpy as np
    import timm
    import torch
    from safetensors.numpy import save
    from safetensors.torch import save_file

    from explorer.engine.infra.checkpoints import load_state_dict
    from explorer.engine.library.entries import inspect_file

    work = Path(tempfile.mkdtemp(prefix="bench-library-"))
    torch.manual_seed(0)
    state = timm.create_model("vit_base_patch16_224", pretrained=False).state_dict()
    safe, pth = work / "vit_b16.safetensors", work / "vit_b16.pth"
    save_file(state, str(safe))
    torch.save(state, pth)
    del state
    print(f"ViT-B/16, {safe.stat().st_size / 1e6:.0f} MB, median of {args.repeats}:")
    for path in (safe, pth):
        load_state_dict(path)  # warm the page cache for both
        described = timed(lambda: inspect_file(path), args.repeats)
        loaded = timed(lambda: load_state_dict(path), args.repeats)
        print(f"  {path.suffix:13s} describe {described:8.1f} ms   load_state_dict {loaded:8.1f} ms   ratio {loaded / described:6.0f}×")

    from fake_cache import cached_repo

    from explorer.engine.library import hf_cache_entries

    cache = work / "hub"
    config = b'{"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": 768, "patch_size": 16}'
    blob = safe.read_bytes()
    for i in range(args.models):
        cached_repo(cache, f"bench/model-{i:02d}", {"config.json": config, "model.safetensors": blob})
    scan = timed(lambda: hf_cache_entries(cache), args.repeats)
    print(f"cache scan, {args.models} repositories: {scan:.0f} ms ({scan / args.models:.1f} ms per model)")

    from huggingface_hub import constants, snapshot_download
    from standin_hub import StandInHub

    from explorer.engine.infra.hub import download_folder
    from explorer.engine.infra.progress import Reporter

    constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
    data = save({"w": np.random.default_rng(0).standard_normal(25_000_000).astype(np.float32)})
    hub = StandInHub({"bench/big": {"config.json": b"{}", "model.safetensors": data}}, piece=1024 * 1024)
    os.environ["HF_ENDPOINT"] = hub.start()
    reports = []
    # The reference first: download_folder lowers huggingface_hub's chunk size for itself and all after it.
    reference = timed(lambda: snapshot_download("bench/big", cache_dir=Path(tempfile.mkdtemp(dir=work)),
                                                endpoint=hub.endpoint), 3)
    ours = timed(lambda: download_folder("bench/big", cache_dir=Path(tempfile.mkdtemp(dir=work)),
                                         reporter=Reporter(lambda f, t: reports.append(f))), 3)
    hub.stop()
    mb = len(data) / 1e6
    print(f"download {mb:.0f} MB from 127.0.0.1: ours {ours:.0f} ms ({mb / ours * 1e3:.0f} MB/s, "
          f"{len(reports) // 3} progress reports each) vs snapshot_download {reference:.0f} ms "
          f"({mb / reference * 1e3:.0f} MB/s); ratio {ours / reference:.2f}")


if __name__ == "__main__":
    main()
