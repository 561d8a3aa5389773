"""The logit lens: read every layer's tokens with the model's own final norm and classifier head.

nostalgebraist's logit lens for language models, as ViT-Prisma applies it per
patch. Two readings of each layer l (0: the encoder's input, l: after block l):

* **the model's read-out** — the final norm, the pooling ([CLS], the patch mean,
  the attention pool), ``fc_norm`` and the head(s) applied to layer l's whole
  sequence, exactly as the model reads its last layer. At the last layer this
  *is* the model's output; the first layer from which its top-1 class no longer
  changes is where the prediction *settles*.
* **each token alone** — the read-out of a sequence in which every token equals
  that token: for [CLS] pooling head(norm(x_t)); for mean pooling
  head(fc_norm(norm(x_t))); DeiT's two heads averaged; for an attention pool
  the pool of a constant sequence (the probe's weights no longer matter). One
  rule for every family, and for [CLS] pooling it is the plain per-token lens.

Only a model with a classifier head has classes to read; the others are
refused with that reason. Early layers were never trained to be read this way:
their maps say what the head *would* answer, not what the layer knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from explorer.engine.infra.progress import report
from explorer.engine.vit.model import VisionTransformer

NO_CLASSIFIER = (
    "The logit lens reads each layer with the model's classifier head, and this model has none (its output "
    "is features or an image embedding, as for DINO, CLIP and SigLIP towers): there are no classes to read."
)
#: Tokens read at once by the per-token lens (bounds the (tokens, classes) logits held).
CHUNK = 2048


@dataclass
class LogitLens:
    """Every layer read by the model's head. Layer 0 is the encoder's input; layer l the output of block l."""

    readout: np.ndarray  # (depth + 1, K): softmax of the model's read-out of each layer
    classes: tuple[int, ...]  # the classes whose per-token probabilities are kept
    token_probs: np.ndarray  # (depth + 1, T, len(classes)): each token read alone, those classes' probabilities
    token_top: np.ndarray  # (depth + 1, T) int: each token's own top-1 class
    settled: int  # the first layer from which the read-out's top-1 equals the final one at every later layer

    def class_map(self, layer: int, class_index: int, leading: int, grid: tuple[int, int]) -> np.ndarray:
        """(gh, gw): the probability of ``class_index`` (one of ``classes``) of each patch read alone at ``layer``."""
        column = self.classes.index(class_index)
        return self.token_probs[layer, leading:, column].reshape(grid)

    @property
    def top1(self) -> np.ndarray:
        """(depth + 1,) the read-out's top-1 class at every layer."""
        return self.readout.argmax(axis=-1)


def settle_layer(top1: Sequence[int]) -> int:
    """The first index from which every later entry equals the last one."""
    top1 = list(top1)
    layer = len(top1) - 1
    while layer > 0 and top1[layer - 1] == top1[-1]:
        layer -= 1
    return layer


def _alone(net: VisionTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """(M, D) tokens → (M, K) logits, each read as a sequence of copies of itself (see the module's note)."""
    copies = len(net.config.special_tokens) + 1  # enough for [CLS], [DIST] and one patch
    return net.read_out(tokens[:, None, :].expand(-1, copies, -1))[1]


@torch.no_grad()
def logit_lens(net: VisionTransformer, tokens: Sequence[torch.Tensor], classes: Sequence[int],
               reporter=None) -> LogitLens:
    """Read every layer of a trace (``trace.tokens``: depth + 1 of (T, D)) with the model's head.

    ``classes`` are the class indices whose per-token probabilities are kept (the final top-5, say).
    """
    cfg = net.config
    if not cfg.num_classes:
        raise ValueError(NO_CLASSIFIER)
    classes = tuple(int(c) for c in classes)
    if not classes or not all(0 <= c < cfg.num_classes for c in classes):
        raise ValueError(f"classes must be indices below {cfg.num_classes} (got {classes})")
    device = net.pos_embed.device
    index = torch.tensor(classes, device=device)
    readout, probs, top = [], [], []
    for layer, x in enumerate(tokens):
        x = x.to(device, torch.float32)  # (T, D)
        readout.append(net.read_out(x[None])[1].softmax(dim=-1)[0].cpu())  # (K,)
        layer_probs, layer_top = [], []
        for start in range(0, x.shape[0], CHUNK):
            p = _alone(net, x[start : start + CHUNK]).softmax(dim=-1)  # (M, K)
            layer_probs.append(p[:, index].cpu())
            layer_top.append(p.argmax(dim=-1).cpu())
        probs.append(torch.cat(layer_probs))  # (T, len(classes))
        top.append(torch.cat(layer_top))  # (T,)
        report(reporter, (layer + 1) / len(tokens), f"logit lens: layer {layer} of {len(tokens) - 1}")
    readout_np = torch.stack(readout).numpy()  # (depth + 1, K)
    return LogitLens(readout_np, classes, torch.stack(probs).numpy(), torch.stack(top).numpy(),
                     settle_layer(readout_np.argmax(axis=-1).tolist()))
