"""The layout DESIGN.md promises, checked: no Qt under the engine or in any panel state, no import cycle.

Static checks read every file's imports (module-level and inside functions, since a lazy
import still runs); the runtime check imports the Qt-free modules in a fresh
interpreter and looks at what got loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"
QT_ROOTS = ("PyQt6", "PyQt5", "PySide6", "PySide2", "pyqtgraph", "qtpy", "superqt")

#: Files allowed over 400 lines, each with the reason it is one piece.
LONG_FILES: dict[str, str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


MODULES = {module_name(p): p for p in python_files()}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever in the file the import sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:  # `from pkg import submodule`
                if f"{node.module}.{alias.name}" in MODULES:
                    found.add(f"{node.module}.{alias.name}")
    return found


def qt_free_modules() -> list[str]:
    """Everything under explorer.engine, every panel state, and every panel module a state imports."""
    names = {name for name in MODULES if name == "explorer.engine" or name.startswith("explorer.engine.")}
    todo = [name for name in MODULES if name.startswith("explorer.ui.panels.") and name.endswith(".state")]
    while todo:  # a state's helpers (qkv_state, derived, ...) are part of the state
        name = todo.pop()
        if name in names:
            continue
        names.add(name)
        todo += [m for m in imports_of(MODULES[name]) if m in MODULES and m.startswith("explorer.ui.")]
    return sorted(names)


def test_the_qt_free_set_is_what_we_think():
    names = qt_free_modules()
    assert "explorer.engine.infra.images" in names and "explorer.ui.panels.state" in names
    assert "explorer.engine.vit.model" in names
    assert "explorer.ui.panels.attention.qkv_state" in names  # reached through attention/state.py


def test_no_qt_import_in_engine_or_panel_state_source():
    offenders = {
        name: sorted(m for m in imports_of(MODULES[name]) if m.split(".")[0] in QT_ROOTS)
        for name in qt_free_modules()
    }
    offenders = {name: mods for name, mods in offenders.items() if mods}
    assert not offenders, f"these must not import Qt: {offenders}"


def test_qt_free_modules_load_no_qt_at_run_time():
    modules = qt_free_modules()
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_ROOTS!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"importing the Qt-free modules loaded: {result.stdout.strip()}"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def import_graph() -> dict[str, set[str]]:
    return {name: {m for m in imports_of(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_find_cycles_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_explorer():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


def test_features_are_packages_in_both_layers():
    for feature in ("attention", "rnn", "vit", "captioning", "video", "training"):
        assert (PACKAGE / "engine" / feature / "__init__.py").is_file(), f"explorer/engine/{feature}/ is missing"
        assert (PACKAGE / "ui" / "panels" / feature / "__init__.py").is_file(), f"explorer/ui/panels/{feature}/ is missing"
    stable = {"__init__.py", "images.py", "checkpoints.py"}  # the two stable entry points re-export infra
    flat = sorted(p.name for p in (PACKAGE / "engine").glob("*.py") if p.name not in stable)
    assert not flat, f"engine modules outside a feature package: {flat}"


def test_files_stay_small_or_say_why():
    long = {
        str(path.relative_to(ROOT)): n
        for path in python_files()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    unexplained = {path: n for path, n in long.items() if path not in LONG_FILES}
    assert not unexplained, f"files over 400 lines without a reason in LONG_FILES: {unexplained}"
