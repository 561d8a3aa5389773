"""The Models library's UI and state tests use the engine tests' stand-in hub and fake caches."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engine" / "library"))

from hub_fixtures import _no_real_hub, cache, hub  # noqa: E402,F401
