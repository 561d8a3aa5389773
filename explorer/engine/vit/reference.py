"""An independent ViT on ``torch.nn.MultiheadAttention``, laid out like torchvision's.

Not used by the app: it is the yardstick. Tests check the traced model
(:mod:`explorer.engine.vit.model`) against it, and ``benchmarks/bench_vit.py``
times it as the "plain forward". Its module tree mirrors
``torchvision.models.VisionTransformer``, so ``state_dict()`` has torchvision's
key names (``conv_proj``, ``class_token``, ``encoder.pos_embedding``,
``encoder.layers.encoder_layer_{i}.self_attention.in_proj_weight``, ``mlp.0`` /
``mlp.3``, ``encoder.ln``, ``heads.head``) — a torchvision-layout checkpoint
can be made without torchvision installed.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int, eps: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=eps)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0), nn.Linear(mlp_dim, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        y = self.ln_1(x)
        y, weights = self.self_attention(y, y, y, need_weights=need_weights, average_attn_weights=False)
        x = x + y
        return x + self.mlp(self.ln_2(x)), weights


class Encoder(nn.Module):
    def __init__(self, tokens: int, depth: int, dim: int, heads: int, mlp_dim: int, eps: float) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.layers = nn.Sequential(
            OrderedDict((f"encoder_layer_{i}", EncoderBlock(dim, heads, mlp_dim, eps)) for i in range(depth))
        )
        self.ln = nn.LayerNorm(dim, eps=eps)


class ReferenceViT(nn.Module):
    """torchvision-style ViT: ``forward(x, need_weights=False)`` → (logits, per-layer attention or [])."""

    def __init__(self, image_size: int = 224, patch_size: int = 16, dim: int = 768, depth: int = 12,
                 heads: int = 12, mlp_dim: int = 3072, num_classes: int = 1000, eps: float = 1e-6) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.conv_proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.encoder = Encoder((image_size // patch_size) ** 2 + 1, depth, dim, heads, mlp_dim, eps)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(dim, num_classes)))

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)  # (B, N, D)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.encoder.pos_embedding
        attentions = []
        for layer in self.encoder.layers:
            x, weights = layer(x, need_weights)
            if need_weights:
                attentions.append(weights)  # (B, heads, T, T)
        x = self.encoder.ln(x)
        return self.heads(x[:, 0]), attentions
