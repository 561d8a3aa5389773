"""A Vision Transformer written out step by step, whose trace keeps every intermediate.

patchify → linear embedding → special tokens in front ([CLS], [DIST], registers)
→ + position embeddings → (CLIP's ln_pre) → pre-norm encoder blocks → final
norm → pooling → head(s). One model for every family; :class:`ViTConfig` says
which optional parts a checkpoint has.

The parameter names follow timm's ``VisionTransformer`` (``patch_embed.proj``,
``cls_token``, ``dist_token``, ``reg_token``, ``pos_embed``, ``norm_pre``,
``blocks.{i}.attn.qkv``, ``mlp.fc1``, ``ls1.gamma``, ``norm``, ``fc_norm``,
``attn_pool.*``, ``head``, ``head_dist``) plus ``embed_proj`` for CLIP's
projection: that is the one internal layout; :mod:`explorer.engine.vit.layouts`
maps the others onto it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from explorer.engine.vit.blocks import AttentionPool, Block, PatchEmbed
from explorer.engine.vit.config import IMAGENET_MEAN, IMAGENET_STD, TokenLayout, ViTConfig
from explorer.engine.vit.resample import resample_grid
from explorer.engine.vit.trace import AttentionMaps, ViTTrace

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "VisionTransformer", "ViTConfig", "ViTTrace"]


class VisionTransformer(nn.Module):
    """The ViT; :meth:`trace` returns a :class:`ViTTrace`, :meth:`forward` only the logits (training)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        d = config.dim
        self.patch_embed = PatchEmbed(config)
        if config.class_token:
            self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        if config.distillation_token:
            self.dist_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        if config.registers:
            self.reg_token = nn.Parameter(torch.randn(1, config.registers, d) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, config.pos_prefix + config.grid**2, d) * 0.02)
        self.norm_pre = nn.LayerNorm(d, eps=config.eps) if config.norm_pre else nn.Identity()
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d, eps=config.eps) if config.final_norm else nn.Identity()
        self.fc_norm = nn.LayerNorm(d, eps=config.eps) if config.fc_norm else nn.Identity()
        if config.pool == "map":
            self.attn_pool = AttentionPool(config)
        width = 2 * d if config.pool == "cls_avg" else d
        if config.num_classes:
            self.head = nn.Linear(width, config.num_classes, bias=config.head_bias)
            if config.distillation_token:
                self.head_dist = nn.Linear(d, config.num_classes, bias=config.head_bias)
        if config.projection:
            self.embed_proj = nn.Linear(d, config.projection, bias=False)

    # -- the steps ---------------------------------------------------------------------------------
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
        """(1, P0 + N, D) for a gh×gw grid: the learned table, resampled by the family's rule if the grid differs."""
        pos = self.pos_embed
        lead = self.config.pos_prefix
        side = math.isqrt(pos.shape[1] - lead)
        if tuple(grid) == (side, side):
            return pos
        patch_pos = resample_grid(pos[:, lead:], (side, side), tuple(grid), self.config.pos_interpolation)
        return torch.cat([pos[:, :lead], patch_pos], dim=1)  # (1, P0 + N, D)

    def assemble(self, embedded: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """[CLS] [DIST] [REG…] patches, with position embeddings where the family has them: (B, T, D)."""
        cfg, b = self.config, embedded.shape[0]
        lead = []
        if cfg.class_token:
            lead.append(self.cls_token.expand(b, -1, -1))
        if cfg.distillation_token:
            lead.append(self.dist_token.expand(b, -1, -1))
        front = torch.cat(lead, dim=1) if lead else embedded[:, :0]  # (B, S₀, D)
        if cfg.pos_prefix:
            front = front + pos[:, : cfg.pos_prefix]
        parts = [front]
        if cfg.registers:  # registers sit after CLS / DIST and have no position embedding (dinov2 #90)
            parts.append(self.reg_token.expand(b, -1, -1))
        parts.append(embedded + pos[:, cfg.pos_prefix :])  # (B, N, D)
        return torch.cat(parts, dim=1)  # (B, T, D)

    def _check_pixels(self, pixels: torch.Tensor) -> tuple[int, int]:
        if pixels.ndim != 4 or pixels.shape[1] != self.config.channels:
            raise ValueError(f"pixels must be (B, {self.config.channels}, H, W); got shape {tuple(pixels.shape)}")
        p = self.config.patch_size
        gh, gw = pixels.shape[2] // p, pixels.shape[3] // p
        if gh < 1 or gw < 1:
            raise ValueError(f"the input ({pixels.shape[2]}×{pixels.shape[3]}) is smaller than one {p}×{p} patch")
        return gh, gw

    def read_out(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Final norm, pooling and heads: ``(features (B, D), logits (B, K), pool weights, embedding)``."""
        cfg = self.config
        x = self.norm(x)  # (B, T, D)
        leading = len(cfg.special_tokens)
        pool_weights = None
        if cfg.pool == "cls":
            features = x[:, 0]
        elif cfg.pool == "avg":
            features = x[:, leading:].mean(dim=1)
        elif cfg.pool == "cls_avg":
            features = torch.cat([x[:, 0], x[:, leading:].mean(dim=1)], dim=-1)  # (B, 2D)
        else:
            features, pool_weights = self.attn_pool(x)
        features = self.fc_norm(features)
        if cfg.num_classes:
            logits = self.head(features)  # (B, K)
            if cfg.distillation_token:  # DeiT at inference: the mean of the class and distillation heads
                logits = (logits + self.head_dist(x[:, 1])) / 2
        else:
            logits = features[:, :0]  # (B, 0)
        embedding = self.embed_proj(features) if cfg.projection else None  # (B, E)
        return features, logits, pool_weights, embedding

    def _embed(self, pixels: torch.Tensor):
        gh, gw = self._check_pixels(pixels)
        p = self.config.patch_size
        pixels = pixels[:, :, : gh * p, : gw * p]
        embedded = self.embed_patches(pixels)  # (B, N, D)
        pos = self.position_embeddings((gh, gw))  # (1, P0 + N, D)
        return pixels, (gh, gw), embedded, pos, self.assemble(embedded, pos)  # sequence (B, T, D)

    def encoder_input(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, D): what the first block reads — patches embedded, special tokens in front, positions, pre-norm."""
        return self.norm_pre(self._embed(pixels)[-1])

    def check_head_mask(self, head_mask: torch.Tensor | None) -> torch.Tensor | None:
        """``head_mask`` as a float tensor on the model's device, checked to be (depth, heads) or (B, depth, heads)."""
        if head_mask is None:
            return None
        shape = (self.config.depth, self.config.heads)
        if head_mask.ndim not in (2, 3) or tuple(head_mask.shape[-2:]) != shape:
            raise ValueError(f"a head mask must be (depth, heads) = {shape} or (B, {shape[0]}, {shape[1]}); "
                             f"got {tuple(head_mask.shape)}")
        return head_mask.to(self.pos_embed.device, torch.float32)

    def run_blocks(self, x: torch.Tensor, start: int = 0, *, head_mask: torch.Tensor | None = None,
                   weights: list[torch.Tensor] | None = None, tokens: list[torch.Tensor] | None = None,
                   kept: list | None = None) -> torch.Tensor:
        """Blocks ``start``… on ``x`` (B, T, D), the input of block ``start``; returns the last block's output.

        ``head_mask`` (depth, heads) or (B, depth, heads) scales each head's output before its
        layer's projection (0 switches a head off). The lists, when given, receive each block's
        attention weights (written-out path, inside the autograd graph), output tokens and (q, k, v).
        """
        for i in range(start, len(self.blocks)):
            mask = None if head_mask is None else head_mask[..., i, :]
            x, qkv = self.blocks[i](x, kept is not None, mask, weights)
            if tokens is not None:
                tokens.append(x)
            if kept is not None:
                kept.append(qkv)
        return x

    def _encode(self, pixels: torch.Tensor, keep: bool, head_mask: torch.Tensor | None = None):
        pixels, grid, embedded, pos, sequence = self._embed(pixels)
        x = self.norm_pre(sequence)
        tokens, kept = [x], []
        x = self.run_blocks(x, head_mask=self.check_head_mask(head_mask), tokens=tokens if keep else None,
                            kept=kept if keep else None)
        return pixels, grid, embedded, pos, sequence, tokens, kept, self.read_out(x)

    def forward(self, pixels: torch.Tensor, head_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, H, W) → logits (B, K); nothing is kept. ``head_mask``: see :meth:`run_blocks`."""
        return self._encode(pixels, keep=False, head_mask=head_mask)[-1][1]

    @torch.no_grad()
    def trace(self, pixels: torch.Tensor, head_mask: torch.Tensor | None = None) -> ViTTrace:
        """Run one image (1, C, H, W) and keep every intermediate, on the CPU; H, W need not be the trained size.

        ``head_mask`` (depth, heads): heads at 0 are switched off (their output zeroed before the projection).
        """
        if pixels.ndim == 4 and pixels.shape[0] != 1:
            raise ValueError(f"trace takes one image, shape (1, C, H, W); got batch of {pixels.shape[0]}")
        if head_mask is not None and head_mask.ndim != 2:
            raise ValueError(f"trace takes one head mask (depth, heads); got shape {tuple(head_mask.shape)}")
        device = next(self.parameters()).device
        head_mask = self.check_head_mask(head_mask)
        pixels, grid, embedded, pos, sequence, tokens, kept, out = self._encode(pixels.to(device), True, head_mask)
        features, logits, pool_weights, embedding = out

        def cpu(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.detach().to("cpu", torch.float32)

        queries = [cpu(q[0]) for q, _, _ in kept]  # (h, T, d_h) each
        keys = [cpu(k[0]) for _, k, _ in kept]
        layout = TokenLayout(self.config.special_tokens, grid, self.config.depth, self.config.heads)
        pixels = cpu(pixels)
        return ViTTrace(
            pixels=pixels,
            grid=grid,
            patch_size=self.config.patch_size,
            layout=layout,
            patches=self.patchify(pixels)[0],
            patch_embeddings=cpu(embedded[0]),
            pos_embed=cpu(pos[0]),
            sequence=cpu(sequence[0]),
            tokens=[cpu(t[0]) for t in tokens],
            queries=queries,
            keys=keys,
            values=[cpu(v[0]) for _, _, v in kept],
            attentions=AttentionMaps(queries, keys, self.config.head_dim**-0.5),
            logits=cpu(logits),
            features=cpu(features),
            pool_attention=cpu(pool_weights[0]) if pool_weights is not None else None,
            embedding=cpu(embedding),
            device=str(device),
            head_mask=cpu(head_mask),
        )
