"""Recognise a ViT checkpoint's layout and read its architecture off the tensors.

Three layouts are understood and mapped onto the one internal layout (timm's
names, see :mod:`explorer.engine.vit.model`):

* timm ``VisionTransformer`` (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
  ``blocks.{i}.attn.qkv``, ``mlp.fc1``, ``norm``, ``head``), DINO-style ones without head too;
* torchvision ``VisionTransformer`` (``conv_proj``, ``class_token``,
  ``encoder.pos_embedding``, ``encoder.layers.encoder_layer_{i}.self_attention.in_proj_weight``,
  ``mlp.0`` / ``mlp.3``, ``heads.head``);
* Hugging Face ``ViTModel`` / ``ViTForImageClassification`` (``embeddings.*``,
  ``encoder.layer.{i}.attention.attention.{query,key,value}``, ``classifier``).

Width, depth, patch size, image size, MLP width and classes come from tensor
shapes. The number of heads is not stored in timm or torchvision state dicts;
it is taken from the standard ViT sizes (head width 64; 16 heads for widths
1280 and up) and said so in the model's notes. Anything that does not fit
raises :class:`ViTFormatError` naming the keys involved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from explorer.engine.vit.model import VisionTransformer, ViTConfig


class ViTFormatError(ValueError):
    """The weights are not a ViT this app can run, or their shapes do not fit together."""


TIMM_SIGNATURE = "patch_embed.proj.weight"
TORCHVISION_SIGNATURE = "conv_proj.weight"
HF_SIGNATURE = "embeddings.patch_embeddings.projection.weight"

#: Heads of the standard ViT widths (Ti, S, B, L, H, g, G); other widths use a head width of 64.
STANDARD_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16, 1536: 24, 1664: 16}


def _strip_common_prefix(sd: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    for prefix in prefixes:
        if sd and all(k.startswith(prefix) for k in sd):
            return {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def detect_format(state_dict: Mapping[str, Any]) -> str:
    """"timm", "torchvision" or "huggingface"; ViTFormatError if none fits."""
    keys = set(state_dict)
    if TIMM_SIGNATURE in keys:
        return "timm"
    if TORCHVISION_SIGNATURE in keys:
        return "torchvision"
    if HF_SIGNATURE in keys or f"vit.{HF_SIGNATURE}" in keys:
        return "huggingface"
    sample = ", ".join(sorted(keys)[:6]) + (" …" if len(keys) > 6 else "")
    raise ViTFormatError(
        "not a Vision Transformer checkpoint: expected a patch-embedding key such as "
        f"'{TIMM_SIGNATURE}' (timm), '{TORCHVISION_SIGNATURE}' (torchvision) or "
        f"'{HF_SIGNATURE}' (Hugging Face), but the file holds {len(keys)} tensors like {sample}."
    )


# -- layout conversions (to timm names) ------------------------------------------------------------
_TV_BLOCK = re.compile(r"^encoder\.layers\.encoder_layer_(\d+)\.(.+)$")
_TV_BLOCK_PARTS = {
    "ln_1.": "norm1.",
    "ln_2.": "norm2.",
    "self_attention.in_proj_weight": "attn.qkv.weight",
    "self_attention.in_proj_bias": "attn.qkv.bias",
    "self_attention.out_proj.": "attn.proj.",
    "mlp.0.": "mlp.fc1.",
    "mlp.3.": "mlp.fc2.",
    "mlp.linear_1.": "mlp.fc1.",  # torchvision < 0.13
    "mlp.linear_2.": "mlp.fc2.",
}
_TV_TOP = {
    "conv_proj.weight": "patch_embed.proj.weight",
    "conv_proj.bias": "patch_embed.proj.bias",
    "class_token": "cls_token",
    "encoder.pos_embedding": "pos_embed",
    "encoder.ln.weight": "norm.weight",
    "encoder.ln.bias": "norm.bias",
    "heads.head.weight": "head.weight",
    "heads.head.bias": "head.bias",
}


def from_torchvision(sd: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """torchvision names → timm names; returns (converted, keys that have no counterpart)."""
    out, unknown = {}, []
    for key, value in sd.items():
        if key in _TV_TOP:
            out[_TV_TOP[key]] = value
            continue
        match = _TV_BLOCK.match(key)
        if match:
            index, rest = match.groups()
            for old, new in _TV_BLOCK_PARTS.items():
                if rest.startswith(old):
                    out[f"blocks.{index}.{new}{rest[len(old):]}"] = value
                    break
            else:
                unknown.append(key)
        else:
            unknown.append(key)
    return out, unknown


_HF_BLOCK = re.compile(r"^encoder\.layer\.(\d+)\.(.+)$")
_HF_BLOCK_PARTS = {
    "layernorm_before.": "norm1.",
    "layernorm_after.": "norm2.",
    "attention.output.dense.": "attn.proj.",
    "intermediate.dense.": "mlp.fc1.",
    "output.dense.": "mlp.fc2.",
}
_HF_TOP = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
    "classifier.weight": "head.weight",
    "classifier.bias": "head.bias",
}
#: Present in some Hugging Face checkpoints but unused by classification.
_HF_IGNORED = ("embeddings.mask_token", "pooler.dense.weight", "pooler.dense.bias")


def from_huggingface(sd: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Hugging Face names → timm names (query, key, value concatenated into qkv)."""
    sd = {k[len("vit."):] if k.startswith("vit.") else k: v for k, v in sd.items()}
    out, unknown = {}, []
    qkv: dict[tuple[str, str], dict[str, Any]] = {}
    for key, value in sd.items():
        if key in _HF_IGNORED:
            continue
        if key in _HF_TOP:
            out[_HF_TOP[key]] = value
            continue
        match = _HF_BLOCK.match(key)
        if not match:
            unknown.append(key)
            continue
        index, rest = match.groups()
        attn = re.match(r"^attention\.attention\.(query|key|value)\.(weight|bias)$", rest)
        if attn:
            qkv.setdefault((index, attn.group(2)), {})[attn.group(1)] = value
            continue
        for old, new in _HF_BLOCK_PARTS.items():
            if rest.startswith(old):
                out[f"blocks.{index}.{new}{rest[len(old):]}"] = value
                break
        else:
            unknown.append(key)
    for (index, kind), parts in qkv.items():
        missing = [p for p in ("query", "key", "value") if p not in parts]
        if missing:
            raise ViTFormatError(
                f"layer {index}: attention.attention.{'/'.join(missing)}.{kind} missing "
                "(query, key and value must all be present)"
            )
        out[f"blocks.{index}.attn.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]], 0)
    return out, unknown


# -- architecture from shapes ------------------------------------------------------------------------
def _shape(sd: Mapping[str, Any], key: str) -> tuple[int, ...]:
    if key not in sd:
        raise ViTFormatError(f"'{key}' is missing; it is needed to read the architecture")
    value = sd[key]
    if not isinstance(value, torch.Tensor):
        raise ViTFormatError(f"'{key}' is not a tensor")
    return tuple(value.shape)


def infer_config(sd: Mapping[str, Any], **known: Any) -> tuple[ViTConfig, list[str]]:
    """A :class:`ViTConfig` from timm-layout tensors; ``known`` fields (e.g. heads) win.

    Returns the config and notes on what was assumed.
    """
    notes: list[str] = []
    proj = _shape(sd, "patch_embed.proj.weight")
    if len(proj) != 4 or proj[2] != proj[3]:
        raise ViTFormatError(f"'patch_embed.proj.weight' should be (width, channels, P, P); got {proj}")
    dim, channels, patch = proj[0], proj[1], proj[2]
    pos = _shape(sd, "pos_embed")
    if len(pos) != 3 or pos[0] != 1 or pos[2] != dim:
        raise ViTFormatError(f"'pos_embed' should be (1, N + 1, {dim}) to match the patch embedding; got {pos}")
    n = pos[1] - 1
    side = int(round(n**0.5))
    if side * side != n or n < 1:
        raise ViTFormatError(
            f"'pos_embed' has {pos[1]} positions; expected a square grid plus the class token "
            "(models with extra tokens such as registers or distillation are not supported)"
        )
    cls = _shape(sd, "cls_token")
    if cls != (1, 1, dim):
        raise ViTFormatError(f"'cls_token' should be (1, 1, {dim}); got {cls}")
    indices = sorted({int(m.group(1)) for k in sd if (m := re.match(r"^blocks\.(\d+)\.", k))})
    if not indices:
        raise ViTFormatError("no encoder blocks found (no 'blocks.0.*' keys)")
    if indices != list(range(len(indices))):
        missing = sorted(set(range(max(indices) + 1)) - set(indices))
        raise ViTFormatError(f"encoder blocks {missing} are missing (found blocks {indices[0]}…{indices[-1]})")
    fc1 = _shape(sd, "blocks.0.mlp.fc1.weight")
    head = tuple(sd["head.weight"].shape) if "head.weight" in sd else None
    heads = known.pop("heads", None)
    if heads is None:
        heads = STANDARD_HEADS.get(dim) or (dim // 64 if dim % 64 == 0 else 1)
        notes.append(f"{heads} heads assumed (the file does not store the number of heads; standard for width {dim})")
    config = ViTConfig(
        image_size=side * patch,
        patch_size=patch,
        dim=dim,
        depth=len(indices),
        heads=heads,
        mlp_dim=fc1[0],
        num_classes=head[0] if head else 0,
        channels=channels,
        fc_norm="fc_norm.weight" in sd,
        pool="avg" if "fc_norm.weight" in sd else "cls",
        final_norm="norm.weight" in sd,
        layer_scale="blocks.0.ls1.gamma" in sd,
        **known,
    )
    if head is None:
        notes.append("no classifier head: features only (DINO-style)")
    return config, notes


def fill_optional(sd: dict[str, Any], config: ViTConfig) -> dict[str, Any]:
    """Zero biases that some checkpoints leave out (qkv without bias is the same as a zero bias)."""
    sd = dict(sd)
    for i in range(config.depth):
        key = f"blocks.{i}.attn.qkv.bias"
        if key not in sd and f"blocks.{i}.attn.qkv.weight" in sd:
            sd[key] = torch.zeros(3 * config.dim)
    return sd


def build(sd: Mapping[str, Any], config: ViTConfig) -> VisionTransformer:
    """The model with ``sd`` loaded; every missing, unexpected or misshapen key is named."""
    model = VisionTransformer(config)
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [
        f"{k}: file {tuple(sd[k].shape)}, expected {tuple(v.shape)}"
        for k, v in expected.items()
        if k in sd and tuple(sd[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {_list(missing)}")
    if unexpected:
        problems.append(f"not part of a plain ViT: {_list(unexpected)}")
    if wrong:
        problems.append(f"shapes do not fit: {_list(wrong)}")
    if problems:
        raise ViTFormatError(f"the weights do not fit a ViT ({config.describe()}): " + "; ".join(problems))
    for key, value in sd.items():
        if not torch.is_floating_point(value):
            raise ViTFormatError(f"'{key}' holds {value.dtype} values, not floating-point weights")
        if not torch.isfinite(value).all():
            raise ViTFormatError(f"'{key}' holds NaN or infinite values")
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    model.eval()
    return model


def _list(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(f"'{i}'" if ":" not in i else i for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def to_timm_layout(sd: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(format name, timm-layout state dict); unknown keys raise ViTFormatError naming them."""
    sd = _strip_common_prefix(dict(sd), ("backbone.", "teacher.", "student.", "model.", "encoder.backbone."))
    fmt = detect_format(sd)
    if fmt == "timm":
        # DINO's projection head (head.mlp.*, head.last_layer.*) is not a classifier: drop it.
        dino_head = [k for k in sd if k.startswith("head.") and k not in ("head.weight", "head.bias")]
        return fmt, {k: v for k, v in sd.items() if k not in dino_head}
    converted, unknown = from_torchvision(sd) if fmt == "torchvision" else from_huggingface(sd)
    if unknown:
        raise ViTFormatError(f"{fmt} ViT checkpoint with keys this app cannot place: {_list(unknown)}")
    return fmt, converted
