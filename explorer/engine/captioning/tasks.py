"""Training tasks for the bundled captioners (driven by :func:`explorer.engine.training.loop.train`).

Every batch is a fresh set of generated scenes (:mod:`explorer.engine.infra.scenes`)
drawn from the training seed stream; validation and test scenes come from
other streams, so figures are measured on scenes the model never saw.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from explorer.engine.captioning.networks import END, PAD, START, ModelConfig, Vocabulary, build, to_pixels
from explorer.engine.infra import scenes
from explorer.engine.training.loop import TrainConfig, TrainTask


def scene_vocabulary() -> Vocabulary:
    return Vocabulary(scenes.vocabulary_words())


class CaptionTask(TrainTask):
    """Caption generated scenes; cross-entropy per word (+ λ · doubly stochastic term).

    With ``attention_supervision`` μ > 0 the loss also gets μ · −log(attention
    mass on the named object's cells) at every colour and shape word: the
    maps are then *taught* from the generator's boxes, and the app says so.
    """

    max_batch_size = 1024  # about 1.4 MB per image while training (measured): ≤ 2 GB

    def __init__(self, kind: str = "attention", *, doubly_stochastic: float = 0.0, attention_supervision: float = 0.0,
                 name: str | None = None, **model: Any) -> None:
        self.kind = kind
        self.name = name or f"caption-{kind}"
        supervised = attention_supervision > 0
        self.title = {
            "attention": "Captioning: attention decoder" + (" (box-supervised attention)" if supervised else ""),
            "classic": "Captioning: classic CNN→RNN",
        }.get(kind, kind)
        self.vocab = scene_vocabulary()
        self.doubly_stochastic = float(doubly_stochastic)
        self.attention_supervision = float(attention_supervision)
        self.config = ModelConfig(kind=kind, vocab_size=len(self.vocab), **model)

    def model_config(self) -> dict[str, Any]:
        return {
            **asdict(self.config),
            "vocabulary": self.vocab.words,
            "doubly_stochastic": self.doubly_stochastic,
            "attention_supervision": self.attention_supervision,
        }

    def build_model(self) -> nn.Module:
        return build(self.config)

    def sample(self, batch_size: int, generator: torch.Generator):
        index = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        seeds = [scenes.split_seed("train", index * 4096 + i) for i in range(batch_size)]
        batch = scenes.generate_batch(seeds, size=self.config.image_size)
        pixels, tokens = encode_batch(batch, self.vocab, self.config.image_size)
        targets = object_cells(batch, tokens.shape[1] - 1, self.config.image_size // 8) if self.attention_supervision > 0 else None
        return pixels, tokens, targets

    def loss(self, model: nn.Module, batch):
        pixels, tokens, targets = batch
        log_probs, alphas, _betas = model(pixels, tokens)  # (B, L-1, V), (B, L-1, N)
        target = tokens[:, 1:]  # (B, L-1)
        mask = target != PAD
        nll = -log_probs.gather(2, target.unsqueeze(-1)).squeeze(-1)  # (B, L-1)
        loss = (nll * mask).sum() / mask.sum()
        if alphas is not None and self.doubly_stochastic > 0:
            coverage = (alphas * mask.unsqueeze(-1)).sum(1)  # (B, N)
            loss = loss + self.doubly_stochastic * ((1 - coverage) ** 2).sum(1).mean()
        if alphas is not None and targets is not None:
            named = targets.any(-1)  # (B, L-1): steps that name an object
            mass = (alphas * targets).sum(-1).clamp_min(1e-6)  # (B, L-1)
            loss = loss + self.attention_supervision * (-(mass.log()) * named).sum() / named.sum().clamp_min(1)
        correct = (log_probs.argmax(-1) == target) & mask
        return loss, float(correct.sum()) / float(mask.sum())


def encode_batch(batch: list[scenes.Scene], vocab: Vocabulary, size: int):
    """Scenes → (pixels (B, 3, S, S), tokens (B, L) from <start> to <end>, padded)."""
    sequences = [[START] + vocab.encode(scene.words) + [END] for scene in batch]
    length = max(len(s) for s in sequences)
    tokens = torch.full((len(batch), length), PAD, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.tensor(sequence)
    return to_pixels([scene.image for scene in batch], size), tokens


def object_cells(batch: list[scenes.Scene], steps: int, grid: int) -> torch.Tensor:
    """(B, steps, grid²) bool: at each colour/shape word, the cells whose centres lie in the named object's box."""
    out = torch.zeros(len(batch), steps, grid * grid, dtype=torch.bool)
    centres = (torch.arange(grid) + 0.5) / grid  # cell centres in [0, 1]
    for row, scene in enumerate(batch):
        for t, owner in enumerate(scene.word_objects):
            if owner < 0:
                continue
            x0, y0, x1, y1 = (v / scene.size for v in scene.boxes()[owner])
            inside_x = (centres >= x0) & (centres < x1)  # (g,)
            inside_y = (centres >= y0) & (centres < y1)
            out[row, t] = (inside_y[:, None] & inside_x[None, :]).flatten()
    return out


TRAIN_TASKS = {
    "caption_attention": lambda: CaptionTask("attention", feed="where"),
    "caption_attention_boxes": lambda: CaptionTask("attention", attention_supervision=1.0, name="caption-attention-boxes"),
    "caption_classic": lambda: CaptionTask("classic"),
}

TRAIN_DEFAULTS = {
    "caption_attention": TrainConfig(steps=2500, batch_size=48, lr=2e-3, seed=0, warmup_steps=100, report_every=50),
    "caption_attention_boxes": TrainConfig(steps=2500, batch_size=48, lr=2e-3, seed=0, warmup_steps=100, report_every=50),
    "caption_classic": TrainConfig(steps=1200, batch_size=48, lr=2e-3, seed=1, warmup_steps=100, report_every=50),
}
