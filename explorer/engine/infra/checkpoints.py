"""The only place that reads or writes weight files.

Nothing the user opens may run code: safetensors is preferred, and ``.pt`` /
``.pth`` / ``.bin`` / ``.ckpt`` go through ``torch.load(weights_only=True)``,
which refuses pickled objects other than tensors and plain containers. A
broken or unexpected file raises :class:`CheckpointError` naming the file and
the problem.

Bundled models are saved with :func:`save_model`: the weights in a
``.safetensors`` file whose metadata holds the model's JSON config, so one
file is enough to rebuild the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".tar")
#: Keys under which training scripts commonly nest the weights.
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "weights", "teacher", "student")
CONFIG_KEY = "config"


class CheckpointError(ValueError):
    """A weight file could not be read, or does not hold what was expected."""


def _refused_object(exc: Exception) -> str:
    """The object torch refused (" (it holds builtins.exec)"), or "".

    Only that part of torch's message is passed on: the rest advises
    ``weights_only=False``, which is the one thing this app never does.
    """
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
    return f" (it holds {match.group(1)})" if match else ""


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """Read a file of weights into a flat ``{name: tensor}`` dict (on the CPU).

    Nested checkpoints (``{"state_dict": {...}, "epoch": 3}``) are unwrapped;
    a ``module.`` prefix left by DataParallel is removed.

    Raises:
        CheckpointError: missing, broken or unsafe file, or no tensors in it.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise CheckpointError(f"{name}: no such file.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{name}: the file is empty (0 bytes).")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        tensors = _load_safetensors(path)
    elif suffix in PICKLE_SUFFIXES:
        tensors = _load_torch(path)
    else:
        # Unknown suffix: read what the first bytes say it is, rather than guess.
        kind = sniff(path)
        if kind == "safetensors":
            tensors = _load_safetensors(path)
        elif kind == "torch":
            tensors = _load_torch(path)
        else:
            raise CheckpointError(
                f"{name}: not a weight file ({kind}). Weights are .safetensors files, or .pt / .pth / .bin "
                "files saved with torch.save(model.state_dict())."
            )
    return _strip_prefix(tensors, "module.")


#: First bytes of files people open by mistake, for a message that says what the file is.
_MAGIC = (
    (b"\x89PNG", "it is a PNG image"),
    (b"\xff\xd8\xff", "it is a JPEG image"),
    (b"GIF8", "it is a GIF image"),
    (b"RIFF", "it is a RIFF file (WebP, WAV or AVI)"),
    (b"%PDF", "it is a PDF document"),
    (b"\x1f\x8b", "it is gzip-compressed: unpack it first"),
)


def sniff(path: Path) -> str:
    """What a file holds by its first bytes: ``"safetensors"``, ``"torch"`` (a zip or a pickle),
    or a phrase saying what else it is (for the message)."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if len(head) >= 9 and head[8:9] == b"{":  # safetensors: 8-byte header length, then JSON
        return "safetensors"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch.save's zip, or a raw pickle
        return "torch"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(ch.isprintable() or ch.isspace() for ch in text):
        return "it is a text file"
    return "its contents are not a format this app reads"


def load_config(path: str | Path) -> dict[str, Any]:
    """The JSON config stored in a ``.safetensors`` file's metadata by :func:`save_model` ({} if none)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # safetensors raises several private types
        raise CheckpointError(f"{path.name}: not a readable safetensors file ({exc}).") from exc
    text = metadata.get(CONFIG_KEY)
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path.name}: the stored config is not valid JSON ({exc}).") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{path.name}: the stored config is not a JSON object.")
    return config


def save_model(path: str | Path, state_dict: Mapping[str, Any], config: Mapping[str, Any]) -> Path:
    """Write ``state_dict`` as safetensors with ``config`` (JSON-serialisable) in its metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().contiguous().cpu() for key, value in state_dict.items()}
    save_file(tensors, str(path), metadata={CONFIG_KEY: json.dumps(dict(config), sort_keys=True)})
    return path


def load_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(state_dict, config)`` of a file written by :func:`save_model`."""
    return load_state_dict(path), load_config(path)


def _load_safetensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # SafetensorError, OSError, ...
        raise CheckpointError(f"{path.name}: not a readable safetensors file ({exc}).") from exc
    if not tensors:
        raise CheckpointError(f"{path.name}: the file holds no tensors.")
    return dict(tensors)


def _load_torch(path: Path) -> dict[str, Any]:
    import pickle
    import zipfile

    import torch

    kind = sniff(path)
    if kind not in ("torch", "safetensors"):
        raise CheckpointError(
            f"{path.name}: not a PyTorch weight file ({kind}). Save weights with "
            "torch.save(model.state_dict(), path) or as safetensors."
        )
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name}: refused: the file holds pickled Python objects, not only tensors, "
            "and loading it could run code. Save a state_dict (model.state_dict()) or "
            f"a safetensors file instead.{_refused_object(exc)}"
        ) from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path.name}: not a readable PyTorch weight file ({first}).") from exc
    return _find_tensors(obj, path.name)


def _find_tensors(obj: Any, name: str) -> dict[str, Any]:
    import torch

    if isinstance(obj, Mapping):
        tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
        if tensors and len(tensors) >= len(obj) / 2:
            return tensors
        for key in NESTED_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                found = _find_tensors(inner, name)
                if found:
                    return found
        if tensors:
            return tensors
    raise CheckpointError(
        f"{name}: holds no tensors that look like a state dict "
        f"(found a {type(obj).__name__}{' with keys ' + ', '.join(map(str, list(obj)[:6])) if isinstance(obj, Mapping) else ''})."
    )


def _strip_prefix(tensors: dict[str, Any], prefix: str) -> dict[str, Any]:
    if tensors and all(key.startswith(prefix) for key in tensors):
        return {key[len(prefix):]: value for key, value in tensors.items()}
    return tensors
