"""timm-layout checkpoints against the real timm: each family built by ``timm.create_model(pretrained=False)``.

Every weight perturbed; logits (or pooled features), every block's attention and
the extra tokens compared at the native size and at two others, one smaller and
not square (downsampling is where timm's antialiasing shows). Skipped without timm.
"""

from __future__ import annotations

import json

import pytest
import torch
from vit_parity import SEEDS, close, pixels, timm_attention, timm_model, timm_output

from explorer.engine import vit
from explorer.engine.infra.checkpoints import save_model

pytest.importorskip("timm")

#: (timm name, overrides that keep it small, native side, two other (H, W), family, special tokens)
FAMILIES = [
    ("vit_small_patch16_224", dict(img_size=64, depth=2), 64, [(48, 32), (160, 192)], "ViT", ("[CLS]",)),
    ("vit_small_patch14_dinov2", dict(img_size=56, depth=2), 56, [(42, 28), (70, 84)], "DINOv2", ("[CLS]",)),
    ("vit_small_patch14_reg4_dinov2", dict(img_size=56, depth=2), 56, [(42, 28), (70, 84)], "DINOv2 with registers",
     ("[CLS]", "[REG1]", "[REG2]", "[REG3]", "[REG4]")),
    ("deit_tiny_distilled_patch16_224", dict(img_size=64, depth=2), 64, [(48, 32), (160, 192)], "DeiT (distilled)",
     ("[CLS]", "[DIST]")),
    ("vit_base_patch16_clip_224", dict(img_size=64, depth=2, embed_dim=192, num_heads=3), 64, [(48, 32), (160, 192)],
     "CLIP vision", ("[CLS]",)),
    ("vit_base_patch16_siglip_224", dict(img_size=64, depth=2, embed_dim=192, num_heads=3), 64, [(48, 32), (160, 192)],
     "SigLIP vision", ()),
]


@pytest.mark.parametrize("name, overrides, native, others, family, special", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_timm_families_match_timm_at_native_and_other_sizes(tmp_path, name, overrides, native, others, family, special):
    for seed in SEEDS[:2]:
        reference = timm_model(name, seed, **overrides)
        path = tmp_path / f"{name}_{seed}.safetensors"
        save_model(path, reference.state_dict(), {})
        model = vit.load(path)
        assert model.config.family == family and model.config.special_tokens == special
        assert model.config.pos_interpolation == "bicubic-antialias" and model.config.source == "timm"
        for h, w in [(native, native), *others]:
            x = pixels(seed, h, w)
            trace = model.trace(x)
            ours = trace.logits if trace.logits.numel() else trace.features
            close(ours, timm_output(reference, x), f"{name} output at {h}×{w}", seed)
            for layer, theirs in enumerate(timm_attention(reference, x)):
                close(trace.attentions[layer], theirs, f"{name} attention layer {layer} at {h}×{w}", seed)
            assert trace.layout.special == special and trace.layout.grid == (h // model.config.patch_size,
                                                                            w // model.config.patch_size)


def test_plain_resampling_would_miss_timm_where_it_downsamples(tmp_path):
    """The reason each family resamples its own way: transformers' rule is 1e-3 to 1e-2 off timm at 48×32."""
    reference = timm_model("vit_small_patch16_224", 5, img_size=64, depth=2)
    save_model(tmp_path / "s.safetensors", reference.state_dict(), {})
    model = vit.load(tmp_path / "s.safetensors")
    x = pixels(5, 48, 32)
    expected = timm_output(reference, x)
    close(model.trace(x).logits, expected, "timm rule", 5)
    model.net.config.pos_interpolation = "bicubic"
    assert (model.trace(x).logits - expected).abs().max() > 1e-3


def test_siglip_pool_attention_is_the_probe_over_all_tokens(tmp_path):
    reference = timm_model("vit_base_patch16_siglip_224", 3, img_size=64, depth=1, embed_dim=192, num_heads=3)
    save_model(tmp_path / "siglip.safetensors", reference.state_dict(), {})
    model = vit.load(tmp_path / "siglip.safetensors")
    x = pixels(3, 64, 64)
    trace = model.trace(x)
    pool = reference.attn_pool
    with torch.no_grad():  # timm's own modules, the probe's weights written out
        tokens = reference.forward_features(x)  # (1, N, D), after the final norm
        b, n, d = tokens.shape
        q = pool.q(pool.latent).reshape(1, 1, 3, d // 3).transpose(1, 2)
        k = pool.kv(tokens).reshape(b, n, 2, 3, d // 3).permute(2, 0, 3, 1, 4)[0]
        expected = ((q * (d // 3) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)[0]  # (h, 1, N)
    assert trace.pool_attention.shape == (3, 1, 16)
    close(trace.pool_attention, expected, "SigLIP probe attention", 3)


def test_timm_hub_folder_gives_preprocessing_activation_and_names(tmp_path):
    """timm's hub folders: config.json with architecture and pretrained_cfg; quickgelu named in the architecture."""
    reference = timm_model("vit_base_patch16_clip_quickgelu_224", 4, img_size=64, depth=2, embed_dim=192, num_heads=3,
                           num_classes=3)
    save_model(tmp_path / "model.safetensors", reference.state_dict(), {})
    cfg = {"architecture": "vit_base_patch16_clip_quickgelu_224", "num_classes": 3, "label_names": ["a", "b", "c"],
           "pretrained_cfg": {"input_size": [3, 64, 64], "interpolation": "bicubic", "crop_pct": 0.95,
                              "mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    model = vit.load(tmp_path)
    assert model.config.act == "quick_gelu" and model.class_names == ["a", "b", "c"]
    assert model.config.preprocessing_from == "pretrained_cfg in config.json" and not model.preprocessing_assumed
    assert model.config.crop_pct == pytest.approx(0.95) and model.config.default_input_size == 64
    x = pixels(4, 64, 64)
    close(model.trace(x).logits, timm_output(reference, x), "CLIP quick-GELU via hub folder", 4)
    opened_file = vit.load(tmp_path / "model.safetensors")  # the weight file inside the folder is read with it
    assert opened_file.config.act == "quick_gelu"
    bare = tmp_path / "bare.safetensors"  # no config: exact GELU assumed, and said so
    save_model(bare, reference.state_dict(), {})
    assumed = vit.load(bare)
    assert assumed.config.act == "gelu" and any("the file does not say" in note for note in assumed.notes)
    assert assumed.preprocessing_assumed and any("preprocessing assumed" in note for note in assumed.notes)


def test_timm_preprocessing_geometry_matches_timms_transform(tmp_path):
    """Our resize + crop + normalise against timm's own eval transform for the same pretrained_cfg."""
    timm_data = pytest.importorskip("timm.data")
    from PIL import Image

    reference = timm_model("vit_small_patch16_224", 6, img_size=64, depth=1)
    save_model(tmp_path / "model.safetensors", reference.state_dict(), {})
    pretrained = {"input_size": [3, 64, 64], "interpolation": "bicubic", "crop_pct": 0.9,
                  "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_small_patch16_224", "pretrained_cfg": pretrained}))
    model = vit.load(tmp_path)
    transform = timm_data.create_transform(**timm_data.resolve_data_config(pretrained_cfg=pretrained))
    rng = torch.Generator().manual_seed(6)
    for size in ((97, 61), (64, 128), (300, 200)):
        image = Image.fromarray((torch.rand(size[1], size[0], 3, generator=rng) * 255).byte().numpy())
        close(model.preprocess(image)[0], transform(image), f"timm transform of a {size} image", 6, tol=1e-5)


def test_timm_average_pooling_with_fc_norm(tmp_path):
    """timm's global_pool='avg': no final norm, the mean of the patch tokens, then fc_norm and the head."""
    reference = timm_model("vit_small_patch16_224", 8, img_size=64, depth=2, global_pool="avg")
    save_model(tmp_path / "avg.safetensors", reference.state_dict(), {})
    model = vit.load(tmp_path / "avg.safetensors")
    assert model.config.pool == "avg" and model.config.fc_norm and not model.config.final_norm
    for h, w in ((64, 64), (48, 32)):
        x = pixels(8, h, w)
        close(model.trace(x).logits, timm_output(reference, x), f"avg pool at {h}×{w}", 8)


def test_an_unsupported_variant_fails_naming_what_it_lacks(tmp_path):
    reference = timm_model("vit_small_patch16_224", 9, img_size=32, depth=1, qk_norm=True)
    save_model(tmp_path / "qknorm.safetensors", reference.state_dict(), {})
    with pytest.raises(vit.ViTFormatError, match=r"qk-norm.*blocks\.0\.attn\.q_norm\.weight"):
        vit.load(tmp_path / "qknorm.safetensors")
