"""The ViT's parts: attention, MLP (four activations), layer scale, the pre-norm block, the attention pool.

Attention runs through the app's one :func:`~explorer.engine.attention.scaled_dot_product`
with ``need_weights=False`` — the fused kernel, as fast as a plain forward.
A trace keeps each layer's queries, keys and values instead of its weights;
:class:`explorer.engine.vit.trace.AttentionMaps` forms the weights from them
when a view asks, so a 1,370-token trace does not hold 12 × 12 × 1370² floats.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.engine.attention.batched import scaled_dot_product
from explorer.engine.vit.config import ViTConfig

QKV = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """OpenAI CLIP's activation, x·σ(1.702·x)."""
    return x * torch.sigmoid(1.702 * x)


def activate(x: torch.Tensor, act: str) -> torch.Tensor:
    if act == "gelu":
        return F.gelu(x)
    if act == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if act == "quick_gelu":
        return quick_gelu(x)
    if act == "swiglu":  # DINOv2-g: fc1 gives gate and value side by side
        gate, value = x.chunk(2, dim=-1)
        return F.silu(gate) * value
    raise ValueError(f"unknown activation {act!r}")


class Attention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection (timm's layout)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, keep: bool = False, head_mask: torch.Tensor | None = None,
                weights: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, QKV | None]:
        """``head_mask`` (h,) or (B, h) scales each head's output before the projection (0 switches it off).

        ``weights``, a list, receives this layer's (B, h, T, T) attention weights from the
        written-out path, inside the autograd graph: what gradient-weighted relevance needs.
        """
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, h, T, d_h)
        need = weights is not None
        out, attention = scaled_dot_product(q, k, v, scale=self.scale, need_weights=need)  # (B, h, T, d_h)
        if need:
            weights.append(attention)  # (B, h, T, T)
        if head_mask is not None:
            out = out * head_mask.to(out.dtype).reshape(*head_mask.shape[:-1], self.heads, 1, 1)
        out = out.transpose(1, 2).reshape(b, n, d)  # (B, T, D)
        return self.proj(out), ((q, k, v) if keep else None)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, act: str) -> None:
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(dim, 2 * hidden if act == "swiglu" else hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(activate(self.fc1(x), self.act))


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm encoder block: x + γ₁·Attn(LN(x)), then x + γ₂·MLP(LN(x)) (γ = 1 without layer scale)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.dim, eps=config.eps)
        self.attn = Attention(config.dim, config.heads)
        self.norm2 = nn.LayerNorm(config.dim, eps=config.eps)
        self.mlp = Mlp(config.dim, config.mlp_dim, config.act)
        self.ls1 = LayerScale(config.dim) if config.layer_scale else nn.Identity()
        self.ls2 = LayerScale(config.dim) if config.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor, keep: bool = False, head_mask: torch.Tensor | None = None,
                weights: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, QKV | None]:
        attended, qkv = self.attn(self.norm1(x), keep, head_mask, weights)
        x = x + self.ls1(attended)
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return x, qkv


class AttentionPool(nn.Module):
    """SigLIP's head: learned probe queries attend over every output token, then a residual MLP.

    The same computation as timm's ``AttentionPoolLatent`` and transformers'
    ``SiglipMultiheadAttentionPoolingHead``. Its weights are small
    (heads, probes, T), so they are returned whenever asked.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        d = config.dim
        self.heads = config.heads
        self.latent = nn.Parameter(torch.zeros(1, config.pool_latents, d))
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d, eps=config.eps)
        self.mlp = Mlp(d, config.mlp_dim, config.act)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        h, latents = self.heads, self.latent.shape[1]
        q = self.q(self.latent.expand(b, -1, -1)).reshape(b, latents, h, d // h).transpose(1, 2)  # (B, h, L, d_h)
        k, v = self.kv(x).reshape(b, n, 2, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)  # each (B, h, T, d_h)
        out, weights = scaled_dot_product(q, k, v, need_weights=True)  # (B, h, L, d_h), (B, h, L, T)
        out = self.proj(out.transpose(1, 2).reshape(b, latents, d))  # (B, L, D)
        out = out + self.mlp(self.norm(out))
        return out[:, 0], weights  # (B, D): the first probe is the pooled output


class PatchEmbed(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        p = config.patch_size
        self.proj = nn.Conv2d(config.channels, config.dim, kernel_size=p, stride=p)
