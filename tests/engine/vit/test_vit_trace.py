"""The trace's contract: attention maps formed on demand equal the written-out ones, tokens say what they are.

And what reads a trace: analyses with any number of special tokens, token norms,
the high-norm artefact rule, the source label of a retrained model, the device,
and preprocessing a user sets.
"""

from __future__ import annotations

import pytest
import torch

from explorer.engine import vit
from explorer.engine.vit import analysis as va
from explorer.engine.vit.model import VisionTransformer
from explorer.engine.vit.trace import AttentionMaps

SEEDS = (0, 1, 2)


def _net(seed: int, **kw) -> VisionTransformer:
    torch.manual_seed(seed)
    config = vit.ViTConfig(**{**dict(image_size=32, patch_size=8, dim=48, depth=3, heads=4, mlp_dim=96,
                                     num_classes=5), **kw})
    net = VisionTransformer(config).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape) * 0.1)
    return net


def _explicit(x: torch.Tensor, net: VisionTransformer) -> list[torch.Tensor]:
    """Each block's weights written out from its own modules, on the CPU."""
    out = []
    tokens = net.norm_pre(net.assemble(net.embed_patches(x), net.position_embeddings((x.shape[2] // 8, x.shape[3] // 8))))
    for block in net.blocks:
        y = block.norm1(tokens)
        b, n, d = y.shape
        q, k, _ = block.attn.qkv(y).reshape(b, n, 3, net.config.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        out.append(torch.softmax(q @ k.transpose(-2, -1) / (d // net.config.heads) ** 0.5, dim=-1)[0])
        tokens = block(tokens)[0]
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_maps_formed_on_demand_equal_the_written_out_weights(seed):
    net = _net(seed, registers=2, distillation_token=True, pos_prefix=2)
    x = torch.randn(1, 3, 40, 24, generator=torch.Generator().manual_seed(seed))
    trace = net.trace(x)
    with torch.no_grad():
        expected = _explicit(x, net)
    assert isinstance(trace.attentions, AttentionMaps) and len(trace.attentions) == 3
    for layer, weights in enumerate(expected):
        torch.testing.assert_close(trace.attentions[layer], weights, atol=1e-6, rtol=1e-5, msg=f"seed {seed}")
        for query in (0, 3, weights.shape[-1] - 1):
            torch.testing.assert_close(trace.attentions.rows(layer, query), weights[:, query], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(trace.attentions[-1], expected[-1], atol=1e-6, rtol=1e-5)
    assert [a.shape for a in trace.attentions[1:]] == [(4, 19, 19)] * 2
    assert trace.attentions[2] is trace.attentions[2]  # kept, not recomputed
    with pytest.raises(IndexError, match="layer 3 out of range for 3 layers"):
        trace.attentions[3]


def test_the_layout_says_which_token_is_which():
    net = _net(3, registers=2, distillation_token=True, pos_prefix=2)
    trace = net.trace(torch.randn(1, 3, 32, 32))
    layout = trace.layout
    assert layout.special == ("[CLS]", "[DIST]", "[REG1]", "[REG2]") and layout.grid == (4, 4)
    assert (layout.leading, layout.patches, layout.total, layout.depth, layout.heads) == (4, 16, 20, 3, 4)
    assert layout.name_of(1) == "[DIST]" and layout.name_of(4) == "patch 0" and layout.token_of_patch(5) == 9
    assert "distillation" in layout.kind_of(1) and "no position embedding" in layout.kind_of(3)
    z0 = trace.tokens[0]
    torch.testing.assert_close(z0[0], (net.cls_token[0, 0] + trace.pos_embed[0]).detach())
    torch.testing.assert_close(z0[1], (net.dist_token[0, 0] + trace.pos_embed[1]).detach())
    torch.testing.assert_close(z0[2:4], net.reg_token[0].detach())  # registers: no position embedding
    torch.testing.assert_close(z0[4:], trace.patch_embeddings + trace.patch_pos_embed)


def test_a_model_without_class_token_pools_by_attention():
    net = _net(4, class_token=False, pos_prefix=0, pool="map")
    trace = net.trace(torch.randn(1, 3, 32, 32))
    assert trace.layout.special == () and trace.tokens[0].shape == (16, 48)
    assert trace.pool_attention.shape == (4, 1, 16)
    torch.testing.assert_close(trace.pool_attention.sum(-1), torch.ones(4, 1))


def test_analyses_skip_any_number_of_special_tokens():
    net = _net(5, registers=4)
    trace = net.trace(torch.randn(1, 3, 32, 32))
    a = trace.attentions[1]  # (4, 21, 21): [CLS], 4 registers, 16 patches
    torch.testing.assert_close(va.attention_map(a, trace.grid, 2, 1), a[1, 2, 5:].reshape(4, 4))
    torch.testing.assert_close(va.attention_map(trace.attentions.rows(1, 7), trace.grid, head=None),
                               a.mean(0)[7, 5:].reshape(4, 4))
    patches = a[:, 5:, 5:].double()
    patches = patches / patches.sum(-1, keepdim=True)
    expected = (patches * (va.grid_distances(trace.grid) * 8).double()).sum(-1).mean(-1).float()
    torch.testing.assert_close(va.mean_attention_distance(trace.attentions, trace.grid, 8)[1], expected)
    joint = va.rollout(trace.attentions, "mean", 0.9, protect=5)
    layers = [va.rollout_layer(x, "mean", 0.9, protect=5) for x in trace.attentions]
    for query in (0, 3, 12):
        torch.testing.assert_close(va.rollout_row(layers, query), joint[query], atol=1e-6, rtol=1e-5)
    assert torch.all(layers[0][:, :5] > 0)  # attention to the special tokens is never discarded
    sim = va.position_similarity(trace.pos_embed, trace.num_patches)
    assert sim.shape == (16, 16)


def test_token_norms_and_the_high_norm_rule():
    tokens = [torch.randn(21, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    tokens[2][9] *= 30  # one artefact patch (patch 4 after 5 special tokens)
    tokens[2][0] *= 30  # a large [CLS] is not a patch outlier
    norms = va.token_norms(tokens)
    torch.testing.assert_close(norms, torch.stack([t.norm(dim=-1) for t in tokens]))
    flagged = va.high_norm_patches(norms[2], leading=5)
    assert flagged.tolist() == [i == 4 for i in range(16)]
    assert not va.high_norm_patches(norms[1], leading=5).any()


def test_a_model_retrained_in_the_app_is_not_called_bundled(tmp_path):
    from explorer.engine.training.loop import save_trained, train
    from explorer.engine.training.registry import available_tasks

    entry = available_tasks()["vit-shapes"]
    task = entry.make()
    result = train(task, entry.default_config(steps=1, batch_size=2, warmup_steps=0))
    path = save_trained(tmp_path / "vit-shapes_20250101-071448.safetensors", task, result, extra={"trained_in": "app"})
    model = vit.load(path)
    assert model.config.source == "trained in this app" and model.generated_only
    assert model.config.preprocessing_from == "stored with the model"
    assert vit.load("shapes").config.source == "bundled"
    plain = save_trained(tmp_path / "script.safetensors", task, result)
    assert vit.load(plain).config.source == "this project's format" and vit.load(plain).generated_only


def test_devices():
    devices = vit.available_devices()
    assert devices[0] == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "mps" if "mps" in devices else "cpu"
    assert vit.pick_device("auto") == expected
    if "cuda" not in devices:
        with pytest.raises(ValueError, match="not available"):
            vit.pick_device("cuda")
    model = vit.load("shapes", device="cpu")
    assert model.device == "cpu" and model.trace(torch.zeros(1, 3, 64, 64)).device == "cpu"


def test_preprocessing_a_user_sets_is_used_and_said_so():
    from PIL import Image

    model = vit.load("shapes")
    image = Image.new("RGB", (80, 64), (200, 100, 50))
    changed = model.with_preprocessing(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    assert changed.net is model.net and changed.config.preprocessing_from == "set by you"
    torch.testing.assert_close(changed.preprocess(image)[0, :, 0, 0], torch.tensor([200, 100, 50]) / 255.0)
    with pytest.raises(ValueError, match="std"):
        model.with_preprocessing(std=(0.0, 1.0, 1.0))


def test_dinov2_sizes_are_accepted():
    model = vit.LoadedViT(_net(6, image_size=28, patch_size=14), vit.ViTConfig(image_size=28, patch_size=14), "x")
    assert model.input_side(518) == 518 and (518 // 14) ** 2 == 1369 <= vit.MAX_PATCHES
    with pytest.raises(ValueError, match="patches"):
        model.input_side(1022)
