"""Input sequences for the recurrent cells: an image read as a sequence, toy signals, text.

Every builder returns an :class:`InputSequence`: the values fed to the cell,
one row per time step (``(T, input_size)``), with labels for the steps and the
features and, for images, the small picture that was actually read (so the UI
can show the image with the current row or patch highlighted).

The two generated tasks the bundled models were trained on live here too, so
the training tasks (:mod:`explorer.engine.rnn.tasks`), the tests and the panel
draw exactly the same kind of data:

- :func:`memory_batch`: "remember the first symbol": one of 8 target symbols,
  then ``T`` distractor symbols with Gaussian noise (σ = 0.4) on every input.
- :func:`shape_batch`: small greyscale images of a circle, square, triangle or
  cross, read row by row (top to bottom) by a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

#: Longest sequence the panel builds (a step is cheap; the heatmap columns are not).
MAX_STEPS = 2000

# -- the memory task -------------------------------------------------------------------------
MEMORY_TARGETS = 8
MEMORY_DISTRACTORS = 8
MEMORY_INPUT = MEMORY_TARGETS + MEMORY_DISTRACTORS
MEMORY_NOISE = 0.4

# -- the shapes task -------------------------------------------------------------------------
SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
SHAPE_SIZE = 24


class SequenceError(ValueError):
    """An input sequence could not be built (empty text, zero length, bad size)."""


@dataclass
class InputSequence:
    """What a cell reads: ``values[t]`` is x_t."""

    values: np.ndarray  # (T, I) float64
    source: str  # "image_rows", "image_patches", "sine", "step", "noise", "memory", "shape", "text"
    description: str  # one line for the UI, says how the input was made
    step_labels: list[str] = field(default_factory=list)
    feature_labels: list[str] = field(default_factory=list)
    #: The picture that was read (greyscale, values in [0, 1]), for image sources.
    picture: np.ndarray | None = None  # (rows, cols)
    #: For image sources: (row0, col0, rows, cols) of the picture region read at each step.
    regions: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: Target class of a generated example (memory symbol, shape class), else None.
    target: int | None = None
    #: Named blocks of columns, (name, start, stop) in order, covering x_t: how its columns are grouped
    #: on screen (a real model's word embedding | attention context); empty: one block.
    parts: list[tuple[str, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.ndim != 2:
            raise SequenceError(f"a sequence must be (time steps, features), got shape {self.values.shape}")
        steps, features = self.values.shape
        if steps == 0:
            raise SequenceError("the sequence is empty: it needs at least one time step.")
        if features == 0:
            raise SequenceError("the sequence has no input features.")
        if not np.isfinite(self.values).all():
            raise SequenceError("the sequence holds NaN or infinite values.")
        if not self.step_labels:
            self.step_labels = [str(t + 1) for t in range(steps)]
        if not self.feature_labels:
            self.feature_labels = [f"x{j + 1}" for j in range(features)]
        edges = [start for _, start, _ in self.parts] + [self.parts[-1][2]] if self.parts else [0, features]
        if edges[0] != 0 or edges[-1] != features or any(b <= a for a, b in zip(edges, edges[1:])) or any(
            stop != start for (_, _, stop), (_, start, _) in zip(self.parts, self.parts[1:])
        ):
            raise SequenceError(f"the input parts must cover the {features} features in order, got {self.parts}")

    @property
    def length(self) -> int:
        return self.values.shape[0]

    @property
    def input_size(self) -> int:
        return self.values.shape[1]

    def fitted(self, input_size: int) -> InputSequence:
        """The same sequence with ``input_size`` features: zero-padded or cut, said in the description."""
        have = self.input_size
        if have == input_size:
            return self
        if input_size <= 0:
            raise SequenceError(f"input size must be at least 1 (got {input_size}).")
        values = np.zeros((self.length, input_size))
        keep = min(have, input_size)
        values[:, :keep] = self.values[:, :keep]
        how = f"padded with zeros from {have} to {input_size}" if have < input_size else f"cut from {have} to {input_size}"
        return InputSequence(
            values, self.source, f"{self.description} — features {how} to fit the model",
            list(self.step_labels), [f"x{j + 1}" for j in range(input_size)],
            self.picture, list(self.regions), self.target,
            [(name, a, min(b, keep)) for name, a, b in self.parts if a < keep]
            + ([("zero padding", have, input_size)] if have < input_size and self.parts else []),
        )


# -- images -----------------------------------------------------------------------------------
def _grey(image: Image.Image, width: int, height: int) -> np.ndarray:
    """Greyscale (luminance) resized with area averaging; values in [0, 1]. (height, width)"""
    small = image.convert("L").resize((width, height), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64) / 255.0


def image_rows(image: Image.Image, width: int = 32, max_rows: int = 64) -> InputSequence:
    """Read the image top to bottom, one row per step: x_t is row t of a small greyscale copy.

    The image is shrunk to ``width`` columns (keeping its aspect ratio, at most
    ``max_rows`` rows) and turned to grey, so that the input size stays small
    enough to read in the update rule.
    """
    if width < 1:
        raise SequenceError(f"row width must be at least 1 pixel (got {width}).")
    rows = int(round(image.height * width / max(image.width, 1)))
    rows = int(np.clip(rows, 1, max_rows))
    picture = _grey(image, width, rows)  # (rows, width)
    return InputSequence(
        picture.copy(), "image_rows",
        f"image rows, top to bottom: greyscale, shrunk to {width} × {rows} px → {rows} steps of {width} values",
        [f"row {t + 1}" for t in range(rows)], [f"col {j + 1}" for j in range(width)],
        picture, [(t, 0, 1, width) for t in range(rows)],
    )


def image_patches(image: Image.Image, patch: int = 6, grid: int = 8) -> InputSequence:
    """Read the image as ``grid × grid`` patches in raster order (left→right, top→bottom).

    The image is resized to a square of ``grid * patch`` pixels in grey; x_t
    is patch t flattened (``patch²`` values), the way a ViT cuts an image.
    """
    if patch < 1 or grid < 1:
        raise SequenceError("patch size and grid must be at least 1.")
    side = patch * grid
    picture = _grey(image, side, side)  # (side, side)
    blocks = picture.reshape(grid, patch, grid, patch).transpose(0, 2, 1, 3)  # (g, g, p, p)
    values = blocks.reshape(grid * grid, patch * patch)  # (T, p²)
    regions = [(r * patch, c * patch, patch, patch) for r in range(grid) for c in range(grid)]
    return InputSequence(
        values, "image_patches",
        f"image patches in raster order: greyscale {side} × {side} px cut into {grid} × {grid} patches "
        f"of {patch} × {patch} → {grid * grid} steps of {patch * patch} values",
        [f"patch ({r + 1},{c + 1})" for r in range(grid) for c in range(grid)],
        [f"px {j + 1}" for j in range(patch * patch)], picture, regions,
    )


# -- toy signals ----------------------------------------------------------------------------
def _check_length(steps: int) -> None:
    if not 1 <= steps <= MAX_STEPS:
        raise SequenceError(f"the number of steps must be between 1 and {MAX_STEPS} (got {steps}).")


def sine(steps: int = 60, period: float = 20.0, channels: int = 1) -> InputSequence:
    """sin(2πt/period), one channel per phase shift (channel k shifted by k/channels of a period)."""
    _check_length(steps)
    t = np.arange(steps)[:, None]  # (T, 1)
    phase = np.arange(channels)[None, :] / channels  # (1, C)
    values = np.sin(2 * np.pi * (t / period + phase))  # (T, C)
    return InputSequence(values, "sine", f"sine wave, period {period:g} steps, {channels} phase(s)")


def step_signal(steps: int = 60, at: int | None = None, channels: int = 1) -> InputSequence:
    """0 until step ``at`` (default: a third of the way), then 1: watch the state settle."""
    _check_length(steps)
    at = steps // 3 if at is None else at
    values = np.zeros((steps, channels))
    values[at:] = 1.0
    return InputSequence(values, "step", f"step from 0 to 1 at t = {at + 1}")


def noise(steps: int = 60, channels: int = 1, seed: int = 0) -> InputSequence:
    """Gaussian white noise (σ = 1), reproducible from ``seed``."""
    _check_length(steps)
    values = np.random.default_rng(seed).standard_normal((steps, channels))
    return InputSequence(values, "noise", f"Gaussian noise σ = 1, seed {seed}")


def text(characters: str, alphabet: str | None = None) -> InputSequence:
    """One step per character, one-hot over ``alphabet`` (default: the text's own characters, sorted)."""
    if not characters:
        raise SequenceError("type some text first: an empty text is an empty sequence.")
    _check_length(len(characters))
    symbols = alphabet if alphabet is not None else "".join(sorted(set(characters)))
    index = {ch: i for i, ch in enumerate(symbols)}
    missing = sorted(set(characters) - set(index))
    if missing:
        raise SequenceError(f"characters not in the alphabet: {''.join(missing)!r}")
    values = np.zeros((len(characters), len(symbols)))
    values[np.arange(len(characters)), [index[ch] for ch in characters]] = 1.0
    shown = [repr(ch)[1:-1] if ch.strip() else "␣" for ch in symbols]
    return InputSequence(
        values, "text", f"text, one-hot over {len(symbols)} characters",
        [f"{t + 1} {repr(ch)[1:-1] if ch.strip() else '␣'}" for t, ch in enumerate(characters)], shown,
    )


# -- the memory task ------------------------------------------------------------------------------
def memory_batch(
    batch: int, distractors: int, generator: torch.Generator, *, noise_std: float = MEMORY_NOISE
) -> tuple[torch.Tensor, torch.Tensor]:
    """"Remember the first symbol": x (B, 1 + T, 16) and the target symbol (B,).

    Step 0 is a clean one-hot target symbol (0–7); steps 1…T are one-hot
    distractors (8–15) with Gaussian noise of ``noise_std`` on every input. The
    noise is what defeats the vanilla RNN: without it, it learns to hold its
    state as easily as the gated cells (CALIBRATION.md).
    """
    targets = torch.randint(0, MEMORY_TARGETS, (batch,), generator=generator)  # (B,)
    steps = 1 + distractors
    x = torch.zeros(batch, steps, MEMORY_INPUT)  # (B, T+1, 16)
    x[torch.arange(batch), 0, targets] = 1.0
    if distractors:
        symbols = torch.randint(MEMORY_TARGETS, MEMORY_INPUT, (batch, distractors), generator=generator)
        rest = torch.nn.functional.one_hot(symbols, MEMORY_INPUT).float()  # (B, T, 16)
        rest += noise_std * torch.randn(batch, distractors, MEMORY_INPUT, generator=generator)
        x[:, 1:] = rest
    return x, targets


def memory_sequence(distractors: int = 30, seed: int = 0) -> InputSequence:
    """One example of the memory task as a sequence for the panel."""
    _check_length(distractors + 1)
    generator = torch.Generator().manual_seed(seed)
    x, target = memory_batch(1, distractors, generator)
    symbol = int(target[0])
    labels = [f"1 target {symbol + 1}"] + [f"{t + 2} distractor" for t in range(distractors)]
    features = [f"target {k + 1}" for k in range(MEMORY_TARGETS)] + [f"distr. {k + 1}" for k in range(MEMORY_DISTRACTORS)]
    return InputSequence(
        x[0].double().numpy(), "memory",
        f"remember the first symbol: target {symbol + 1} of 8, then {distractors} noisy distractors (σ = {MEMORY_NOISE})",
        labels, features, target=symbol,
        parts=[("target symbol", 0, MEMORY_TARGETS), ("distractor", MEMORY_TARGETS, MEMORY_INPUT)],
    )


# -- the shapes task ----------------------------------------------------------------------------
def shape_batch(
    batch: int, generator: torch.Generator, *, size: int = SHAPE_SIZE, classes: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greyscale images (B, size, size) in [0, 1] of one filled shape each, and the labels (B,).

    Random centre, radius (a fifth to two fifths of the side), brightness and
    background noise, so the classifier must read the outline, not a template.
    """
    if classes is None:
        classes = torch.randint(0, len(SHAPE_CLASSES), (batch,), generator=generator)
    u = lambda low, high: low + (high - low) * torch.rand(batch, 1, 1, generator=generator)  # noqa: E731
    radius = u(size * 0.2, size * 0.4)  # (B, 1, 1)
    cx = u(0, 1) * (size - 2 * radius) + radius
    cy = u(0, 1) * (size - 2 * radius) + radius
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = coords.view(1, size, 1), coords.view(1, 1, size)
    dx, dy = xs - cx, ys - cy  # (B, size, size)
    circle = dx**2 + dy**2 <= radius**2
    square = (dx.abs() <= radius * 0.85) & (dy.abs() <= radius * 0.85)
    triangle = (dy >= -radius) & (dy <= radius) & (dx.abs() <= (dy + radius) / 2)
    arm = radius / 3
    cross = ((dx.abs() <= arm) & (dy.abs() <= radius)) | ((dy.abs() <= arm) & (dx.abs() <= radius))
    masks = torch.stack([circle, square, triangle, cross], dim=1).float()  # (B, 4, size, size)
    mask = masks[torch.arange(batch), classes]  # (B, size, size)
    brightness = u(0.6, 1.0)
    background = u(0.0, 0.25)
    images = background + (brightness - background) * mask
    images = images + 0.08 * torch.randn(batch, size, size, generator=generator)
    return images.clamp(0.0, 1.0), classes


def shape_sequence(shape: int = 0, seed: int = 0) -> InputSequence:
    """One generated shape image read row by row (the shapes classifier's task)."""
    if not 0 <= shape < len(SHAPE_CLASSES):
        raise SequenceError(f"shape must be 0–{len(SHAPE_CLASSES) - 1} (got {shape}).")
    generator = torch.Generator().manual_seed(seed)
    images, _ = shape_batch(1, generator, classes=torch.tensor([shape]))
    picture = images[0].double().numpy()  # (size, size)
    return InputSequence(
        picture.copy(), "shape",
        f"generated {SHAPE_CLASSES[shape]}, {SHAPE_SIZE} × {SHAPE_SIZE} px, read row by row",
        [f"row {t + 1}" for t in range(SHAPE_SIZE)], [f"col {j + 1}" for j in range(SHAPE_SIZE)],
        picture, [(t, 0, 1, SHAPE_SIZE) for t in range(SHAPE_SIZE)], target=shape,
    )
