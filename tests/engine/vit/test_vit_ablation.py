"""Head ablation: zeroed heads against timm with its heads zeroed by a hook, a hand computation, and single runs."""

from __future__ import annotations

import pytest
import torch
from vit_parity import close, perturb, pixels, timm_model

from explorer.engine import vit
from explorer.engine.infra.checkpoints import save_model
from explorer.engine.infra.progress import Cancelled, Reporter
from explorer.engine.vit import ablation as ab
from explorer.engine.vit.config import ViTConfig
from explorer.engine.vit.model import VisionTransformer

SMALL = dict(image_size=32, patch_size=8, dim=48, depth=3, heads=4, mlp_dim=96, num_classes=7)


def _net(seed: int, **overrides) -> VisionTransformer:
    torch.manual_seed(seed)
    return perturb(VisionTransformer(ViTConfig(**{**SMALL, **overrides})), seed, scale=0.2)


def _image(seed: int, side: int = 32) -> torch.Tensor:
    return pixels(seed, side, side)


def test_all_heads_off_in_a_layer_zero_its_attention_output_and_match_a_hand_computation():
    for seed in (0, 1, 2):
        net = _net(seed, layer_scale=True)
        x = _image(seed)
        layer = seed % 3
        seen = []
        handle = net.blocks[layer].attn.proj.register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[0]))
        try:
            trace = net.trace(x, ab.head_mask(3, 4, [(layer, h) for h in range(4)]))
        finally:
            handle.remove()
        assert seen and seen[0].abs().max() == 0, f"seed {seed}: the heads' outputs before the projection must be 0"
        with torch.no_grad():  # by hand: the attention branch of that layer is the projection's bias alone
            h = net.encoder_input(x)
            for i, block in enumerate(net.blocks):
                branch = block.attn.proj.bias.expand_as(h) if i == layer else block.attn(block.norm1(h))[0]
                h = h + block.ls1(branch)
                h = h + block.ls2(block.mlp(block.norm2(h)))
            expected = net.read_out(h)[1]
        close(trace.logits, expected, f"logits with layer {layer} off", seed, tol=1e-5)
        assert (trace.logits - net.trace(x).logits).abs().max() > 1e-3, f"seed {seed}: switching a layer off must matter"
        torch.testing.assert_close(trace.head_mask, ab.head_mask(3, 4, [(layer, h) for h in range(4)]))


def test_switched_off_heads_match_timm_with_those_heads_zeroed_before_the_projection(tmp_path):
    pytest.importorskip("timm")
    for seed in (0, 1):
        reference = timm_model("vit_small_patch16_224", seed, img_size=64, depth=3, num_classes=10)
        save_model(tmp_path / f"s{seed}.safetensors", reference.state_dict(), {})
        model = vit.load(tmp_path / f"s{seed}.safetensors")
        generator = torch.Generator().manual_seed(seed)
        mask = (torch.rand(3, 6, generator=generator) > 0.4).float()
        assert 0 < mask.sum() < mask.numel(), f"seed {seed} must switch some heads off, not all"

        def zero(layer):
            def pre(_module, inputs):
                y = inputs[0].reshape(*inputs[0].shape[:-1], 6, -1) * mask[layer].view(6, 1)
                return (y.flatten(-2),)
            return pre

        handles = [b.attn.proj.register_forward_pre_hook(zero(i)) for i, b in enumerate(reference.blocks)]
        try:
            with torch.no_grad():
                theirs = reference(_image(seed, 64))
        finally:
            for handle in handles:
                handle.remove()
        close(model.trace(_image(seed, 64), mask).logits, theirs, "ablated logits vs timm", seed, tol=1e-5)


@pytest.mark.parametrize("batch", [None, 1, 3])
def test_the_importance_grid_equals_single_ablations(batch):
    for seed in (3, 4):
        net = _net(seed)
        x = _image(seed)
        base_logits = net.trace(x).logits[0]
        target = int(base_logits.argsort()[-2])  # not the top class: any class works
        base = ab.head_mask(3, 4, [(1, 2)]) if seed == 4 else None
        importance = ab.head_importance(net, x, target, base=base, batch=batch)
        start = net.trace(x, base).logits[0, target]
        assert importance.baseline == pytest.approx(float(start), abs=1e-5)
        for layer in range(3):
            for head in range(4):
                mask = (base if base is not None else torch.ones(3, 4)).clone()
                mask[layer, head] = 0
                single = float(start - net.trace(x, mask).logits[0, target])
                assert importance.drop[layer, head] == pytest.approx(single, abs=1e-5), (seed, layer, head)
        assert (importance.drop != 0).sum() >= 10, f"seed {seed}: heads of a random model should matter"
        if base is not None:
            assert importance.drop[1, 2] == 0 and importance.base == [(1, 2)]


def test_without_a_classifier_importance_is_how_far_the_pooled_output_turns():
    net = _net(5, num_classes=0)
    x = _image(5)
    importance = ab.head_importance(net, x)
    assert importance.measure == "cosine" and importance.baseline == pytest.approx(1.0, abs=1e-6)
    features = net.trace(x).features
    mask = ab.head_mask(3, 4, [(2, 1)])
    turned = net.trace(x, mask).features
    expected = 1 - torch.nn.functional.cosine_similarity(features, turned).item()
    assert importance.drop[2, 1] == pytest.approx(expected, abs=1e-6) and expected > 1e-4
    with pytest.raises(ValueError, match="choose the class"):
        ab.head_importance(_net(5), x)
    with pytest.raises(ValueError, match="outside this model's 7 classes"):
        ab.head_importance(_net(5), x, 7)


def test_importance_reports_each_batch_of_heads_and_stops_on_cancel():
    net = _net(6)
    seen = []
    ab.head_importance(net, _image(6), 0, batch=2, reporter=Reporter(lambda f, text: seen.append((f, text))))
    assert seen[0] == (0.0, "head importance: 0 of 12 heads") and seen[-1] == (1.0, "head importance: 12 of 12 heads")
    assert len(seen) == 1 + 3 * 2  # two batches a layer
    reporter = Reporter(lambda f, _text: reporter.cancel() if f > 0 else None)
    with pytest.raises(Cancelled, match="cancelled"):
        ab.head_importance(net, _image(6), 0, batch=1, reporter=reporter)


def test_head_masks_are_checked():
    with pytest.raises(ValueError, match=r"outside 3 layers × 4 heads"):
        ab.head_mask(3, 4, [(3, 0)])
    with pytest.raises(ValueError, match=r"a head mask must be \(depth, heads\)"):
        _net(7).trace(_image(7), torch.ones(4, 3))
    assert ab.switched_off(ab.head_mask(3, 4, [(2, 3), (0, 1)])) == [(0, 1), (2, 3)]
