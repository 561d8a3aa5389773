"""Stable entry point ``explorer.engine.checkpoints`` (DESIGN.md); the code is in :mod:`.infra.checkpoints`."""

from explorer.engine.infra.checkpoints import (
    CheckpointError,
    load_config,
    load_model_file,
    load_state_dict,
    save_model,
)

__all__ = ["CheckpointError", "load_config", "load_model_file", "load_state_dict", "save_model"]
