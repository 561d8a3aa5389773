"""A real model's head handed to the Attention panel: its Q, K, V are the model's, and attend() on them is its attention.

Random-weight ViTs (our layout, timm's names) and video transformers built from configs,
several seeds. Three checks that can each fail on their own: the recomputed weights
equal the trace's (the model's float32 forward); the heads' outputs through the block's
own projection and MLP give the tokens the trace has after the block (so Q, K, V are
right, not merely consistent); and the output equals ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.engine.attention.core import attend
from explorer.engine.attention.multi_head import multi_head_attention
from explorer.engine.video.heads import video_head
from explorer.engine.video.models import VideoClassifier, VideoModelError
from explorer.engine.vit.heads import layer_qkv, token_labels, vit_head, vit_layer
from explorer.engine.vit.model import VisionTransformer, ViTConfig

WEIGHTS_TOL = 1e-6  # the model's attention is float32: ours (float64 on its float32 Q, K, V) agrees to this


def random_vit(seed: int, *, image=64, patch=8, dim=96, depth=4, heads=4) -> tuple[VisionTransformer, object]:
    torch.manual_seed(seed)
    cfg = ViTConfig(image_size=image, patch_size=patch, dim=dim, depth=depth, heads=heads, mlp_dim=2 * dim, num_classes=5)
    net = VisionTransformer(cfg).eval()
    return net, net.trace(torch.randn(1, 3, image, image))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vit_heads_recompute_the_models_attention(seed):
    net, trace = random_vit(seed)
    for layer in range(4):
        outputs = []
        for head in range(4):
            real = vit_head(net, trace, layer, head, query=7)
            ours = attend(real.q, real.k, real.v, scale=real.scale)
            error = float((ours.weights - trace.attentions[layer][head].double()).abs().max())
            assert error < WEIGHTS_TOL, f"seed {seed}, layer {layer + 1}, head {head + 1}: |Δw| {error:.2e}"
            sdpa = F.scaled_dot_product_attention(real.q.double()[None], real.k.double()[None], real.v.double()[None])
            np.testing.assert_allclose(ours.output.numpy(), sdpa[0].numpy(), atol=1e-12, err_msg=f"seed {seed}")
            outputs.append(ours.output.float())  # (T, d_head)
        block = net.blocks[layer]
        x = trace.tokens[layer]
        after = x + block.ls1(block.attn.proj(torch.cat(outputs, dim=-1)))
        after = after + block.ls2(block.mlp(block.norm2(after)))
        torch.testing.assert_close(after, trace.tokens[layer + 1], atol=2e-5, rtol=0,
                                   msg=lambda m, layer=layer: f"seed {seed}, layer {layer + 1}: {m}")


def test_a_vit_head_names_its_tokens_and_carries_its_picture():
    net, trace = random_vit(3)
    picture = np.zeros((70, 66, 3), dtype=np.uint8)  # larger than the grid: cut to 64 × 64
    real = vit_head(net, trace, 1, 2, query=18, picture=picture, model_name="random ViT", input_name="cat.png")
    assert real.token_labels[:3] == ("[CLS]", "(0, 0)", "(0, 1)") and real.token_labels[18] == "(2, 1)"
    assert real.grid == (8, 8) and real.first_patch == 1 and real.image.shape == (64, 64, 3)
    assert real.title == "random ViT · cat.png · layer 2, head 3" and real.query == 18
    assert real.source.trace is trace
    with pytest.raises(ValueError, match="layer 9 does not exist: the model has 4 layers"):
        vit_head(net, trace, 8, 0)
    with pytest.raises(ValueError, match="head 5 does not exist: layer 1 has 4 heads"):
        vit_head(net, trace, 0, 4)


@pytest.mark.parametrize("leading, attributes, expected", [
    (1, {"cls_token": 1}, ["[CLS]"]),
    (2, {"cls_token": 1, "dist_token": 1}, ["[CLS]", "dist"]),  # DeiT distilled
    (5, {"cls_token": 1, "register_tokens": 1}, ["[CLS]", "reg 1", "reg 2", "reg 3", "reg 4"]),  # DINOv2 + registers
    (3, {"cls_token": 1, "reg_token": 1}, ["[CLS]", "reg 1", "reg 2"]),  # timm's name for them
    (0, {}, []),  # SigLIP: patches only
    (1, {}, ["token 0"]),  # a layout this reading does not know: said, not guessed
])
def test_token_names_follow_the_models_layout(leading, attributes, expected):
    net = SimpleNamespace(**{"cls_token": None, "dist_token": None, **{k: torch.zeros(1) for k in attributes}})
    trace = SimpleNamespace(grid=(2, 3), tokens=[torch.zeros(leading + 6, 4)])
    assert list(token_labels(net, trace)) == [*expected, "(0, 0)", "(0, 1)", "(0, 2)", "(1, 0)", "(1, 1)", "(1, 2)"]


def test_dinov2_sized_head_has_1370_tokens():
    net, trace = random_vit(4, image=518, patch=14, dim=64, depth=1, heads=1)
    real = vit_head(net, trace, 0, 0, query=700)
    assert real.q.shape == (1370, 64) and real.token_labels[-1] == "(36, 36)"
    error = float((attend(real.q, real.k, real.v).weights - trace.attentions[0][0].double()).abs().max())
    assert error < WEIGHTS_TOL


@pytest.mark.parametrize("seed", [0, 5])
def test_a_vit_layer_for_from_input_is_the_models_projections(seed):
    net, trace = random_vit(seed)
    layer = vit_layer(net, trace, 2)
    ours = multi_head_attention(layer.x, layer.w_q, layer.w_k, layer.w_v, layer.w_o, num_heads=layer.heads,
                                b_q=layer.b_q, b_k=layer.b_k, b_v=layer.b_v, b_o=layer.b_o)
    q, *_rest = layer_qkv(net, trace, 2)
    np.testing.assert_allclose(ours.q.numpy(), q.double().numpy(), atol=5e-6, err_msg=f"seed {seed}")
    assert float((ours.weights - layer.model_weights.double()).abs().max()) < WEIGHTS_TOL
    block = net.blocks[2]
    after = trace.tokens[2] + block.ls1(ours.output.float())
    after = after + block.ls2(block.mlp(block.norm2(after)))
    torch.testing.assert_close(after, trace.tokens[3], atol=2e-5, rtol=0)
    patches = vit_layer(net, trace, 0, source="embeddings", normalise=False)
    torch.testing.assert_close(patches.x, trace.tokens[0][1:])  # patch embeddings + positions = layer 1's patch rows
    assert patches.token_labels[0] == "(0, 0)" and patches.model_weights is None
    with pytest.raises(ValueError, match="source must be one of tokens, embeddings"):
        vit_layer(net, trace, 0, source="pixels")


def random_video(seed: int) -> VideoClassifier:
    torch.manual_seed(seed)
    return VideoClassifier(arch="transformer", heads=4, layers=2).eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_video_heads_recompute_the_models_causal_attention(seed):
    from explorer.engine.video.analysis import analyse

    model = random_video(seed)
    frames = np.random.default_rng(seed).integers(0, 255, size=(12, 48, 48, 3), dtype=np.uint8)
    trace = analyse(model, frames, importance=False)
    for layer in range(2):
        block = model.temporal.blocks[layer]
        outputs = []
        for head in range(4):
            real = video_head(model, trace, layer, head, query=5)
            ours = attend(real.q, real.k, real.v, mask=real.allowed)
            assert np.all(np.triu(ours.weights.numpy(), 1) == 0)
            error = float((ours.weights - trace.attentions[layer][head].double()).abs().max())
            assert error < WEIGHTS_TOL, f"seed {seed}, layer {layer + 1}, head {head + 1}: |Δw| {error:.2e}"
            outputs.append(ours.output.float())
        # the block's own attention on the same input, as the reference for the heads' outputs
        x = model.temporal.inp(trace.features[None]) + model.temporal.pos[:12]
        for earlier in model.temporal.blocks[:layer]:
            x, _ = earlier(x, need_weights=True)
        reference, _ = block.attn(block.norm1(x), need_weights=True)
        torch.testing.assert_close(block.attn.out_proj(torch.cat(outputs, -1)), reference[0], atol=2e-6, rtol=0)
    assert real.token_labels[0] == "frame 1" and real.grid == (1, 12) and real.image.shape == (48, 12 * 48, 3)


def test_a_recurrent_video_model_has_no_head_to_open():
    from explorer.engine.video.analysis import analyse

    model = VideoClassifier(arch="gru").eval()
    trace = analyse(model, np.zeros((4, 48, 48, 3), dtype=np.uint8), importance=False)
    with pytest.raises(VideoModelError, match="recurrent model: there is no attention"):
        video_head(model, trace, 0, 0)
