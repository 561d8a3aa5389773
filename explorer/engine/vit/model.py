"""A Vision Transformer written out step by step, whose forward keeps every intermediate.

patchify → linear embedding → prepend [CLS] → + position embeddings →
pre-norm encoder blocks → final norm → head. Attention is the app's one
:func:`~explorer.engine.attention.scaled_dot_product`: written out when the
trace keeps its weights, fused for a plain forward.

The parameter names follow timm's ``VisionTransformer`` (``patch_embed.proj``,
``cls_token``, ``pos_embed``, ``blocks.{i}.attn.qkv``, ``mlp.fc1``, ``norm``,
``head``): that is the one internal layout; :mod:`explorer.engine.vit.formats`
maps torchvision and Hugging Face checkpoints onto it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from explorer.engine.attention.batched import scaled_dot_product

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ViTConfig:
    """Everything that rebuilds a ViT and prepares its input; detected from checkpoints."""

    image_size: int = 224
    patch_size: int = 16
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_dim: int = 3072
    num_classes: int = 1000  # 0: no head (e.g. DINO), the trace's logits are then (1, 0)
    channels: int = 3
    eps: float = 1e-6
    #: "cls": the class token is read off; "avg": the mean of the patch tokens (timm global_pool="avg").
    pool: str = "cls"
    #: timm's ``fc_norm``: a LayerNorm after pooling instead of the final ``norm``.
    fc_norm: bool = False
    #: False when the checkpoint has no final ``norm`` (timm models with fc_norm).
    final_norm: bool = True
    layer_scale: bool = False
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    #: Shorter side is resized to image_size / crop_pct, then centre-cropped (torchvision 224/256).
    crop_pct: float = 0.875
    resample: str = "bilinear"  # "bilinear" | "bicubic"
    #: Where the weights came from: "bundled", "timm", "torchvision", "huggingface".
    source: str = "timm"
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mean = tuple(float(v) for v in self.mean)  # JSON gives lists
        self.std = tuple(float(v) for v in self.std)
        if self.dim % max(self.heads, 1):
            raise ValueError(f"width {self.dim} is not divisible by {self.heads} heads")

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mean"], out["std"] = list(self.mean), list(self.std)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViTConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        """One line for the UI: ``ViT 12 layers · width 768 · 12 heads · patch 16 · 224 px · 1000 classes``."""
        classes = f"{self.num_classes} classes" if self.num_classes else "no classifier head"
        return (
            f"{self.depth} layers · width {self.dim} · {self.heads} heads · MLP {self.mlp_dim} · "
            f"patch {self.patch_size} · {self.image_size} px ({self.grid}×{self.grid} patches) · {classes}"
        )


@dataclass
class ViTTrace:
    """Every intermediate of one forward pass (batch of one). Shapes in the comments.

    N = number of patches (gh·gw), D = width, P = patch size, C = channels.
    """

    pixels: torch.Tensor  # (1, C, H, W), normalised input
    grid: tuple[int, int]  # (gh, gw)
    patch_size: int
    patches: torch.Tensor  # (N, P·P·C), each patch flattened row, column, channel (raw normalised values)
    patch_embeddings: torch.Tensor  # (N, D), the linear embedding of each patch (before position)
    pos_embed: torch.Tensor  # (N + 1, D), position embeddings used (interpolated if the grid differs)
    tokens: list[torch.Tensor]  # depth + 1 entries of (N + 1, D): encoder input, then after each block
    attentions: list[torch.Tensor]  # depth entries of (heads, N + 1, N + 1), rows sum to 1
    logits: torch.Tensor  # (1, K); K = 0 for a model without head
    features: torch.Tensor  # (1, D), the pooled (normed) representation the head reads

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def probabilities(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=-1)  # (1, K)


class Attention(nn.Module):
    """Multi-head self-attention through :func:`~explorer.engine.attention.scaled_dot_product`.

    With ``need_weights`` the weights come back (the written-out path); without,
    a fused kernel may run (training, plain forwards).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, h, N, d_h)
        out, weights = scaled_dot_product(q, k, v, scale=self.scale, need_weights=need_weights)  # (B, h, N, d_h)
        out = out.transpose(1, 2).reshape(b, n, d)  # (B, N, D)
        return self.proj(out), weights  # weights (B, h, N, N) or None


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm encoder block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.dim, eps=config.eps)
        self.attn = Attention(config.dim, config.heads)
        self.norm2 = nn.LayerNorm(config.dim, eps=config.eps)
        self.mlp = Mlp(config.dim, config.mlp_dim)
        self.ls1 = LayerScale(config.dim) if config.layer_scale else nn.Identity()
        self.ls2 = LayerScale(config.dim) if config.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attn(self.norm1(x), need_weights)
        x = x + self.ls1(attended)
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return x, weights


class PatchEmbed(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        p = config.patch_size
        self.proj = nn.Conv2d(config.channels, config.dim, kernel_size=p, stride=p)


class VisionTransformer(nn.Module):
    """The ViT; :meth:`trace` returns a :class:`ViTTrace`, :meth:`forward` only the logits (training)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        d = config.dim
        self.patch_embed = PatchEmbed(config)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.randn(1, config.grid**2 + 1, d) * 0.02)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d, eps=config.eps) if config.final_norm else nn.Identity()
        self.fc_norm = nn.LayerNorm(d, eps=config.eps) if config.fc_norm else nn.Identity()
        self.head = nn.Linear(d, config.num_classes) if config.num_classes else nn.Identity()
        nn.init.normal_(self.cls_token, std=0.02)

    # -- the six steps ---------------------------------------------------------------------
    def patchify(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, N, P·P·C), patches in raster order, each flattened row, column, channel."""
        b, c, h, w = pixels.shape
        p = self.config.patch_size
        gh, gw = h // p, w // p
        x = pixels[:, :, : gh * p, : gw * p].reshape(b, c, gh, p, gw, p)
        return x.permute(0, 2, 4, 3, 5, 1).reshape(b, gh * gw, p * p * c)  # (B, N, P·P·C)

    def embed_patches(self, pixels: torch.Tensor) -> torch.Tensor:
        """The linear embedding of every patch, (B, N, D): a P×P-stride-P convolution is exactly that."""
        x = self.patch_embed.proj(pixels)  # (B, D, gh, gw)
        return x.flatten(2).transpose(1, 2)  # (B, N, D)

    def position_embeddings(self, grid: tuple[int, int]) -> torch.Tensor:
        """(1, N + 1, D) for a gh×gw grid: the learned table, resampled bicubically if the grid differs."""
        pos = self.pos_embed
        n_trained = pos.shape[1] - 1
        side = math.isqrt(n_trained)
        if grid == (side, side):
            return pos
        cls_pos, patch_pos = pos[:, :1], pos[:, 1:]
        d = pos.shape[-1]
        patch_pos = patch_pos.reshape(1, side, side, d).permute(0, 3, 1, 2)  # (1, D, s, s)
        patch_pos = F.interpolate(patch_pos, size=grid, mode="bicubic", align_corners=False)  # (1, D, gh, gw)
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], d)  # (1, N, D)
        return torch.cat([cls_pos, patch_pos], dim=1)

    def _check_pixels(self, pixels: torch.Tensor) -> tuple[int, int]:
        if pixels.ndim != 4 or pixels.shape[1] != self.config.channels:
            raise ValueError(
                f"pixels must be (B, {self.config.channels}, H, W); got shape {tuple(pixels.shape)}"
            )
        p = self.config.patch_size
        gh, gw = pixels.shape[2] // p, pixels.shape[3] // p
        if gh < 1 or gw < 1:
            raise ValueError(f"the input ({pixels.shape[2]}×{pixels.shape[3]}) is smaller than one {p}×{p} patch")
        return gh, gw

    def _encode(self, pixels: torch.Tensor, keep: bool):
        gh, gw = self._check_pixels(pixels)
        p = self.config.patch_size
        pixels = pixels[:, :, : gh * p, : gw * p]
        embedded = self.embed_patches(pixels)  # (B, N, D)
        cls = self.cls_token.expand(embedded.shape[0], -1, -1)  # (B, 1, D)
        pos = self.position_embeddings((gh, gw))  # (1, N + 1, D)
        x = torch.cat([cls, embedded], dim=1) + pos  # (B, N + 1, D)
        tokens, attentions = [x], []
        for block in self.blocks:
            x, weights = block(x, keep)
            if keep:
                tokens.append(x)
                attentions.append(weights)
        x = self.norm(x)
        features = x[:, 1:].mean(dim=1) if self.config.pool == "avg" else x[:, 0]  # (B, D)
        features = self.fc_norm(features)
        logits = self.head(features) if self.config.num_classes else features[:, :0]  # (B, K)
        return pixels, (gh, gw), embedded, pos, tokens, attentions, features, logits

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → logits (B, K); attention maps are not kept."""
        return self._encode(pixels, keep=False)[-1]

    @torch.no_grad()
    def trace(self, pixels: torch.Tensor) -> ViTTrace:
        """Run one image (1, C, H, W) and keep every intermediate; H, W need not be the trained size."""
        if pixels.ndim == 4 and pixels.shape[0] != 1:
            raise ValueError(f"trace takes one image, shape (1, C, H, W); got batch of {pixels.shape[0]}")
        pixels, grid, embedded, pos, tokens, attentions, features, logits = self._encode(pixels, keep=True)
        return ViTTrace(
            pixels=pixels,
            grid=grid,
            patch_size=self.config.patch_size,
            patches=self.patchify(pixels)[0],
            patch_embeddings=embedded[0],
            pos_embed=pos[0].detach(),
            tokens=[t[0] for t in tokens],
            attentions=[a[0] for a in attentions],
            logits=logits,
            features=features,
        )
