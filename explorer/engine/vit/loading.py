"""Vision Transformer engine: load any ViT checkpoint, prepare an image, trace the six steps.

::

    model = load("shapes")                 # the bundled model, or a file / folder path
    pixels = model.preprocess(pil_image)   # (1, 3, H, W), the model's own resize + normalisation
    trace = model.trace(pixels)            # patches, embeddings, tokens, attentions, logits

Weight files are read only through :func:`explorer.engine.infra.checkpoints.load_state_dict`
(safetensors, or ``torch.load(weights_only=True)``), so nothing opened runs code.
Analyses of a trace live in :mod:`explorer.engine.vit.analysis`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from explorer.assets import resource_path
from explorer.engine.infra.checkpoints import CheckpointError, load_config, load_state_dict
from explorer.engine.infra.images import to_rgb
from explorer.engine.vit.formats import ViTFormatError, build, fill_optional, infer_config, to_timm_layout
from explorer.engine.vit.model import IMAGENET_MEAN, IMAGENET_STD, VisionTransformer, ViTConfig, ViTTrace

__all__ = [
    "BUNDLED",
    "LoadedViT",
    "ResizePlan",
    "ViTConfig",
    "ViTFormatError",
    "ViTTrace",
    "imagenet_classes",
    "load",
]

#: Bundled model names → file in resources/models.
BUNDLED = {"shapes": "vit_shapes.safetensors"}
DEFAULT_BUNDLED = "shapes"
#: The largest input side accepted (position embeddings are resampled to it).
MAX_INPUT = 1024
#: At most this many patches are traced: every attention map is kept, (heads, N+1, N+1) per layer.
MAX_PATCHES = 1024


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in index order (resources/imagenet_classes.txt)."""
    path = resource_path("imagenet_classes.txt")
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) != 1000:
        raise RuntimeError(f"{path} should hold 1000 class names, has {len(names)}")
    return names


@dataclass(frozen=True)
class ResizePlan:
    """How an image becomes the model's input: resize to ``resized``, then crop ``crop`` out of it.

    ``source_box`` is the crop in the original image's pixels (left, top, right, bottom),
    for drawing what the model sees on the user's image.
    """

    original: tuple[int, int]  # (w, h)
    resized: tuple[int, int]  # (w, h)
    crop: tuple[int, int, int, int]  # in resized pixels
    source_box: tuple[float, float, float, float]

    @property
    def input_size(self) -> tuple[int, int]:
        return self.crop[2] - self.crop[0], self.crop[3] - self.crop[1]

    def describe(self) -> str:
        w, h = self.original
        iw, ih = self.input_size
        rw, rh = self.resized
        if (rw, rh) == (iw, ih):
            return f"{w}×{h} resized to {iw}×{ih}"
        return f"{w}×{h} resized to {rw}×{rh}, centre crop {iw}×{ih}"


@dataclass
class LoadedViT:
    """A ViT ready to run: the network, its config, class names and where it came from."""

    net: VisionTransformer
    config: ViTConfig
    name: str
    notes: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def class_names(self) -> list[str]:
        k = self.config.num_classes
        if self.config.class_names and len(self.config.class_names) == k:
            return list(self.config.class_names)
        if k == 1000:
            return list(imagenet_classes())
        return [f"class {i}" for i in range(k)]

    def describe(self) -> str:
        return f"{self.name}: ViT, {self.config.describe()} ({self.config.source} layout)"

    # -- input -----------------------------------------------------------------------------
    def resize_plan(self, width: int, height: int, input_size: int | None = None) -> ResizePlan:
        """Shorter side to ``input_size / crop_pct``, then a centre square of ``input_size``."""
        if width < 1 or height < 1:
            raise ValueError(f"the image has no pixels ({width}×{height})")
        side = int(input_size or self.config.image_size)
        p = self.config.patch_size
        if not p <= side <= MAX_INPUT:
            raise ValueError(f"input size must be between {p} and {MAX_INPUT} pixels (got {side})")
        side -= side % p
        if (side // p) ** 2 > MAX_PATCHES:
            raise ValueError(
                f"input size {side} px gives {(side // p) ** 2} patches of {p}×{p}; at most {MAX_PATCHES} "
                f"are traced (every attention map is kept). Choose at most {int(MAX_PATCHES ** 0.5) * p} px."
            )
        if self.config.crop_pct >= 1.0 and self.config.source == "huggingface":
            # Hugging Face's ViTImageProcessor squashes the whole image to the input size.
            return ResizePlan((width, height), (side, side), (0, 0, side, side), (0.0, 0.0, float(width), float(height)))
        short = max(side, int(round(side / max(self.config.crop_pct, 1e-3))))
        scale = short / min(width, height)
        rw, rh = max(side, int(round(width * scale))), max(side, int(round(height * scale)))
        left, top = (rw - side) // 2, (rh - side) // 2
        box = (left / rw * width, top / rh * height, (left + side) / rw * width, (top + side) / rh * height)
        return ResizePlan((width, height), (rw, rh), (left, top, left + side, top + side), box)

    def preprocess(self, image: Image.Image, input_size: int | None = None) -> torch.Tensor:
        """An image of any mode and size → normalised pixels (1, C, S, S) as this model expects."""
        image = to_rgb(image) if image.mode != "RGB" else image
        plan = self.resize_plan(image.width, image.height, input_size)
        resample = Image.Resampling.BICUBIC if self.config.resample == "bicubic" else Image.Resampling.BILINEAR
        resized = image.resize(plan.resized, resample, reducing_gap=3.0)
        array = np.asarray(resized.crop(plan.crop), dtype=np.float32) / 255.0  # (S, S, 3)
        if self.config.channels == 1:
            array = array.mean(axis=2, keepdims=True)
        x = torch.from_numpy(array).permute(2, 0, 1)  # (C, S, S)
        channels = self.config.channels
        mean = torch.tensor(self.config.mean[:channels]).view(-1, 1, 1)
        std = torch.tensor(self.config.std[:channels]).view(-1, 1, 1)
        return ((x - mean) / std).unsqueeze(0)  # (1, C, S, S)

    def unnormalise(self, pixels: torch.Tensor) -> np.ndarray:
        """(1, C, H, W) normalised → (H, W, 3) uint8, to show what the model saw."""
        channels = self.config.channels
        mean = torch.tensor(self.config.mean[:channels]).view(-1, 1, 1)
        std = torch.tensor(self.config.std[:channels]).view(-1, 1, 1)
        x = (pixels[0] * std + mean).clamp(0, 1)  # (C, H, W)
        if channels == 1:
            x = x.expand(3, -1, -1)
        return (x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)

    # -- run -------------------------------------------------------------------------------
    def trace(self, pixels: torch.Tensor) -> ViTTrace:
        return self.net.trace(pixels)

    def run(self, image: Image.Image, input_size: int | None = None) -> ViTTrace:
        """preprocess + trace in one call (what the panel runs in a worker)."""
        return self.trace(self.preprocess(image, input_size))

    def top_k(self, trace: ViTTrace, k: int = 5) -> list[tuple[str, float, int]]:
        """[(class name, probability, index)] of the k most probable classes."""
        if trace.logits.shape[-1] == 0:
            return []
        probs = trace.probabilities[0]
        values, indices = probs.topk(min(k, probs.numel()))
        names = self.class_names
        return [(names[i], float(v), int(i)) for v, i in zip(values, indices.tolist())]


# -- loading ---------------------------------------------------------------------------------------
def bundled_path(name: str = DEFAULT_BUNDLED) -> Path:
    if name not in BUNDLED:
        raise ValueError(f"no bundled ViT called {name!r}; choose one of: {', '.join(BUNDLED)}")
    return resource_path("models", BUNDLED[name])


def load(path_or_name: str | Path) -> LoadedViT:
    """A ViT from a bundled name, a timm / torchvision weight file, or a Hugging Face folder.

    Raises:
        ViTFormatError / CheckpointError (both ValueError): unreadable file, not a ViT,
        or shapes that do not fit; the message names the keys involved.
    """
    text = str(path_or_name)
    if text in BUNDLED:
        return _load_file(bundled_path(text), display=f"bundled '{text}'")
    path = Path(path_or_name)
    if path.is_dir():
        return _load_hf_folder(path)
    if not path.exists():
        raise CheckpointError(f"{path.name or text}: no such file or folder.")
    return _load_file(path)


def _load_file(path: Path, display: str | None = None) -> LoadedViT:
    sd = load_state_dict(path)
    stored: dict[str, Any] = {}
    if path.suffix.lower() == ".safetensors":
        try:
            stored = load_config(path)
        except CheckpointError:
            stored = {}
    fmt, sd = to_timm_layout(sd)
    model_config = stored.get("model") if isinstance(stored.get("model"), dict) else None
    if model_config is not None:  # our own format: the full config is stored with the weights
        config = ViTConfig.from_dict({**model_config, "source": "bundled"})
        notes: list[str] = []
    else:
        defaults: dict[str, Any] = {"source": fmt}
        if fmt == "torchvision":
            defaults.update(crop_pct=0.875, resample="bilinear")
        else:  # timm / DINO: bicubic, crop 0.9 (timm's default data config)
            defaults.update(crop_pct=0.9, resample="bicubic")
        config, notes = infer_config(sd, **defaults)
        notes.append("normalised with the ImageNet mean and std (the file does not store them)")
    sd = fill_optional(sd, config)
    net = build(sd, config)
    metrics = {k: v for k, v in stored.items() if k not in ("model", "train")}
    return LoadedViT(net, config, display or path.name, notes, metrics)


def _load_hf_folder(folder: Path) -> LoadedViT:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ViTFormatError(f"{folder.name}: no config.json, so this is not a Hugging Face model folder.")
    try:
        hf = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ViTFormatError(f"{folder.name}/config.json is not valid JSON ({exc}).") from exc
    if not isinstance(hf, dict):
        raise ViTFormatError(f"{folder.name}/config.json does not hold a JSON object.")
    model_type = hf.get("model_type")
    if model_type != "vit":
        raise ViTFormatError(f"{folder.name}: config.json says model_type {model_type!r}; only 'vit' is supported.")
    act = hf.get("hidden_act", "gelu")
    if act != "gelu":
        raise ViTFormatError(f"{folder.name}: hidden_act {act!r} is not supported (only exact 'gelu').")
    for candidate in ("model.safetensors", "pytorch_model.bin"):
        weights = folder / candidate
        if weights.is_file():
            break
    else:
        raise ViTFormatError(f"{folder.name}: no model.safetensors or pytorch_model.bin next to config.json.")
    fmt, sd = to_timm_layout(load_state_dict(weights))
    known: dict[str, Any] = {
        "heads": int(hf.get("num_attention_heads", 12)),
        "eps": float(hf.get("layer_norm_eps", 1e-12)),
        "source": "huggingface",
        "crop_pct": 1.0,
        "resample": "bilinear",
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
    }
    labels = hf.get("id2label") or {}
    try:
        names = [str(labels[k]) for k in sorted(labels, key=lambda s: int(s))]
    except (TypeError, ValueError):
        names = []
    if names and not all(n == f"LABEL_{i}" for i, n in enumerate(names)):
        known["class_names"] = names
    known.update(_hf_preprocessor(folder))
    config, notes = infer_config(sd, **known)
    checks = {
        "hidden_size": config.dim,
        "num_hidden_layers": config.depth,
        "intermediate_size": config.mlp_dim,
        "patch_size": config.patch_size,
        "num_channels": config.channels,
    }
    for key, found in checks.items():
        if key in hf and int(hf[key]) != found:
            raise ViTFormatError(f"{folder.name}: config.json says {key} = {hf[key]} but the weights have {found}.")
    sd = fill_optional(sd, config)
    net = build(sd, config)
    return LoadedViT(net, config, folder.name, notes)


def _hf_preprocessor(folder: Path) -> dict[str, Any]:
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    out: dict[str, Any] = {}
    for key, field_name in (("image_mean", "mean"), ("image_std", "std")):
        value = data.get(key)
        if isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value):
            out[field_name] = tuple(float(v) for v in value)
    if data.get("resample") == 3:
        out["resample"] = "bicubic"
    return out


__all__ += ["IMAGENET_MEAN", "IMAGENET_STD", "bundled_path"]
