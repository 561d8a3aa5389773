"""The engine never imports Qt: checked in a fresh interpreter, module by module."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import explorer.engine


def engine_modules() -> list[str]:
    return sorted(
        f"explorer.engine.{info.name}" for info in pkgutil.iter_modules(explorer.engine.__path__)
    )


def test_engine_modules_import_without_qt():
    modules = engine_modules()
    assert "explorer.engine.images" in modules
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'pyqtgraph', 'PySide6', 'PyQt5'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"engine imported Qt: {result.stdout.strip()}"
