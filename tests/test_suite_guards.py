"""The suite's own guarantees (tests/conftest.py), checked on small throw-away test files.

Each case runs pytest in a fresh interpreter on a temporary folder holding a copy of our
conftest, so what is checked is exactly what every test of the suite gets: a stable seed,
shown when a test fails, and a missing reference package that fails CI instead of skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import stable_seed

ROOT = Path(__file__).resolve().parents[1]


def run_pytest(folder: Path, files: dict[str, str], *args: str, **env: str) -> subprocess.CompletedProcess:
    """pytest in a fresh interpreter on ``files`` (name → source) beside a copy of our conftest."""
    shutil.copy(ROOT / "tests" / "conftest.py", folder / "conftest.py")
    for name, source in files.items():
        (folder / name).write_text(textwrap.dedent(source))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEQVIS_") and k != "PYTEST_ADDOPTS"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args, str(folder)],
        capture_output=True, text=True, timeout=240, cwd=folder,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
    )


def test_stable_seed_is_stable_and_spreads():
    assert stable_seed("tests/a.py::test_x") == stable_seed("tests/a.py::test_x")
    assert stable_seed("tests/a.py::test_x", base=1) != stable_seed("tests/a.py::test_x")
    seeds = {stable_seed(f"tests/a.py::test_{i}") for i in range(1000)}
    assert len(seeds) == 1000 and all(0 <= s < 2**31 for s in seeds)


DRAWS = """
    import random

    import numpy as np
    import torch


    def test_draws():
        print("DRAWN", random.random(), float(np.random.rand()), float(torch.rand(())))
        assert False, "fails on purpose"
"""


MISSING = {
    "test_in_a_test.py": """
        import pytest


        def test_needs_a_reference():
            pytest.importorskip("no_such_reference_package")


        def test_skips_for_another_reason():
            pytest.skip("needs a GPU")
    """,
    "test_at_module_level.py": """
        import pytest

        pytest.importorskip("another_missing_reference")


        def test_never_reached():
            pass
    """,
}


def test_a_failing_test_shows_its_seed_and_a_missing_reference_skips_for_users(tmp_path):
    """The numbers follow from the test id alone (not the process, its hash salt or the test order)."""
    result = run_pytest(tmp_path, {"test_draws.py": DRAWS, **MISSING}, "-s", PYTHONHASHSEED="12345")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 failed" in out and "3 skipped" in out and "needs a GPU" in out, out
    seed = stable_seed("test_draws.py::test_draws")
    assert f"test_draws.py::test_draws ran with seed {seed}" in out, out
    drawn = re.search(r"DRAWN (.*)", out).group(1)
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    assert drawn == f"{random.random()} {float(np.random.rand())} {float(torch.rand(()))}"


def test_a_missing_reference_fails_when_references_are_required(tmp_path):
    result = run_pytest(tmp_path, MISSING, "--continue-on-collection-errors", SEQVIS_REQUIRE_REFERENCES="1")
    out = result.stdout
    assert "SKIPPED" in out and "needs a GPU" in out  # a skip for another reason stays a skip
    assert result.returncode == 1, out
    assert re.search(r"FAILED test_in_a_test.py::test_needs_a_reference", out), out
    assert re.search(r"ERROR test_at_module_level.py", out), out
    assert "'no_such_reference_package'" in out and "'another_missing_reference'" in out
    assert "SEQVIS_REQUIRE_REFERENCES is set" in out


def test_ci_requires_the_references_and_runs_the_readme_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"## Run the tests.*?```bash\n(.*?)\n```", readme, re.S).group(1).strip()
    lines = [line for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert lines[-1] == command, "the last line of .ci/run must be the README's test command, verbatim"
    assert "export SEQVIS_REQUIRE_REFERENCES=1" in lines
