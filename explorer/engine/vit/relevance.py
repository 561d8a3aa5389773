"""Gradient-weighted relevance: which input tokens the chosen class's logit depends on, through attention.

Chefer, Gur & Wolf, "Generic Attention-model Explainability for Interpreting
Bi-Modal and Encoder-Decoder Transformers" (ICCV 2021), the self-attention rule::

    R = I                                   (T, T)
    for each layer l, first to last:
        Ē_l = mean over heads of (∇A_l ⊙ A_l)⁺      ∇A_l = ∂ logit_c / ∂ A_l
        R  ← R + Ē_l · R

The explanation is the query's row of R ([CLS]'s, usually) without its own
entry. Unlike rollout it is class-specific (the gradient is of the chosen
class's logit) and signed evidence is cut at zero per head before averaging.

Gradient rollout (vit-explain's ``grad_rollout``) uses the same gradients the
other way round: Ē = (mean over heads of ∇A ⊙ A)⁺, then rollout's rule
(identity added, rows renormalised, weakest entries optionally discarded,
attention to the special tokens never discarded).

The gradients come from one forward on the written-out attention path, whose
weights stay in the autograd graph (:meth:`VisionTransformer.run_blocks`), and
one ``torch.autograd.grad``. Both need a class score: a model without a
classifier head (DINO, CLIP, SigLIP towers) is refused with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from explorer.engine.infra.progress import report
from explorer.engine.vit import analysis as va
from explorer.engine.vit.model import VisionTransformer

METHODS = ("chefer", "gradient rollout")
NO_CLASSIFIER = (
    "Relevance is the gradient of a class's logit, and this model has no classifier head (its output is "
    "features or an image embedding, as for DINO, CLIP and SigLIP towers): there is no class to explain. "
    "Raw attention, rollout and head ablation (measured on the pooled output) still work."
)


def attention_gradients(net: VisionTransformer, pixels: torch.Tensor, target: int,
                        head_mask: torch.Tensor | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor, torch.Tensor | None]:
    """``(A_l, ∂logit_target/∂A_l, logits, pool weights)`` for one image; A_l, ∇A_l (heads, T, T) on the CPU.

    ``head_mask`` (depth, heads) switches heads off as in :meth:`VisionTransformer.trace`.
    """
    cfg = net.config
    if not cfg.num_classes:
        raise ValueError(NO_CLASSIFIER)
    if not 0 <= target < cfg.num_classes:
        raise ValueError(f"class {target} is outside this model's {cfg.num_classes} classes")
    if pixels.ndim != 4 or pixels.shape[0] != 1:
        raise ValueError(f"relevance explains one image, shape (1, C, H, W); got {tuple(pixels.shape)}")
    device = net.pos_embed.device
    weights: list[torch.Tensor] = []
    with torch.enable_grad():
        x = net.encoder_input(pixels.detach().to(device).requires_grad_(True))  # A is in the graph even for frozen weights
        x = net.run_blocks(x, head_mask=net.check_head_mask(head_mask), weights=weights)
        _features, logits, pool, _embedding = net.read_out(x)
        grads = torch.autograd.grad(logits[0, target], weights)
    cpu = [w[0].detach().to("cpu", torch.float32) for w in weights]  # (h, T, T) each
    pool_row = None if pool is None else pool[0, :, 0].detach().mean(dim=0).to("cpu", torch.float32)  # (T,)
    return cpu, [g[0].to("cpu", torch.float32) for g in grads], logits.detach().cpu(), pool_row


def chefer_relevance(attentions: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]) -> torch.Tensor:
    """R (T, T) by Chefer et al.'s rule from each layer's A and ∇A (heads, T, T), first layer first."""
    if not len(attentions) or len(attentions) != len(gradients):
        raise ValueError(f"need one gradient per layer of attention ({len(attentions)} vs {len(gradients)})")
    tokens = attentions[0].shape[-1]
    r = torch.eye(tokens, dtype=torch.float64)  # (T, T)
    for a, g in zip(attentions, gradients):
        e = (g.double() * a.double()).clamp_min(0).mean(dim=0)  # (T, T): heads averaged after the cut
        r = r + e @ r
    return r.float()


def gradient_rollout(attentions: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor],
                     discard_ratio: float = 0.0, protect: int = 1) -> torch.Tensor:
    """Rollout (T, T) of Ē_l = (mean over heads of ∇A_l ⊙ A_l)⁺, special-token columns never discarded."""
    if not len(attentions) or len(attentions) != len(gradients):
        raise ValueError(f"need one gradient per layer of attention ({len(attentions)} vs {len(gradients)})")
    fused = [(g * a).mean(dim=0).clamp_min(0)[None] for a, g in zip(attentions, gradients)]  # (1, T, T) each
    return va.rollout(fused, "mean", discard_ratio, protect)


@dataclass
class Relevance:
    """Both gradient-weighted maps for one class, as full (T, T) matrices (rows: query tokens)."""

    target: int  # the class explained
    logit: float  # its logit on this image (with the trace's heads switched off)
    chefer: torch.Tensor  # (T, T), R of Chefer et al.
    gradient_rollout: torch.Tensor  # (T, T), rows sum to 1
    pool_row: torch.Tensor | None = None  # (T,): the attention pool's probe weights (SigLIP), mean of heads

    def matrix(self, method: str) -> torch.Tensor:
        if method == "chefer":
            return self.chefer
        if method == "gradient rollout":
            return self.gradient_rollout
        raise ValueError(f"relevance method must be one of {', '.join(METHODS)} (got {method!r})")

    def row(self, method: str, query: int) -> torch.Tensor:
        """(T,) one query token's relevance; ``query`` < 0: the pooling probe's weights carried through R."""
        matrix = self.matrix(method)
        if query >= 0:
            return matrix[query]
        if self.pool_row is None:
            raise ValueError("this model has no attention-pooling probe")
        return self.pool_row @ matrix


def relevance(net: VisionTransformer, pixels: torch.Tensor, target: int, head_mask: torch.Tensor | None = None,
              discard_ratio: float = 0.0, reporter=None) -> Relevance:
    """Chefer relevance and gradient rollout of class ``target`` (one forward, one backward)."""
    report(reporter, 0.05, "relevance: forward and backward")
    attentions, gradients, logits, pool_row = attention_gradients(net, pixels, target, head_mask)
    report(reporter, 0.7, "relevance: combining the layers")
    leading = len(net.config.special_tokens)
    chefer = chefer_relevance(attentions, gradients)
    rolled = gradient_rollout(attentions, gradients, discard_ratio, leading)
    report(reporter, 1.0, "relevance: done")
    return Relevance(target, float(logits[0, target]), chefer, rolled, pool_row)
