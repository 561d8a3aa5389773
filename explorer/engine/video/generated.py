"""Generated clips of one moving shape, for training and for "Generated example".

Every class is a *change over time*, never something one frame shows: a
single frame is one shape of some colour and size somewhere, whatever the
class. Direction needs two frames (motion); grow / shrink needs two sizes;
colour change needs two colours; and "bounce" looks exactly like a plain
move until the shape turns back, between frames 6 and 11 of 16, so a model
has to keep the early motion in mind to tell it from the later one. That is
what makes the belief visibly form as frames arrive.

Rendering is vectorised in torch (a whole batch of clips at once, anti-aliased
edges) and drawn only from the given ``torch.Generator``: same seed, same clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

#: Class names in label order.
CLASSES: tuple[str, ...] = (
    "moves right",
    "moves left",
    "moves down",
    "moves up",
    "grows",
    "shrinks",
    "bounces",
    "changes colour",
)

SHAPES: tuple[str, ...] = ("circle", "square", "diamond")

#: Defaults of the bundled models' data.
FRAME_SIZE = 48
FRAMES = 16


@dataclass
class ClipBatch:
    """A batch of generated clips."""

    frames: torch.Tensor  # (B, T, 3, S, S) float in [0, 1]
    labels: torch.Tensor  # (B,) int64 index into CLASSES

    def to_uint8(self) -> np.ndarray:
        """``(B, T, S, S, 3)`` uint8, the layout readers and writers use."""
        return (self.frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()


def _uniform(generator: torch.Generator, shape, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(...,) hue/saturation/value in [0, 1] → (..., 3) RGB in [0, 1]."""
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=-1)  # (..., 3)
    return v[..., None] - v[..., None] * s[..., None] * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def generate(
    batch_size: int,
    generator: torch.Generator,
    *,
    frames: int = FRAMES,
    size: int = FRAME_SIZE,
    labels: torch.Tensor | None = None,
    noise: float = 0.03,
) -> ClipBatch:
    """Draw ``batch_size`` clips (labels uniform unless given) from ``generator``.

    Args:
        frames: frames per clip (T ≥ 8 so that a bounce can turn).
        size: frame side S in pixels (the shape's scale follows it).
        labels: (B,) class indices to draw, or None for uniform classes.
        noise: standard deviation of the per-pixel noise.
    """
    if frames < 8:
        raise ValueError(f"clips need at least 8 frames (got {frames})")
    if size < 16:
        raise ValueError(f"frames need at least 16 × 16 pixels (got {size})")
    B, T, S = batch_size, frames, size
    g = generator
    if labels is None:
        labels = torch.randint(len(CLASSES), (B,), generator=g)
    labels = labels.long()
    if labels.shape != (B,):
        raise ValueError(f"labels must have shape ({B},), got {tuple(labels.shape)}")
    scale = S / 48.0  # geometry below is designed at 48 px and scaled
    t = torch.arange(T, dtype=torch.float32)  # (T,)

    # -- size over time: constant, or growing / shrinking by a factor 1.7–2.3
    radius0 = _uniform(g, (B,), 4.5, 8.0) * scale  # (B,)
    factor = _uniform(g, (B,), 1.7, 2.3)
    ramp = t / (T - 1)  # (T,) 0 → 1
    small = _uniform(g, (B,), 3.5, 5.0) * scale
    grow_r = small[:, None] * factor[:, None] ** ramp  # (B, T)
    shrink_r = grow_r.flip(1)
    radius = radius0[:, None].expand(B, T).clone()
    radius = torch.where((labels == 4)[:, None], grow_r, radius)
    radius = torch.where((labels == 5)[:, None], shrink_r, radius)
    max_r = radius.max(dim=1).values  # (B,)

    # -- motion: unit direction (dx, dy) and displacement along it over time
    speed = _uniform(g, (B,), 0.9, 1.5) * scale * 16 / T  # px per frame
    direction = torch.zeros(B, 2)
    direction[labels == 0] = torch.tensor([1.0, 0.0])
    direction[labels == 1] = torch.tensor([-1.0, 0.0])
    direction[labels == 2] = torch.tensor([0.0, 1.0])
    direction[labels == 3] = torch.tensor([0.0, -1.0])
    # a bounce moves along a random axis and sign, then turns back at frame k
    bounce_dirs = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    is_bounce = labels == 6
    direction[is_bounce] = bounce_dirs[torch.randint(4, (B,), generator=g)][is_bounce]
    turn = torch.randint(round(T * 0.35), round(T * 0.65) + 1, (B,), generator=g).float()  # (B,)
    travel = speed[:, None] * t[None, :]  # (B, T)
    bounced = speed[:, None] * torch.where(t[None, :] < turn[:, None], t[None, :], 2 * turn[:, None] - t[None, :])
    travel = torch.where(is_bounce[:, None], bounced, travel)
    travel = torch.where((labels >= 4)[:, None] & ~is_bounce[:, None], torch.zeros_like(travel), travel)
    offset = direction[:, None, :] * travel[..., None]  # (B, T, 2)

    # start so that the whole path stays inside the frame
    low = offset.min(dim=1).values  # (B, 2)
    high = offset.max(dim=1).values
    margin = max_r[:, None] + 1.0
    lo = margin - low
    hi = S - margin - high
    start = lo + (hi - lo).clamp(min=0) * torch.rand(B, 2, generator=g)  # (B, 2)
    centre = start[:, None, :] + offset  # (B, T, 2) x, y

    # -- colours: a saturated hue on a dark-to-mid grey background
    hue0 = torch.rand(B, generator=g)
    shift = _uniform(g, (B,), 0.3, 0.6) * torch.where(torch.rand(B, generator=g) < 0.5, -1.0, 1.0)
    hue = hue0[:, None] + torch.where((labels == 7)[:, None], shift[:, None] * ramp[None, :], torch.zeros(B, T))
    sat = _uniform(g, (B,), 0.65, 1.0)[:, None].expand(B, T)
    val = _uniform(g, (B,), 0.75, 1.0)[:, None].expand(B, T)
    colour = _hsv_to_rgb(hue % 1.0, sat, val)  # (B, T, 3)
    background = _uniform(g, (B,), 0.0, 0.35)  # (B,)

    # -- render with anti-aliased edges
    shape = torch.randint(len(SHAPES), (B,), generator=g)
    coords = torch.arange(S, dtype=torch.float32) + 0.5  # (S,)
    dx = coords[None, None, None, :] - centre[..., 0, None, None]  # (B, T, 1, S)
    dy = coords[None, None, :, None] - centre[..., 1, None, None]  # (B, T, S, 1)
    r = radius[..., None, None]  # (B, T, 1, 1)
    circle = torch.sqrt(dx**2 + dy**2) - r  # (B, T, S, S) signed distance
    square = torch.maximum(dx.abs(), dy.abs()) - r * 0.9
    diamond = (dx.abs() + dy.abs()) / math.sqrt(2) - r * 0.85
    sel = shape[:, None, None, None]
    distance = torch.where(sel == 0, circle, torch.where(sel == 1, square, diamond))
    alpha = (0.5 - distance).clamp(0, 1)[:, :, None]  # (B, T, 1, S, S)
    bg = background[:, None, None, None, None]
    frames_out = bg * (1 - alpha) + colour[..., None, None] * alpha  # (B, T, 3, S, S)
    if noise > 0:
        frames_out = frames_out + noise * torch.randn(frames_out.shape, generator=g)
    return ClipBatch(frames=frames_out.clamp(0, 1), labels=labels)


def example(label: int, seed: int = 0, *, frames: int = FRAMES, size: int = FRAME_SIZE) -> tuple[np.ndarray, int]:
    """One clip of class ``label`` as ``(T, S, S, 3)`` uint8 frames (for the panel's examples)."""
    if not 0 <= label < len(CLASSES):
        raise ValueError(f"class must be between 0 and {len(CLASSES) - 1} (got {label})")
    g = torch.Generator().manual_seed(int(seed))
    batch = generate(1, g, frames=frames, size=size, labels=torch.tensor([label]))
    return batch.to_uint8()[0], label
