"""Where the RNN panel's cells come from: your own, a bundled or retrained model, a file. No Qt.

The loaders are module functions so the runner can run them off the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from explorer.engine.rnn import models as bundled

CUSTOM = "custom"  # your own cell: random weights from its settings
FILE = "file"  # a user's state dict
DEFAULT_MODEL = "rnn_memory_lstm"  # shown at first launch


def model_choices() -> tuple[tuple[str, str], ...]:
    """(key, title) of the models offered at start: your own cell and the bundled files present."""
    choices = [(CUSTOM, "Your own cell (random weights)")]
    choices += [(name, f"Trained: {title}") for name, title in bundled.BUNDLED.items() if bundled.bundled_path(name).is_file()]
    return tuple(choices)


def load_retrained(path: Path, task: str):
    """A model the Training panel saved for ``task``, titled as the retrained bundled one."""
    return bundled.load_trained(path, title=f"Retrained: {bundled.BUNDLED.get(task, task)}", name=f"retrained:{task}")


def load_bundled_models(names) -> dict:
    return {name: bundled.load_bundled(name) for name in names}
