"""The captioning networks: a CNN encoder, a Show-Attend-Tell decoder and a classic CNN→RNN decoder.

Both decoders expose the same one-step interface, so greedy and beam search
(:mod:`explorer.engine.captioning.search`) drive either the same way::

    state = model.start(pixels)                       # encode once
    log_probs, state, alpha, beta = model.step(prev_tokens, state)

Design choices (measured; see README and CALIBRATION.md):

- The encoder's receptive field is about 25 px on a 64-px input and its grid
  cells are 8 px, the size of the smaller shapes, so a region's feature says
  what is *there* rather than what is in the image. Two coordinate channels
  (x, y) are appended before the last 1×1 layer so relations can be read.
- The attention decoder starts from a learned state, not from the mean image
  feature: the image reaches the words only through the attention glimpses.
- Attention is queried from the *current* LSTM state (after it has read the
  previous word), so "red" just emitted can steer the next glimpse to the red
  object when the shape word is due.
- With ``feed="where"`` (the bundled model) the LSTM is fed back only *where*
  it looked (the attention-weighted x, y), not what it saw: what a colour or
  shape word needs has to come from the glimpse taken when that word is due.
  Measured on 1000 fresh scenes, pointing colour / shape words: paper's
  feedback of the whole context (``"context"``) 96 % / 42 % (the shape had
  already been read at the colour step); ``"where"`` 68 % / 91 %; only the
  peak cell's x, y (``"peak"``) 72 % / 75 %. ``"where"`` plus each cell's own
  mean colour as extra channels: 93 % / 66 %. The colour words' misses all
  land in a cell next to the object's box (its receptive field reaches the object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

PAD, START, END, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<start>", "<end>", "<unk>")


class Vocabulary:
    """Words ↔ indices; indices outside the table read as ``<unk:N>`` instead of failing."""

    def __init__(self, words: list[str]) -> None:
        words = list(words)
        if words[: len(SPECIALS)] != list(SPECIALS):
            words = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        if len(set(words)) != len(words):
            raise ValueError("the vocabulary repeats a word")
        self.words = words
        self.index = {word: i for i, word in enumerate(words)}

    def __len__(self) -> int:
        return len(self.words)

    def word(self, index: int) -> str:
        index = int(index)
        return self.words[index] if 0 <= index < len(self.words) else f"<unk:{index}>"

    def encode(self, words: list[str]) -> list[int]:
        return [self.index.get(word, UNK) for word in words]

    def decode(self, indices) -> list[str]:
        return [self.word(i) for i in indices]


@dataclass
class ModelConfig:
    kind: str = "attention"  # "attention" or "classic"
    vocab_size: int = 18
    image_size: int = 64
    channels: int = 64  # region feature size D
    embed: int = 32
    hidden: int = 128
    attention_dim: int = 64
    coords: bool = True
    init_from_image: bool = False  # attention decoder only; the classic one always is
    #: "current": attention queried from the state after reading the previous word;
    #: "previous": from the state before it, as in the paper (its glimpse then enters the LSTM).
    query: str = "current"
    #: What the LSTM is fed back from its last glimpse: "context" (the gated context ẑ, as in the paper)
    #: or "where" (only the attention-weighted x, y of the glimpse: it remembers where it looked, not
    #: what it saw, so every colour and shape must be read when its word is due).
    feed: str = "context"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    """Convolution, batch norm, ReLU: batch norm keeps the features at unit scale, which the
    attention scores need from the first step (without it training sat at the blind baseline)."""
    return [nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Encoder(nn.Module):
    """Image (B, 3, 64, 64) → region features (B, g·g, D) on a g × g grid (g = size / 8)."""

    def __init__(self, channels: int = 64, coords: bool = True) -> None:
        super().__init__()
        self.coords = coords
        self.body = nn.Sequential(  # receptive field 25 px, stride 8
            *_conv(3, 24, 5, stride=2),  # /2
            *_conv(24, 48, 3, stride=2),  # /4
            *_conv(48, 48, 3),
            *_conv(48, 64, 3, stride=2),  # /8
        )
        self.project = nn.Sequential(*_conv(64 + (2 if coords else 0), channels, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.body(pixels)  # (B, 64, g, g)
        if self.coords:
            b, _, g, _ = x.shape
            ramp = torch.linspace(-1, 1, g, device=x.device)
            gy, gx = torch.meshgrid(ramp, ramp, indexing="ij")  # (g, g)
            grid = torch.stack([gx, gy]).expand(b, 2, g, g)
            x = torch.cat([x, grid], dim=1)  # (B, 66, g, g)
        x = self.project(x)  # (B, D, g, g)
        return x.flatten(2).transpose(1, 2)  # (B, g·g, D)


class AdditiveAttention(nn.Module):
    """Soft attention of Show, Attend and Tell: α = softmax(wᵀ tanh(W_a a_i + W_h h))."""

    def __init__(self, channels: int, hidden: int, dim: int) -> None:
        super().__init__()
        self.feature = nn.Linear(channels, dim)
        self.state = nn.Linear(hidden, dim)
        self.score = nn.Linear(dim, 1)

    def forward(self, projected: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # projected: (B, N, A) = W_a a (computed once per image); h: (B, H)
        e = self.score(torch.tanh(projected + self.state(h)[:, None, :])).squeeze(-1)  # (B, N)
        return torch.softmax(e, dim=-1)  # (B, N)


class AttentionCaptioner(nn.Module):
    """CNN encoder + LSTM decoder with soft additive attention and the gating scalar β."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.encoder = Encoder(c.channels, c.coords)
        self.embed = nn.Embedding(c.vocab_size, c.embed)
        self.lstm = nn.LSTMCell(c.embed + (2 if c.feed in ("where", "peak") else c.channels), c.hidden)
        self.attention = AdditiveAttention(c.channels, c.hidden, c.attention_dim)
        self.beta_gate = nn.Linear(c.hidden, 1)
        self.h0 = nn.Parameter(torch.zeros(c.hidden))
        self.c0 = nn.Parameter(torch.zeros(c.hidden))
        if c.init_from_image:
            self.init_h = nn.Linear(c.channels, c.hidden)
            self.init_c = nn.Linear(c.channels, c.hidden)
        # Deep output: p(y_t) ∝ exp(L_o(E y_{t-1} + L_h h_t + L_z ẑ_t))
        self.out_h = nn.Linear(c.hidden, c.embed)
        self.out_z = nn.Linear(c.channels, c.embed)
        self.out = nn.Linear(c.embed, c.vocab_size)

    # one-step interface ---------------------------------------------------------------------
    def start(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(pixels)  # (B, N, D)
        b = features.shape[0]
        if self.config.init_from_image:
            mean = features.mean(1)  # (B, D)
            h, c = torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))
        else:
            h, c = self.h0.expand(b, -1), self.c0.expand(b, -1)
        return {
            "features": features,
            "projected": self.attention.feature(features),  # (B, N, A)
            "h": h.contiguous(),
            "c": c.contiguous(),
            "z": features.new_zeros(b, 2 if self.config.feed in ("where", "peak") else self.config.channels),  # fed back in
        }

    def step(self, prev: torch.Tensor, state: dict[str, torch.Tensor]):
        """One word: ``prev`` (B,) previous tokens → (log-probs (B, V), state, α (B, N), β (B,))."""
        e = self.embed(prev)  # (B, E)
        if self.config.query == "previous":
            alpha, beta, z = self._glimpse(state["h"], state)
            fed_now = self._where(alpha) if self.config.feed in ("where", "peak") else z
            h, c = self.lstm(torch.cat([e, fed_now], dim=1), (state["h"], state["c"]))  # (B, H)
        else:
            h, c = self.lstm(torch.cat([e, state["z"]], dim=1), (state["h"], state["c"]))  # (B, H)
            alpha, beta, z = self._glimpse(h, state)
        logits = self.out(torch.tanh(e + self.out_h(h) + self.out_z(z)))  # (B, V)
        fed = self._where(alpha) if self.config.feed in ("where", "peak") else z
        new_state = {**state, "h": h, "c": c, "z": fed}
        return torch.log_softmax(logits, dim=-1), new_state, alpha, beta

    def _where(self, alpha: torch.Tensor) -> torch.Tensor:
        """(x, y) in [-1, 1] of the glimpse, (B, 2): attention-weighted ("where"), or of the
        peak cell with no gradient ("peak"), which leaves no room to smuggle what was seen
        through the fine detail of where the weight went."""
        g = int(round(alpha.shape[1] ** 0.5))
        ramp = torch.linspace(-1, 1, g, device=alpha.device, dtype=alpha.dtype)
        gy, gx = torch.meshgrid(ramp, ramp, indexing="ij")
        coords = torch.stack([gx.flatten(), gy.flatten()], dim=1)  # (N, 2)
        if self.config.feed == "peak":
            return coords[alpha.argmax(dim=1)]  # (B, 2)
        return alpha @ coords  # (B, 2)

    def _glimpse(self, h: torch.Tensor, state: dict[str, torch.Tensor]):
        """Where to look (α (B, N)), how much to let in (β (B,)) and the gated context ẑ (B, D)."""
        alpha = self.attention(state["projected"], h)  # (B, N)
        beta = torch.sigmoid(self.beta_gate(h)).squeeze(-1)  # (B,)
        z = beta[:, None] * torch.bmm(alpha[:, None, :], state["features"]).squeeze(1)  # (B, D)
        return alpha, beta, z

    def forward(self, pixels: torch.Tensor, tokens: torch.Tensor):
        """Teacher forcing: tokens (B, L) from <start> → logits (B, L-1, V), α (B, L-1, N), β (B, L-1)."""
        state = self.start(pixels)
        outs, alphas, betas = [], [], []
        for t in range(tokens.shape[1] - 1):
            log_probs, state, alpha, beta = self.step(tokens[:, t], state)
            outs.append(log_probs)
            alphas.append(alpha)
            betas.append(beta)
        return torch.stack(outs, 1), torch.stack(alphas, 1), torch.stack(betas, 1)


class ClassicCaptioner(nn.Module):
    """Show and Tell style: the pooled CNN feature sets the LSTM's initial state; no attention."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.encoder = Encoder(c.channels, c.coords)
        self.init_h = nn.Linear(c.channels, c.hidden)
        self.init_c = nn.Linear(c.channels, c.hidden)
        self.embed = nn.Embedding(c.vocab_size, c.embed)
        self.lstm = nn.LSTMCell(c.embed, c.hidden)
        self.out = nn.Linear(c.hidden, c.vocab_size)

    def start(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.encoder(pixels).mean(1)  # (B, D): the whole image in one vector
        return {"h": torch.tanh(self.init_h(pooled)), "c": torch.tanh(self.init_c(pooled))}

    def step(self, prev: torch.Tensor, state: dict[str, torch.Tensor]):
        h, c = self.lstm(self.embed(prev), (state["h"], state["c"]))  # (B, H)
        return torch.log_softmax(self.out(h), dim=-1), {"h": h, "c": c}, None, None

    def forward(self, pixels: torch.Tensor, tokens: torch.Tensor):
        state = self.start(pixels)
        outs = []
        for t in range(tokens.shape[1] - 1):
            log_probs, state, _, _ = self.step(tokens[:, t], state)
            outs.append(log_probs)
        return torch.stack(outs, 1), None, None


def build(config: ModelConfig) -> nn.Module:
    if config.kind == "attention":
        return AttentionCaptioner(config)
    if config.kind == "classic":
        return ClassicCaptioner(config)
    raise ValueError(f"unknown captioner kind {config.kind!r} (expected 'attention' or 'classic')")


def select_state(state: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
    """Keep the rows ``index`` of every per-hypothesis tensor (beam search reordering)."""
    return {key: value.index_select(0, index) for key, value in state.items()}


MEAN, STD = 0.5, 0.25


def to_pixels(images, size: int) -> torch.Tensor:
    """PIL images of any size or mode → (B, 3, size, size), squashed to the square.

    Squashing (not cropping) keeps every pixel, so a g × g attention map lies
    over the whole picture the user sees.
    """
    import numpy as np
    from PIL import Image

    arrays = []
    for image in images:
        if image.mode != "RGB":
            image = image.convert("RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
        arrays.append(np.asarray(image, dtype=np.float32))
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # (B, 3, S, S)
    return (batch / 255.0 - MEAN) / STD
