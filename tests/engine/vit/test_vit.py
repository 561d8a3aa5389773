"""The ViT loader and traced forward against independent references, with random weights.

References: Hugging Face ``ViTForImageClassification`` (saved with
``save_pretrained``), and ``explorer.engine.vit.reference`` built on
``torch.nn.MultiheadAttention`` whose state dict has torchvision's key names,
so these run without timm or torchvision. The real timm, torchvision and the
other families are the references of test_vit_timm, test_vit_torchvision,
test_vit_huggingface and test_vit_original.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from explorer.engine import vit
from explorer.engine.infra.checkpoints import CheckpointError, save_model
from explorer.engine.vit.reference import ReferenceViT

TOL = 1e-4

SMALL = dict(image_size=32, patch_size=8, dim=48, depth=3, heads=4, mlp_dim=96, num_classes=7)


def _randomise(module: torch.nn.Module, seed: int) -> None:
    """Every parameter random (LayerNorm weights and biases too), so no term can hide."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)


# -- Hugging Face ------------------------------------------------------------------------------------
def _hf_model(seed: int, **overrides):
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(
        image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=96, num_labels=5, hidden_act="gelu", attn_implementation="eager", **overrides,
    )
    torch.manual_seed(seed)
    model = transformers.ViTForImageClassification(config).eval()
    _randomise(model, seed)
    return model


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "pytorch_model.bin"])
def test_huggingface_folder_matches_transformers(tmp_path, safe):
    reference = _hf_model(seed=1 if safe else 2)
    reference.save_pretrained(tmp_path)
    if not safe:
        # transformers 5 writes only safetensors; the legacy pytorch_model.bin is the same
        # on-disk tensors in a torch.save'd dict (what transformers 4 wrote with safe_serialization=False).
        from safetensors.torch import load_file

        tensors = load_file(tmp_path / "model.safetensors")
        (tmp_path / "model.safetensors").unlink()
        torch.save(tensors, tmp_path / "pytorch_model.bin")
    model = vit.load(tmp_path)
    assert (model.config.dim, model.config.depth, model.config.heads) == (48, 3, 4)
    assert (model.config.patch_size, model.config.image_size, model.config.num_classes) == (8, 32, 5)
    assert model.config.eps == pytest.approx(1e-12)
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = reference(pixel_values=pixels, output_attentions=True)
    trace = model.trace(pixels)
    torch.testing.assert_close(trace.logits, expected.logits, atol=TOL, rtol=TOL)
    assert len(trace.attentions) == 3
    for ours, theirs in zip(trace.attentions, expected.attentions):
        torch.testing.assert_close(ours, theirs[0], atol=TOL, rtol=TOL)


def test_huggingface_interpolated_position_embeddings(tmp_path):
    reference = _hf_model(seed=4)
    reference.save_pretrained(tmp_path)
    model = vit.load(tmp_path)
    pixels = torch.randn(1, 3, 48, 40, generator=torch.Generator().manual_seed(5))  # 6×5 grid, trained 4×4
    with torch.no_grad():
        expected = reference(pixel_values=pixels, interpolate_pos_encoding=True, output_attentions=True)
    trace = model.trace(pixels)
    assert trace.grid == (6, 5)
    assert trace.pos_embed.shape == (31, 48)
    torch.testing.assert_close(trace.logits, expected.logits, atol=TOL, rtol=TOL)
    torch.testing.assert_close(trace.attentions[-1], expected.attentions[-1][0], atol=TOL, rtol=TOL)


def test_huggingface_class_names_come_from_id2label(tmp_path):
    reference = _hf_model(seed=6, id2label={i: f"thing {i}" for i in range(5)}, label2id={f"thing {i}": i for i in range(5)})
    reference.save_pretrained(tmp_path)
    assert vit.load(tmp_path).class_names == [f"thing {i}" for i in range(5)]


# -- torchvision and timm layouts --------------------------------------------------------------------
def _reference(seed: int, **kwargs) -> ReferenceViT:
    torch.manual_seed(seed)
    model = ReferenceViT(**{**SMALL, **kwargs}).eval()
    _randomise(model, seed)
    return model


@pytest.mark.parametrize("seed", [10, 11])
def test_reference_layout_matches_multihead_attention(tmp_path, seed):
    """Without torchvision installed: our nn.MultiheadAttention ViT, saved under torchvision's names."""
    reference = _reference(seed, dim=192, heads=3, mlp_dim=64)  # ViT-Ti width: 3 heads
    path = tmp_path / "vit_tv.pth"
    torch.save(reference.state_dict(), path)
    model = vit.load(path)
    assert model.config.source == "torchvision"
    assert (model.config.dim, model.config.depth, model.config.heads) == (192, 3, 3)
    assert (model.config.mlp_dim, model.config.num_classes, model.config.patch_size) == (64, 7, 8)
    _check_against_reference(model, reference, seed + 100)


def _check_against_reference(model: vit.LoadedViT, reference: ReferenceViT, seed: int) -> None:
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logits, attentions = reference(pixels, need_weights=True)
    trace = model.trace(pixels)
    torch.testing.assert_close(trace.logits, logits, atol=TOL, rtol=TOL)
    for ours, theirs in zip(trace.attentions, attentions):
        torch.testing.assert_close(ours, theirs[0], atol=TOL, rtol=TOL)
    for weights in trace.attentions:
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:2]), atol=1e-5, rtol=0)


def test_heads_of_a_nonstandard_width_are_an_assumption_said_aloud(tmp_path):
    path = tmp_path / "vit_tv.pth"
    torch.save(_reference(12).state_dict(), path)
    model = vit.load(path)
    assert model.config.dim == 48 and model.config.heads == 1  # not in the file; no standard size
    assert any("heads assumed" in note for note in model.notes)


def test_trace_pieces_are_consistent(tmp_path):
    reference = _reference(20)
    path = tmp_path / "tv.pth"
    torch.save(reference.state_dict(), path)
    model = vit.load(path)
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(21))
    trace = model.trace(pixels)
    assert trace.patches.shape == (16, 8 * 8 * 3)
    # Patch 5 is row 1, column 1 of the 4×4 grid; flattened row, column, channel.
    torch.testing.assert_close(trace.patches[5], pixels[0, :, 8:16, 8:16].permute(1, 2, 0).reshape(-1))
    weight = model.net.patch_embed.proj.weight.detach()  # (D, C, P, P)
    by_hand = weight.permute(0, 2, 3, 1).reshape(48, -1) @ trace.patches[5] + model.net.patch_embed.proj.bias
    torch.testing.assert_close(trace.patch_embeddings[5], by_hand, atol=1e-5, rtol=1e-5)
    assert len(trace.tokens) == 4 and trace.tokens[0].shape == (17, 48)
    torch.testing.assert_close(trace.tokens[0][0], (model.net.cls_token[0, 0] + trace.pos_embed[0]).detach())


def test_position_embedding_interpolation_is_bicubic_over_the_grid():
    from explorer.engine.vit.model import VisionTransformer

    net = VisionTransformer(vit.ViTConfig(**SMALL, source="timm", pos_interpolation="bicubic"))
    same = net.position_embeddings((4, 4))
    assert same is net.pos_embed
    resized = net.position_embeddings((6, 3))  # (1, 19, D)
    assert resized.shape == (1, 19, 48)
    torch.testing.assert_close(resized[:, 0], net.pos_embed[:, 0])
    grid = net.pos_embed[0, 1:].reshape(4, 4, 48).permute(2, 0, 1)[None]
    expected = F.interpolate(grid, size=(6, 3), mode="bicubic", align_corners=False)[0].permute(1, 2, 0).reshape(18, 48)
    torch.testing.assert_close(resized[0, 1:], expected)


# -- images --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "image",
    [Image.new("L", (50, 30), 128), Image.new("RGBA", (40, 60), (255, 0, 0, 0)), Image.new("RGB", (3, 2)),
     Image.new("RGB", (4000, 300), (10, 200, 30)), Image.new("P", (20, 20))],
    ids=["grey", "rgba", "tiny", "huge", "palette"],
)
def test_preprocess_accepts_any_image(tmp_path, image):
    reference = _reference(22)
    path = tmp_path / "tv.pth"
    torch.save(reference.state_dict(), path)
    model = vit.load(path)
    pixels = model.preprocess(image)
    assert pixels.shape == (1, 3, 32, 32) and torch.isfinite(pixels).all()
    assert model.trace(pixels).logits.shape == (1, 7)
    plan = model.resize_plan(*image.size)
    left, top, right, bottom = plan.source_box
    assert 0 <= left < right <= image.width + 1e-6 and 0 <= top < bottom <= image.height + 1e-6


def test_preprocess_normalises_with_the_model_statistics(tmp_path):
    reference = _reference(23)
    path = tmp_path / "tv.pth"
    torch.save(reference.state_dict(), path)
    model = vit.load(path)
    pixels = model.preprocess(Image.new("RGB", (32, 32), (255, 0, 128)))
    mean, std = torch.tensor(vit.IMAGENET_MEAN), torch.tensor(vit.IMAGENET_STD)
    expected = (torch.tensor([1.0, 0.0, 128 / 255]) - mean) / std
    torch.testing.assert_close(pixels[0, :, 5, 7], expected)


# -- bad input -------------------------------------------------------------------------------------------
def test_not_a_vit_is_named(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.weight": torch.zeros(64)}, path)
    with pytest.raises(vit.ViTFormatError, match="conv1.weight") as info:
        vit.load(path)
    assert isinstance(info.value, ValueError) and "patch_embed.proj.weight" in str(info.value)


def test_mismatched_shapes_name_the_keys(tmp_path):
    sd = _reference(24).state_dict()
    sd["encoder.layers.encoder_layer_1.mlp.0.weight"] = torch.zeros(50, 48)
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(vit.ViTFormatError, match=r"blocks\.1\.mlp\.fc1\.weight"):
        vit.load(path)


def test_missing_block_and_unknown_keys_are_named(tmp_path):
    sd = _reference(25).state_dict()
    del sd["encoder.layers.encoder_layer_1.ln_2.weight"]
    path = tmp_path / "missing.pth"
    torch.save(sd, path)
    with pytest.raises(vit.ViTFormatError, match=r"blocks\.1\.norm2\.weight"):
        vit.load(path)
    sd = _reference(25).state_dict()
    sd["heads.pre_logits.weight"] = torch.zeros(48, 48)
    torch.save(sd, path)
    with pytest.raises(vit.ViTFormatError, match=r"heads\.pre_logits\.weight"):
        vit.load(path)


def test_pickled_code_never_runs(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("open(%r, 'w').write('ran')" % str(tmp_path / "ran.txt"),))

    path = tmp_path / "evil.pth"
    torch.save({"patch_embed.proj.weight": torch.zeros(1), "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused: .*pickled Python objects.*\(it holds exec\)$") as refused:
        vit.load(path)
    assert "weights_only" not in str(refused.value) and "\x1b" not in str(refused.value)  # torch's advice is not passed on
    assert not (tmp_path / "ran.txt").exists()


def test_bad_folders_and_files_are_explained(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        vit.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(vit.ViTFormatError, match="bert"):
        vit.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(vit.ViTFormatError, match="JSON"):
        vit.load(tmp_path)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=r"broken\.safetensors: not a readable safetensors file"):
        vit.load(broken)
    nan = _reference(26).state_dict()
    nan["encoder.ln.weight"][0] = float("nan")
    torch.save(nan, tmp_path / "nan.pth")
    with pytest.raises(vit.ViTFormatError, match="norm.weight"):
        vit.load(tmp_path / "nan.pth")
    with pytest.raises(ValueError, match="no such"):
        vit.load(tmp_path / "missing.pth")


def test_imagenet_class_names_for_1000_class_heads(tmp_path):
    names = vit.imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[1] == "goldfish"
    reference = _reference(27, num_classes=1000, dim=48)
    torch.save(reference.state_dict(), tmp_path / "in1k.pth")
    model = vit.load(tmp_path / "in1k.pth")
    assert model.class_names[:2] == ["tench", "goldfish"]
    top = model.top_k(model.trace(torch.zeros(1, 3, 32, 32)))
    assert len(top) == 5 and all(name in names for name, _, _ in top)
    assert abs(sum(p for _, p, _ in model.top_k(model.trace(torch.zeros(1, 3, 32, 32)), 1000)) - 1) < 1e-4
