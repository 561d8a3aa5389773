"""Train the bundled small ViT (resources/models/vit_shapes.safetensors).

Task: 64×64 generated scenes, "is the red shape left / right of the blue one,
above / below it?" (4 classes), see explorer/engine/vit_tasks.py. Uses the one
training loop, explorer.engine.training.loop. Afterwards it measures, and stores in the
file's config metadata:

* ``accuracy_fresh``: accuracy on scenes drawn with a seed never used in training;
* ``position_spearman``: Spearman ρ between position-embedding cosine similarity
  and grid distance over all patch pairs (≤ −0.5 means 2-D locality was learned).

    python scripts/train_vit.py                     # the shipped run
    python scripts/train_vit.py --steps 200 --out /tmp/vit.safetensors   # a quick try
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from explorer.engine.training.loop import print_progress, save_trained, train
from explorer.engine.vit.analysis import position_locality
from explorer.engine.vit.tasks import TRAIN_DEFAULTS, TRAIN_TASKS, generate_scenes, normalise

EVAL_SEED = 987_654
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "resources" / "models" / "vit_shapes.safetensors"


@torch.no_grad()
def evaluate(model: torch.nn.Module, count: int = 2000, seed: int = EVAL_SEED) -> float:
    """Accuracy on ``count`` freshly generated scenes."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct = 0
    for start in range(0, count, 250):
        images, labels = generate_scenes(min(250, count - start), generator)
        correct += int((model(normalise(images)).argmax(-1) == labels).sum())
    return correct / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--steps", type=int, default=None, help="override the shipped number of steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 when others share the CPU)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    task = TRAIN_TASKS["vit-shapes"]()
    config = TRAIN_DEFAULTS["vit-shapes"]
    if args.steps:
        config = replace(config, steps=args.steps, warmup_steps=min(config.warmup_steps, args.steps // 10))
    print(f"ViT {task.config.describe()}; {config.steps} steps × batch {config.batch_size}, "
          f"{args.threads} thread(s), {os.cpu_count()} CPUs", flush=True)
    wall, cpu = time.perf_counter(), time.process_time()
    result = train(task, config, callback=print_progress)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    accuracy = evaluate(result.model)
    grid = (task.config.grid, task.config.grid)
    rho = position_locality(result.model.pos_embed.detach()[0], grid)
    print(f"status {result.status}: {result.steps_done} steps in {wall:.0f} s wall, {cpu:.0f} s CPU "
          f"({args.threads} thread(s))")
    print(f"accuracy on 2000 fresh scenes: {accuracy:.1%}")
    print(f"Spearman ρ (position-embedding cosine similarity vs grid distance): {rho:.3f}")
    extra = {
        "accuracy_fresh": round(accuracy, 4),
        "eval_scenes": 2000,
        "position_spearman": round(rho, 4),
        "train_wall_seconds": round(wall, 1),
        "train_cpu_seconds": round(cpu, 1),
        "train_threads": args.threads,
    }
    save_trained(args.out, task, result, extra=extra)
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0 if result.status == "finished" else 1


if __name__ == "__main__":
    raise SystemExit(main())
