"""Checkpoints of the widely used PyTorch Show-Attend-Tell tutorial, after conversion.

The tutorial (sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning) saves
``torch.save({"encoder": Encoder, "decoder": DecoderWithAttention, ...})``:
pickled *modules*, which cannot be read without running the pickled code.
The app never does that. ``scripts/convert_sat_checkpoint.py``, run by the
user in the environment that trained the model, writes the two modules'
state dicts and the ``WORDMAP_*.json`` into one safetensors file
(``"format": "sat-tutorial"`` in its metadata), which this module rebuilds:

- encoder: a ResNet (torchvision layout, ``resnet.0`` … ``resnet.7``; depth and
  widths read from the tensors' shapes) and adaptive average pooling to an
  ``encoded_image_size`` grid (14 × 14 in the tutorial);
- decoder: additive attention with ReLU, the gate ``f_beta`` (one value per
  feature channel; the β shown is its mean), an ``LSTMCell``, and ``fc``.

Images are resized to 256 × 256 and normalised with the ImageNet statistics,
as in the tutorial's ``caption.py``.
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from explorer.engine.captioning.captioner import Captioner, CaptionModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Bottleneck(nn.Module):
    def __init__(self, inplanes: int, width: int, out: int, stride: int, downsample: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = (
            nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)) if downsample else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + identity)


def resnet_from_state(state: dict[str, torch.Tensor], prefix: str = "encoder.resnet.") -> nn.Sequential:
    """A torchvision-layout bottleneck ResNet (children 0–7) shaped after the tensors in ``state``."""
    stem = state[prefix + "0.weight"]  # (64, 3, 7, 7)
    layers: list[nn.Module] = [
        nn.Conv2d(3, stem.shape[0], 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(stem.shape[0]),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    ]
    inplanes = stem.shape[0]
    for stage in range(4, 8):
        blocks = sorted({int(m.group(1)) for k in state if (m := re.match(re.escape(f"{prefix}{stage}.") + r"(\d+)\.", k))})
        if not blocks:
            raise CaptionModelError(f"the encoder has no stage {stage - 3} (no {prefix}{stage}.* tensors)")
        modules = []
        for block in blocks:
            key = f"{prefix}{stage}.{block}."
            width = state[key + "conv1.weight"].shape[0]
            out = state[key + "conv3.weight"].shape[0]
            stride = 2 if stage > 4 and block == 0 else 1
            modules.append(Bottleneck(inplanes, width, out, stride, key + "downsample.0.weight" in state))
            inplanes = out
        layers.append(nn.Sequential(*modules))
    return nn.Sequential(*layers)


class SATTutorialModel(nn.Module):
    """The tutorial's encoder + DecoderWithAttention, with the one-step interface of our search."""

    def __init__(self, state: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
        super().__init__()
        self.grid = int(config.get("encoded_image_size", 14))
        self.image_size = int(config.get("image_size", 256))
        self.resnet = resnet_from_state(state)
        emb = state["decoder.embedding.weight"]  # (V, E)
        att = state["decoder.attention.encoder_att.weight"]  # (A, D_enc)
        hidden = state["decoder.init_h.weight"].shape[0]
        self.encoder_att = nn.Linear(att.shape[1], att.shape[0])
        self.decoder_att = nn.Linear(hidden, att.shape[0])
        self.full_att = nn.Linear(att.shape[0], 1)
        self.embedding = nn.Embedding(emb.shape[0], emb.shape[1])
        self.decode_step = nn.LSTMCell(emb.shape[1] + att.shape[1], hidden)
        self.init_h = nn.Linear(att.shape[1], hidden)
        self.init_c = nn.Linear(att.shape[1], hidden)
        self.f_beta = nn.Linear(hidden, att.shape[1])
        self.fc = nn.Linear(hidden, emb.shape[0])
        mapped = {}
        for key, value in state.items():
            if key.startswith("encoder.resnet."):
                mapped["resnet." + key[len("encoder.resnet."):]] = value
            elif key.startswith("decoder.attention."):
                mapped[key[len("decoder.attention."):]] = value
            elif key.startswith("decoder."):
                mapped[key[len("decoder."):]] = value
        try:
            self.load_state_dict(mapped)
        except RuntimeError as exc:
            raise CaptionModelError(f"the converted tensors do not fit the tutorial's model ({str(exc).splitlines()[0]}).") from exc
        self.eval()

    def start(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.resnet(pixels)  # (1, 2048, H/32, W/32)
        x = F.adaptive_avg_pool2d(x, (self.grid, self.grid))  # (1, D, g, g)
        features = x.flatten(2).transpose(1, 2)  # (1, g·g, D)
        mean = features.mean(1)
        return {"features": features, "projected": self.encoder_att(features), "h": self.init_h(mean), "c": self.init_c(mean)}

    def step(self, prev: torch.Tensor, state: dict[str, torch.Tensor]):
        k = prev.shape[0]
        features = state["features"].expand(k, -1, -1) if state["features"].shape[0] != k else state["features"]
        projected = state["projected"].expand(k, -1, -1) if state["projected"].shape[0] != k else state["projected"]
        h, c = state["h"], state["c"]
        scores = self.full_att(F.relu(projected + self.decoder_att(h)[:, None, :])).squeeze(-1)  # (k, N)
        alpha = torch.softmax(scores, dim=-1)
        gate = torch.sigmoid(self.f_beta(h))  # (k, D): one gate per channel
        context = gate * torch.bmm(alpha[:, None, :], features).squeeze(1)  # (k, D)
        h, c = self.decode_step(torch.cat([self.embedding(prev), context], dim=1), (h, c))
        log_probs = torch.log_softmax(self.fc(h), dim=-1)
        return log_probs, {"features": features, "projected": projected, "h": h, "c": c}, alpha, gate.mean(-1)


class SATTutorialCaptioner(Captioner):
    kind = "attention"
    attention_note = "Attention of the tutorial's decoder, queried from its previous state; β is the mean of its per-channel gate."
    max_words = 50  # the tutorial's caption.py stops at 50 steps

    def __init__(self, model: SATTutorialModel, word_map: dict[str, int], name: str) -> None:
        super().__init__()
        self.model = model
        self.name = name
        self.title = f"{name} (Show-Attend-Tell tutorial)"
        self.words = {int(i): w for w, i in word_map.items()}
        for special in ("<start>", "<end>"):
            if special not in word_map:
                raise CaptionModelError(f"the word map has no {special} token")
        model.start_token = int(word_map["<start>"])
        model.end_token = int(word_map["<end>"])
        self.grid = (model.grid, model.grid)

    @property
    def stepper(self):
        return self.model

    def pixels(self, image) -> torch.Tensor:
        from explorer.engine.captioning.networks import to_pixels

        x = to_pixels([image], self.model.image_size) * 0.25 + 0.5  # back to [0, 1]
        mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
        std = torch.tensor(IMAGENET_STD)[:, None, None]
        return (x - mean) / std

    def word(self, token: int) -> str:
        return self.words.get(int(token), f"<unk:{int(token)}>")



def from_converted(state: dict[str, torch.Tensor], config: dict[str, Any], name: str) -> SATTutorialCaptioner:
    word_map = config.get("word_map")
    if not isinstance(word_map, dict) or not word_map:
        raise CaptionModelError(f"{name}: the converted file holds no word map (WORDMAP_*.json); convert it again with --wordmap.")
    missing = [k for k in ("decoder.embedding.weight", "decoder.attention.encoder_att.weight", "decoder.init_h.weight", "encoder.resnet.0.weight") if k not in state]
    if missing:
        raise CaptionModelError(f"{name}: not a converted Show-Attend-Tell checkpoint (missing {', '.join(missing)}).")
    return SATTutorialCaptioner(SATTutorialModel(state, config), word_map, name)
