"""Downloading a Hugging Face model folder by its id, when the user is online.

The app works offline: everything it needs ships with it, and a model folder
the user already has opens directly. This is the one path that reaches a hub,
on request, with progress and cancel through a
:class:`~explorer.engine.infra.progress.Reporter`. Only configs, tokenizer files
and ``*.safetensors`` weights are fetched — never pickled ``*.bin`` files — so
nothing downloaded can run code; a model without safetensors is refused
*before* a byte is fetched. Files land in the Hugging Face cache (honouring
``HF_HOME`` / ``HF_HUB_CACHE``), so other tools find them too, and a second
request for the same id is served from it, offline as well.

The hub protocol is huggingface_hub's: the file listing (``HfApi.list_repo_tree``)
plans the download, ``snapshot_download`` performs it. Resuming is its behaviour,
and what the user is told: a file cut off by a dropped connection continues from
the byte it reached (an HTTP ``Range`` request); after a cancel or a closed app,
the files already finished stay in the cache and are not fetched again, while the
file in flight starts over (huggingface_hub discards a partial file, whose
temporary name is unique to one attempt).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from explorer.engine.infra.progress import Cancelled, Reporter, report

#: "owner/name", as on the hub (letters, digits, "-", "_", ".").
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: What a model folder needs; weights only as safetensors.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt", "vocab*"]
#: Weight formats that are pickled (or of another framework): listed in the refusal, never fetched.
OTHER_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".h5", ".msgpack", ".onnx")
#: Bytes between two progress reports, and so between two chances to cancel.
CHUNK_BYTES = 1024 * 1024


class HubDownloadError(ValueError):
    """The model could not be fetched; the message says why and what to do."""


def looks_like_repo_id(text: str) -> bool:
    return bool(REPO_ID.match(text.strip())) and not Path(text).exists()


def hub_endpoint() -> str:
    """The hub asked: ``HF_ENDPOINT`` as set now (a mirror, or a test's stand-in), else huggingface_hub's."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    """The Hugging Face cache, as huggingface_hub resolved it from ``HF_HUB_CACHE`` / ``HF_HOME``."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


@dataclass
class DownloadPlan:
    """What a download of ``repo_id`` will fetch: the files allowed, their sizes, those already cached."""

    repo_id: str
    commit: str
    sizes: dict[str, int] = field(default_factory=dict)  # allowed file → bytes
    cached: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # weight files not fetched (pickled / other framework)

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    @property
    def cached_bytes(self) -> int:
        return sum(self.sizes[name] for name in self.cached)

    @property
    def weights(self) -> list[str]:
        return [name for name in self.sizes if name.endswith(".safetensors")]


def plan_download(repo_id: str, *, cache_dir: str | Path | None = None, endpoint: str | None = None,
                  allow_patterns: list[str] | None = None) -> DownloadPlan:
    """List ``repo_id`` on the hub and decide what to fetch (nothing is downloaded).

    Raises:
        HubDownloadError: unreachable hub, unknown or gated model, or no safetensors weights.
    """
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.hf_api import RepoFile
    from huggingface_hub.utils import filter_repo_objects

    repo_id = _check_id(repo_id)
    endpoint = endpoint or hub_endpoint()
    cache_dir = str(cache_dir or hub_cache_dir())
    api = HfApi(endpoint=endpoint)
    try:
        commit = api.repo_info(repo_id).sha
        tree = api.list_repo_tree(repo_id, recursive=True, revision=commit)
        files = {f.path: int(f.size or 0) for f in tree if isinstance(f, RepoFile)}
    except Exception as exc:
        raise explain(exc, repo_id, endpoint) from exc
    allowed = list(filter_repo_objects(files, allow_patterns=allow_patterns or ALLOW_PATTERNS))
    plan = DownloadPlan(repo_id, str(commit), {name: files[name] for name in allowed})
    plan.refused = sorted(name for name in files if name.lower().endswith(OTHER_WEIGHTS))
    if not plan.weights:
        found = f" (it has {', '.join(plan.refused[:3])})" if plan.refused else ""
        raise HubDownloadError(
            f"{repo_id}: the model has no safetensors weights{found}; pickled .bin / .pt weights are not "
            "downloaded because opening them could run code. Look on the hub for a safetensors version of it, or "
            "convert it yourself with save_pretrained(safe_serialization=True) and add that folder."
        )
    for name in plan.sizes:
        if isinstance(try_to_load_from_cache(repo_id, name, cache_dir=cache_dir, revision=plan.commit), str):
            plan.cached.add(name)
    return plan


def download_folder(repo_id: str, *, reporter: Reporter | None = None, cache_dir: str | Path | None = None,
                    endpoint: str | None = None, allow_patterns: list[str] | None = None, max_workers: int = 4) -> Path:
    """Fetch ``repo_id``'s model files (or find them in the cache) and return the snapshot folder.

    Progress is in bytes over the files the plan fetches; Cancel stops at the
    next mebibyte. Offline, a model already complete in the cache is returned.

    Raises:
        HubDownloadError: a malformed id, no network (and not cached), an unknown or
            gated model, a model with no safetensors weights, or a failed transfer.
        Cancelled: the reporter was cancelled.
    """
    import huggingface_hub

    repo_id = _check_id(repo_id)
    endpoint = endpoint or hub_endpoint()
    cache_dir = str(cache_dir or hub_cache_dir())
    patterns = allow_patterns or ALLOW_PATTERNS
    report(reporter, 0.0, f"{repo_id}: asking {endpoint} for its files")
    try:
        plan = plan_download(repo_id, cache_dir=cache_dir, endpoint=endpoint, allow_patterns=patterns)
    except HubDownloadError as exc:
        if not isinstance(exc.__cause__, Exception) or not _is_offline(exc.__cause__):
            raise
        return _from_cache(repo_id, cache_dir, patterns, exc)
    _configure_transfers()
    progress = _progress_class(reporter, plan)
    try:
        folder = huggingface_hub.snapshot_download(
            repo_id, cache_dir=cache_dir, endpoint=endpoint, allow_patterns=patterns, tqdm_class=progress,
            max_workers=max_workers,
        )
    except Cancelled:
        raise
    except Exception as exc:
        raise explain(exc, repo_id, endpoint) from exc
    if reporter is not None:
        reporter.check()
        reporter.report(1.0, f"{repo_id}: downloaded ({_mb(plan.total_bytes)})")
    return Path(str(folder))


def explain(exc: BaseException, repo_id: str, endpoint: str) -> HubDownloadError:
    """A sentence for the user, with what to do, from huggingface_hub's (or the network's) exception."""
    from huggingface_hub import errors

    if isinstance(exc, HubDownloadError):
        return exc
    if _offline_mode(exc):
        return HubDownloadError(
            f"{repo_id}: downloads are switched off (HF_HUB_OFFLINE is set) and the model is not in the cache. "
            "Unset HF_HUB_OFFLINE and restart the app to download it, or add a folder that holds it."
        )
    if isinstance(exc, errors.GatedRepoError):
        return HubDownloadError(
            f"{repo_id}: the model is gated: accept its licence on its hub page and log in (hf auth login), then try again."
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubDownloadError(f"{repo_id}: no such public model on the Hugging Face hub (or it needs a login).")
    if isinstance(exc, errors.RevisionNotFoundError):
        return HubDownloadError(f"{repo_id}: the requested revision does not exist.")
    if _is_offline(exc):
        return HubDownloadError(
            f"{repo_id}: could not reach the Hugging Face hub ({endpoint}) and the model is not in the local cache. "
            "Connect to the internet (behind a proxy, set HTTPS_PROXY; for a mirror, HF_ENDPOINT) and press Download "
            "again — finished files are kept — or download the folder elsewhere and add it with Add folder…"
        )
    first = (str(exc).splitlines() or [""])[0] or type(exc).__name__
    return HubDownloadError(f"{repo_id}: the download failed ({first}). Press Download again to resume.")


# -- helpers --------------------------------------------------------------------------------------------
def _check_id(repo_id: str) -> str:
    repo_id = repo_id.strip()
    if not REPO_ID.match(repo_id):
        raise HubDownloadError(f"“{repo_id}” is not a Hugging Face model id (it looks like owner/name).")
    return repo_id


def _from_cache(repo_id: str, cache_dir: str, patterns: list[str], offline: HubDownloadError) -> Path:
    """Offline: the snapshot already in the cache, if it is complete; else the offline message."""
    import huggingface_hub

    try:
        folder = Path(str(huggingface_hub.snapshot_download(
            repo_id, cache_dir=cache_dir, allow_patterns=patterns, local_files_only=True)))
    except Exception as exc:  # not cached, or cached incompletely
        raise offline from exc
    if not any(folder.glob("*.safetensors")):
        raise offline
    return folder


def _configure_transfers() -> None:
    """Small chunks so Cancel answers within a mebibyte; plain HTTP so cancel and Range-resume are the tested ones.

    (huggingface_hub reads both constants when a transfer starts; Xet's transfers
    cannot be stopped from a progress callback.)
    """
    from huggingface_hub import constants

    constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, CHUNK_BYTES)
    constants.HF_HUB_DISABLE_XET = True


def _progress_class(reporter: Reporter | None, plan: DownloadPlan):
    """A tqdm class for ``snapshot_download`` that forwards bytes (or, from older hubs, files) to ``reporter``."""
    from huggingface_hub.utils import tqdm as hub_tqdm

    lock = threading.Lock()
    counted = {"bytes": 0, "files": 0}
    to_fetch = max(plan.total_bytes - plan.cached_bytes, 1)
    kept = len(plan.cached)
    kept_text = f", {kept} of {len(plan.sizes)} files already here" if kept else ""

    class Progress(hub_tqdm):
        def __init__(self, *args, **kwargs) -> None:
            name = kwargs.get("name")
            self._bytes = name == "huggingface_hub.snapshot_download"  # the byte bar over all files
            self._files = name is None and kwargs.get("unit", "it") == "it"  # the bar over files
            kwargs["disable"] = True  # no console bars from a GUI worker
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if reporter is not None:
                reporter.check()
                if not (self._bytes or self._files):
                    return super().update(n)
                with lock:
                    if self._bytes and n:
                        counted["bytes"] += int(n)
                    elif self._files and n:
                        counted["files"] += int(n)
                    done, files = counted["bytes"], counted["files"]
                if done:
                    fraction = (plan.cached_bytes + done) / max(plan.total_bytes, 1)
                    text = f"{plan.repo_id}: {_mb(plan.cached_bytes + done)} of {_mb(plan.total_bytes)}{kept_text}"
                    reporter.report(min(fraction, 1.0 if done >= to_fetch else 0.999), text)
                elif files:
                    reporter.report(files / max(len(plan.sizes), 1), f"{plan.repo_id}: {files} of {len(plan.sizes)} files")
            return super().update(n)

    return Progress


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _offline_mode(exc: BaseException | None) -> bool:
    from huggingface_hub.utils import OfflineModeIsEnabled

    while exc is not None:
        if isinstance(exc, OfflineModeIsEnabled):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _is_offline(exc: BaseException | None) -> bool:
    """A connection that could not be made (whichever HTTP library huggingface_hub uses), or offline mode."""
    from huggingface_hub import errors

    while exc is not None:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & {"ConnectError", "ConnectTimeout", "TimeoutException", "ConnectionError", "OfflineModeIsEnabled",
                    "ProxyError"} or isinstance(exc, (errors.LocalEntryNotFoundError, ConnectionError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
