"""The logit lens: the last layer's read-out is the model's own output, for every pooling; tokens read alone by hand."""

from __future__ import annotations

import pytest
import torch
from vit_parity import perturb, pixels

from explorer.engine.vit import logit_lens as ll
from explorer.engine.vit.config import ViTConfig
from explorer.engine.vit.model import VisionTransformer

BASE = dict(image_size=32, patch_size=8, dim=48, depth=3, heads=4, mlp_dim=96, num_classes=9)
#: Every way the app's ViT reads its output: [CLS], DeiT's two heads, the patch mean with fc_norm,
#: [CLS] beside the patch mean (DINOv2 classifier), the attention pool (SigLIP), and registers.
POOLINGS = {
    "cls": {},
    "distilled": dict(distillation_token=True, pos_prefix=2),
    "avg": dict(pool="avg", fc_norm=True, final_norm=False),
    "cls_avg": dict(pool="cls_avg"),
    "map": dict(pool="map", class_token=False, pos_prefix=0),
    "registers": dict(registers=3),
}


def _net(seed: int, **overrides) -> VisionTransformer:
    torch.manual_seed(seed)
    return perturb(VisionTransformer(ViTConfig(**{**BASE, **overrides})), seed, scale=0.2)


@pytest.mark.parametrize("pooling", list(POOLINGS))
def test_the_last_layer_read_out_is_the_models_own_output(pooling):
    for seed in (0, 1):
        net = _net(seed, **POOLINGS[pooling])
        trace = net.trace(pixels(seed, 32, 32))
        top = trace.logits[0].argsort(descending=True)[:5].tolist()
        lens = ll.logit_lens(net, trace.tokens, top)
        assert lens.readout.shape == (4, 9) and lens.token_probs.shape == (4, trace.layout.total, 5)
        torch.testing.assert_close(torch.from_numpy(lens.readout[-1]), trace.probabilities[0], atol=1e-6, rtol=0)
        assert lens.top1[-1] == top[0]
        for layer in range(3):  # every earlier layer is the same read-out of that layer's tokens
            expected = net.read_out(trace.tokens[layer][None])[1].softmax(-1)[0]
            torch.testing.assert_close(torch.from_numpy(lens.readout[layer]), expected, atol=1e-6, rtol=0)


def test_each_token_read_alone_is_the_head_on_its_own_normed_token():
    net = _net(2)
    trace = net.trace(pixels(2, 32, 32))
    classes = [4, 0, 8]
    lens = ll.logit_lens(net, trace.tokens, classes)
    for layer in (0, 2, 3):
        with torch.no_grad():
            probs = net.head(net.norm(trace.tokens[layer])).softmax(-1)  # (T, K)
        torch.testing.assert_close(torch.from_numpy(lens.token_probs[layer]), probs[:, classes], atol=1e-6, rtol=0)
        assert (lens.token_top[layer] == probs.argmax(-1).numpy()).all()
    # for [CLS] pooling, [CLS] read alone at the last layer is the model's output
    torch.testing.assert_close(torch.from_numpy(lens.token_probs[-1, 0]), trace.probabilities[0, classes], atol=1e-6, rtol=0)
    patch_map = lens.class_map(3, 8, trace.leading, trace.grid)
    torch.testing.assert_close(torch.from_numpy(patch_map).reshape(-1), probs[1:, 8], atol=1e-6, rtol=0)


def test_mean_pooling_reads_a_token_through_its_fc_norm():
    net = _net(3, **POOLINGS["avg"])
    trace = net.trace(pixels(3, 32, 32))
    lens = ll.logit_lens(net, trace.tokens, [1])
    with torch.no_grad():
        expected = net.head(net.fc_norm(trace.tokens[2])).softmax(-1)[:, 1]
    torch.testing.assert_close(torch.from_numpy(lens.token_probs[2, :, 0]), expected, atol=1e-6, rtol=0)


def test_the_prediction_settles_where_the_top_class_stops_changing():
    assert ll.settle_layer([3, 1, 2, 2, 2]) == 2
    assert ll.settle_layer([2, 2, 2]) == 0
    assert ll.settle_layer([2, 1, 2, 1]) == 3
    net = _net(4)
    trace = net.trace(pixels(4, 32, 32))
    lens = ll.logit_lens(net, trace.tokens, [0])
    top1 = lens.top1
    assert (top1[lens.settled:] == top1[-1]).all()
    assert lens.settled == 0 or top1[lens.settled - 1] != top1[-1]


def test_models_without_a_classifier_or_bad_classes_are_refused():
    net = _net(5, num_classes=0)
    trace = net.trace(pixels(5, 32, 32))
    with pytest.raises(ValueError, match="has none"):
        ll.logit_lens(net, trace.tokens, [0])
    net = _net(5)
    with pytest.raises(ValueError, match="indices below 9"):
        ll.logit_lens(net, net.trace(pixels(5, 32, 32)).tokens, [9])
