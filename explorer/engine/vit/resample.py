"""Position embeddings resampled to another grid, by each family's own rule.

A model learned its table for one M×M grid; another input size needs a gh×gw
one. Every library interpolates bicubically, but not alike, and the differences
show in the logits (PITFALLS.md: 6.8e-3 between the timm and the Hugging Face
way at 160×192 for a ViT-S/16, 1.4–2.7e-2 at 48×40):

* ``bicubic``: ``F.interpolate(size=grid)`` — transformers' ViT, DeiT, DINOv2, CLIP, SigLIP.
* ``bicubic-antialias``: the same with antialiasing — timm (``resample_abs_pos_embed``),
  transformers' DINOv2 with registers, OpenCLIP (``resize_pos_embed``).
* ``bicubic-offset``: DINO and DINOv2's repositories — ``scale_factor = (g + 0.1) / M``
  (their ``interpolate_offset``, dino #8), so the kernel is sampled at a slightly other scale.
* ``bicubic-corners``: torchvision's ``interpolate_embeddings`` (``align_corners=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Rule:
    whose: str  # how, and which libraries do so, for the model's notes
    antialias: bool = False
    align_corners: bool = False
    offset: float = 0.0  # > 0: DINO's scale_factor = (g + offset) / M instead of an output size


RULES: dict[str, Rule] = {
    "bicubic": Rule("bicubically (as transformers does)"),
    "bicubic-antialias": Rule("bicubically with antialiasing (as timm and OpenCLIP do)", antialias=True),
    "bicubic-offset": Rule("bicubically at scale (g + 0.1) / M (as DINO and DINOv2 do)", offset=0.1),
    "bicubic-corners": Rule("bicubically with align_corners (as torchvision does)", align_corners=True),
}


def resample_grid(table: torch.Tensor, old: tuple[int, int], new: tuple[int, int], rule: str) -> torch.Tensor:
    """(1, M·M', D) patch position embeddings → (1, gh·gw, D) by ``rule``; the same table if the grid is the same."""
    if tuple(new) == tuple(old):
        return table
    how = RULES[rule]
    d = table.shape[-1]
    grid = table.float().reshape(1, old[0], old[1], d).permute(0, 3, 1, 2)  # (1, D, M, M')
    if how.offset:
        scale = ((new[0] + how.offset) / old[0], (new[1] + how.offset) / old[1])
        out = F.interpolate(grid, scale_factor=scale, mode="bicubic", align_corners=how.align_corners,
                            antialias=how.antialias)  # (1, D, gh, gw)
    else:
        out = F.interpolate(grid, size=tuple(new), mode="bicubic", align_corners=how.align_corners,
                            antialias=how.antialias)  # (1, D, gh, gw)
    if tuple(out.shape[-2:]) != tuple(new):  # the offset rule floors M·scale; it must land on the grid
        raise ValueError(f"resampling {old} to {new} by {rule!r} gave {tuple(out.shape[-2:])}")
    return out.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], d).to(table.dtype)  # (1, N, D)
