"""One real attention head on one input, as a model hands it to the Attention panel.

The mechanism panels are the microscope and the models the specimens
(DESIGN.md): the ViT or the video transformer packs the head it shows into a
:class:`RealHead` (its own Q, K, V for the current input, the tokens' names,
where the patches sit on the image) and the Attention panel opens it. Plain
data, no Qt, so a model's side and the panel's side are tested apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class RealHead:
    """A model's attention head on the current input: softmax(Q·Kᵀ·scale + mask)·V as it ran.

    ``weights`` are the model's own (from its trace), kept so the panel can
    show that its recomputation equals what the model did.
    """

    q: torch.Tensor  # (n, d_head)
    k: torch.Tensor  # (n, d_head)
    v: torch.Tensor  # (n, d_head)
    weights: torch.Tensor  # (n, n), the model's attention for this head
    token_labels: tuple[str, ...]  # "[CLS]", "reg 1", "dist", "(row, col)", "frame 3"
    scale: float  # the model's factor on the scores, 1/√d_head
    query: int = 0  # the selected query row
    allowed: torch.Tensor | None = None  # bool (n, n), True = may attend (a causal model's mask)
    grid: tuple[int, int] | None = None  # (gh, gw) patch grid, when the tokens are image patches
    first_patch: int = 0  # index of the first patch token (after [CLS], registers, ...)
    image: Any = None  # the PIL image the model saw (resized, cropped), for maps over it
    model: str = ""  # which model, and where it came from
    input_name: str = ""  # which image or clip
    layer: int = 0
    head: int = 0
    back: Any = None  # opaque here: the panel that made it reads it back (ui.panels.state.BackLink)
    source: Any = None  # what made it, opaque here: a ViT's (model, trace) that From input can read layers of

    def __post_init__(self) -> None:
        n = len(self.token_labels)
        for name in ("q", "k", "v"):
            tensor = getattr(self, name)
            if tensor.ndim != 2 or tensor.shape[0] != n:
                raise ValueError(f"{name.upper()} must be ({n}, d) for {n} tokens, got {tuple(tensor.shape)}")
        if tuple(self.weights.shape) != (n, n):
            raise ValueError(f"the weights must be ({n}, {n}), got {tuple(self.weights.shape)}")
        if not 0 <= self.query < n:
            raise ValueError(f"query {self.query} is outside the {n} tokens")

    @property
    def title(self) -> str:
        """``"ViT-S/16 · chelsea.png · layer 3, head 4"`` (1-based, as the panels count)."""
        parts = [p for p in (self.model, self.input_name) if p]
        return " · ".join([*parts, f"layer {self.layer + 1}, head {self.head + 1}"])
