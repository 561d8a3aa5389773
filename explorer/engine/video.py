"""Video as a sequence of frames: a CNN per frame, then a model over time.

Two temporal models share the same per-frame CNN:

* a recurrent one (``torch.nn.GRU`` or ``torch.nn.LSTM``): the hidden state
  after each frame, and the class probabilities read from it after each frame;
* a temporal transformer with **causal** self-attention: the state of frame
  ``t`` may look at frames ``0..t`` only, so its prediction after frame ``t``
  is, like the RNN's, "what the model believes having seen this far", and its
  frame-to-frame attention matrix is lower-triangular.

:func:`analyse` runs a model on a clip and returns a :class:`VideoTrace` with
everything the Video panel shows, including each frame's importance: the
norm of the gradient of the final prediction with respect to that frame's
pixels (how much the final answer still depends on it).

For tracing, the recurrent state is stepped one frame at a time with the
GRU/LSTM equations written out (:func:`recurrent_step`), reading the weights of
the ``torch.nn`` module; tests check it equals the module's own output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.engine.progress import Reporter, report
from explorer.engine.video_clips import CLASSES, FRAME_SIZE, FRAMES

#: Bundled models: name → (file under resources/models, title).
BUNDLED: dict[str, tuple[str, str]] = {
    "video_gru": ("video_gru.safetensors", "CNN + GRU"),
    "video_transformer": ("video_transformer.safetensors", "CNN + temporal transformer (causal)"),
}

#: The per-frame input is normalised with these (pixel values in [0, 1]).
PIXEL_MEAN = 0.3
PIXEL_STD = 0.3


class VideoModelError(ValueError):
    """A video model file or setting is not usable; the message says why."""


# -- the per-frame CNN ----------------------------------------------------------------------------
class FrameCNN(nn.Module):
    """(N, 3, S, S) frames → (N, F) feature vectors.

    Three stride-2 convolutions, then a *flattening* linear layer rather than a
    global average: where the shape is matters for direction, and averaging
    over space would throw it away.
    """

    def __init__(self, *, frame_size: int = FRAME_SIZE, channels: int = 32, features: int = 64) -> None:
        super().__init__()
        assert frame_size % 8 == 0, "frame size must be a multiple of 8 (three stride-2 layers)"
        self.conv = nn.Sequential(
            nn.Conv2d(3, channels // 2, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        grid = frame_size // 8
        self.proj = nn.Linear(channels * grid * grid, features)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = (frames - PIXEL_MEAN) / PIXEL_STD  # (N, 3, S, S)
        x = self.conv(x)  # (N, C, S/8, S/8)
        return torch.relu(self.proj(x.flatten(1)))  # (N, F)


# -- temporal models ------------------------------------------------------------------------------
class RecurrentOverFrames(nn.Module):
    """A ``torch.nn.GRU`` or ``torch.nn.LSTM`` (one layer) over the frame features."""

    def __init__(self, kind: str, features: int, hidden: int) -> None:
        super().__init__()
        if kind not in ("gru", "lstm"):
            raise VideoModelError(f"recurrent kind must be 'gru' or 'lstm' (got {kind!r})")
        self.kind = kind
        module = nn.GRU if kind == "gru" else nn.LSTM
        self.rnn = module(features, hidden, batch_first=True)
        # Gates initialised to keep state (CALIBRATION.md): GRU update gate / LSTM forget gate bias.
        # Both keep that gate in rows H:2H (GRU: r, z, n; LSTM: i, f, g, o).
        with torch.no_grad():
            self.rnn.bias_hh_l0[hidden : 2 * hidden].fill_(1.0)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, None]:
        states, _ = self.rnn(feats)  # (B, T, H)
        return states, None


class CausalBlock(nn.Module):
    """Pre-norm transformer block: causal multi-head self-attention, then an MLP."""

    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        T = x.shape[1]
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # True = may not attend (future)
        h = self.norm1(x)  # (B, T, D)
        out, weights = self.attn(h, h, h, attn_mask=mask, need_weights=need_weights, average_attn_weights=False)
        x = x + out
        x = x + self.mlp(self.norm2(x))
        return x, weights  # weights: (B, heads, T, T) or None


class TemporalTransformer(nn.Module):
    """Causal transformer encoder over the frame features, with learned frame-position embeddings."""

    def __init__(self, features: int, dim: int, heads: int, layers: int, mlp: int, max_frames: int) -> None:
        super().__init__()
        self.max_frames = max_frames
        self.inp = nn.Linear(features, dim)
        self.pos = nn.Parameter(torch.randn(max_frames, dim) * 0.02)
        self.blocks = nn.ModuleList(CausalBlock(dim, heads, mlp) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, feats: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        T = feats.shape[1]
        if T > self.max_frames:
            raise VideoModelError(
                f"the temporal transformer knows {self.max_frames} frame positions; "
                f"this clip has {T} frames — lower the frame cap"
            )
        x = self.inp(feats) + self.pos[:T]  # (B, T, D)
        weights = []
        for block in self.blocks:
            x, w = block(x, need_weights)
            weights.append(w)
        return self.norm(x), (weights if need_weights else None)


class VideoClassifier(nn.Module):
    """Frame CNN → temporal model → a class prediction after every frame."""

    def __init__(
        self,
        *,
        arch: str = "gru",
        frame_size: int = FRAME_SIZE,
        frames: int = FRAMES,
        channels: int = 32,
        features: int = 64,
        hidden: int = 64,
        heads: int = 4,
        layers: int = 2,
        mlp: int = 128,
        max_frames: int = 64,
        classes: list[str] | tuple[str, ...] = CLASSES,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.frame_size = frame_size
        self.frames = frames
        self.classes = list(classes)
        self.cnn = FrameCNN(frame_size=frame_size, channels=channels, features=features)
        if arch in ("gru", "lstm"):
            self.temporal: nn.Module = RecurrentOverFrames(arch, features, hidden)
        elif arch == "transformer":
            self.temporal = TemporalTransformer(features, hidden, heads, layers, mlp, max_frames)
        else:
            raise VideoModelError(f"unknown video architecture {arch!r}; use gru, lstm or transformer")
        self.head = nn.Linear(hidden, len(self.classes))

    @property
    def is_recurrent(self) -> bool:
        return self.arch in ("gru", "lstm")

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        B, T = frames.shape[:2]
        return self.cnn(frames.flatten(0, 1)).view(B, T, -1)  # (B, T, F)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) → logits after each frame (B, T, K)."""
        states, _ = self.temporal(self.frame_features(frames))  # (B, T, H)
        return self.head(states)


def build(config: dict[str, Any]) -> VideoClassifier:
    """A model from the ``model`` section of a saved config."""
    allowed = {"arch", "frame_size", "frames", "channels", "features", "hidden", "heads", "layers", "mlp", "max_frames", "classes"}
    unknown = set(config) - allowed
    if unknown:
        raise VideoModelError(f"unknown video model settings: {', '.join(sorted(unknown))}")
    return VideoClassifier(**config)


@dataclass
class LoadedModel:
    model: VideoClassifier
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    #: What :func:`load` was given (a bundled name or a path): the key callers cache it under.
    source: str = ""

    @property
    def accuracy(self) -> float | None:
        value = self.config.get("fresh_accuracy")
        return float(value) if value is not None else None


def load(name_or_path: str | Path) -> LoadedModel:
    """A bundled model by name (``video_gru``, ``video_transformer``) or a file saved by the training script.

    Raises:
        VideoModelError / CheckpointError: unknown name, unreadable file or weights that do not fit.
    """
    from explorer.assets import resource_path
    from explorer.engine.checkpoints import load_model_file

    if str(name_or_path) in BUNDLED:
        path = resource_path("models", BUNDLED[str(name_or_path)][0])
        if not path.is_file():
            raise VideoModelError(f"the bundled model {name_or_path} is missing; run scripts/train_video.py")
    else:
        path = Path(name_or_path)
    state, config = load_model_file(path)
    if "model" not in config:
        raise VideoModelError(f"{path.name}: no video model config stored with the weights")
    model = build(config["model"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "shape mismatch"
        raise VideoModelError(f"{path.name}: the weights do not fit the stored config ({first})") from exc
    model.eval()
    return LoadedModel(model, path.stem, config, source=str(name_or_path))


# -- stepping the recurrence with the equations written out ---------------------------------------
def recurrent_step(
    rnn: nn.GRU | nn.LSTM, x_t: torch.Tensor, state: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """One frame of a one-layer ``nn.GRU``/``nn.LSTM`` using its own weights.

    Args:
        x_t: (B, F) this frame's features; state: ``(h,)`` for a GRU, ``(h, c)`` for an LSTM, each (B, H).
    Returns:
        ``(h_t, new_state)``.
    """
    w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0  # (G·H, F), (G·H, H)
    b_ih, b_hh = rnn.bias_ih_l0, rnn.bias_hh_l0
    h = state[0]
    gi = x_t @ w_ih.T + b_ih  # (B, G·H)
    gh = h @ w_hh.T + b_hh
    if isinstance(rnn, nn.GRU):
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)  # reset gate
        z = torch.sigmoid(i_z + h_z)  # update gate: how much of the old state is kept
        n = torch.tanh(i_n + r * h_n)  # candidate
        h_new = (1 - z) * n + z * h
        return h_new, (h_new,)
    c = state[1]
    i, f, g, o = (gi + gh).chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, (h_new, c_new)


def run_recurrent_stepwise(rnn: nn.GRU | nn.LSTM, feats: torch.Tensor) -> torch.Tensor:
    """(B, T, F) → hidden after each frame (B, T, H), one frame at a time (zero initial state)."""
    B, T, _ = feats.shape
    H = rnn.hidden_size
    zeros = feats.new_zeros(B, H)
    state: tuple[torch.Tensor, ...] = (zeros,) if isinstance(rnn, nn.GRU) else (zeros, zeros.clone())
    out = []
    for t in range(T):
        h, state = recurrent_step(rnn, feats[:, t], state)
        out.append(h)
    return torch.stack(out, dim=1)


# -- analysing one clip ---------------------------------------------------------------------------
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
    from explorer.engine.video_clips import generate

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


def time_weights(T: int) -> torch.Tensor:
    """(T,) loss weight per frame: rising linearly, summing to 1 (later frames count more)."""
    w = torch.arange(1, T + 1, dtype=torch.float32)
    return w / w.sum()


__all__ = [
    "BUNDLED", "FrameCNN", "LoadedModel", "VideoClassifier", "VideoModelError", "VideoTrace",
    "accuracy_on_fresh_clips", "analyse", "build", "frame_importance", "load", "recurrent_step",
    "read_and_analyse", "run_recurrent_stepwise", "time_weights", "to_model_frames",
]


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
    from explorer.engine.video_io import Clip, read_clip

    if isinstance(source, Clip):
        clip = source
    else:
        clip = read_clip(source, max_frames=max_frames, max_side=max_side, reporter=_sub_reporter(reporter, 0.0, 0.5))
    trace = analyse(loaded, clip.frames, importance=importance, reporter=_sub_reporter(reporter, 0.5, 1.0))
    return clip, trace
