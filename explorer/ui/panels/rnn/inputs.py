"""What the RNN panel can feed a cell, built by :mod:`explorer.engine.rnn.sequences`. No Qt."""

from __future__ import annotations

import math

INPUTS = (
    ("image_rows", "Image rows (top → bottom)"),
    ("image_patches", "Image patches (raster order)"),
    ("shape", "Generated shape (rows)"),
    ("memory", "Remember the first symbol"),
    ("sine", "Sine wave"),
    ("step", "Step"),
    ("noise", "Noise"),
    ("text", "Typed text (one-hot)"),
)
IMAGE_INPUTS = ("image_rows", "image_patches")
#: Inputs whose length is set by "steps" (for the memory task: its distractors), and by an example number.
STEP_INPUTS = ("memory", "sine", "step", "noise")
EXAMPLE_INPUTS = ("memory", "shape", "noise")
#: Your own cell reads an image this many pixels wide, one row per step.
CUSTOM_ROW_WIDTH = 32


def build_sequence(kind: str, *, steps: int, example: int, text: str, image=None, input_size: int | None = None):
    """The input sequence ``kind`` (a key of :data:`INPUTS`), fitted to ``input_size`` when the model fixes it.

    An image input needs ``image`` (a PIL image); a model with a fixed input
    size reads image rows that wide, and square patches if the size is a square.
    Raises :class:`~explorer.engine.rnn.sequences.SequenceError` (a ``ValueError``) with the reason.
    """
    from explorer.engine.rnn import sequences as seqs

    if kind in IMAGE_INPUTS and image is None:
        raise seqs.SequenceError("no current image: open one (File › Open) or pick another input.")
    channels = input_size or 1
    if kind == "image_rows":
        sequence = seqs.image_rows(image, width=input_size or CUSTOM_ROW_WIDTH)
    elif kind == "image_patches":
        side = math.isqrt(input_size) if input_size else 6
        sequence = seqs.image_patches(image, patch=side if input_size and side * side == input_size else 6)
    elif kind == "shape":
        sequence = seqs.shape_sequence(example % len(seqs.SHAPE_CLASSES), seed=example)
    elif kind == "memory":
        sequence = seqs.memory_sequence(steps, seed=example)
    elif kind == "sine":
        sequence = seqs.sine(steps, channels=channels)
    elif kind == "step":
        sequence = seqs.step_signal(steps, channels=channels)
    elif kind == "noise":
        sequence = seqs.noise(steps, channels=channels, seed=example)
    else:
        sequence = seqs.text(text)
    return sequence.fitted(input_size) if input_size else sequence
