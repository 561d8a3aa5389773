"""What a model's files say about it, read without loading its weights.

A Models library lists dozens of models, some of them gigabytes: describing
each must cost a few kilobytes of reading, not a load. A safetensors file
starts with a JSON header naming every tensor with its dtype and shape, which
``safetensors.safe_open`` reads (and memory-maps the rest, untouched). A
PyTorch ``.pth`` has no such header; ``torch.load(mmap=True, weights_only=True)``
maps its storage instead of reading it, so the shapes come out for the price
of the pickle's few kilobytes (and, as everywhere in this app, nothing in the
file can run code). JSON configs are read with a clear error when damaged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.engine.infra.checkpoints import NESTED_KEYS, PICKLE_SUFFIXES, SAFETENSORS_SUFFIXES

#: Files that may hold weights, by suffix.
WEIGHT_SUFFIXES = SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES


class FileReadError(ValueError):
    """A config or weight file could not be read; the message names it and says why."""


@dataclass
class Tensors:
    """Names and shapes of the tensors in one or more weight files, and the files' metadata."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes.values())

    def parameters_under(self, prefix: str) -> int:
        return sum(math.prod(shape) for name, shape in self.shapes.items() if name.startswith(prefix))

    def stored_config(self) -> dict[str, Any]:
        """The JSON config this app stores in a safetensors file's metadata ({} if none)."""
        text = self.metadata.get("config")
        if not text:
            return {}
        try:
            config = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return config if isinstance(config, dict) else {}


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``.

    Raises:
        FileReadError: missing, unreadable, not JSON or not an object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileReadError(f"{path.name} is missing (a broken link or an unfinished download).") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FileReadError(f"{path.name} cannot be read ({exc}).") from exc
    except json.JSONDecodeError as exc:
        raise FileReadError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
    if not isinstance(data, dict):
        raise FileReadError(f"{path.name} does not hold a JSON object.")
    return data


def read_safetensors(path: Path) -> Tensors:
    """Shapes and metadata from a safetensors header; the weights are not read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:  # numpy: the header needs no torch import
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            metadata = dict(handle.metadata() or {})
    except FileNotFoundError as exc:
        raise FileReadError(f"{path.name} is missing (a broken link or an unfinished download).") from exc
    except Exception as exc:  # safetensors raises its own private error types
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise FileReadError(f"{path.name} is not a readable safetensors file ({first}).") from exc
    return Tensors(shapes, metadata, [path])


def read_torch(path: Path) -> Tensors:
    """Shapes from a PyTorch weight file, its storage memory-mapped (never executed, never read whole)."""
    import pickle
    import zipfile

    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:
        raise FileReadError(
            f"{path.name} holds pickled Python objects besides tensors; opening it could run code, so it is refused."
        ) from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise FileReadError(f"{path.name} is not a readable PyTorch weight file ({first}).") from exc
    tensors = _tensors_in(obj, torch.Tensor)
    if not tensors:
        raise FileReadError(f"{path.name} holds no tensors that look like a state dict.")
    return Tensors({name: tuple(t.shape) for name, t in tensors.items()}, {}, [path])


def read_weights(path: Path) -> Tensors:
    """:func:`read_safetensors` or :func:`read_torch`, by suffix."""
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        return read_safetensors(path)
    return read_torch(path)


def folder_weights(folder: Path) -> tuple[list[Path], list[Path]]:
    """(safetensors files, pickled weight files) at the top of a model folder.

    Shards of the same model (``-00001-of-00002``) are all returned; files of
    another framework (``.h5``, ``.msgpack``, ``.onnx``) are not weights for us.
    """
    names = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    safe = [p for p in names if p.suffix.lower() in SAFETENSORS_SUFFIXES]
    pickled = [p for p in names if p.suffix.lower() in (".bin", ".pt", ".pth", ".ckpt")]
    return safe, pickled


def read_folder_weights(files: list[Path]) -> Tensors:
    """All shards of a model as one set of tensors."""
    merged = Tensors()
    for path in files:
        part = read_safetensors(path)
        merged.shapes.update(part.shapes)
        merged.metadata.update(part.metadata)
        merged.files.append(path)
    return merged


def bytes_on_disk(paths: list[Path]) -> int:
    """Total size of ``paths`` (links followed), skipping any that vanished."""
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def _tensors_in(obj: Any, tensor_type: type) -> dict[str, Any]:
    """The flat ``{name: tensor}`` inside a checkpoint (nested under "state_dict", "teacher", ...)."""
    if not isinstance(obj, Mapping):
        return {}
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, tensor_type)}
    if tensors and len(tensors) >= len(obj) / 2:
        return tensors
    for key in NESTED_KEYS:
        inner = _tensors_in(obj.get(key), tensor_type)
        if inner:
            return inner
    return tensors
