"""How an image becomes a model's input: resize, centre crop, normalise — from the model's own files where they say.

* transformers' ``preprocessor_config.json`` (``image_mean``, ``image_std``, ``size``,
  ``crop_size``, ``do_center_crop``, ``resample``): :func:`from_hf_preprocessor`;
* timm's ``pretrained_cfg`` in a hub ``config.json`` (``mean``, ``std``, ``crop_pct``,
  ``interpolation``, ``input_size``, ``crop_mode``): :func:`from_timm_pretrained_cfg`;
* OpenCLIP's ``open_clip_config.json`` (``preprocess_cfg``): :func:`from_open_clip`.

Each returns :class:`ViTConfig` fields with ``preprocessing_from`` naming the
file. Where nothing is stored the family's usual transform is assumed and the
config's ``preprocessing_from`` stays "" — the panel says so and lets the user
pick another (:data:`PRESETS`).

The geometry follows torchvision's transforms, which timm, DINO and OpenCLIP
use: the shorter side to ``floor(input / crop_pct)`` (the longer scaled and
truncated), then a centre crop of the input size, offsets rounded; ``squash``
resizes the whole image to a square first (transformers' ``size`` = height ×
width). transformers floors an odd crop margin where torchvision rounds it: at
most one pixel apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from explorer.engine.infra.images import to_rgb
from explorer.engine.vit.config import IMAGENET_MEAN, IMAGENET_STD, ViTConfig
from explorer.engine.vit.families import CLIP_MEAN, CLIP_STD, HALF

#: Normalisation statistics a user can pick when the files store none.
PRESETS = {
    "ImageNet": (IMAGENET_MEAN, IMAGENET_STD),
    "CLIP (OpenAI)": (CLIP_MEAN, CLIP_STD),
    "0.5 / 0.5 (SigLIP, augreg, transformers ViT)": (HALF, HALF),
}
#: PIL's resample codes as transformers stores them.
PIL_CODES = {2: "bilinear", 3: "bicubic"}


@dataclass(frozen=True)
class ResizePlan:
    """Resize to ``resized``, then crop ``crop`` out of it; ``source_box`` is that crop in the original's pixels."""

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


def resize_plan(config: ViTConfig, width: int, height: int, side: int) -> ResizePlan:
    """The plan for a ``width``×``height`` image and a square input of ``side`` pixels."""
    if width < 1 or height < 1:
        raise ValueError(f"the image has no pixels ({width}×{height})")
    scaled = max(side, math.floor(side / config.crop_pct))
    if config.resize_mode == "squash":
        rw = rh = scaled
    elif width <= height:
        rw, rh = scaled, max(side, int(scaled * height / width))
    else:
        rw, rh = max(side, int(scaled * width / height)), scaled
    left, top = int(round((rw - side) / 2.0)), int(round((rh - side) / 2.0))
    box = (left / rw * width, top / rh * height, (left + side) / rw * width, (top + side) / rh * height)
    return ResizePlan((width, height), (rw, rh), (left, top, left + side, top + side), box)


def preprocess(config: ViTConfig, image: Image.Image, side: int) -> tuple[torch.Tensor, ResizePlan]:
    """An image of any mode and size → normalised pixels (1, C, side, side) and the plan that made them."""
    image = to_rgb(image) if image.mode != "RGB" else image
    plan = resize_plan(config, image.width, image.height, side)
    resample = Image.Resampling.BICUBIC if config.resample == "bicubic" else Image.Resampling.BILINEAR
    resized = image.resize(plan.resized, resample)
    array = np.asarray(resized.crop(plan.crop), dtype=np.float32) / 255.0  # (S, S, 3)
    if config.channels == 1:
        array = array.mean(axis=2, keepdims=True)
    x = torch.from_numpy(array).permute(2, 0, 1)  # (C, S, S)
    mean = torch.tensor(config.mean[: config.channels]).view(-1, 1, 1)
    std = torch.tensor(config.std[: config.channels]).view(-1, 1, 1)
    return ((x - mean) / std).unsqueeze(0), plan  # (1, C, S, S)


def unnormalise(config: ViTConfig, pixels: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) normalised → (H, W, 3) uint8, to show what the model saw."""
    mean = torch.tensor(config.mean[: config.channels]).view(-1, 1, 1)
    std = torch.tensor(config.std[: config.channels]).view(-1, 1, 1)
    x = (pixels[0].cpu() * std + mean).clamp(0, 1)  # (C, H, W)
    if config.channels == 1:
        x = x.expand(3, -1, -1)
    return (x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def describe(config: ViTConfig) -> str:
    """One line: what is done to an image, and where that came from."""
    def triple(values) -> str:
        return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"

    how = "whole image to a square" if config.resize_mode == "squash" else "shorter side"
    where = config.preprocessing_from or "assumed — the files store none"
    return (f"mean {triple(config.mean)}, std {triple(config.std)}, crop {config.crop_pct:.3g} ({how}), "
            f"{config.resample} — {where}")


# -- readers ---------------------------------------------------------------------------------------
def _triple(value: Any) -> tuple[float, float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value):
        return tuple(float(v) for v in value)
    return None


def _side(value: Any) -> tuple[int | None, str]:
    """transformers' ``size`` / ``crop_size``: an int, {height, width} or {shortest_edge} → (side, kind)."""
    if isinstance(value, int):
        return value, "square"
    if isinstance(value, dict):
        if isinstance(value.get("shortest_edge"), int):
            return value["shortest_edge"], "short"
        if isinstance(value.get("height"), int):
            return value["height"], "square"
    return None, ""


def from_hf_preprocessor(data: dict[str, Any], name: str = "preprocessor_config.json") -> dict[str, Any]:
    """ViTConfig fields from transformers' preprocessor config (those it does not store are left out)."""
    out: dict[str, Any] = {}
    mean, std = _triple(data.get("image_mean")), _triple(data.get("image_std"))
    if mean and std:
        out.update(mean=mean, std=std)
    if data.get("resample") in PIL_CODES:
        out["resample"] = PIL_CODES[data["resample"]]
    size, kind = _side(data.get("size"))
    crop, _ = _side(data.get("crop_size")) if data.get("do_center_crop", False) else (None, "")
    if size:
        out["resize_mode"] = "short" if kind == "short" else "squash"
        out["crop_pct"] = min(1.0, crop / size) if crop else 1.0
        out["input_size"] = crop or size
    if out:
        out["preprocessing_from"] = name
    return out


def from_timm_pretrained_cfg(cfg: dict[str, Any], name: str = "pretrained_cfg in config.json") -> dict[str, Any]:
    """ViTConfig fields from timm's ``pretrained_cfg``."""
    out: dict[str, Any] = {}
    mean, std = _triple(cfg.get("mean")), _triple(cfg.get("std"))
    if mean and std:
        out.update(mean=mean, std=std)
    if cfg.get("interpolation") in ("bilinear", "bicubic"):
        out["resample"] = cfg["interpolation"]
    if isinstance(cfg.get("crop_pct"), (int, float)) and 0.05 <= cfg["crop_pct"] <= 1.0:
        out["crop_pct"] = float(cfg["crop_pct"])
    size = cfg.get("input_size")
    if isinstance(size, (list, tuple)) and len(size) == 3 and isinstance(size[1], int):
        out["input_size"] = size[1]
    if cfg.get("crop_mode") == "squash":
        out["resize_mode"] = "squash"
    if out:
        out["preprocessing_from"] = name
    return out


def from_open_clip(data: dict[str, Any], name: str = "open_clip_config.json") -> dict[str, Any]:
    """ViTConfig fields from OpenCLIP's config (``preprocess_cfg``, and ``model_cfg.quick_gelu``)."""
    pre = data.get("preprocess_cfg") if isinstance(data.get("preprocess_cfg"), dict) else {}
    out = from_timm_pretrained_cfg({"mean": pre.get("mean"), "std": pre.get("std"),
                                    "interpolation": pre.get("interpolation")}, name)
    if out:
        out.setdefault("crop_pct", 1.0)
    model_cfg = data.get("model_cfg") if isinstance(data.get("model_cfg"), dict) else {}
    out["act"] = "quick_gelu" if model_cfg.get("quick_gelu") else "gelu"
    return out
