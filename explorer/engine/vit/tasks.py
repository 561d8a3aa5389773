"""The bundled small ViT's task: where is the red shape relative to the blue one?

Each generated 64×64 scene holds a red and a blue shape (circle, square or
triangle, random sizes and shades) on a noisy background, plus up to two
grey-green distractors. The label compares the two positions — red left or
right of blue × above or below — giving 4 classes. A label that *compares*
positions is what makes the learned position embeddings smooth in 2-D
(CALIBRATION.md: a categorical region label leaves them unordered).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from explorer.engine.training.loop import SnapshotView, TrainConfig, TrainTask
from explorer.engine.vit.config import ViTConfig
from explorer.engine.vit.model import VisionTransformer

IMAGE_SIZE = 64
CLASS_NAMES = [
    "red is left of and above blue",
    "red is left of and below blue",
    "red is right of and above blue",
    "red is right of and below blue",
]
SHAPES = ("circle", "square", "triangle")
#: Shape centres differ by at least this many pixels in x and in y, so every label is unambiguous.
MIN_OFFSET = 6


def bundled_config() -> ViTConfig:
    return ViTConfig(
        image_size=IMAGE_SIZE,
        patch_size=8,
        dim=96,
        depth=4,
        heads=4,
        mlp_dim=192,
        num_classes=len(CLASS_NAMES),
        eps=1e-6,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        crop_pct=1.0,
        resample="bilinear",
        source="bundled",
        class_names=list(CLASS_NAMES),
    )


def _draw(kind: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, r: torch.Tensor, size: int) -> torch.Tensor:
    """Masks (B, S, S) of one shape per scene; ``kind`` 0 circle, 1 square, 2 triangle."""
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    y, x = coords.view(1, -1, 1), coords.view(1, 1, -1)  # (1, S, 1), (1, 1, S)
    cx, cy, r = cx.view(-1, 1, 1), cy.view(-1, 1, 1), r.view(-1, 1, 1)
    dx, dy = x - cx, y - cy  # (B, S, S)
    circle = dx**2 + dy**2 <= r**2
    square = (dx.abs() <= r * 0.85) & (dy.abs() <= r * 0.85)
    triangle = (dy >= -r) & (dy <= r) & (dx.abs() <= (dy + r) * 0.55)
    k = kind.view(-1, 1, 1)
    return torch.where(k == 0, circle, torch.where(k == 1, square, triangle))


def generate_scenes(batch: int, generator: torch.Generator, size: int = IMAGE_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images (B, 3, S, S) in [0, 1] on the 1/255 grid, labels (B,))``."""
    g = generator

    def uniform(low: float, high: float, n: int = batch) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=g)

    background = uniform(0.05, 0.45).view(-1, 1, 1, 1) + 0.15 * (torch.rand(batch, 3, 1, 1, generator=g) - 0.5)
    images = background + 0.06 * torch.randn(batch, 3, size, size, generator=g)  # (B, 3, S, S)
    # Two distractors first, so the coloured shapes are drawn over them.
    for _ in range(2):
        present = torch.rand(batch, generator=g) < 0.5
        mask = _draw(torch.randint(0, 3, (batch,), generator=g), uniform(4, size - 4), uniform(4, size - 4), uniform(3, 7), size)
        mask &= present.view(-1, 1, 1)
        colour = torch.stack([uniform(0.3, 0.6), uniform(0.55, 0.9), uniform(0.3, 0.6)], 1)  # greenish
        images = torch.where(mask.unsqueeze(1), colour.view(-1, 3, 1, 1), images)
    radius_red, radius_blue = uniform(4, 9), uniform(4, 9)
    low, high = 9.0, size - 9.0
    red_x, red_y, blue_x, blue_y = (uniform(low, high) for _ in range(4))
    for _ in range(40):  # redraw blue until both offsets reach MIN_OFFSET (rejection sampling)
        bad = ((red_x - blue_x).abs() < MIN_OFFSET) | ((red_y - blue_y).abs() < MIN_OFFSET)
        new_x, new_y = uniform(low, high), uniform(low, high)
        blue_x, blue_y = torch.where(bad, new_x, blue_x), torch.where(bad, new_y, blue_y)
    for red, blue in ((red_x, blue_x), (red_y, blue_y)):  # practically never needed
        still = (blue - red).abs() < MIN_OFFSET
        blue.copy_(torch.where(still, red + torch.where(red < size / 2, 1.0, -1.0) * MIN_OFFSET, blue))
    red_colour = torch.stack([uniform(0.75, 1.0), uniform(0.0, 0.25), uniform(0.0, 0.25)], 1)
    blue_colour = torch.stack([uniform(0.0, 0.25), uniform(0.1, 0.4), uniform(0.75, 1.0)], 1)
    red_on_top = (torch.rand(batch, generator=g) < 0.5).view(-1, 1, 1)
    red_mask = _draw(torch.randint(0, 3, (batch,), generator=g), red_x, red_y, radius_red, size)
    blue_mask = _draw(torch.randint(0, 3, (batch,), generator=g), blue_x, blue_y, radius_blue, size)
    for mask, colour in ((red_mask, red_colour), (blue_mask, blue_colour), (red_mask & red_on_top, red_colour)):
        images = torch.where(mask.unsqueeze(1), colour.view(-1, 3, 1, 1), images)
    images = (images.clamp(0, 1) * 255).round() / 255
    right = (red_x > blue_x).long()
    below = (red_y > blue_y).long()  # image y grows downward
    return images, right * 2 + below


def render_scene(seed: int) -> tuple[Image.Image, int]:
    """One generated scene as an RGB PIL image (the panel's sample button) and its label."""
    generator = torch.Generator().manual_seed(int(seed))
    images, labels = generate_scenes(1, generator)
    array = (images[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)  # (S, S, 3)
    return Image.fromarray(array, mode="RGB"), int(labels[0])


def normalise(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] → the bundled model's input range (mean 0.5, std 0.5, as its preprocess does)."""
    return (images - 0.5) / 0.5


class ViTPositionsTask(TrainTask):
    """Train the bundled ViT on :func:`generate_scenes` with cross-entropy."""

    max_batch_size = 1024  # about 1.6 MB per image while training (measured): ≤ 2 GB
    description = ("Generated 64 × 64 scenes with a red and a blue shape: say whether red is left or right "
                   "of blue, and above or below it (4 classes).")

    name = "vit-shapes"
    title = "ViT: where is red relative to blue?"

    def __init__(self, config: ViTConfig | None = None) -> None:
        self.config = config or bundled_config()

    def model_config(self) -> dict[str, Any]:
        return self.config.to_dict()

    def build_model(self) -> nn.Module:
        return VisionTransformer(self.config)

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = generate_scenes(batch_size, generator)
        return normalise(images), labels

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, float]:
        pixels, labels = batch
        logits = model(pixels)  # (B, 4)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(-1) == labels).float().mean().item()
        return loss, accuracy

    def snapshot_view(self, model: nn.Module) -> SnapshotView:
        """The position embeddings' similarity grid of grids, and how 2-D it is (ρ)."""
        from explorer.engine.vit.analysis import grid_of_grids, position_locality, position_similarity

        grid = (self.config.grid, self.config.grid)
        pos_embed = model.pos_embed[0]  # (N + 1, D)
        tiles = grid_of_grids(position_similarity(pos_embed), grid)  # NaN between tiles
        rho = position_locality(pos_embed, grid)
        return SnapshotView("Position-embedding cosine similarity", f"ρ = {rho:.2f}", np.nan_to_num(tiles, nan=0.0))


TRAIN_TASKS = {"vit-shapes": ViTPositionsTask}
TRAIN_DEFAULTS = {
    "vit-shapes": TrainConfig(
        steps=1600, batch_size=64, lr=1.5e-3, seed=0, weight_decay=0.05, warmup_steps=100,
        schedule="cosine", clip_grad=1.0, report_every=50,
    ),
}
