"""The library's tests: a stand-in hub on 127.0.0.1, fake caches (helpers beside this file)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # standin_hub, fake_cache, hub_fixtures

from hub_fixtures import _no_real_hub, cache, hub  # noqa: E402,F401
