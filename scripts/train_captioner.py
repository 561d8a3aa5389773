"""Train the bundled captioners on generated scenes and measure them on fresh ones.

    python scripts/train_captioner.py                 # both models, shipped settings
    python scripts/train_captioner.py --only attention --steps 400 --out /tmp/try

Writes ``caption_attention.safetensors`` and ``caption_classic.safetensors``
(weights + config + measured figures in the metadata) and
``caption_vocabulary.json`` to ``resources/models`` (or ``--out``). Seeds are
fixed: the same command gives the same weights. Figures are measured on
scenes of the "test" seed stream, never seen in training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.engine.captioning.metrics import evaluate
from explorer.engine.captioning.tasks import TRAIN_DEFAULTS, TRAIN_TASKS
from explorer.engine.training.loop import print_progress, save_trained, train

OUT = Path(__file__).resolve().parent.parent / "resources" / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["attention", "attention_boxes", "classic"], help="train one model only")
    parser.add_argument("--steps", type=int, help="override the number of steps (for quick tries)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    parser.add_argument("--eval-scenes", type=int, default=1000, help="fresh test scenes to measure on")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    kinds = [args.only] if args.only else ["attention", "attention_boxes", "classic"]
    for kind in kinds:
        key = f"caption_{kind}"
        task = TRAIN_TASKS[key]()
        config = replace(TRAIN_DEFAULTS[key], threads=args.threads)
        if args.steps:
            config = replace(config, steps=args.steps, warmup_steps=min(config.warmup_steps, args.steps))
        print(f"== {task.title}: {config.steps} steps, batch {config.batch_size}, {args.threads} thread(s)", flush=True)
        result = train(task, config, callback=print_progress)
        print(f"   trained in {result.seconds:.0f} s ({result.status})", flush=True)
        started = time.perf_counter()
        figures = evaluate(result.model, task.vocab, args.eval_scenes, split="test")
        figures = {k: round(float(v), 4) for k, v in figures.items()}
        print(f"   measured on {args.eval_scenes} fresh test scenes in {time.perf_counter() - started:.0f} s:", flush=True)
        for name, value in figures.items():
            print(f"     {name:16s} {value}", flush=True)
        path = save_trained(args.out / f"{key}.safetensors", task, result, extra={"metrics": figures, "threads": args.threads})
        print(f"   saved {path} ({path.stat().st_size / 1e6:.2f} MB)", flush=True)
        (args.out / "caption_vocabulary.json").write_text(json.dumps(task.vocab.words, indent=1) + "\n")


if __name__ == "__main__":
    main()
