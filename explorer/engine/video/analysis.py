"""Analysing one clip: what the Video panel shows for a model and a clip.

:func:`analyse` runs a model on a clip and returns a :class:`VideoTrace`: the
per-frame features, the state after each frame, the prediction after each
frame, the transformer's frame-to-frame attention, and each frame's
importance — the norm of the gradient of the final prediction with respect to
that frame's pixels (how much the final answer still depends on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from explorer.engine.infra.progress import Reporter, report
from explorer.engine.video.generated import FRAMES
from explorer.engine.video.models import LoadedModel, VideoClassifier, VideoModelError, run_recurrent_stepwise


@dataclass
class VideoTrace:
    """Everything the Video panel shows for one clip and one model."""

    classes: list[str]
    arch: str
    inputs: torch.Tensor  # (T, 3, S, S) model-size frames in [0, 1]
    features: torch.Tensor  # (T, F) per-frame CNN features
    hidden: torch.Tensor  # (T, H) state after each frame (RNN hidden / transformer output)
    logits: torch.Tensor  # (T, K) prediction after each frame
    probs: torch.Tensor  # (T, K)
    attentions: list[torch.Tensor] | None  # per layer (heads, T, T), transformer only
    importance: torch.Tensor | None  # (T,) ‖∂ final logit / ∂ frame‖, or None
    target: int  # class whose final logit the importance explains (the final prediction)

    @property
    def prediction(self) -> int:
        return int(self.probs[-1].argmax())

    @property
    def mean_attention(self) -> torch.Tensor | None:
        """(T, T) attention of the last layer averaged over heads."""
        if not self.attentions:
            return None
        return self.attentions[-1].mean(dim=0)


def to_model_frames(frames: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """(T, H, W, 3) uint8 frames → (T, 3, size, size) floats in [0, 1] (area-averaged resize, aspect squashed)."""
    x = torch.as_tensor(np.asarray(frames))
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("the clip has no frames")
    x = x.permute(0, 3, 1, 2).float() / 255.0  # (T, 3, H, W)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1).contiguous()


def analyse(
    loaded: LoadedModel | VideoClassifier,
    frames: np.ndarray | torch.Tensor,
    *,
    importance: bool = True,
    reporter: Reporter | None = None,
) -> VideoTrace:
    """Run the model on a clip's frames ((T, H, W, 3) uint8) and collect the trace.

    Features are computed in chunks (with progress and cancel); the recurrence
    is stepped frame by frame. ``importance`` adds one backward pass.
    """
    model = loaded.model if isinstance(loaded, LoadedModel) else loaded
    model.eval()
    report(reporter, 0.0, "resizing frames")
    inputs = to_model_frames(frames, model.frame_size)  # (T, 3, S, S)
    T = inputs.shape[0]
    if not model.is_recurrent and T > model.temporal.max_frames:
        raise VideoModelError(
            f"the temporal transformer knows {model.temporal.max_frames} frame positions; "
            f"this clip has {T} frames — lower the frame cap"
        )
    with torch.no_grad():
        chunks = []
        chunk = 64
        for start in range(0, T, chunk):
            chunks.append(model.cnn(inputs[start : start + chunk]))  # (n, F)
            report(reporter, 0.1 + 0.5 * min(T, start + chunk) / T, f"features of frame {min(T, start + chunk)} of {T}")
        features = torch.cat(chunks)  # (T, F)
        if model.is_recurrent:
            hidden = run_recurrent_stepwise(model.temporal.rnn, features[None])[0]  # (T, H)
            attentions = None
        else:
            states, weights = model.temporal(features[None], need_weights=True)
            hidden = states[0]  # (T, D)
            attentions = [w[0] for w in weights]  # per layer (heads, T, T)
        logits = model.head(hidden)  # (T, K)
        probs = logits.softmax(dim=-1)
    target = int(probs[-1].argmax())
    report(reporter, 0.7, "gradient of the final prediction")
    grads = frame_importance(model, inputs, target) if importance else None
    report(reporter, 1.0, "done")
    return VideoTrace(
        classes=list(model.classes),
        arch=model.arch,
        inputs=inputs,
        features=features,
        hidden=hidden,
        logits=logits,
        probs=probs,
        attentions=attentions,
        importance=grads,
        target=target,
    )


def frame_importance(model: VideoClassifier, inputs: torch.Tensor, target: int) -> torch.Tensor:
    """(T,) L2 norm over each frame's pixels of ∂ logit[final frame, target] / ∂ frame."""
    x = inputs.detach().clone()[None].requires_grad_(True)  # (1, T, 3, S, S)
    with torch.enable_grad():
        logits = model(x)  # (1, T, K)
        logits[0, -1, target].backward()
    return x.grad[0].flatten(1).norm(dim=1).detach()  # (T,)


def accuracy_on_fresh_clips(model: VideoClassifier, count: int, seed: int, *, batch: int = 64) -> float:
    """Final-frame accuracy on ``count`` freshly generated clips (seed never used in training)."""
    from explorer.engine.video.generated import generate

    g = torch.Generator().manual_seed(seed)
    model.eval()
    correct = 0
    done = 0
    with torch.no_grad():
        while done < count:
            n = min(batch, count - done)
            clips = generate(n, g, frames=model.frames, size=model.frame_size)
            logits = model(clips.frames)  # (n, T, K)
            correct += int((logits[:, -1].argmax(-1) == clips.labels).sum())
            done += n
    return correct / max(count, 1)


# -- one job for the panel and the benchmark ------------------------------------------------------
def _sub_reporter(reporter: Reporter | None, low: float, high: float) -> Reporter | None:
    """A reporter for one stage of a job, mapping its 0..1 onto ``low..high`` of ``reporter``."""
    if reporter is None:
        return None
    return Reporter(lambda fraction, text: reporter.report(low + (high - low) * fraction, text))


def read_and_analyse(
    source,
    loaded: LoadedModel | VideoClassifier,
    *,
    max_frames: int | None = FRAMES,
    max_side: int | None = 256,
    importance: bool = True,
    reporter: Reporter | None = None,
):
    """Read ``source`` (a path, or an already read ``Clip``) and analyse it: ``(clip, trace)``.

    Decoding takes the first half of the progress, the model the second.
    """
    from explorer.engine.video.io import Clip, read_clip

    if isinstance(source, Clip):
        clip = source
    else:
        clip = read_clip(source, max_frames=max_frames, max_side=max_side, reporter=_sub_reporter(reporter, 0.0, 0.5))
    trace = analyse(loaded, clip.frames, importance=importance, reporter=_sub_reporter(reporter, 0.5, 1.0))
    return clip, trace
