"""The wheel ships every subpackage and the bundled resources."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "explorer").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["explorer.resources"] == "resources"


def test_resources_found_and_licensed():
    from explorer.assets import resource_path, resources_dir

    assert resources_dir().is_dir()
    licences = resource_path("images", "LICENSES.md").read_text()
    for name in ("astronaut.jpg", "chelsea.png", "coffee.jpg", "rocket.jpg"):
        assert resource_path("images", name).is_file()
        assert name in licences


def test_bundled_weights_within_budget():
    """DESIGN.md: bundled weights together stay under 20 MB."""
    from explorer.assets import resources_dir

    total = sum(p.stat().st_size for p in resources_dir().rglob("*.safetensors"))
    assert total < 20 * 1024 * 1024, f"bundled weights are {total / 1e6:.1f} MB"
