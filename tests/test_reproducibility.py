"""Two consecutive runs use identical data.

1. The generated data every bundled model trains and is tested on: each registered task's
   batch, the scene generator and the video clips, digested here and in a fresh interpreter
   with another hash salt — they must agree byte for byte.
2. A sample of the suite's data-generating tests, run twice in fresh interpreters with
   different hash salts: the digest of every random state each test used (the conftest's
   ``SEQVIS_DATA_DIGEST``) must be the same in both runs. A test that seeds from the clock,
   from ``hash()`` or from an unseeded ``default_rng()`` gives itself away here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

#: Test files whose data are random (fixed seeds, NumPy and torch generators, global and own); fast.
SAMPLE = (
    "tests/engine/video/test_video.py",
    "tests/engine/infra/test_scenes.py",
)


def digest_of(value, digest=None) -> str:
    """A sha256 over every tensor, array and plain value inside ``value`` (any nesting)."""
    digest = digest or hashlib.sha256()
    if isinstance(value, torch.Tensor):
        digest.update(f"tensor{tuple(value.shape)}{value.dtype}".encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    elif isinstance(value, np.ndarray):
        digest.update(f"array{value.shape}{value.dtype}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif hasattr(value, "tobytes") and hasattr(value, "size") and hasattr(value, "mode"):  # a PIL image
        digest.update(f"image{value.size}{value.mode}".encode() + value.tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            digest.update(field.name.encode())
            digest_of(getattr(value, field.name), digest)
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            digest_of(value[key], digest)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}{len(value)}".encode())
        for item in value:
            digest_of(item, digest)
    else:
        digest.update(repr(value).encode())
    return digest.hexdigest()


def generated_data_digests() -> dict[str, str]:
    """Digests of the generated data: every task's batch, scenes and clips, from fixed seeds."""
    from explorer.engine.infra import scenes
    from explorer.engine.training.registry import available_tasks
    from explorer.engine.video.generated import example

    digests = {
        name: digest_of(entry.make().sample(8, torch.Generator().manual_seed(5)))
        for name, entry in available_tasks().items()
    }
    digests["scenes"] = digest_of([scenes.generate(seed) for seed in range(4)])
    digests["video example"] = digest_of([example(label, seed=label) for label in range(3)])
    return digests


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def test_generated_data_are_the_same_in_another_process():
    here = generated_data_digests()
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from test_reproducibility import generated_data_digests\n"
        "for name, value in generated_data_digests().items(): print(name, value, sep='\\t')\n"
    )
    result = _python(code, PYTHONHASHSEED="4242")
    assert result.returncode == 0, result.stderr
    there = dict(line.split("\t") for line in result.stdout.splitlines())
    assert len(here) >= 10  # every task of every feature, plus scenes and clips
    assert there == here, sorted(name for name in here if there.get(name) != here[name])


def test_digests_tell_different_data_apart():
    assert digest_of(torch.zeros(3)) != digest_of(torch.zeros(4))
    assert digest_of((torch.ones(2), 1)) != digest_of((torch.ones(2), 2))
    assert digest_of(np.arange(3)) == digest_of(np.arange(3))


def run_sample(digest_file: Path, hash_seed: str) -> dict[str, tuple[int, str]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env.update(SEQVIS_DATA_DIGEST=str(digest_file), PYTHONHASHSEED=hash_seed)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SAMPLE],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    rows = [line.split("\t") for line in digest_file.read_text().splitlines()]
    return {node: (int(made), digest) for node, made, digest in rows}


def test_two_runs_of_a_sample_of_the_suite_draw_identical_data(tmp_path):
    first = run_sample(tmp_path / "first.tsv", "1")
    second = run_sample(tmp_path / "second.tsv", "2")
    assert len(first) >= 25, len(first)  # every test of the sample reported
    assert sum(made for made, _ in first.values()) >= 10  # and many made generators of their own
    assert first == second, sorted(node for node in first if second.get(node) != first[node])
