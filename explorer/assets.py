"""Where bundled files live, in a source checkout and in an installed wheel alike."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

#: Sample images shipped with the app: (file name, title shown in menus).
SAMPLE_IMAGES: tuple[tuple[str, str], ...] = (
    ("astronaut.jpg", "Astronaut"),
    ("chelsea.png", "Chelsea the cat"),
    ("coffee.jpg", "Coffee"),
    ("rocket.jpg", "Rocket launch"),
)


def resources_dir() -> Path:
    """The bundled ``resources`` folder.

    Installed, it is the package ``explorer.resources``; run from a checkout
    without installing, it is ``resources/`` beside the ``explorer`` package.
    """
    try:
        return Path(str(importlib.resources.files("explorer.resources")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a bundled file, e.g. ``resource_path("images", "chelsea.png")``."""
    return resources_dir().joinpath(*parts)


def sample_image_paths() -> list[tuple[Path, str]]:
    """The bundled sample images that are present, with their titles."""
    out = []
    for name, title in SAMPLE_IMAGES:
        path = resource_path("images", name)
        if path.is_file():
            out.append((path, title))
    return out
