"""Train the bundled recurrent models: RNN / LSTM / GRU on the memory task, a GRU on shapes.

    python scripts/train_rnn.py              # all four, ~1 CPU thread
    python scripts/train_rnn.py --only rnn_memory_lstm

Every model is trained by :func:`explorer.engine.training.loop.train` on freshly
generated data (seeds fixed), then measured on FRESH sequences drawn with a
different seed; those figures are printed and stored in the weight file's
config metadata (``accuracy_vs_distractors`` / ``test_accuracy``), and the
README table is copied from them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from explorer.engine.rnn.tasks import (
    MEMORY_EVAL_DISTRACTORS,
    TRAIN_DEFAULTS,
    TRAIN_TASKS,
    memory_accuracy,
    shapes_accuracy,
)
from explorer.engine.training.loop import print_progress, save_trained, train

OUT = Path(__file__).resolve().parent.parent / "resources" / "models"
EVAL_SEED = 20_251_129  # never used for training data (training draws from seed 0)
EVAL_COUNT = 2000


def evaluate(name: str, model: torch.nn.Module) -> dict:
    if name.startswith("rnn_memory"):
        table = {str(t): round(memory_accuracy(model, t, EVAL_COUNT, EVAL_SEED + t), 4) for t in MEMORY_EVAL_DISTRACTORS}
        return {"accuracy_vs_distractors": table, "eval_sequences": EVAL_COUNT, "eval_seed": EVAL_SEED}
    return {"test_accuracy": round(shapes_accuracy(model, EVAL_COUNT, EVAL_SEED), 4),
            "eval_sequences": EVAL_COUNT, "eval_seed": EVAL_SEED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TRAIN_TASKS), action="append", help="train only these")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the CPU is shared)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.only or list(TRAIN_TASKS):
        task = TRAIN_TASKS[name]()
        config = TRAIN_DEFAULTS[name]
        print(f"== {name}: {config.steps} steps, batch {config.batch_size}, {args.threads} thread(s)", flush=True)
        start = time.perf_counter()
        result = train(task, config, callback=print_progress)
        seconds = time.perf_counter() - start
        metrics = evaluate(name, result.model)
        metrics.update({"threads": args.threads, "train_seconds": round(seconds, 1)})
        path = save_trained(args.out / f"{name}.safetensors", task, result, extra=metrics)
        print(f"{name}: {result.status} in {seconds:.1f} s; {metrics}; saved {path} ({path.stat().st_size / 1024:.0f} KiB)", flush=True)


if __name__ == "__main__":
    main()
