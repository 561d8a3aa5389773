"""The panels, in the order of the navigation list.

A panel is found by its module path: once ``explorer/ui/panels/attention.py``
defines ``AttentionPanel``, the main window shows it; until then the page
says what will be there. No registry needs editing when a panel lands.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class PanelSpec:
    key: str  # command-line name, e.g. "attention"
    title: str  # navigation label
    subtitle: str  # where the sequence enters, shown under the title
    module: str
    cls: str
    promise: str  # what the page will show, for the plain page before it is built

    def available(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:  # the panel's package itself is not there yet
            return False

    def load(self):
        return getattr(importlib.import_module(self.module), self.cls)


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "attention", "Attention", "mechanism · attention",
        "explorer.ui.panels.attention.panel", "AttentionPanel",
        "Edit Q, K and V and watch the scores Q·Kᵀ, their scaling by 1/√dₖ, the softmax weights "
        "and the output update at once; a mask editor, the “why scale?” experiment and "
        "multi-head attention from input tokens.",
    ),
    PanelSpec(
        "rnn", "RNN", "mechanism · recurrence",
        "explorer.ui.panels.rnn.panel", "RNNPanel",
        "Step a hidden state through a sequence with a vanilla RNN, an LSTM or a GRU: every term "
        "of the update rule at the current step, the gates, the hidden state over time and how "
        "far back the last state still feels its inputs.",
    ),
    PanelSpec(
        "vit", "ViT", "internal · image as patches",
        "explorer.ui.panels.vit.panel", "ViTPanel",
        "Walk a Vision Transformer's six steps on your image: the patch grid, the patch sequence, "
        "linear embedding, position embeddings, the class token, and each layer's attention "
        "with rollout and the top-5 predictions.",
    ),
    PanelSpec(
        "captioning", "Captioning", "output · words from an image",
        "explorer.ui.panels.captioning.panel", "CaptioningPanel",
        "Caption your image with an attention decoder and a classic CNN→RNN decoder; every word "
        "comes with the map of where the model looked, step by step, with the beam's alternatives.",
    ),
    PanelSpec(
        "video", "Video", "input · a sequence of frames",
        "explorer.ui.panels.video.panel", "VideoPanel",
        "Open a clip or pick a generated one: per-frame CNN features, a recurrent or temporal "
        "attention model over the frames, its hidden state and its belief forming frame by frame.",
    ),
    PanelSpec(
        "training", "Training", "the loop on top",
        "explorer.ui.panels.training.panel", "TrainingPanel",
        "Retrain any bundled model on its generated task and watch the loss and accuracy fall, "
        "with pause, cancel, snapshots of what the model learns, and saving the result.",
    ),
)


def panel_keys() -> list[str]:
    return [spec.key for spec in PANELS]


def find_panel(key: str) -> PanelSpec:
    key = key.strip().lower()
    for spec in PANELS:
        if spec.key == key or spec.title.lower() == key:
            return spec
    raise ValueError(f"unknown panel {key!r}; choose one of: {', '.join(panel_keys())}")
