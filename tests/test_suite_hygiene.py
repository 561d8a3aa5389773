"""The suite's own rules, read from its source: errors are matched, randomness is seeded.

- ``pytest.raises`` names the message it expects (``match=``): a test that catches any
  ValueError passes for the wrong one.
- No generator without a seed: ``np.random.default_rng()`` with no argument, Pillow's
  ``Image.effect_noise`` (C's unseeded ``rand()``) and seeds from ``hash()`` (salted per
  process) make two runs draw different data.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

def _name(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain or a name, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def offences(source: str) -> list[tuple[int, str]]:
    """(line, what is wrong) for every broken rule in one test file's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        keywords = {k.arg for k in node.keywords}
        if name in ("pytest.raises", "raises") and "match" not in keywords and len(node.args) < 2:
            found.append((node.lineno, "pytest.raises without match="))
        elif name.endswith("default_rng") and not node.args and not keywords:
            found.append((node.lineno, "default_rng() without a seed"))
        elif name.endswith("effect_noise"):
            found.append((node.lineno, "Image.effect_noise draws from C's unseeded rand()"))
        elif name == "hash":
            found.append((node.lineno, "hash() is salted per process: use a fixed seed"))
    return sorted(found)


def suite_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_rules_find_what_they_look_for():
    bad = (
        "import numpy as np, pytest\n"
        "from PIL import Image\n"
        "def test_x():\n"
        "    with pytest.raises(ValueError):\n"
        "        pass\n"
        "    np.random.default_rng()\n"
        "    Image.effect_noise((4, 4), 9)\n"
        "    np.random.default_rng(hash(('a', 1)) % 7)\n"
    )
    assert [line for line, _ in offences(bad)] == [4, 6, 7, 8]
    good = (
        "def test_x():\n"
        "    with pytest.raises(ValueError, match='bad'):\n"
        "        pass\n"
        "    pytest.raises(ValueError, int, 'x')\n"  # the call form checks nothing about the text either,
        "    np.random.default_rng(0)\n"  # but says which call fails; it is allowed
        "    np.random.default_rng(seed=1)\n"
    )
    assert offences(good) == []


def test_every_test_file_follows_the_rules():
    broken = {}
    for path in suite_files():
        relative = path.relative_to(ROOT).as_posix()
        found = offences(path.read_text(encoding="utf-8"))
        if found:
            broken[relative] = found
    assert not broken, "\n".join(f"{p}:{line}: {what}" for p, rows in broken.items() for line, what in rows)

