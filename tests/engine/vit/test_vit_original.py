"""The families' own repositories: DINO (released backbone and training checkpoint), DINOv2, OpenAI / OpenCLIP CLIP.

No library builds these layouts, so their keys are written here by hand from
a real timm model of the same architecture (the transformer itself is timm's),
and at other input sizes the position embeddings are resampled by DINO's
formula, written out below from its ``interpolate_pos_encoding``.
"""

from __future__ import annotations

import argparse
import json

import pytest
import torch
import torch.nn.functional as F
from vit_parity import SEEDS, close, pixels, timm_model, timm_output

from explorer.engine import vit
from explorer.engine.infra.checkpoints import CheckpointError, save_model

timm = pytest.importorskip("timm")


def dino_interpolate(pos: torch.Tensor, h: int, w: int, patch: int, prefix: int = 1) -> torch.Tensor:
    """DINO / DINOv2's interpolate_pos_encoding: bicubic with scale_factor (g + 0.1) / √N."""
    cls_pos, patch_pos = pos[:, :prefix], pos[:, prefix:]
    m = int(patch_pos.shape[1] ** 0.5)
    grid = patch_pos.reshape(1, m, m, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=((h // patch + 0.1) / m, (w // patch + 0.1) / m), mode="bicubic")
    return torch.cat([cls_pos, grid.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[-1])], dim=1)


def timm_at(name: str, sd: dict, h: int, w: int, **kwargs):
    """The same weights in a timm model built for h×w, with position embeddings given (not resampled by timm)."""
    model = timm.create_model(name, pretrained=False, img_size=(h, w), **kwargs).eval()
    model.load_state_dict(sd)
    return model


# -- DINO v1 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_dino_released_backbone_resamples_the_dino_way(tmp_path, seed):
    reference = timm_model("vit_tiny_patch16_224", seed, img_size=64, depth=2, num_classes=0)
    sd = reference.state_dict()
    torch.save(sd, tmp_path / "dino_deitsmall16_pretrain.pth")
    model = vit.load(tmp_path / "dino_deitsmall16_pretrain.pth")
    assert model.config.family == "DINO" and model.config.pos_interpolation == "bicubic-offset"
    assert model.config.num_classes == 0 and model.top_k(model.trace(pixels(seed, 64, 64))) == []
    close(model.trace(pixels(seed, 64, 64)).features, timm_output(reference, pixels(seed, 64, 64)), "DINO native", seed)
    for h, w in ((48, 32), (96, 80)):
        resized = dict(sd, pos_embed=dino_interpolate(sd["pos_embed"], h, w, 16))
        expected = timm_output(timm_at("vit_tiny_patch16_224", resized, h, w, depth=2, num_classes=0), pixels(seed, h, w))
        close(model.trace(pixels(seed, h, w)).features, expected, f"DINO at {h}×{w}", seed)


def test_dino_training_checkpoint_reads_the_teacher_and_drops_the_head(tmp_path):
    teacher = timm_model("vit_tiny_patch16_224", 4, img_size=64, depth=2, num_classes=0).state_dict()
    student = timm_model("vit_tiny_patch16_224", 5, img_size=64, depth=2, num_classes=0).state_dict()
    head = {"head.mlp.0.weight": torch.randn(32, 192), "head.mlp.0.bias": torch.randn(32),
            "head.last_layer.weight_g": torch.ones(64, 1), "head.last_layer.weight_v": torch.randn(64, 32)}
    state = {f"backbone.{k}": v for k, v in teacher.items()} | head
    torch.save(state, tmp_path / "teacher.pth")  # the usual case: the teacher entry alone
    alone = vit.load(tmp_path / "teacher.pth")
    assert any("the teacher was read" in note for note in alone.notes)
    assert any("projection head's 4 tensors dropped" in note for note in alone.notes)
    both = {"teacher": state, "student": {f"module.backbone.{k}": v for k, v in student.items()}, "epoch": 7}
    torch.save(both, tmp_path / "checkpoint_tensors_only.pth")
    model = vit.load(tmp_path / "checkpoint_tensors_only.pth")
    x = pixels(4, 64, 64)
    torch.testing.assert_close(model.trace(x).features, alone.trace(x).features)  # the teacher, not the student
    full = dict(both, args=argparse.Namespace(arch="vit_small", patch_size=16))  # what main_dino.py writes
    torch.save(full, tmp_path / "checkpoint.pth")
    with pytest.raises(CheckpointError, match=r"main_dino\.py.*argparse\.Namespace") as info:
        vit.load(tmp_path / "checkpoint.pth")
    assert "torch.save(ck['teacher'], 'teacher.pth')" in str(info.value)


# -- DINOv2 -------------------------------------------------------------------------------------------
def _dinov2_original(sd: dict, registers: bool, seed: int) -> dict:
    """timm's DINOv2 keys → the DINOv2 repository's (timm folds the class position into cls_token for registers)."""
    out = {k: v.clone() for k, v in sd.items()}
    out["mask_token"] = torch.zeros(1, sd["pos_embed"].shape[-1])
    if registers:
        cls_pos = torch.randn(1, 1, sd["pos_embed"].shape[-1], generator=torch.Generator().manual_seed(seed)) * 0.1
        out["register_tokens"] = out.pop("reg_token")
        out["cls_token"] = sd["cls_token"] - cls_pos
        out["pos_embed"] = torch.cat([cls_pos, sd["pos_embed"]], dim=1)
    return out


@pytest.mark.parametrize("registers", [False, True], ids=["plain", "registers"])
def test_dinov2_repository_checkpoint(tmp_path, registers):
    name = "vit_small_patch14_reg4_dinov2" if registers else "vit_small_patch14_dinov2"
    for seed in SEEDS[:2]:
        reference = timm_model(name, seed, img_size=56, depth=2)
        original = _dinov2_original(reference.state_dict(), registers, seed)
        torch.save(original, tmp_path / "dinov2_vits14_pretrain.pth")
        model = vit.load(tmp_path / "dinov2_vits14_pretrain.pth")
        assert model.config.family.startswith("DINOv2") and model.config.source == "original"
        assert model.config.pos_interpolation == "bicubic-offset" and model.config.registers == (4 if registers else 0)
        assert model.config.pos_prefix == 1 and any("masked-image-modelling" in n for n in model.notes)
        x = pixels(seed, 56, 56)
        close(model.trace(x).features, timm_output(reference, x), f"DINOv2 native (registers={registers})", seed)
        for h, w in ((42, 28), (84, 70)):
            pos = dino_interpolate(original["pos_embed"], h, w, 14)
            sd = dict(reference.state_dict(), pos_embed=pos[:, 1:] if registers else pos)
            if registers:
                sd["cls_token"] = original["cls_token"] + pos[:, :1]
            expected = timm_output(timm_at(name, sd, h, w, depth=2), pixels(seed, h, w))
            trace = model.trace(pixels(seed, h, w))
            close(trace.features, expected, f"DINOv2 at {h}×{w} (registers={registers})", seed)
            assert trace.tokens[0].shape[0] == (5 if registers else 1) + (h // 14) * (w // 14)


def test_dinov2_chunked_blocks_and_swiglu(tmp_path):
    """ViT-g's layout: SwiGLU MLP (w12 / w3) and blocks stored in chunks (blocks.{chunk}.{i})."""
    from timm.layers import SwiGLUPacked

    reference = timm_model("vit_small_patch14_dinov2", 6, img_size=28, depth=4, mlp_layer=SwiGLUPacked,
                           act_layer=torch.nn.SiLU, mlp_ratio=2.6667)
    original = _dinov2_original(reference.state_dict(), False, 6)
    chunked = {}
    for key, value in original.items():
        if key.startswith("blocks."):
            index = int(key.split(".")[1])
            key = f"blocks.{index // 2}.{key[len('blocks.'):]}".replace(".mlp.fc1.", ".mlp.w12.").replace(".mlp.fc2.", ".mlp.w3.")
        chunked[key] = value
    torch.save(chunked, tmp_path / "dinov2_chunked.pth")
    model = vit.load(tmp_path / "dinov2_chunked.pth")
    assert model.config.act == "swiglu" and model.config.depth == 4
    x = pixels(6, 28, 28)
    close(model.trace(x).features, timm_output(reference, x), "DINOv2 SwiGLU, chunked", 6)


# -- OpenAI / OpenCLIP CLIP ---------------------------------------------------------------------------
def _openai_clip(sd: dict) -> dict:
    """timm's CLIP keys → OpenAI's ``visual.*`` (with a stand-in text tower that must be set aside)."""
    out = {"visual.class_embedding": sd["cls_token"][0, 0], "visual.positional_embedding": sd["pos_embed"][0],
           "visual.conv1.weight": sd["patch_embed.proj.weight"], "visual.ln_pre.weight": sd["norm_pre.weight"],
           "visual.ln_pre.bias": sd["norm_pre.bias"], "visual.ln_post.weight": sd["norm.weight"],
           "visual.ln_post.bias": sd["norm.bias"], "visual.proj": sd["head.weight"].T.contiguous()}
    names = {"norm1": "ln_1", "norm2": "ln_2", "attn.qkv.weight": "attn.in_proj_weight",
             "attn.qkv.bias": "attn.in_proj_bias", "attn.proj": "attn.out_proj", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
    for key, value in sd.items():
        if key.startswith("blocks."):
            _, index, rest = key.split(".", 2)
            for old, new in names.items():
                if rest.startswith(old):
                    rest = new + rest[len(old):]
                    break
            out[f"visual.transformer.resblocks.{index}.{rest}"] = value
    out |= {"positional_embedding": torch.randn(77, 32), "token_embedding.weight": torch.randn(100, 32),
            "transformer.resblocks.0.ln_1.weight": torch.ones(32), "ln_final.weight": torch.ones(32),
            "text_projection": torch.randn(32, 16), "logit_scale": torch.tensor(4.6)}
    return out


def test_openai_clip_layout_with_quick_gelu_and_projection(tmp_path):
    for seed in SEEDS[:2]:
        reference = timm_model("vit_base_patch16_clip_quickgelu_224", seed, img_size=64, depth=2, embed_dim=192,
                               num_heads=3, num_classes=16)
        with torch.no_grad():
            reference.head.bias.zero_()  # CLIP's proj has no bias
        save_model(tmp_path / "clip.safetensors", _openai_clip(reference.state_dict()), {})
        model = vit.load(tmp_path / "clip.safetensors")
        assert (model.config.family, model.config.act, model.config.projection) == ("CLIP vision", "quick_gelu", 16)
        assert model.config.eps == 1e-5 and model.config.norm_pre and model.config.num_classes == 0
        assert any("text tower" in note for note in model.notes)
        for h, w in ((64, 64), (48, 32), (160, 192)):  # OpenCLIP's resize_pos_embed: bicubic with antialiasing
            x = pixels(seed, h, w)
            close(model.trace(x).embedding, timm_output(reference, x), f"OpenAI CLIP at {h}×{w}", seed)


def test_open_clip_folder_says_which_gelu(tmp_path):
    reference = timm_model("vit_base_patch16_clip_224", 7, img_size=64, depth=1, embed_dim=192, num_heads=3,
                           num_classes=16)
    with torch.no_grad():
        reference.head.bias.zero_()
    save_model(tmp_path / "open_clip_model.safetensors", _openai_clip(reference.state_dict()), {})
    (tmp_path / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": {"embed_dim": 16, "quick_gelu": False},
        "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic"}}))
    model = vit.load(tmp_path)
    assert model.config.act == "gelu" and model.config.preprocessing_from == "open_clip_config.json"
    assert model.config.mean == (0.5, 0.5, 0.5)
    x = pixels(7, 64, 64)
    close(model.trace(x).embedding, timm_output(reference, x), "OpenCLIP exact-GELU", 7)
