"""Training tasks of the bundled video models (used by scripts/train_video.py and the Training panel).

Both models classify generated clips (:mod:`explorer.engine.video.generated`).
The loss is the cross-entropy of the prediction after *every* frame, weighted
so later frames count more (:func:`explorer.engine.video.models.time_weights`): the
model learns to give its best guess at each point of the clip, which is the
"decision forming as frames arrive" the panel shows; accuracy is measured on
the final frame only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from explorer.engine.training.loop import SnapshotView, TrainConfig, TrainTask
from explorer.engine.video.generated import CLASSES, FRAME_SIZE, FRAMES, ClipBatch, generate
from explorer.engine.video.models import VideoClassifier, build, time_weights


class VideoClipTask(TrainTask):
    """Classify a generated clip of a moving / changing shape, with a prediction after each frame."""

    max_batch_size = 512  # about 4 MB per clip while training (measured): ≤ 2 GB

    def __init__(self, arch: str = "gru", **overrides: Any) -> None:
        self.arch = arch
        self.name = f"video_{arch}"
        self.title = {"gru": "Video: CNN + GRU", "lstm": "Video: CNN + LSTM"}.get(arch, "Video: CNN + temporal transformer")
        self.overrides = overrides

    def model_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "arch": self.arch,
            "frame_size": FRAME_SIZE,
            "frames": FRAMES,
            "channels": 32,
            "features": 64,
            "hidden": 64,
            "classes": list(CLASSES),
        }
        if self.arch == "transformer":
            config.update(heads=4, layers=2, mlp=128, max_frames=64)
        config.update(self.overrides)
        return config

    def build_model(self) -> VideoClassifier:
        return build(self.model_config())

    def sample(self, batch_size: int, generator: torch.Generator) -> ClipBatch:
        config = self.model_config()
        return generate(batch_size, generator, frames=config["frames"], size=config["frame_size"])

    def loss(self, model: VideoClassifier, batch: ClipBatch) -> tuple[torch.Tensor, float]:
        logits = model(batch.frames)  # (B, T, K)
        B, T, K = logits.shape
        per_frame = F.cross_entropy(
            logits.reshape(B * T, K), batch.labels.repeat_interleave(T), reduction="none"
        ).view(B, T)  # (B, T)
        loss = (per_frame * time_weights(T)[None, :]).sum(dim=1).mean()
        accuracy = float((logits[:, -1].argmax(-1) == batch.labels).float().mean())
        return loss, accuracy


    def snapshot_view(self, model: VideoClassifier) -> SnapshotView:
        """P(true class) after each frame (columns) for one fixed clip per class (rows): the belief forming.

        Probabilities, so the sequential colour map from 0 to 1; the caption is the mean
        belief in the true class after the last frame.
        """
        config = self.model_config()
        probe = generate(len(CLASSES), torch.Generator().manual_seed(999), frames=config["frames"],
                         size=config["frame_size"], labels=torch.arange(len(CLASSES)))
        was_training = model.training
        model.eval()
        with torch.no_grad():
            probs = model(probe.frames).softmax(-1)  # (K, T, K)
        model.train(was_training)
        truth = probs[torch.arange(len(CLASSES)), :, probe.labels].numpy()  # (K, T)
        return SnapshotView("P(true class) after each frame, one clip per class",
                            f"last frame: {truth[:, -1].mean():.2f}", truth, kind="sequential")

TRAIN_TASKS: dict[str, Callable[[], TrainTask]] = {
    "video_gru": lambda: VideoClipTask("gru"),
    "video_transformer": lambda: VideoClipTask("transformer"),
}

TRAIN_DEFAULTS: dict[str, TrainConfig] = {
    "video_gru": TrainConfig(steps=1500, batch_size=32, lr=4e-3, seed=7, weight_decay=1e-4, warmup_steps=30, report_every=25, threads=1),
    "video_transformer": TrainConfig(steps=700, batch_size=32, lr=2e-3, seed=8, weight_decay=1e-4, warmup_steps=50, report_every=25, threads=1),
}
