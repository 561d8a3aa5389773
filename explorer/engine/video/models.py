"""Video as a sequence of frames: a CNN per frame, then a model over time.

Two temporal models share the same per-frame CNN:

* a recurrent one (``torch.nn.GRU`` or ``torch.nn.LSTM``): the hidden state
  after each frame, and the class probabilities read from it after each frame;
* a temporal transformer with **causal** self-attention: the state of frame
  ``t`` may look at frames ``0..t`` only, so its prediction after frame ``t``
  is, like the RNN's, "what the model believes having seen this far", and its
  frame-to-frame attention matrix is lower-triangular.

What the panel shows of one clip is computed in :mod:`explorer.engine.video.analysis`.

For tracing, the recurrent state is stepped one frame at a time with the
GRU/LSTM equations written out (:func:`recurrent_step`), reading the weights of
the ``torch.nn`` module; tests check it equals the module's own output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from explorer.engine.attention.batched import scaled_dot_product
from explorer.engine.video.generated import CLASSES, FRAME_SIZE, FRAMES

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


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention through :func:`~explorer.engine.attention.scaled_dot_product`.

    The parameters keep ``torch.nn.MultiheadAttention``'s names and layout
    (``in_proj_weight`` = [W_Q; W_K; W_V] as (3D, D), ``out_proj``), so the
    bundled weights and any ``nn.MultiheadAttention`` state dict load unchanged;
    frame t attends to frames 0…t.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise VideoModelError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)  # as nn.MultiheadAttention
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, D = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3D)
        q, k, v = qkv.reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4).unbind(0)  # (B, h, T, d_h)
        allowed = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # True = may attend (past and now)
        out, weights = scaled_dot_product(q, k, v, mask=allowed, need_weights=need_weights)  # (B, h, T, d_h)
        return self.out_proj(out.transpose(1, 2).reshape(B, T, D)), weights  # weights (B, h, T, T) or None


class CausalBlock(nn.Module):
    """Pre-norm transformer block: causal multi-head self-attention, then an MLP."""

    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, weights = self.attn(self.norm1(x), need_weights)  # (B, T, D)
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
    from explorer.engine.infra.checkpoints import load_model_file

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


def time_weights(T: int) -> torch.Tensor:
    """(T,) loss weight per frame: rising linearly, summing to 1 (later frames count more)."""
    w = torch.arange(1, T + 1, dtype=torch.float32)
    return w / w.sum()
