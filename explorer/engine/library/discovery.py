"""Finding the models already on this computer, with no download.

Where models sit before this app ever ran:

* the **Hugging Face cache** (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
  ``~/.cache/huggingface/hub``), read with huggingface_hub's own
  :func:`~huggingface_hub.scan_cache_dir`, which also reports damaged entries —
  those are listed with what is wrong instead of hidden;
* **torch hub checkpoints** (``$TORCH_HOME/hub/checkpoints``, where torchvision,
  timm's older weights and ``torch.hub.load`` of DINO land), found through
  :func:`torch.hub.get_dir`, which honours ``TORCH_HOME``;
* the folder the Training panel saves to, folders the user adds, and the files
  opened recently; and the models bundled with the app.

Every entry is described from its files (:mod:`.entries`); nothing is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from explorer.engine.infra.hub import download_folder, hub_cache_dir
from explorer.engine.infra.progress import Reporter, report
from explorer.engine.library.catalogue import CATALOGUE, catalogue_entry
from explorer.engine.library.describe import Description
from explorer.engine.library.entries import ModelEntry, inspect_file, inspect_folder
from explorer.engine.library.files import WEIGHT_SUFFIXES

#: How deep an added folder is searched, and how many models one folder may contribute.
MAX_DEPTH = 2
MAX_PER_FOLDER = 200
_CACHE_FOLDER = re.compile(r"models--(?P<name>[^/\\]+)")


def torch_checkpoints_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (torch's default when TORCH_HOME is unset)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def discover(*, folders: Iterable[str | Path] = (), recent: Iterable[str | Path] = (), trained_dir: str | Path | None = None,
             cache_dir: str | Path | None = None, torch_dir: str | Path | None = None,
             reporter: Reporter | None = None) -> list[ModelEntry]:
    """Every model the library lists: bundled, on this computer, and the catalogue (in that order).

    A model found in two places (a recent file inside an added folder) is listed once, where it was found first.
    """
    folders, recent = list(folders), list(recent)
    report(reporter, 0.0, "bundled models")
    found = bundled_entries()
    report(reporter, 0.2, "the Hugging Face cache")
    cached = hf_cache_entries(cache_dir)
    found += cached
    report(reporter, 0.5, "torch hub checkpoints")
    found += file_entries(Path(torch_dir) if torch_dir else torch_checkpoints_dir(), "torch hub checkpoints")
    if trained_dir is not None and Path(trained_dir).is_dir():  # absent until something is trained
        found += folder_entries(Path(trained_dir), "trained in this app")
    for i, folder in enumerate(folders):
        report(reporter, 0.6 + 0.3 * i / max(len(folders), 1), f"{Path(folder).name}")
        found += folder_entries(Path(folder), "added folder")
    found += recent_entries(recent)
    snapshots = {e.repo_id: e.source for e in cached if e.repo_id and not e.reason}
    found += [catalogue_entry(item, snapshots.get(item.repo_id, "")) for item in CATALOGUE]
    report(reporter, 1.0, "done")
    return _unique(found)


def bundled_entries() -> list[ModelEntry]:
    """The models shipped in resources/models, each under the name its panel's loader knows."""
    from explorer.assets import resource_path
    from explorer.engine import captioning, video, vit

    named = [(name, file, "Bundled shapes ViT") for name, file in vit.BUNDLED.items()]
    named += [(name, file, title) for name, (file, title) in captioning.BUNDLED.items()]
    named += [(name, file, title) for name, (file, title) in video.BUNDLED.items()]
    entries = []
    for name, file, title in named:
        path = resource_path("models", file)
        description = inspect_file(path) if path.is_file() else Description(
            "missing", None, reason=f"{file} is missing from the installation; reinstall the app or retrain it.")
        entries.append(ModelEntry(f"bundled:{name}", title, "bundled", "bundled with the app", description,
                                  source=name, path=path, size_bytes=_size(path)))
    return entries


def hf_cache_entries(cache_dir: str | Path | None = None) -> list[ModelEntry]:
    """The model repositories in the Hugging Face cache, one entry each (damaged ones say what is wrong)."""
    from huggingface_hub import scan_cache_dir

    cache = Path(cache_dir) if cache_dir else hub_cache_dir()
    if not cache.is_dir():
        return []
    try:
        info = scan_cache_dir(cache)
    except Exception as exc:  # CacheNotFound, or a cache folder that cannot be read
        return [_broken_entry(f"hf-cache:{cache}", cache.name, "Hugging Face cache", f"the cache cannot be read ({exc}).")]
    entries = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model":
            continue
        revision = repo.refs.get("main") or max(repo.revisions, key=lambda r: r.last_modified, default=None)
        if revision is None:
            entries.append(_broken_entry(f"hf:{repo.repo_id}", repo.repo_id, "Hugging Face cache",
                                         "the cache holds no snapshot of it (an interrupted download). Download it again.",
                                         repo.repo_id))
            continue
        entries.append(cache_entry(repo.repo_id, Path(revision.snapshot_path), revision.size_on_disk))
    for warning in info.warnings:
        match = _CACHE_FOLDER.search(str(warning))
        if match is None:
            continue
        repo_id = match.group("name").replace("--", "/", 1)
        entries.append(_broken_entry(
            f"hf:{repo_id}", repo_id, "Hugging Face cache",
            f"the cache entry is damaged ({str(warning).splitlines()[0]}). Delete it (hf cache delete, or remove "
            f"models--{match.group('name')}) and download it again.", repo_id))
    return entries


def cache_entry(repo_id: str, snapshot: Path, size: int | None = None) -> ModelEntry:
    """A snapshot folder of the Hugging Face cache as a library entry."""
    description, weights = inspect_folder(snapshot)
    return ModelEntry(f"hf:{repo_id}", repo_id, "computer", "Hugging Face cache", description, source=str(snapshot),
                      path=snapshot, repo_id=repo_id, size_bytes=size if size is not None else weights)


def download(repo_id: str, reporter: Reporter | None = None, cache_dir: str | Path | None = None) -> ModelEntry:
    """Download ``repo_id`` (safetensors only; progress, cancel, resume) and return its entry, described from its files."""
    folder = download_folder(repo_id, reporter=reporter, cache_dir=cache_dir)
    return cache_entry(repo_id, folder)


def file_entries(folder: Path, where: str) -> list[ModelEntry]:
    """The weight files directly in ``folder`` (torch hub's checkpoints folder)."""
    if not folder.is_dir():
        return []
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES)
    except OSError:
        return []
    return [_file_entry(path, where) for path in files[:MAX_PER_FOLDER]]


def folder_entries(folder: Path, where: str) -> list[ModelEntry]:
    """Model folders (with a config.json) and weight files in ``folder``, searched ``MAX_DEPTH`` levels down."""
    if not folder.is_dir():
        if folder.is_file():
            return [_file_entry(folder, where)]
        return [_broken_entry(f"folder:{folder}", folder.name or str(folder), where,
                              "the folder is no longer there (moved, renamed or on a drive that is not mounted).")]
    entries: list[ModelEntry] = []
    todo = [(folder, 0)]
    while todo and len(entries) < MAX_PER_FOLDER:
        current, depth = todo.pop(0)
        if (current / "config.json").is_file():
            entries.append(_folder_entry(current, where))
            continue
        try:
            children = sorted(p for p in current.iterdir() if not p.name.startswith("."))
        except OSError:
            continue
        entries += [_file_entry(p, where) for p in children if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES]
        if depth < MAX_DEPTH:
            todo += [(p, depth + 1) for p in children if p.is_dir()]
    return entries[:MAX_PER_FOLDER]


def recent_entries(paths: Iterable[str | Path]) -> list[ModelEntry]:
    """Files and folders opened through the library, newest first; one that vanished says so."""
    entries = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            entries.append(_folder_entry(path, "opened recently"))
        elif path.is_file():
            entries.append(_file_entry(path, "opened recently"))
        else:
            entries.append(_broken_entry(f"file:{path}", path.name, "opened recently",
                                         "it is no longer there (moved or deleted)."))
    return entries


# -- helpers --------------------------------------------------------------------------------------------
def _file_entry(path: Path, where: str) -> ModelEntry:
    return ModelEntry(f"file:{path.resolve()}", path.name, "computer", where, inspect_file(path), source=str(path),
                      path=path, size_bytes=_size(path))


def _folder_entry(folder: Path, where: str) -> ModelEntry:
    description, weights = inspect_folder(folder)
    return ModelEntry(f"file:{folder.resolve()}", folder.name, "computer", where, description, source=str(folder),
                      path=folder, size_bytes=weights)


def _broken_entry(key: str, title: str, where: str, reason: str, repo_id: str = "") -> ModelEntry:
    return ModelEntry(key, title, "computer", where, Description("unreadable", None, reason=reason), repo_id=repo_id)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _unique(entries: list[ModelEntry]) -> list[ModelEntry]:
    """First of each key and of each place on disk (a cache snapshot that was also opened recently)."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        place = str(entry.path.resolve()) if entry.path is not None and entry.group == "computer" else ""
        if entry.key in seen or (place and place in seen):
            continue
        seen.update(m for m in (entry.key, place) if m)
        out.append(entry)
    return out
