"""Head ablation: switch attention heads off and measure what the model loses without each one.

Switching a head off zeroes its output before its layer's output projection
(TransformerLens' and ViT-Prisma's zero ablation of ``hook_z``): the other
heads, the projection's bias and the residual path are untouched. The
*importance* of a head is what the model's score loses when that head alone is
also switched off, from the model as it is now (``base`` mask):

* a classifier: the drop in the chosen class's logit, ``logit − logit_ablated``;
* a model without classifier (DINO, CLIP and SigLIP towers): there is no class
  to lose, so the measure is how far the pooled output (CLIP: the image
  embedding) turns, ``1 − cos(output, output_ablated)``.

The loop is the expensive part: one forward per head. Two shortcuts, both exact:
switching off a head of layer l changes nothing before block l, so the intact
run's input to block l is kept and only blocks l… run again; and the heads of a
layer go through together as one batch. ``benchmarks/bench_vit_explain.py``
measures both against timm run once per head with a hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from explorer.engine.infra.progress import report
from explorer.engine.vit.model import VisionTransformer

#: At most this many tokens (batch × sequence) go through the blocks at once in the importance loop.
TOKEN_BUDGET = 4096
MEASURES = ("logit", "cosine")


def head_mask(depth: int, heads: int, off: Iterable[tuple[int, int]] = ()) -> torch.Tensor:
    """(depth, heads) float mask: 1 for a head that runs, 0 for each (layer, head) in ``off``."""
    mask = torch.ones(depth, heads)
    for layer, head in off:
        if not (0 <= layer < depth and 0 <= head < heads):
            raise ValueError(f"head ({layer}, {head}) is outside {depth} layers × {heads} heads")
        mask[layer, head] = 0.0
    return mask


def switched_off(mask: torch.Tensor | None) -> list[tuple[int, int]]:
    """The (layer, head) pairs a mask switches off, in order."""
    if mask is None:
        return []
    return [(int(layer), int(head)) for layer, head in (mask == 0).nonzero().tolist()]


def _output(net: VisionTransformer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits (B, K), the pooled output (B, D) — CLIP's image embedding where there is one)."""
    features, logits, _pool, embedding = net.read_out(x)
    return logits, (embedding if embedding is not None else features)


def score(logits: torch.Tensor, output: torch.Tensor, target: int | None, reference: torch.Tensor) -> torch.Tensor:
    """(B,) what importance measures: the target's logit, or the cosine of the output with ``reference`` (1, D)."""
    if target is not None:
        return logits[:, target]
    return F.cosine_similarity(output, reference.expand_as(output), dim=-1)


@dataclass
class HeadImportance:
    """What the model loses without each head, measured from the model as switched in ``base``."""

    drop: np.ndarray  # (depth, heads): score − score with that head also off (0 for heads already off)
    measure: str  # "logit" (drop of the target's logit) or "cosine" (1 − cos of the pooled output)
    target: int | None  # the class index for "logit"
    baseline: float  # the score with the ``base`` mask (the logit, or 1 for cosine)
    base: list[tuple[int, int]]  # heads that were off already


@torch.no_grad()
def head_importance(net: VisionTransformer, pixels: torch.Tensor, target: int | None = None,
                    base: torch.Tensor | None = None, batch: int | None = None, reporter=None) -> HeadImportance:
    """Switch each head off on its own (on top of ``base``) and measure the drop; progress per head.

    ``target`` is a class index for a classifier and must be None for a model without one.
    ``batch`` caps how many ablations run together (default: a layer's heads, within :data:`TOKEN_BUDGET`).
    """
    cfg = net.config
    if target is not None and not 0 <= target < cfg.num_classes:
        raise ValueError(f"class {target} is outside this model's {cfg.num_classes} classes")
    if target is None and cfg.num_classes:
        raise ValueError("choose the class whose logit the importance measures")
    device = net.pos_embed.device
    mask = net.check_head_mask(base if base is not None else torch.ones(cfg.depth, cfg.heads))
    x = net.encoder_input(pixels.to(device))  # (1, T, D)
    inputs = [x]  # inputs[l]: what block l reads in the run with the base mask
    last = net.run_blocks(x, head_mask=mask, tokens=inputs)
    logits, output = _output(net, last)
    reference = output
    baseline = float(score(logits, output, target, reference)[0])
    tokens = x.shape[1]
    size = batch or max(1, min(cfg.heads, TOKEN_BUDGET // tokens))
    drop = np.zeros((cfg.depth, cfg.heads), dtype=np.float64)
    todo = [(layer, head) for layer in range(cfg.depth) for head in range(cfg.heads) if mask[layer, head] != 0]
    total, done = cfg.depth * cfg.heads, cfg.depth * cfg.heads - len(todo)
    report(reporter, done / total, f"head importance: {done} of {total} heads")
    by_layer: dict[int, list[int]] = {}
    for layer, head in todo:
        by_layer.setdefault(layer, []).append(head)
    for layer, heads in by_layer.items():
        for start in range(0, len(heads), size):
            chunk = heads[start : start + size]
            masks = mask.expand(len(chunk), -1, -1).clone()  # (b, depth, heads)
            masks[torch.arange(len(chunk)), layer, torch.tensor(chunk)] = 0.0
            y = net.run_blocks(inputs[layer].expand(len(chunk), -1, -1), layer, head_mask=masks)  # (b, T, D)
            lg, out = _output(net, y)
            values = score(lg, out, target, reference)  # (b,)
            drop[layer, chunk] = (baseline - values).double().cpu().numpy()
            done += len(chunk)
            report(reporter, done / total, f"head importance: {done} of {total} heads")
    return HeadImportance(drop, "logit" if target is not None else "cosine", target, baseline, switched_off(mask))
