"""Weight names of every layout this app reads, one declarative table each, mapped onto timm's names.

A :class:`Layout` says how a checkpoint names things: whole keys renamed
(``top``), the pattern of a block's keys and how the part after the block index
is renamed (``parts``), which parts are separate Q, K, V projections to fuse
into one ``qkv`` (``fused``), which keys are dropped and why (``dropped``), and
the few tensors that must change shape (``reshape``). :func:`convert` applies
one; a key no table places is returned as unknown, so the caller can name it.

Layouts: timm (also DINO v1 and DeiT's own repositories, which use timm's
names), DINOv2's repository, torchvision, transformers' ViT / DeiT / DINOv2
(both the on-disk names and the ``q_proj`` names transformers ≥ 5.9 uses in
memory), transformers' CLIP / SigLIP vision towers, and OpenAI / OpenCLIP CLIP.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

BLOCK = re.compile(r"^blocks\.(\d+)\.")


@dataclass(frozen=True)
class Layout:
    name: str  # "timm", "dinov2", "torchvision", "huggingface", "huggingface-clip", "openai-clip"
    label: str  # for the model's notes
    top: Mapping[str, str] = field(default_factory=dict)
    block: str = r"^blocks\.(\d+)\.(.+)$"
    parts: tuple[tuple[str, str], ...] = ()  # (old prefix, new prefix), first match wins
    fused: Mapping[str, str] = field(default_factory=dict)  # block-part prefix → "q" | "k" | "v"
    dropped: Mapping[str, str] = field(default_factory=dict)  # key regex → why it is not needed
    reshape: Mapping[str, str] = field(default_factory=dict)  # internal key → "token" | "table" | "transpose"


_TIMM_PARTS = tuple((p, p) for p in (
    "norm1.", "attn.qkv.", "attn.proj.", "ls1.gamma", "norm2.", "mlp.fc1.", "mlp.fc2.", "ls2.gamma",
))
_TIMM_TOP = {k: k for k in (
    "patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "dist_token", "reg_token", "pos_embed",
    "norm_pre.weight", "norm_pre.bias", "norm.weight", "norm.bias", "fc_norm.weight", "fc_norm.bias",
    "head.weight", "head.bias", "head_dist.weight", "head_dist.bias", "attn_pool.latent",
    *(f"attn_pool.{m}.{w}" for m in ("q", "kv", "proj", "norm", "mlp.fc1", "mlp.fc2") for w in ("weight", "bias")),
)}

_DINO_HEAD = {r"^head\.(mlp|last_layer)\.": "DINO's projection head (it maps features to training prototypes, not classes)"}
TIMM = Layout("timm", "timm's names", top=_TIMM_TOP, parts=_TIMM_PARTS, dropped=_DINO_HEAD)

DINOV2 = Layout(
    "dinov2", "DINOv2's repository",
    top={**_TIMM_TOP, "register_tokens": "reg_token"},
    block=r"^blocks\.(?:\d+\.)?(\d+)\.(.+)$",  # chunked checkpoints: blocks.{chunk}.{i}.
    parts=_TIMM_PARTS + (("mlp.w12.", "mlp.fc1."), ("mlp.w3.", "mlp.fc2.")),  # SwiGLU of ViT-g
    dropped={r"^mask_token$": "the masked-image-modelling token (used only in training)",
             r"^(dino_head|ibot_head)\.": "DINOv2's training heads"},
)

TORCHVISION = Layout(
    "torchvision", "torchvision's names",
    top={"conv_proj.weight": "patch_embed.proj.weight", "conv_proj.bias": "patch_embed.proj.bias",
         "class_token": "cls_token", "encoder.pos_embedding": "pos_embed",
         "encoder.ln.weight": "norm.weight", "encoder.ln.bias": "norm.bias",
         "heads.head.weight": "head.weight", "heads.head.bias": "head.bias"},
    block=r"^encoder\.layers\.encoder_layer_(\d+)\.(.+)$",
    parts=(("ln_1.", "norm1."), ("ln_2.", "norm2."), ("self_attention.in_proj_weight", "attn.qkv.weight"),
           ("self_attention.in_proj_bias", "attn.qkv.bias"), ("self_attention.out_proj.", "attn.proj."),
           ("mlp.0.", "mlp.fc1."), ("mlp.3.", "mlp.fc2."),
           ("mlp.linear_1.", "mlp.fc1."), ("mlp.linear_2.", "mlp.fc2.")),  # torchvision < 0.13
)

HUGGINGFACE = Layout(
    "huggingface", "transformers' names",
    top={"embeddings.cls_token": "cls_token", "embeddings.distillation_token": "dist_token",
         "embeddings.register_tokens": "reg_token", "embeddings.position_embeddings": "pos_embed",
         "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
         "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
         "layernorm.weight": "norm.weight", "layernorm.bias": "norm.bias",
         "classifier.weight": "head.weight", "classifier.bias": "head.bias",
         "cls_classifier.weight": "head.weight", "cls_classifier.bias": "head.bias",
         "distillation_classifier.weight": "head_dist.weight", "distillation_classifier.bias": "head_dist.bias"},
    block=r"^(?:encoder\.layer|encoder\.layers|layers)\.(\d+)\.(.+)$",
    parts=(("layernorm_before.", "norm1."), ("layernorm_after.", "norm2."), ("norm1.", "norm1."),
           ("norm2.", "norm2."), ("attention.output.dense.", "attn.proj."), ("attention.o_proj.", "attn.proj."),
           ("intermediate.dense.", "mlp.fc1."), ("output.dense.", "mlp.fc2."), ("mlp.fc1.", "mlp.fc1."),
           ("mlp.fc2.", "mlp.fc2."), ("mlp.weights_in.", "mlp.fc1."), ("mlp.weights_out.", "mlp.fc2."),
           ("layer_scale1.lambda1", "ls1.gamma"), ("layer_scale2.lambda1", "ls2.gamma")),
    fused={"attention.attention.query.": "q", "attention.attention.key.": "k", "attention.attention.value.": "v",
           "attention.q_proj.": "q", "attention.k_proj.": "k", "attention.v_proj.": "v"},
    dropped={r"^embeddings\.mask_token$": "the masked-image-modelling token (used only in training)",
             r"^pooler\.dense\.": "ViTModel's tanh pooler (classification reads the class token)"},
)

HUGGINGFACE_CLIP = Layout(
    "huggingface-clip", "transformers' CLIP / SigLIP names",
    top={"embeddings.class_embedding": "cls_token", "embeddings.position_embedding.weight": "pos_embed",
         "embeddings.patch_embedding.weight": "patch_embed.proj.weight",
         "embeddings.patch_embedding.bias": "patch_embed.proj.bias",
         "pre_layrnorm.weight": "norm_pre.weight", "pre_layrnorm.bias": "norm_pre.bias",
         "post_layernorm.weight": "norm.weight", "post_layernorm.bias": "norm.bias",
         "visual_projection.weight": "embed_proj.weight",
         "classifier.weight": "head.weight", "classifier.bias": "head.bias",
         "head.probe": "attn_pool.latent",
         "head.attention.in_proj_weight": "attn_pool.in_proj.weight",
         "head.attention.in_proj_bias": "attn_pool.in_proj.bias",
         "head.attention.out_proj.weight": "attn_pool.proj.weight",
         "head.attention.out_proj.bias": "attn_pool.proj.bias",
         "head.layernorm.weight": "attn_pool.norm.weight", "head.layernorm.bias": "attn_pool.norm.bias",
         "head.mlp.fc1.weight": "attn_pool.mlp.fc1.weight", "head.mlp.fc1.bias": "attn_pool.mlp.fc1.bias",
         "head.mlp.fc2.weight": "attn_pool.mlp.fc2.weight", "head.mlp.fc2.bias": "attn_pool.mlp.fc2.bias"},
    block=r"^encoder\.layers\.(\d+)\.(.+)$",
    parts=(("layer_norm1.", "norm1."), ("layer_norm2.", "norm2."), ("self_attn.out_proj.", "attn.proj."),
           ("mlp.fc1.", "mlp.fc1."), ("mlp.fc2.", "mlp.fc2.")),
    fused={"self_attn.q_proj.": "q", "self_attn.k_proj.": "k", "self_attn.v_proj.": "v"},
    dropped={r"^embeddings\.position_ids$": "a buffer of indices 0…T−1"},
    reshape={"cls_token": "token", "pos_embed": "table"},
)

OPENAI_CLIP = Layout(
    "openai-clip", "OpenAI / OpenCLIP names",
    top={"class_embedding": "cls_token", "positional_embedding": "pos_embed", "conv1.weight": "patch_embed.proj.weight",
         "ln_pre.weight": "norm_pre.weight", "ln_pre.bias": "norm_pre.bias",
         "ln_post.weight": "norm.weight", "ln_post.bias": "norm.bias", "proj": "embed_proj.weight"},
    block=r"^transformer\.resblocks\.(\d+)\.(.+)$",
    parts=(("ln_1.", "norm1."), ("ln_2.", "norm2."), ("attn.in_proj_weight", "attn.qkv.weight"),
           ("attn.in_proj_bias", "attn.qkv.bias"), ("attn.out_proj.", "attn.proj."),
           ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")),
    reshape={"cls_token": "token", "pos_embed": "table", "embed_proj.weight": "transpose"},
)

LAYOUTS = {layout.name: layout for layout in (TIMM, DINOV2, TORCHVISION, HUGGINGFACE, HUGGINGFACE_CLIP, OPENAI_CLIP)}

#: One key that identifies each layout's family of names.
SIGNATURES = (
    ("patch_embed.proj.weight", "timm"),
    ("conv_proj.weight", "torchvision"),
    ("embeddings.patch_embeddings.projection.weight", "huggingface"),
    ("embeddings.patch_embedding.weight", "huggingface-clip"),
    ("class_embedding", "openai-clip"),
)


def detect(sd: Mapping[str, Any]) -> Layout | None:
    """The layout whose signature key ``sd`` holds (DINOv2's repository told from timm by its own keys), or None."""
    for key, name in SIGNATURES:
        if key in sd:
            if name == "timm" and any(
                k in ("mask_token", "register_tokens") or re.match(r"^blocks\.\d+\.\d+\.", k) or ".mlp.w12." in k
                for k in sd
            ):
                return DINOV2
            return LAYOUTS[name]
    return None


def _reshaped(value: torch.Tensor, how: str) -> torch.Tensor:
    if how == "token":  # CLIP's class_embedding (D,) → (1, 1, D)
        return value.reshape(1, 1, -1)
    if how == "table":  # a position table (T, D) → (1, T, D)
        return value.unsqueeze(0) if value.ndim == 2 else value
    if how == "transpose":  # OpenAI's proj is (D, E), applied as x @ proj
        return value.T.contiguous()
    raise ValueError(how)


def convert(sd: Mapping[str, Any], layout: Layout) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """(internal-name dict, {reason: count} of dropped keys, unknown keys) for ``sd`` in ``layout``."""
    out: dict[str, Any] = {}
    dropped: dict[str, int] = {}
    unknown: list[str] = []
    separate: dict[tuple[str, str], dict[str, Any]] = {}  # (block, weight|bias) → {q, k, v}
    block = re.compile(layout.block)
    for key, value in sd.items():
        reason = next((why for pattern, why in layout.dropped.items() if re.search(pattern, key)), None)
        if reason is not None:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        if key in layout.top:
            out[layout.top[key]] = value
            continue
        match = block.match(key)
        if not match:
            unknown.append(key)
            continue
        index, rest = match.groups()
        part = next((p for p in layout.fused if rest.startswith(p)), None)
        if part is not None:
            separate.setdefault((index, rest[len(part):]), {})[layout.fused[part]] = value
            continue
        for old, new in layout.parts:
            if rest.startswith(old):
                out[f"blocks.{index}.{new}{rest[len(old):]}"] = value
                break
        else:
            unknown.append(key)
    for (index, kind), qkv in separate.items():
        missing = [name for name in "qkv" if name not in qkv]
        if missing:
            raise ValueError(f"layer {index}: the {'/'.join(missing)} projection's {kind} is missing "
                             "(query, key and value must all be present)")
        out[f"blocks.{index}.attn.qkv.{kind}"] = torch.cat([qkv["q"], qkv["k"], qkv["v"]], dim=0)
    for key, how in layout.reshape.items():
        if key in out:
            out[key] = _reshaped(out[key], how)
    for kind in ("weight", "bias"):  # transformers' SigLIP pool: one in_proj → timm's q and kv
        packed = out.pop(f"attn_pool.in_proj.{kind}", None)
        if packed is not None:
            d = packed.shape[0] // 3
            out[f"attn_pool.q.{kind}"], out[f"attn_pool.kv.{kind}"] = packed[:d], packed[d:]
    return out, dropped, unknown
