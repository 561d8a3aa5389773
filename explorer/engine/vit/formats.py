"""A checkpoint's tensors → the one internal layout, its family and a :class:`ViTConfig` read off the shapes.

Three stages, each said in the model's notes:

1. :func:`unwrap`: the wrapping a training script or a multi-modal model adds —
   DINO's ``backbone.`` + projection ``head.``, CLIP's text tower, a common
   ``model.`` / ``teacher.`` prefix, transformers' ``vit.`` / ``deit.`` / ``dinov2.``.
2. :func:`read`: the layout's table (:mod:`.layouts`) renames the keys; the
   family's row (:mod:`.families`) says what the tensors cannot.
3. :func:`infer_config` and :func:`build`: width, depth, patch, grid, extra tokens,
   MLP, pooling and heads from the shapes; every missing, unexpected or
   misshapen key is named.

An unsupported variant fails loudly: :data:`UNSUPPORTED` names what a
recognised-but-unsupported key means (qk-norm, rotary or relative positions, …).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from explorer.engine.vit.config import ViTConfig
from explorer.engine.vit.families import Family, identify
from explorer.engine.vit.layouts import SIGNATURES, Layout, convert, detect
from explorer.engine.vit.model import VisionTransformer


class ViTFormatError(ValueError):
    """The weights are not a ViT this app can run, or their shapes do not fit together."""


#: Heads of the standard ViT widths (Ti, S, B, L, H, g, G); other widths use a head width of 64.
STANDARD_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16, 1536: 24, 1664: 16}
#: Keys of ViT variants this model does not implement → what they are.
UNSUPPORTED = {
    r"attn\.(q_norm|k_norm)\.": "query/key normalisation (qk-norm)",
    r"(rope|freqs_cis|rotary)": "rotary position embeddings",
    r"(relative_position|rel_pos)": "relative position biases (BEiT / Swin style)",
    r"\.gamma_1$|\.gamma_2$": "BEiT-style layer scale with relative positions",
    r"^layers\.\d+\.blocks\.": "a Swin Transformer's shifted windows",
    r"(attn\.norm|mlp\.norm)\.": "extra norms inside attention or MLP (timm's scale_norm)",
    r"norm1_post|post_attention_layernorm": "post-norm blocks",
}
#: Prefixes transformers' classification models put before the backbone's keys.
HF_BACKBONES = ("vit.", "deit.", "dinov2.", "dinov2_with_registers.")


@dataclass
class Reading:
    """A checkpoint read: internal-name tensors, their layout and family, and what was done to them."""

    sd: dict[str, Any]
    layout: Layout
    family: Family
    notes: list[str] = field(default_factory=list)


def _strip(sd: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def unwrap(sd: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The vision backbone's own tensors and notes on what was set aside."""
    sd, notes = dict(sd), []
    backbone = [k for k in sd if k.startswith("backbone.")]
    if backbone:
        rest = [k for k in sd if not k.startswith("backbone.")]
        if rest and all(k.startswith("head.") for k in rest):
            notes.append(
                f"a DINO training state (backbone + projection head): the backbone was read and the projection head's "
                f"{len(rest)} tensors dropped (they map features to DINO's training prototypes, not to classes); "
                "where the file held both the teacher and the student, the teacher was read"
            )
            return _strip(sd, "backbone."), notes
        if not rest:
            return _strip(sd, "backbone."), notes
    for prefix in ("model.", "encoder.backbone.", "teacher.", "student.", "module."):
        if sd and all(k.startswith(prefix) for k in sd):
            sd = _strip(sd, prefix)
    for marker, keep, what in (("visual.trunk.patch_embed.proj.weight", "visual.trunk.", "OpenCLIP's timm trunk"),
                               ("visual.class_embedding", "visual.", "CLIP's image tower"),
                               ("vision_model.embeddings.patch_embedding.weight", "vision_model.", "the vision tower")):
        if marker in sd:
            tower = _strip(sd, keep)
            if "visual_projection.weight" in sd:
                tower["visual_projection.weight"] = sd["visual_projection.weight"]
            other = len(sd) - len(tower)
            if other:
                notes.append(f"{what} was read; {other} other tensors (the text tower, logit scale) were set aside")
            return tower, notes
    for prefix in HF_BACKBONES:
        if any(k.startswith(prefix + "embeddings.") for k in sd):
            return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}, notes
    return sd, notes


def read(sd: Mapping[str, Any], model_type: str | None = None) -> Reading:
    """Unwrap, detect the layout, rename to internal names and identify the family; ViTFormatError if any fails."""
    sd, notes = unwrap(sd)
    layout = detect(sd)
    if layout is None:
        keys = sorted(sd)
        sample = ", ".join(keys[:6]) + (" …" if len(keys) > 6 else "")
        signatures = ", ".join(f"'{key}' ({name})" for key, name in SIGNATURES)
        raise ViTFormatError(
            f"not a Vision Transformer checkpoint: expected a patch-embedding key such as {signatures}, "
            f"but the file holds {len(keys)} tensors like {sample}."
        )
    try:
        internal, dropped, unknown = convert(sd, layout)
    except ValueError as exc:
        raise ViTFormatError(str(exc)) from exc
    _refuse_unsupported(unknown or [])
    if unknown:
        raise ViTFormatError(f"a checkpoint in {layout.label} with keys this app cannot place: {_list(unknown)}")
    notes += [f"{count} tensor{'s' if count > 1 else ''} dropped: {why}" for why, count in dropped.items()]
    try:
        family, why = identify(internal, layout, model_type)
    except ValueError as exc:
        raise ViTFormatError(str(exc)) from exc
    if family.key == "clip" and layout.name == "huggingface-clip" and "head.weight" in internal:
        raise ViTFormatError("CLIPForImageClassification averages the patch tokens before post_layernorm; "
                             "only CLIP's vision tower (with or without its projection) is supported")
    notes.append(f"read as {family.name} ({why}), {layout.label}")
    return Reading(internal, layout, family, notes)


def _refuse_unsupported(keys: list[str]) -> None:
    for pattern, what in UNSUPPORTED.items():
        hits = [k for k in keys if re.search(pattern, k)]
        if hits:
            raise ViTFormatError(f"this ViT uses {what}, which this app does not implement (keys {_list(hits)})")


# -- architecture from shapes ------------------------------------------------------------------------
def _shape(sd: Mapping[str, Any], key: str) -> tuple[int, ...]:
    if key not in sd:
        raise ViTFormatError(f"'{key}' is missing; it is needed to read the architecture")
    value = sd[key]
    if not isinstance(value, torch.Tensor):
        raise ViTFormatError(f"'{key}' is not a tensor")
    return tuple(value.shape)


def _token_shape(sd: Mapping[str, Any], key: str, dim: int) -> int:
    """How many tokens ``key`` (1, n, D) holds; 0 if absent."""
    if key not in sd:
        return 0
    shape = _shape(sd, key)
    if len(shape) != 3 or shape[0] != 1 or shape[2] != dim:
        raise ViTFormatError(f"'{key}' should be (1, n, {dim}); got {shape}")
    return shape[1]


def infer_config(sd: Mapping[str, Any], row: Family | None = None, layout: Layout | None = None,
                 **known: Any) -> tuple[ViTConfig, list[str]]:
    """A :class:`ViTConfig` from internal-name tensors; ``known`` fields (heads, eps, act …) win.

    ``row`` and ``layout`` (the family's table row and the checkpoint's layout) give the activation.

    Returns the config and notes on what was assumed.
    """
    notes: list[str] = []
    proj = _shape(sd, "patch_embed.proj.weight")
    if len(proj) != 4 or proj[2] != proj[3]:
        raise ViTFormatError(f"'patch_embed.proj.weight' should be (width, channels, P, P); got {proj}")
    dim, channels, patch = proj[0], proj[1], proj[2]
    cls = _token_shape(sd, "cls_token", dim)
    dist = _token_shape(sd, "dist_token", dim)
    registers = _token_shape(sd, "reg_token", dim)
    if cls > 1 or dist > 1:
        raise ViTFormatError(f"expected one class token and at most one distillation token; got {cls} and {dist}")
    pos = _shape(sd, "pos_embed")
    if len(pos) != 3 or pos[0] != 1 or pos[2] != dim:
        raise ViTFormatError(f"'pos_embed' should be (1, positions, {dim}) to match the patch embedding; got {pos}")
    for pos_prefix in dict.fromkeys((cls + dist, 0)):
        side = math.isqrt(max(pos[1] - pos_prefix, 0))
        if side >= 1 and side * side == pos[1] - pos_prefix:
            break
    else:
        raise ViTFormatError(
            f"'pos_embed' has {pos[1]} positions: neither {pos[1] - cls - dist} (without the "
            f"{cls + dist} class/distillation tokens) nor {pos[1]} is a square grid of patches"
        )
    indices = sorted({int(m.group(1)) for k in sd if (m := re.match(r"^blocks\.(\d+)\.", k))})
    if not indices:
        raise ViTFormatError("no encoder blocks found (no 'blocks.0.*' keys)")
    if indices != list(range(len(indices))):
        missing = sorted(set(range(max(indices) + 1)) - set(indices))
        raise ViTFormatError(f"encoder blocks {missing} are missing (found blocks {indices[0]}…{indices[-1]})")
    fc1, fc2 = _shape(sd, "blocks.0.mlp.fc1.weight"), _shape(sd, "blocks.0.mlp.fc2.weight")
    swiglu = fc1[0] == 2 * fc2[1]
    head = tuple(sd["head.weight"].shape) if "head.weight" in sd else None
    if dist and head and "head_dist.weight" not in sd:
        raise ViTFormatError("the model has a distillation token and a class head but no 'head_dist' (distillation head)")
    if "head_dist.weight" in sd and not dist:
        raise ViTFormatError("'head_dist' (a distillation head) without a distillation token 'dist_token'")
    heads = known.pop("heads", None)
    if heads is None:
        heads = STANDARD_HEADS.get(dim) or (dim // 64 if dim % 64 == 0 else 1)
        notes.append(f"{heads} heads assumed (the file does not store the number of heads; standard for width {dim})")
    act = "swiglu" if swiglu else known.pop("act", row.act_for(layout) if row and layout else "gelu")
    known.pop("act", None)
    if "attn_pool.latent" in sd:
        pool = "map"
    elif head and head[1] == 2 * dim:
        pool = "cls_avg"
    elif "fc_norm.weight" in sd or not cls:
        pool = "avg"
    else:
        pool = "cls"
    config = ViTConfig(
        image_size=side * patch, patch_size=patch, dim=dim, depth=len(indices), heads=heads,
        mlp_dim=fc2[1], num_classes=head[0] if head else 0, channels=channels,
        class_token=bool(cls), distillation_token=bool(dist), registers=registers, pos_prefix=pos_prefix,
        act=act, layer_scale="blocks.0.ls1.gamma" in sd, norm_pre="norm_pre.weight" in sd,
        pool=pool, fc_norm="fc_norm.weight" in sd, final_norm="norm.weight" in sd,
        head_bias="head.bias" in sd or not head,
        projection=_shape(sd, "embed_proj.weight")[0] if "embed_proj.weight" in sd else 0,
        pool_latents=_token_shape(sd, "attn_pool.latent", dim) or 1,
        **known,
    )
    if not head and not config.projection:
        notes.append("no classifier head: features only")
    return config, notes


def fill_optional(sd: dict[str, Any], config: ViTConfig) -> dict[str, Any]:
    """Zero biases some checkpoints leave out (CLIP's patch embedding, qkv without bias): the same as no bias."""
    sd = dict(sd)
    if "patch_embed.proj.bias" not in sd:
        sd["patch_embed.proj.bias"] = torch.zeros(config.dim)
    for i in range(config.depth):
        key = f"blocks.{i}.attn.qkv.bias"
        if key not in sd and f"blocks.{i}.attn.qkv.weight" in sd:
            sd[key] = torch.zeros(3 * config.dim)
    return sd


def build(sd: Mapping[str, Any], config: ViTConfig) -> VisionTransformer:
    """The model with ``sd`` loaded; every missing, unexpected or misshapen key is named."""
    try:
        model = VisionTransformer(config)
    except ValueError as exc:
        raise ViTFormatError(f"the weights do not make a ViT: {exc}") from exc
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
        problems.append(f"not part of this ViT: {_list(unexpected)}")
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
    """(layout name, internal-name state dict) — the short form of :func:`read` the benchmark uses."""
    reading = read(sd)
    return reading.layout.name, reading.sd
