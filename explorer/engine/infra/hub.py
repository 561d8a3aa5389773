"""Downloading a Hugging Face model folder by its id, when the user is online.

The app works offline: everything it needs ships with it, and a model folder
the user already has opens directly. This is the one path that reaches a hub,
on request, with progress and cancel through a
:class:`~explorer.engine.infra.progress.Reporter`. Only configs, tokenizer files and
``*.safetensors`` weights are fetched — never pickled ``*.bin`` files — so
nothing downloaded can run code. Files land in the Hugging Face cache, and a
second request for the same id is served from it without the network.
"""

from __future__ import annotations

import re
from pathlib import Path

from explorer.engine.infra.progress import Reporter

#: "owner/name", as on the hub (letters, digits, "-", "_", ".").
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: What a VisionEncoderDecoder folder needs; weights only as safetensors.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt", "vocab*"]


class HubDownloadError(ValueError):
    """The model could not be fetched; the message says why and what to do."""


def looks_like_repo_id(text: str) -> bool:
    return bool(REPO_ID.match(text.strip())) and not Path(text).exists()


def download_folder(repo_id: str, *, reporter: Reporter | None = None, cache_dir: str | Path | None = None) -> Path:
    """Fetch ``repo_id``'s model files (or find them in the cache) and return the folder.

    Raises:
        HubDownloadError: a malformed id, no network, an unknown or gated model,
            or a model with no safetensors weights.
    """
    repo_id = repo_id.strip()
    if not REPO_ID.match(repo_id):
        raise HubDownloadError(f"“{repo_id}” is not a Hugging Face model id (it looks like owner/name).")
    try:
        import huggingface_hub
        from huggingface_hub import errors
        from huggingface_hub.utils import tqdm as hub_tqdm
    except ImportError as exc:
        raise HubDownloadError(
            "Downloading needs the 'huggingface_hub' package, which seqvis-explorer depends on: reinstall it (pip install seqvis-explorer) or pip install huggingface_hub."
        ) from exc

    class Progress(hub_tqdm):
        """Forwards the file counter to the reporter (which also carries Cancel in)."""

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if reporter is not None and self.total:
                reporter.report(self.n / self.total, f"{repo_id}: {int(self.n)} of {int(self.total)} files")
            return shown

    if reporter is not None:
        reporter.report(0.0, f"{repo_id}: asking the hub for its files")
    try:
        folder = huggingface_hub.snapshot_download(
            repo_id, cache_dir=cache_dir, allow_patterns=ALLOW_PATTERNS, tqdm_class=Progress
        )
    except errors.LocalEntryNotFoundError as exc:
        raise HubDownloadError(
            f"{repo_id}: could not reach the Hugging Face hub and the model is not in the local cache. "
            "Connect to the internet, or download the folder elsewhere and open it with Open folder…"
        ) from exc
    except (errors.RepositoryNotFoundError, errors.GatedRepoError) as exc:
        raise HubDownloadError(f"{repo_id}: no such public model on the Hugging Face hub (or it needs a login).") from exc
    except errors.RevisionNotFoundError as exc:
        raise HubDownloadError(f"{repo_id}: the requested revision does not exist.") from exc
    except (errors.HfHubHTTPError, OSError) as exc:
        raise HubDownloadError(f"{repo_id}: the download failed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}).") from exc
    folder = Path(str(folder))
    if not any(folder.glob("*.safetensors")):
        raise HubDownloadError(
            f"{repo_id}: the model has no safetensors weights; pickled .bin weights are not downloaded "
            "because they can run code. Convert it with save_pretrained(safe_serialization=True) and open the folder."
        )
    if reporter is not None:
        reporter.report(1.0, f"{repo_id}: downloaded")
    return folder
