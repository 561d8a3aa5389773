"""The mutation check (scripts/mutation_check.py) follows the code: every planted bug still applies.

Running the mutations takes many minutes and is done by hand; this only checks that each
replacement's text occurs exactly once in its file, so a change to the code that moves a
mutation's target shows up at once — re-target the mutation then.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("mutation_check", ROOT / "scripts" / "mutation_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_mutation_applies_exactly_once():
    script = load_script()
    assert len(script.MUTATIONS) >= 30
    assert script.check_list(ROOT) == []


def test_a_mutation_that_no_longer_fits_is_reported(tmp_path):
    script = load_script()
    (tmp_path / "a.py").write_text("x = 1\nx = 1\n")
    (tmp_path / "tests").mkdir()
    twice = script.Mutation("twice", "a.py", "x = 1", "x = 2", ("tests",))
    gone = script.Mutation("gone", "a.py", "y = 1", "y = 2", ("tests",))
    missing = script.Mutation("missing", "b.py", "x", "y", ("tests",))
    problems = script.check_list(tmp_path, (twice, gone, missing))
    assert [p.split(":")[0] for p in problems] == ["twice", "gone", "missing"]
    assert "occurs 2 times" in problems[0] and "occurs 0 times" in problems[1] and "does not exist" in problems[2]
