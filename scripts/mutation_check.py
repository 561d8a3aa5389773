"""Does the test suite catch real bugs? Plant small ones, one at a time, and count.

Each mutation below is a plausible slip (a softmax over the wrong axis, a gate the wrong way
round, a pickle let through, a beam ranked by the step instead of the running total) written
as one exact text replacement. The script copies the repository to a scratch folder, applies
one mutation there, runs the tests that should notice it, restores the file, and goes on; at
the end it reports how many were caught.

A replacement whose text does not occur exactly once in its file is an error before anything
runs: the list must follow the code, so when code changes, re-target the mutation.

    PYTHONPATH=. python scripts/mutation_check.py             # every mutation, its own tests
    PYTHONPATH=. python scripts/mutation_check.py --all-tests # every mutation, the whole suite
    PYTHONPATH=. python scripts/mutation_check.py --check     # only check that the list applies
    PYTHONPATH=. python scripts/mutation_check.py --only attention.softmax-axis --jobs 2

Exit status 0 when every mutation marked ``issue`` and at least ``--require`` (90 %) of all
are caught.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ATTENTION = ("tests/engine/attention",)
MODELS_ATTEND = ("tests/engine/attention", "tests/engine/video/test_video.py", "tests/engine/vit")
RNN = ("tests/engine/rnn",)
VIT = ("tests/engine/vit",)
CHECKPOINTS = ("tests/engine/infra/test_checkpoints.py",)
IMAGES = ("tests/engine/infra/test_images.py",)
VIDEO = ("tests/engine/video",)
TRAINING = ("tests/engine/training/test_train.py",)
CAPTIONING = ("tests/engine/captioning",)


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]
    #: One of the bugs the "tests that catch real bugs" issue names as surviving: must be caught.
    issue: bool = False


CORE = "explorer/engine/attention/core.py"
BATCHED = "explorer/engine/attention/batched.py"
UPDATE = "explorer/engine/rnn/update.py"
VIT_MODEL = "explorer/engine/vit/model.py"
VIT_ANALYSIS = "explorer/engine/vit/analysis.py"
VIT_RESAMPLE = "explorer/engine/vit/resample.py"
VIT_BLOCKS = "explorer/engine/vit/blocks.py"
VIT_RELEVANCE = "explorer/engine/vit/relevance.py"
VIT_LENS = "explorer/engine/vit/logit_lens.py"
VIDEO_MODELS = "explorer/engine/video/models.py"
LOOP = "explorer/engine/training/loop.py"
SEARCH = "explorer/engine/captioning/search.py"
METRICS = "explorer/engine/captioning/metrics.py"

MUTATIONS: tuple[Mutation, ...] = (
    # -- attention: scaling, softmax, masking ----------------------------------------------
    Mutation("attention.scale-by-d_k", CORE, "factor = 1.0 / math.sqrt(q.shape[-1])", "factor = 1.0 / q.shape[-1]", ATTENTION),
    Mutation("attention.scale-by-d_v", CORE, "factor = 1.0 / math.sqrt(q.shape[-1])", "factor = 1.0 / math.sqrt(v.shape[-1])", ATTENTION),
    Mutation("attention.softmax-without-max", CORE, "e = torch.exp(x - safe_max)", "e = torch.exp(x)", ATTENTION),
    Mutation("attention.softmax-axis", CORE, "total = e.sum(dim=-1, keepdim=True)", "total = e.sum(dim=-2, keepdim=True)", ATTENTION),
    Mutation("attention.torch-softmax-axis", CORE, "weights = torch.softmax(x, dim=-1)", "weights = torch.softmax(x, dim=-2)", ATTENTION),
    Mutation("attention.mask-inverted", CORE, "x = logits if allowed is None else torch.where(allowed, logits, neg_inf)",
             "x = logits if allowed is None else torch.where(~allowed, logits, neg_inf)", ATTENTION),
    Mutation("attention.masked-row-nan", CORE,
             "weights = e / torch.where(total > 0, total, torch.ones((), dtype=logits.dtype))", "weights = e / total", ATTENTION),
    Mutation("attention.additive-mask-ignored", CORE, "        logits = logits + additive", "        logits = logits", ATTENTION),
    Mutation("attention.temperature-multiplies", CORE, "logits = scaled if temperature == 1.0 else scaled / temperature",
             "logits = scaled if temperature == 1.0 else scaled * temperature", ATTENTION),
    Mutation("attention.heads-concatenated-wrongly", "explorer/engine/attention/multi_head.py",
             "concat = out_heads.transpose(-3, -2).reshape(", "concat = out_heads.reshape(", ATTENTION),
    Mutation("attention.batched-mask-inverted", BATCHED,
             "scores.masked_fill(~mask, -math.inf)", "scores.masked_fill(mask, -math.inf)", MODELS_ATTEND),
    Mutation("attention.batched-softmax-axis", BATCHED,
             "weights = scores.softmax(dim=-1)", "weights = scores.softmax(dim=-2)", MODELS_ATTEND),
    Mutation("attention.batched-scale-by-d_k", BATCHED,
             "factor = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])",
             "factor = scale if scale is not None else 1.0 / q.shape[-1]", MODELS_ATTEND),
    # -- recurrence: gates and activations -------------------------------------------------
    Mutation("rnn.gru-update-gate-swapped", UPDATE,
             "h = (1.0 - gates_t[H:]) * n + gates_t[H:] * h", "h = gates_t[H:] * n + (1.0 - gates_t[H:]) * h", RNN),
    Mutation("rnn.gru-reset-on-both-terms", UPDATE,
             "pre_n = gx[..., 2 * H :] + r * gh[..., 2 * H :]", "pre_n = r * (gx[..., 2 * H :] + gh[..., 2 * H :])", RNN),
    Mutation("rnn.lstm-input-gate-as-forget", UPDATE, "c = s_t[H : 2 * H] * c", "c = s_t[:H] * c", RNN),
    Mutation("rnn.lstm-output-without-tanh", UPDATE, "h = o * ops.tanh(c)", "h = o * c", RNN),
    Mutation("rnn.relu-cell-uses-tanh", UPDATE,
             'f = np.tanh if kind == "rnn_tanh" else (lambda v: np.maximum(v, 0.0))', "f = np.tanh", RNN),
    Mutation("rnn.hidden-bias-dropped", UPDATE, "a = wx + b_ih + b_hh  # (T, H)", "a = wx + b_ih  # (T, H)", RNN),
    Mutation("rnn.sigmoid-without-half", UPDATE,
             "sigmoid = staticmethod(lambda a: 0.5 + 0.5 * np.tanh(0.5 * a))", "sigmoid = staticmethod(lambda a: 0.5 + 0.5 * np.tanh(a))", RNN),
    # -- ViT: positions, CLS, rollout ------------------------------------------------------
    Mutation("vit.positions-bilinear", VIT_RESAMPLE,
             'out = F.interpolate(grid, size=tuple(new), mode="bicubic"',
             'out = F.interpolate(grid, size=tuple(new), mode="bilinear"', VIT),
    Mutation("vit.positions-without-antialias", VIT_RESAMPLE,
             '"bicubic-antialias": Rule("bicubically with antialiasing (as timm and OpenCLIP do)", antialias=True),',
             '"bicubic-antialias": Rule("bicubically with antialiasing (as timm and OpenCLIP do)"),', VIT),
    Mutation("vit.positions-without-dino-offset", VIT_RESAMPLE,
             '"bicubic-offset": Rule("bicubically at scale (g + 0.1) / M (as DINO and DINOv2 do)", offset=0.1),',
             '"bicubic-offset": Rule("bicubically at scale (g + 0.1) / M (as DINO and DINOv2 do)"),', VIT),
    Mutation("vit.positions-shifted-past-cls", VIT_MODEL,
             "patch_pos = resample_grid(pos[:, lead:], (side, side)",
             "patch_pos = resample_grid(pos[:, :-lead or None], (side, side)", VIT),
    Mutation("vit.reads-the-last-token", VIT_MODEL,
             '        if cfg.pool == "cls":\n            features = x[:, 0]',
             '        if cfg.pool == "cls":\n            features = x[:, -1]', VIT),
    Mutation("vit.head-scale-of-the-width", VIT_BLOCKS, "self.scale = (dim // heads) ** -0.5", "self.scale = dim ** -0.5", VIT),
    Mutation("vit.rollout-without-identity", VIT_ANALYSIS, "a = fused + torch.eye(tokens, dtype=fused.dtype)", "a = fused", VIT),
    Mutation("vit.rollout-renormalised-without-keepdim", VIT_ANALYSIS,
             "return a / a.sum(dim=-1, keepdim=True)  # (T, T)", "return a / a.sum(dim=-1)  # (T, T)", VIT),
    Mutation("vit.rollout-multiplied-the-wrong-way", VIT_ANALYSIS,
             "result = a if result is None else a @ result", "result = a if result is None else result @ a", VIT),
    Mutation("vit.relevance-negative-kept", VIT_RELEVANCE,
             "e = (g.double() * a.double()).clamp_min(0).mean(dim=0)", "e = (g.double() * a.double()).mean(dim=0)", VIT),
    Mutation("vit.relevance-without-residual", VIT_RELEVANCE, "r = r + e @ r", "r = e @ r", VIT),
    Mutation("vit.relevance-gradient-ignored", VIT_RELEVANCE,
             "e = (g.double() * a.double()).clamp_min(0).mean(dim=0)", "e = a.double().clamp_min(0).mean(dim=0)", VIT),
    Mutation("vit.head-switch-ignored", VIT_BLOCKS,
             "out = out * head_mask.to(out.dtype).reshape(*head_mask.shape[:-1], self.heads, 1, 1)", "out = out", VIT),
    Mutation("vit.lens-settles-at-the-first-agreement", VIT_LENS,
             "while layer > 0 and top1[layer - 1] == top1[-1]:", "while layer > 0 and top1[layer - 1] != top1[-1]:", VIT),
    Mutation("vit.distance-not-renormalised", VIT_ANALYSIS,
             "return (weighted / mass).mean(dim=-1)  # (heads,)", "return weighted.mean(dim=-1)  # (heads,)", VIT),
    Mutation("checkpoints.pickle-allowed", "explorer/engine/infra/checkpoints.py",
             'torch.load(str(path), map_location="cpu", weights_only=True)',
             'torch.load(str(path), map_location="cpu", weights_only=False)', CHECKPOINTS),
    Mutation("checkpoints.module-prefix-kept", "explorer/engine/infra/checkpoints.py",
             'return _strip_prefix(tensors, "module.")', "return tensors", CHECKPOINTS),
    Mutation("images.exif-ignored", "explorer/engine/infra/images.py",
             "return to_rgb(ImageOps.exif_transpose(image))", "return to_rgb(image)", IMAGES),
    Mutation("images.transparency-on-black", "explorer/engine/infra/images.py",
             "BACKGROUND = (255, 255, 255)", "BACKGROUND = (0, 0, 0)", IMAGES),
    Mutation("images.sixteen-bit-clipped", "explorer/engine/infra/images.py", "scaled = values / 257.0", "scaled = values", IMAGES),
    Mutation("images.truncated-accepted", "explorer/engine/infra/images.py",
             "ImageFile.LOAD_TRUNCATED_IMAGES = False", "ImageFile.LOAD_TRUNCATED_IMAGES = True", IMAGES),
    # -- video: the recurrence stepped frame by frame, causality, importance ---------------
    Mutation("video.gru-update-gate-swapped", VIDEO_MODELS,
             "h_new = (1 - z) * n + z * h", "h_new = z * n + (1 - z) * h", VIDEO),
    Mutation("video.gru-reset-on-both-terms", VIDEO_MODELS,
             "n = torch.tanh(i_n + r * h_n)  # candidate", "n = torch.tanh(r * (i_n + h_n))  # candidate", VIDEO),
    Mutation("video.lstm-gate-order", VIDEO_MODELS,
             "i, f, g, o = (gi + gh).chunk(4, dim=1)", "i, f, o, g = (gi + gh).chunk(4, dim=1)", VIDEO),
    Mutation("video.attention-sees-the-future", VIDEO_MODELS,
             "dtype=torch.bool, device=x.device).tril()", "dtype=torch.bool, device=x.device).triu()", VIDEO),
    Mutation("video.importance-of-the-first-prediction", "explorer/engine/video/analysis.py",
             "logits[0, -1, target].backward()", "logits[0, 0, target].backward()", VIDEO),
    Mutation("video.frames-weigh-the-same", VIDEO_MODELS,
             "w = torch.arange(1, T + 1, dtype=torch.float32)", "w = torch.ones(T)", VIDEO),
    # -- training loop ---------------------------------------------------------------------
    Mutation("training.data-generator-ignores-seed", LOOP, "generator.manual_seed(seed)", "generator.manual_seed(0)", TRAINING),
    Mutation("training.weights-not-seeded", LOOP,
             "    torch.manual_seed(seed)\n    generator = torch.Generator()", "    generator = torch.Generator()", TRAINING),
    Mutation("training.warmup-starts-at-zero", LOOP,
             "return self.lr * (step + 1) / self.warmup_steps", "return self.lr * step / self.warmup_steps", TRAINING),
    Mutation("training.divergence-keeps-bad-weights", LOOP,
             "            model.load_state_dict(good_state)\n            result.status = \"diverged\"\n            result.message = (",
             "            result.status = \"diverged\"\n            result.message = (", TRAINING),
    # -- captioning: BLEU and beam search (re-target after the captioning rewrite) ---------
    Mutation("captioning.bleu-counts-not-clipped", METRICS,
             "sum(min(c, most[g]) for g, c in counts.items())", "sum(c for g, c in counts.items() if most[g])",
             CAPTIONING, issue=True),
    Mutation("captioning.bleu-without-brevity-penalty", METRICS,
             "brevity = 1.0 if hyp_length > ref_length else math.exp(1 - ref_length / hyp_length)", "brevity = 1.0", CAPTIONING),
    Mutation("captioning.beam-ranked-by-the-step", SEARCH,
             "best = torch.topk(totals.flatten(), min(2 * k, totals.numel()))",
             "best = torch.topk(log_probs.flatten(), min(2 * k, totals.numel()))", CAPTIONING, issue=True),
    Mutation("captioning.beam-one-step-past-max-words", SEARCH,
             "limit = check_max_words(max_words)  # tokens", "limit = check_max_words(max_words) + 1  # tokens",
             CAPTIONING, issue=True),
    Mutation("captioning.beam-stops-at-the-best-finished", SEARCH,
             "if rule.best_possible(going[0].total, length, limit) <= finished[-1].score:",
             "if rule.best_possible(going[0].total, length, limit) <= finished[0].score:", CAPTIONING),
    Mutation("captioning.beam-drops-an-open-caption-that-can-win", SEARCH,
             "if rule.best_possible(going[0].total, length, limit) <= finished[-1].score:",
             "if True:", CAPTIONING),
)


def check_list(root: Path, mutations=MUTATIONS) -> list[str]:
    """Problems with the list against the code at ``root``: each ``old`` text exactly once, names unique."""
    problems = []
    names = [m.name for m in mutations]
    problems += [f"{n}: the name is used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    for m in mutations:
        path = root / m.path
        if not path.is_file():
            problems.append(f"{m.name}: {m.path} does not exist")
            continue
        count = path.read_text(encoding="utf-8").count(m.old)
        if count != 1:
            problems.append(f"{m.name}: the text to replace occurs {count} times in {m.path} (must be once): {m.old!r}")
        if m.old == m.new:
            problems.append(f"{m.name}: the replacement changes nothing")
        missing = [t for t in m.tests if not (root / t).exists()]
        if missing:
            problems.append(f"{m.name}: no such tests {missing}")
    return problems


def scratch_copy(destination: Path) -> Path:
    """The tracked and untracked-but-not-ignored files of the repository, copied to ``destination``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and "__pycache__" not in source.parts:
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, str, float]:
    """pytest in the copy → (outcome "passed" / "failed" / "timeout" / "error", last line, seconds)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # a restored file must never run from a stale .pyc
    env.pop("PYTHONPATH", None)  # `python -m pytest` in the copy puts the copy first
    start = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                cwd=copy, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "timeout", f"no result after {timeout:.0f} s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    last = lines[-1].strip("= ") if lines else result.stderr.strip()[-200:]
    outcome = {0: "passed", 1: "failed", 2: "failed"}.get(result.returncode, "error")  # 2: collection broke
    return outcome, last, seconds


def check_imports_from(copy: Path) -> None:
    code = "import explorer, pathlib; print(pathlib.Path(explorer.__file__).resolve())"
    where = subprocess.run([sys.executable, "-c", code], cwd=copy, capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}).stdout.strip()
    if not where.startswith(str(copy.resolve())):
        raise SystemExit(f"the scratch copy imports explorer from {where}, not from itself")


def mutate_and_test(copy: Path, mutation: Mutation, tests: tuple[str, ...], timeout: float) -> dict:
    path = copy / mutation.path
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(mutation.old, mutation.new, 1), encoding="utf-8")
    try:
        outcome, last, seconds = run_tests(copy, tests, timeout)
    finally:
        path.write_text(original, encoding="utf-8")
    caught = outcome in ("failed", "timeout")
    return {"name": mutation.name, "path": mutation.path, "issue": mutation.issue, "caught": caught,
            "outcome": outcome, "summary": last, "seconds": round(seconds, 1), "tests": list(tests)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all-tests", action="store_true", help="run the whole suite for every mutation")
    parser.add_argument("--tests", nargs="+", help="run these tests for every mutation instead of each one's own")
    parser.add_argument("--check", action="store_true", help="only check that every mutation applies exactly once")
    parser.add_argument("--only", nargs="*", default=None, help="names (or name prefixes) of mutations to run")
    parser.add_argument("--jobs", type=int, default=1, help="mutations tested at once, each in its own copy")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per test run; a hang counts as caught")
    parser.add_argument("--require", type=float, default=0.9, help="fraction that must be caught")
    parser.add_argument("--skip-baseline", action="store_true", help="do not first check that the unmutated tests pass")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    problems = check_list(ROOT)
    if problems:
        print("The mutation list does not fit the code; re-target these:", *problems, sep="\n  ", file=sys.stderr)
        return 2
    chosen = [m for m in MUTATIONS if args.only is None or any(m.name.startswith(p) for p in args.only)]
    print(f"{len(MUTATIONS)} mutations apply exactly once; running {len(chosen)}.")
    if args.check or not chosen:
        return 0
    def selection(m: Mutation) -> tuple[str, ...]:
        return tuple(args.tests) if args.tests else ("tests",) if args.all_tests else m.tests


    with tempfile.TemporaryDirectory(prefix="mutation-check-") as scratch:
        copies = [scratch_copy(Path(scratch) / f"copy{i}") for i in range(max(1, args.jobs))]
        check_imports_from(copies[0])
        if not args.skip_baseline:
            for tests in sorted({selection(m) for m in chosen}):
                outcome, last, seconds = run_tests(copies[0], tests, args.timeout)
                print(f"baseline {' '.join(tests)}: {last} ({seconds:.0f} s)", flush=True)
                if outcome != "passed":
                    print("The unmutated tests do not pass; fix them before counting mutations.", file=sys.stderr)
                    return 2
        free = list(copies)

        def job(mutation: Mutation) -> dict:
            copy = free.pop()
            try:
                result = mutate_and_test(copy, mutation, selection(mutation), args.timeout)
            finally:
                free.append(copy)
            mark = "caught  " if result["caught"] else "SURVIVED"
            print(f"{mark} {result['name']:<48} {result['summary']} ({result['seconds']} s)", flush=True)
            return result

        with ThreadPoolExecutor(max_workers=len(copies)) as pool:
            results = list(pool.map(job, chosen))

    caught = [r for r in results if r["caught"]]
    survivors = [r for r in results if not r["caught"]]
    rate = len(caught) / len(results)
    print(f"\nCaught {len(caught)} of {len(results)} mutations ({rate:.0%}).")
    for r in survivors:
        print(f"  survived: {r['name']} ({r['path']}; tests: {' '.join(r['tests'])})")
    issue_survivors = [r["name"] for r in survivors if r["issue"]]
    if issue_survivors:
        print(f"  of them named in the issue (must be caught): {', '.join(issue_survivors)}")
    if args.json:
        args.json.write_text(json.dumps({"caught": len(caught), "total": len(results), "results": results}, indent=1))
    return 0 if rate >= args.require and not issue_survivors else 1


if __name__ == "__main__":
    sys.exit(main())
