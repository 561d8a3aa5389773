"""Train the bundled video models (CNN + GRU, CNN + causal temporal transformer).

    python scripts/train_video.py                 # both, shipped settings
    python scripts/train_video.py --only video_gru --steps 100 --out /tmp/x

Uses the one training loop (explorer.engine.training.loop) on freshly generated
clips, then measures final-frame accuracy on clips from a seed never used in
training and stores it in the safetensors config (``fresh_accuracy``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from explorer.engine.training.loop import print_progress, save_trained, train
from explorer.engine.video.analysis import accuracy_on_fresh_clips
from explorer.engine.video.tasks import TRAIN_DEFAULTS, TRAIN_TASKS

ROOT = Path(__file__).resolve().parent.parent
#: Evaluation clips come from this seed (training draws from the TrainConfig seeds).
EVAL_SEED = 12345
EVAL_CLIPS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TRAIN_TASKS), action="append", help="train only this model")
    parser.add_argument("--steps", type=int, help="override the number of steps (quick trials)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared machine)")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "models", help="output folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.only or sorted(TRAIN_TASKS):
        task = TRAIN_TASKS[name]()
        config = dataclasses.replace(TRAIN_DEFAULTS[name], threads=args.threads)
        if args.steps:
            config = dataclasses.replace(config, steps=args.steps, warmup_steps=min(config.warmup_steps, args.steps // 5))
        print(f"== {name}: {task.title}, {config.steps} steps × {config.batch_size} clips, {args.threads} thread(s)", flush=True)
        result = train(task, config, callback=print_progress)
        if result.status != "finished":
            raise SystemExit(f"{name}: {result.message}")
        start = time.perf_counter()
        accuracy = accuracy_on_fresh_clips(result.model, EVAL_CLIPS, EVAL_SEED)
        params = sum(p.numel() for p in result.model.parameters())
        path = save_trained(
            args.out / f"{name}.safetensors",
            task,
            result,
            extra={"fresh_accuracy": accuracy, "eval_clips": EVAL_CLIPS, "eval_seed": EVAL_SEED,
                   "threads": args.threads, "parameters": params},
        )
        print(
            f"{name}: {result.seconds:.0f} s training ({args.threads} thread(s)), "
            f"accuracy on {EVAL_CLIPS} fresh clips {accuracy:.1%} (eval {time.perf_counter() - start:.1f} s), "
            f"{params:,} parameters, {path.stat().st_size / 1024:.0f} KiB → {path}",
            flush=True,
        )


if __name__ == "__main__":
    main()
