"""Gradient-weighted relevance against a plain autograd re-implementation of the same rules on timm.

The reference is timm's own ViT (random, perturbed weights) with its explicit
attention path: a forward hook on each block's ``attn_drop`` (the op right after
the softmax) keeps A and adds a zero tensor Δ whose gradient is ∂logit/∂A. The
rules are then written out in the test: Chefer et al.'s R ← R + mean_h((∇A⊙A)⁺)·R,
and vit-explain's gradient rollout. Nothing of ours is used on that side.
"""

from __future__ import annotations

import pytest
import torch
from vit_parity import close, pixels, timm_model

from explorer.engine import vit
from explorer.engine.infra.checkpoints import save_model
from explorer.engine.vit import relevance as rl
from explorer.engine.vit.config import ViTConfig
from explorer.engine.vit.model import VisionTransformer

pytest.importorskip("timm")

#: (timm name, overrides, input side, special tokens)
MODELS = [
    ("vit_small_patch16_224", dict(img_size=64, depth=3, num_classes=10), 64, 1),
    ("deit_tiny_distilled_patch16_224", dict(img_size=64, depth=3, num_classes=10), 64, 2),
    ("vit_small_patch14_reg4_dinov2", dict(img_size=56, depth=3, num_classes=10), 56, 5),
]


def reference_gradients(model, x: torch.Tensor, target: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(A_l, ∂logit/∂A_l) of every block of a timm model, from hooks on its attention dropout."""
    captured, deltas = [], []

    def hook(_module, _inputs, output):
        delta = torch.zeros_like(output, requires_grad=True)
        captured.append(output)
        deltas.append(delta)
        return output + delta

    handles = []
    for block in model.blocks:
        block.attn.fused_attn = False
        handles.append(block.attn.attn_drop.register_forward_hook(hook))
    try:
        logits = model(x)
        grads = torch.autograd.grad(logits[0, target], deltas)
    finally:
        for handle in handles:
            handle.remove()
    return [a[0].detach().double() for a in captured], [g[0].double() for g in grads]


def reference_chefer(attentions, gradients) -> torch.Tensor:
    r = torch.eye(attentions[0].shape[-1], dtype=torch.float64)
    for a, g in zip(attentions, gradients):
        r = r + (g * a).clamp(min=0).mean(dim=0) @ r
    return r


def reference_gradient_rollout(attentions, gradients) -> torch.Tensor:
    """vit-explain's grad_rollout without discarding: (mean_h(∇A⊙A))⁺, + I, rows renormalised, multiplied."""
    result = torch.eye(attentions[0].shape[-1], dtype=torch.float64)
    for a, g in zip(attentions, gradients):
        fused = (a * g).mean(dim=0).clamp(min=0)
        step = fused + torch.eye(fused.shape[-1], dtype=torch.float64)
        result = (step / step.sum(dim=-1, keepdim=True)) @ result
    return result


def _ours(tmp_path, reference, name):
    path = tmp_path / f"{name}.safetensors"
    save_model(path, reference.state_dict(), {})
    return vit.load(path)


@pytest.mark.parametrize("name, overrides, side, special", MODELS, ids=[m[0] for m in MODELS])
def test_relevance_equals_the_rule_written_out_on_timm(tmp_path, name, overrides, side, special):
    for seed in (0, 1):
        reference = timm_model(name, seed, **overrides)
        model = _ours(tmp_path, reference, f"{name}_{seed}")
        assert len(model.config.special_tokens) == special
        x = pixels(seed, side, side)
        trace = model.trace(x)
        for target in trace.logits[0].argsort(descending=True)[:2].tolist():
            ours = rl.relevance(model.net, x, target)
            attentions, gradients = reference_gradients(reference, x, target)
            chefer = reference_chefer(attentions, gradients).float()
            scale = max(1.0, float(chefer.abs().max()))
            close(ours.chefer, chefer, f"{name} Chefer R, class {target}", seed, tol=1e-6 * scale)
            close(ours.gradient_rollout, reference_gradient_rollout(attentions, gradients).float(),
                  f"{name} gradient rollout, class {target}", seed, tol=1e-6)
            assert ours.logit == pytest.approx(float(trace.logits[0, target]), abs=1e-5)
            # the explanation row is class-specific, and is the CLS row without its own entry
            assert ours.row("chefer", 0)[0] >= 1.0, f"seed {seed}: R = I + … keeps [CLS]'s own entry ≥ 1"


def test_relevance_follows_the_class_chosen(tmp_path):
    reference = timm_model("vit_small_patch16_224", 3, img_size=64, depth=3, num_classes=10)
    model = _ours(tmp_path, reference, "follow")
    x = pixels(3, 64, 64)
    first, second = model.trace(x).logits[0].argsort(descending=True)[:2].tolist()
    a, b = rl.relevance(model.net, x, first), rl.relevance(model.net, x, second)
    assert (a.target, b.target) == (first, second)
    gap = (a.row("chefer", 0)[1:] - b.row("chefer", 0)[1:]).abs().max().item()
    assert gap > 1e-3, f"relevance of classes {first} and {second} should differ (max gap {gap:.1e})"
    for target, ours in ((first, a), (second, b)):
        chefer = reference_chefer(*reference_gradients(reference, x, target)).float()
        close(ours.chefer, chefer, f"class {target}", 3, tol=1e-6 * max(1.0, float(chefer.abs().max())))


def test_relevance_with_heads_switched_off_matches_timm_with_those_heads_zeroed(tmp_path):
    reference = timm_model("vit_small_patch16_224", 4, img_size=64, depth=3, num_classes=10)
    model = _ours(tmp_path, reference, "masked")
    x = pixels(4, 64, 64)
    off = [(0, 1), (1, 0), (1, 5), (2, 3)]
    mask = torch.ones(3, 6)
    for layer, head in off:
        mask[layer, head] = 0

    def zero(layer):
        def pre(_module, inputs):
            (y,) = inputs
            y = y.clone().view(*y.shape[:-1], 6, -1)
            y[..., mask[layer] == 0, :] = 0
            return (y.flatten(-2),)
        return pre

    handles = [block.attn.proj.register_forward_pre_hook(zero(i)) for i, block in enumerate(reference.blocks)]
    try:
        target = int(reference(x).argmax())
        chefer = reference_chefer(*reference_gradients(reference, x, target)).float()
    finally:
        for handle in handles:
            handle.remove()
    close(rl.relevance(model.net, x, target, head_mask=mask).chefer, chefer, "masked Chefer R", 4,
          tol=1e-6 * max(1.0, float(chefer.abs().max())))


def test_gradient_rollout_never_discards_the_special_tokens():
    generator = torch.Generator().manual_seed(5)
    a = [torch.rand(2, 7, 7, generator=generator).softmax(-1) for _ in range(3)]
    g = [torch.randn(2, 7, 7, generator=generator) for _ in range(3)]
    kept = rl.gradient_rollout(a, g, discard_ratio=0.9, protect=2)
    plain = rl.gradient_rollout(a, g, discard_ratio=0.0, protect=2)
    torch.testing.assert_close(kept.sum(-1), torch.ones(7))
    assert not torch.allclose(kept, plain), "discarding 90 % of the entries should change the rollout"
    fused = (g[0] * a[0]).mean(0).clamp_min(0)
    assert (fused[:, :2] > 0).any(), "seed 5 must give a positive entry in a protected column"


def test_models_without_a_classifier_are_refused_with_the_reason():
    net = VisionTransformer(ViTConfig(image_size=32, patch_size=8, dim=32, depth=2, heads=2, mlp_dim=64,
                                      num_classes=0)).eval()
    with pytest.raises(ValueError, match="no classifier head"):
        rl.relevance(net, torch.zeros(1, 3, 32, 32), 0)
    net = VisionTransformer(ViTConfig(image_size=32, patch_size=8, dim=32, depth=2, heads=2, mlp_dim=64,
                                      num_classes=3)).eval()
    with pytest.raises(ValueError, match="outside this model's 3 classes"):
        rl.relevance(net, torch.zeros(1, 3, 32, 32), 3)
    with pytest.raises(ValueError, match="relevance method must be one of"):
        rl.relevance(net, torch.zeros(1, 3, 32, 32), 1).matrix("lrp")


def test_the_pooling_probe_row_is_its_weights_carried_through_relevance():
    torch.manual_seed(6)
    cfg = ViTConfig(image_size=32, patch_size=8, dim=32, depth=2, heads=2, mlp_dim=64, num_classes=3,
                    class_token=False, pos_prefix=0, pool="map")
    net = VisionTransformer(cfg).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    result = rl.relevance(net, x, 1)
    trace = net.trace(x)
    torch.testing.assert_close(result.pool_row, trace.pool_attention[:, 0].mean(0))
    torch.testing.assert_close(result.row("chefer", -1), result.pool_row @ result.chefer)
