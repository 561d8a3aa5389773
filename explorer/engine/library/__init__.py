"""The Models library: every model the app can show, where it lives, and what it is — no Qt.

- :mod:`.discovery`: :func:`discover` lists the bundled models, those already on
  this computer (the Hugging Face cache, torch hub checkpoints, the Training
  panel's folder, added folders, recent files) and the catalogue;
  :func:`download` fetches a catalogue model (through :mod:`explorer.engine.infra.hub`).
- :mod:`.entries`: :class:`ModelEntry` and the inspection of a folder or file.
- :mod:`.describe`: family, size, parameters, input size, classes or vocabulary
  from config files and tensor shapes, and which panel opens the model.
- :mod:`.files`: tensor shapes from safetensors headers and memory-mapped
  ``.pth`` files, without loading weights.
- :mod:`.catalogue`: the curated models to download, as data.
"""

from explorer.engine.library.catalogue import CATALOGUE, CatalogueItem, catalogue_entry
from explorer.engine.library.describe import PANEL_TITLES, Description
from explorer.engine.library.discovery import (
    bundled_entries,
    cache_entry,
    discover,
    download,
    folder_entries,
    hf_cache_entries,
    torch_checkpoints_dir,
)
from explorer.engine.library.entries import GROUP_TITLES, GROUPS, ModelEntry, format_bytes, format_count

__all__ = [
    "CATALOGUE", "GROUPS", "GROUP_TITLES", "PANEL_TITLES", "CatalogueItem", "Description", "ModelEntry",
    "bundled_entries", "cache_entry", "catalogue_entry", "discover", "download", "folder_entries", "format_bytes",
    "format_count", "hf_cache_entries", "torch_checkpoints_dir",
]
