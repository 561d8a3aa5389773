"""Generated scenes for the captioners: coloured shapes, a caption, and where each object is.

A scene holds 1–3 shapes (circle, square, triangle, cross) of distinct colours
and varied sizes on a varied background (flat, gradient or noisy, always of low
saturation so no background can be mistaken for a shape colour). Its caption
names the objects from left to right, each in one phrase, joined by the
relation between neighbours::

    a red circle left of a blue square above a green cross

Because every object is named in one phrase ("a red circle"), each colour and
shape word belongs to exactly one object, whose ground-truth box the scene
records: that is what lets :mod:`explorer.engine.captioning.metrics` measure
whether a captioner's attention *points* at the object it names.

Relations are unambiguous by construction: neighbours are at least
``MIN_GAP`` apart along x, and the larger of |dx| and |dy| exceeds the
smaller by at least ``MIN_GAP`` ("left of" when |dx| wins, else "above" /
"below"). Everything is drawn from a seed: the same seed gives the same scene.
Training and validation scenes come from disjoint seed streams (:func:`split_seed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 165, 60),
    "blue": (45, 85, 225),
    "yellow": (235, 205, 35),
    "purple": (150, 60, 200),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
RELATIONS: tuple[str, ...] = ("left of", "above", "below")

#: Object side, as a fraction of the image side (the model's grid cell is 1/8).
MIN_SIZE, MAX_SIZE = 0.17, 0.32
#: Smallest separation (fraction of the side) that keeps order and relation unambiguous.
MIN_GAP = 0.07
#: Colour jitter (± per channel) so colours are categories, not single values.
COLOUR_JITTER = 18

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    #: Centre and side in [0, 1] image units.
    cx: float
    cy: float
    size: float
    rgb: tuple[int, int, int]

    def box(self, image_size: int) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` in pixels, end-exclusive: the pixels the shape may cover."""
        half = self.size / 2
        x0 = int(np.floor((self.cx - half) * image_size))
        y0 = int(np.floor((self.cy - half) * image_size))
        x1 = int(np.ceil((self.cx + half) * image_size))
        y1 = int(np.ceil((self.cy + half) * image_size))
        return max(x0, 0), max(y0, 0), min(x1, image_size), min(y1, image_size)


@dataclass
class Scene:
    image: Image.Image  # RGB, size × size
    objects: list[SceneObject]  # left to right, in caption order
    words: list[str]
    #: For each word, the index of the object it names (colour and shape words) or -1.
    word_objects: list[int]
    #: For each word, "colour", "shape" or "" (other words).
    word_kinds: list[str]
    seed: int = 0
    background: np.ndarray = field(default=None, repr=False)  # (H, W, 3) uint8, without shapes

    @property
    def caption(self) -> str:
        return " ".join(self.words)

    @property
    def size(self) -> int:
        return self.image.width

    def boxes(self) -> list[tuple[int, int, int, int]]:
        return [obj.box(self.size) for obj in self.objects]


def split_seed(split: str, index: int) -> int:
    """Seed of scene ``index`` in ``split``: disjoint streams, so splits never share a scene."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (got {split!r})")
    if index < 0:
        raise ValueError(f"scene index must be ≥ 0 (got {index})")
    return SPLITS.index(split) * 1_000_000_007 + index * 7 + 12345


def vocabulary_words() -> list[str]:
    """Every word a caption can contain, in a fixed order."""
    words = ["a"] + list(COLOURS) + list(SHAPES)
    for relation in RELATIONS:
        for word in relation.split():
            if word not in words:
                words.append(word)
    return words


def generate(seed: int, *, size: int = 64, n_objects: int | None = None, supersample: int = 2) -> Scene:
    """One scene drawn from ``seed`` (an int), rendered at ``size`` × ``size`` pixels.

    ``supersample`` renders at a multiple of ``size`` and averages, giving soft
    edges like a photo resized down (the way the app feeds larger images in).
    """
    if not 16 <= size <= 4096:
        raise ValueError(f"scene size must be between 16 and 4096 pixels (got {size})")
    if n_objects is not None and not 1 <= n_objects <= 3:
        raise ValueError(f"a scene holds 1 to 3 objects (got {n_objects})")
    rng = np.random.default_rng(seed)
    count = int(n_objects or rng.integers(1, 4))
    objects = _place_objects(rng, count)
    background = _background(rng, size)
    image = _render(objects, background, size, supersample)
    words, owners, kinds = _caption(objects)
    return Scene(Image.fromarray(image), objects, words, owners, kinds, seed=seed, background=background)


def generate_batch(seeds, *, size: int = 64) -> list[Scene]:
    return [generate(int(seed), size=size) for seed in seeds]


# -- placement ---------------------------------------------------------------------------------
def _place_objects(rng: np.random.Generator, count: int) -> list[SceneObject]:
    for _attempt in range(200):
        sizes = rng.uniform(MIN_SIZE, MAX_SIZE, count)
        centres = [rng.uniform(s / 2 + 0.02, 1 - s / 2 - 0.02, 2) for s in sizes]
        order = np.argsort([c[0] for c in centres])
        sizes = sizes[order]
        centres = [centres[i] for i in order]
        if _valid_layout(centres, sizes):
            break
    else:  # pragma: no cover - 200 failures in a row are practically impossible
        raise RuntimeError("could not place the objects")
    colours = rng.choice(list(COLOURS), size=count, replace=False)
    shapes = rng.choice(SHAPES, size=count, replace=True)
    objects = []
    for (cx, cy), side, colour, shape in zip(centres, sizes, colours, shapes):
        base = np.array(COLOURS[str(colour)])
        rgb = np.clip(base + rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3), 0, 255)
        objects.append(SceneObject(str(shape), str(colour), float(cx), float(cy), float(side), tuple(int(v) for v in rgb)))
    return objects


def _valid_layout(centres, sizes) -> bool:
    n = len(centres)
    for i in range(n):
        for j in range(i + 1, n):
            dx = abs(centres[j][0] - centres[i][0])
            dy = abs(centres[j][1] - centres[i][1])
            reach = (sizes[i] + sizes[j]) / 2 + 0.03
            if dx < reach and dy < reach:  # boxes (plus a margin) overlap
                return False
            if dx < MIN_GAP:  # left-to-right order must be clear
                return False
    for i in range(n - 1):  # relation between neighbours must be clear
        dx = abs(centres[i + 1][0] - centres[i][0])
        dy = abs(centres[i + 1][1] - centres[i][1])
        if abs(dx - dy) < MIN_GAP:
            return False
    return True


def relation(left: SceneObject, right: SceneObject) -> str:
    """How ``left`` (the object further left) stands to ``right``."""
    dx = right.cx - left.cx
    dy = right.cy - left.cy
    if dx >= abs(dy):
        return "left of"
    return "above" if dy > 0 else "below"


def _caption(objects: list[SceneObject]) -> tuple[list[str], list[int], list[str]]:
    words: list[str] = []
    owners: list[int] = []
    kinds: list[str] = []
    for index, obj in enumerate(objects):
        if index > 0:
            for word in relation(objects[index - 1], obj).split():
                words.append(word)
                owners.append(-1)
                kinds.append("")
        words += ["a", obj.colour, obj.shape]
        owners += [-1, index, index]
        kinds += ["", "colour", "shape"]
    return words, owners, kinds


# -- drawing ------------------------------------------------------------------------------------
def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8 of low saturation: flat, a gradient, or noise."""
    kind = rng.integers(0, 3)
    level = rng.uniform(0.08, 0.95)
    tint = rng.uniform(-0.06, 0.06, 3)
    base = np.clip(level + tint, 0, 1)  # (3,)
    if kind == 0:
        image = np.broadcast_to(base, (size, size, 3)).copy()
    elif kind == 1:
        angle = rng.uniform(0, 2 * np.pi)
        span = rng.uniform(0.15, 0.45)
        ramp = np.linspace(-0.5, 0.5, size)
        gx, gy = np.meshgrid(ramp, ramp)
        t = (np.cos(angle) * gx + np.sin(angle) * gy)[..., None]  # (H, W, 1)
        image = np.clip(base + span * t, 0, 1)
    else:
        sigma = rng.uniform(0.03, 0.09)
        noise = rng.normal(0, sigma, (size, size, 1))
        image = np.clip(base + noise, 0, 1)
    return (image * 255).round().astype(np.uint8)


def shape_mask(shape: str, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """(size, size) bool mask of a shape with centre (cx, cy) and side ``side`` in [0, 1] units."""
    coords = (np.arange(size) + 0.5) / size
    x = coords[None, :]
    y = coords[:, None]
    half = side / 2
    dx, dy = x - cx, y - cy
    if shape == "circle":
        return dx**2 + dy**2 <= half**2
    if shape == "square":
        inner = half * 0.85
        return (np.abs(dx) <= inner) & (np.abs(dy) <= inner)
    if shape == "triangle":  # apex up, base at the bottom of the box
        t = (y - (cy - half)) / side  # 0 at the apex, 1 at the base
        return (t >= 0) & (t <= 1) & (np.abs(dx) <= half * t)
    if shape == "cross":
        arm = side / 6
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= half)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= half))
    raise ValueError(f"unknown shape {shape!r}")


def _render(objects: list[SceneObject], background: np.ndarray, size: int, supersample: int) -> np.ndarray:
    factor = max(1, int(supersample))
    big = size * factor
    canvas = np.repeat(np.repeat(background.astype(np.float32), factor, 0), factor, 1)  # (big, big, 3)
    for obj in objects:
        mask = shape_mask(obj.shape, obj.cx, obj.cy, obj.size, big)
        canvas[mask] = obj.rgb
    if factor > 1:
        canvas = canvas.reshape(size, factor, size, factor, 3).mean(axis=(1, 3))
    return canvas.round().clip(0, 255).astype(np.uint8)
