"""The engine tests' tiny Hugging Face captioners (tests/engine/captioning/hf_captioners.py) as fixtures here too."""

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[3] / "engine" / "captioning" / "hf_captioners.py"


def _shared():
    """The one module both conftests use (imported once, whichever folder's tests run first)."""
    if "hf_captioners" not in sys.modules:
        spec = importlib.util.spec_from_file_location("hf_captioners", _PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["hf_captioners"] = module
        spec.loader.exec_module(module)
    return sys.modules["hf_captioners"]


blip_folder, hf_folder, ved_folder = _shared().blip_folder, _shared().hf_folder, _shared().ved_folder
