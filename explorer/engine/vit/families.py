"""The ViT families, one declarative row each: their extra tokens, norms, activation, pooling, resampling and input.

A :class:`Family` says what the tensors cannot: which activation a layout's
models use, how each library resamples the position embeddings, what
LayerNorm ε they were built with and which preprocessing to assume when the
files store none (the panel shows that assumption and lets you change it).
:func:`identify` picks the row from transformers' ``model_type`` when a
``config.json`` gives one, else from the tensors themselves.

Layout keys are those of :mod:`.layouts`: "timm", "dinov2" (DINOv2's repository),
"torchvision", "huggingface", "huggingface-clip", "openai-clip".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from explorer.engine.vit.config import IMAGENET_MEAN, IMAGENET_STD
from explorer.engine.vit.layouts import Layout

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF = (0.5, 0.5, 0.5)


def _prep(mean, std, crop_pct, resample, resize_mode="short", whose="") -> dict[str, Any]:
    return {"mean": mean, "std": std, "crop_pct": crop_pct, "resample": resample, "resize_mode": resize_mode,
            "_whose": whose}


IMAGENET_EVAL = _prep(IMAGENET_MEAN, IMAGENET_STD, 0.875, "bicubic", whose="ImageNet statistics, shorter side 256 → crop 224, bicubic")


@dataclass(frozen=True)
class Family:
    key: str
    name: str  # what the panel calls it
    tokens: str  # its extra tokens, in a sentence
    pooling: str  # what its head reads, in a sentence
    act: Mapping[str, str] = field(default_factory=dict)  # layout → activation; default "gelu"
    pos: Mapping[str, str] = field(default_factory=dict)  # layout → resampling rule (see .resample)
    eps: float = 1e-6  # LayerNorm ε where no config says
    preprocessing: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # layout → assumed input ("*": any)

    def act_for(self, layout: Layout) -> str:
        return self.act.get(layout.name, self.act.get("*", "gelu"))

    def pos_for(self, layout: Layout) -> str:
        return self.pos.get(layout.name, self.pos.get("*", "bicubic"))

    def preprocessing_for(self, layout: Layout) -> dict[str, Any]:
        return dict(self.preprocessing.get(layout.name, self.preprocessing.get("*", IMAGENET_EVAL)))


VIT = Family(
    "vit", "ViT", "one class token [CLS] in front of the patches", "the head reads the final [CLS]",
    pos={"timm": "bicubic-antialias", "torchvision": "bicubic-corners", "huggingface": "bicubic"},
    preprocessing={
        "timm": _prep(IMAGENET_MEAN, IMAGENET_STD, 0.9, "bicubic", whose="timm's defaults (ImageNet statistics, crop 0.9, bicubic); augreg weights use mean = std = 0.5"),
        "torchvision": _prep(IMAGENET_MEAN, IMAGENET_STD, 0.875, "bilinear", whose="torchvision's ViT transforms (resize 256, crop 224, bilinear, ImageNet statistics)"),
        "huggingface": _prep(HALF, HALF, 1.0, "bilinear", "squash", whose="ViTImageProcessor's defaults (whole image to 224 × 224, mean = std = 0.5)"),
    },
)
DEIT = Family(
    "deit", "DeiT (distilled)", "[CLS] and DeiT's distillation token [DIST], both with position embeddings",
    "two heads, on [CLS] and on [DIST]; at inference the logits are their mean",
    pos={"timm": "bicubic-antialias", "huggingface": "bicubic"},
    preprocessing={"*": dict(IMAGENET_EVAL, _whose="DeiT's evaluation transform (resize 256, crop 224, bicubic, ImageNet statistics)"),
                   "huggingface": _prep(IMAGENET_MEAN, IMAGENET_STD, 0.875, "bicubic", "squash", whose="DeiTImageProcessor's defaults (256 × 256, crop 224, bicubic)")},
)
DINO = Family(
    "dino", "DINO", "one class token [CLS]", "no classifier: the features are the final [CLS] (self-supervised)",
    pos={"*": "bicubic-offset"},
    preprocessing={"*": dict(IMAGENET_EVAL, _whose="DINO's evaluation transform (resize 256, crop 224, bicubic, ImageNet statistics)")},
)
DINOV2 = Family(
    "dinov2", "DINOv2", "one class token [CLS]; layer scale in every block",
    "no classifier: the features are the final [CLS] (self-supervised)",
    pos={"dinov2": "bicubic-offset", "timm": "bicubic-antialias", "huggingface": "bicubic"},
    preprocessing={"*": dict(IMAGENET_EVAL, _whose="DINOv2's evaluation transform (resize 256, crop 224, bicubic, ImageNet statistics)")},
)
DINOV2_REG = Family(
    "dinov2_reg", "DINOv2 with registers",
    "[CLS], then register tokens without position embeddings, then the patches; layer scale in every block",
    "no classifier: the features are the final [CLS]; the registers are dropped at the output",
    pos={"dinov2": "bicubic-offset", "timm": "bicubic-antialias", "huggingface": "bicubic-antialias"},
    preprocessing=DINOV2.preprocessing,
)
CLIP = Family(
    "clip", "CLIP vision", "a class embedding [CLS]; ln_pre normalises the sequence before the first block",
    "ln_post on [CLS], then the projection into the joint image–text space",
    act={"huggingface-clip": "quick_gelu", "openai-clip": "quick_gelu", "timm": "gelu"},
    pos={"timm": "bicubic-antialias", "openai-clip": "bicubic-antialias", "huggingface-clip": "bicubic"},
    eps=1e-5,
    preprocessing={"*": _prep(CLIP_MEAN, CLIP_STD, 1.0, "bicubic", whose="CLIP's transform (shorter side 224, centre crop, bicubic, CLIP statistics)")},
)
SIGLIP = Family(
    "siglip", "SigLIP vision", "no class token: only patches",
    "an attention-pooling head: a learned probe query attends over all tokens",
    act={"huggingface-clip": "gelu_tanh", "timm": "gelu"},
    pos={"timm": "bicubic-antialias", "huggingface-clip": "bicubic"},
    preprocessing={"*": _prep(HALF, HALF, 1.0, "bicubic", "squash", whose="SigLIP's transform (whole image to 224 × 224, bicubic, mean = std = 0.5)")},
)

FAMILIES = {f.key: f for f in (VIT, DEIT, DINO, DINOV2, DINOV2_REG, CLIP, SIGLIP)}
#: transformers' ``model_type`` → family.
MODEL_TYPES = {
    "vit": VIT, "deit": DEIT, "dinov2": DINOV2, "dinov2_with_registers": DINOV2_REG,
    "clip": CLIP, "clip_vision_model": CLIP, "siglip": SIGLIP, "siglip_vision_model": SIGLIP,
}


def identify(sd: Mapping[str, Any], layout: Layout, model_type: str | None = None) -> tuple[Family, str]:
    """(family, why) from transformers' ``model_type`` if given, else from the internal-name tensors."""
    if model_type is not None:
        if model_type not in MODEL_TYPES:
            supported = ", ".join(sorted(MODEL_TYPES))
            raise ValueError(f"config.json says model_type {model_type!r}; the ViT families read are: {supported}")
        return MODEL_TYPES[model_type], f"config.json says model_type '{model_type}'"
    has = lambda key: key in sd  # noqa: E731
    if has("dist_token"):
        return DEIT, "it has a distillation token"
    if has("attn_pool.latent"):
        return SIGLIP, "it has an attention-pooling head"
    if has("norm_pre.weight") or layout.name == "openai-clip":
        return CLIP, "it has CLIP's ln_pre"
    if has("reg_token"):
        return DINOV2_REG, "it has register tokens"
    layer_scale = has("blocks.0.ls1.gamma")
    if layout.name == "dinov2" or (layer_scale and not has("head.weight")):
        return DINOV2, "layer scale and no classifier head" if layout.name != "dinov2" else "DINOv2's own keys"
    if layout.name == "timm" and not has("head.weight") and not has("fc_norm.weight"):
        return DINO, ("timm's names without a classifier head, as DINO's released backbones are "
                      "(a timm ViT saved with num_classes=0 looks the same)")
    return VIT, "a plain ViT"
