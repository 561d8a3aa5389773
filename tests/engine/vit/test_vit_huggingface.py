"""transformers folders against the real transformers models, built from configs with random weights (no download).

Each model perturbed, saved with ``save_pretrained`` and opened as a folder;
logits (or pooled outputs / image embeddings), every hidden state and every
attention map compared at the native size and at two others, as transformers
runs them (``interpolate_pos_encoding=True``). Preprocessing from
``preprocessor_config.json`` is compared with transformers' own PIL processor.
"""

from __future__ import annotations

import json

import pytest
import torch
from vit_parity import SEEDS, close, perturb, pixels

from explorer.engine import vit

T = pytest.importorskip("transformers")

SMALL = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96, image_size=56,
             patch_size=14, attn_implementation="eager")
SIZES = [(56, 56), (42, 28), (70, 84)]

#: name → (builder, what to compare, family, special tokens, pos rule)
MODELS = {
    "dinov2": (lambda: T.Dinov2Model(T.Dinov2Config(**SMALL)), "pooler_output", "DINOv2", ("[CLS]",), "bicubic"),
    "dinov2_registers": (lambda: T.Dinov2WithRegistersModel(T.Dinov2WithRegistersConfig(**SMALL, num_register_tokens=4)),
                         "pooler_output", "DINOv2 with registers", ("[CLS]", "[REG1]", "[REG2]", "[REG3]", "[REG4]"),
                         "bicubic-antialias"),
    "dinov2_swiglu": (lambda: T.Dinov2Model(T.Dinov2Config(**SMALL, use_swiglu_ffn=True)), "pooler_output", "DINOv2",
                      ("[CLS]",), "bicubic"),
    "dinov2_classifier": (lambda: T.Dinov2ForImageClassification(T.Dinov2Config(**SMALL, num_labels=5)), "logits",
                          "DINOv2", ("[CLS]",), "bicubic"),
    "deit_teacher": (lambda: T.DeiTForImageClassificationWithTeacher(T.DeiTConfig(**SMALL, num_labels=5)), "logits",
                     "DeiT (distilled)", ("[CLS]", "[DIST]"), "bicubic"),
    "clip_vision": (lambda: T.CLIPVisionModel(T.CLIPVisionConfig(**SMALL)), "pooler_output", "CLIP vision", ("[CLS]",),
                    "bicubic"),
    "clip_projection": (lambda: T.CLIPVisionModelWithProjection(T.CLIPVisionConfig(**SMALL, projection_dim=16)),
                        "image_embeds", "CLIP vision", ("[CLS]",), "bicubic"),
    "siglip_vision": (lambda: T.SiglipVisionModel(T.SiglipVisionConfig(**SMALL)), "pooler_output", "SigLIP vision", (),
                      "bicubic"),
    "vit": (lambda: T.ViTForImageClassification(T.ViTConfig(**SMALL, num_labels=5)), "logits", "ViT", ("[CLS]",), "bicubic"),
}


def _ours(trace: vit.ViTTrace, what: str) -> torch.Tensor:
    return {"logits": trace.logits, "pooler_output": trace.features, "image_embeds": trace.embedding}[what]


@pytest.mark.parametrize("name", list(MODELS))
def test_transformers_families_match_at_native_and_other_sizes(tmp_path, name):
    build, what, family, special, rule = MODELS[name]
    for seed in SEEDS[:2]:
        torch.manual_seed(seed)
        reference = perturb(build(), seed)
        folder = tmp_path / f"{name}_{seed}"
        reference.save_pretrained(folder)
        model = vit.load(folder)
        assert (model.config.family, model.config.special_tokens) == (family, special)
        assert model.config.pos_interpolation == rule and model.config.source == "huggingface"
        for h, w in SIZES:
            x = pixels(seed, h, w)
            kwargs = {} if name.startswith("dinov2") else {"interpolate_pos_encoding": True}
            with torch.no_grad():
                out = reference(pixel_values=x, output_hidden_states=True, output_attentions=True, **kwargs)
            trace = model.trace(x)
            close(_ours(trace, what), getattr(out, what), f"{name} {what} at {h}×{w}", seed)
            hidden = out.hidden_states if hasattr(out, "hidden_states") and out.hidden_states else out.vision_model_output.hidden_states
            assert len(hidden) == len(trace.tokens)
            for layer, (ours, theirs) in enumerate(zip(trace.tokens[:-1], hidden[:-1])):  # the last may be normed
                close(ours, theirs[0], f"{name} hidden state {layer} at {h}×{w}", seed)
            for layer, theirs in enumerate(out.attentions):
                close(trace.attentions[layer], theirs[0], f"{name} attention {layer} at {h}×{w}", seed)


def test_in_memory_names_of_transformers_5_are_read_too(tmp_path):
    """transformers ≥ 5.9 names layers ``layers.{i}.attention.q_proj`` in memory; a torch.save'd state_dict has them."""
    torch.manual_seed(7)
    reference = perturb(T.DeiTForImageClassificationWithTeacher(T.DeiTConfig(**SMALL, num_labels=5)), 7)
    assert any(".q_proj." in key for key in reference.state_dict())
    torch.save(reference.state_dict(), tmp_path / "deit.pth")
    model = vit.load(tmp_path / "deit.pth")
    assert model.config.heads == 1  # a bare file does not store heads: 48 is no standard width
    assert any("heads assumed" in note for note in model.notes)


def test_siglip_probe_attention_is_shown(tmp_path):
    torch.manual_seed(8)
    reference = perturb(T.SiglipVisionModel(T.SiglipVisionConfig(**SMALL)), 8)
    reference.save_pretrained(tmp_path)
    model = vit.load(tmp_path)
    x = pixels(8, 56, 56)
    trace = model.trace(x)
    head = reference.head
    with torch.no_grad():
        tokens = reference(pixel_values=x).last_hidden_state  # post-normed
        _, weights = head.attention(head.probe, tokens, tokens, average_attn_weights=False)  # (1, h, 1, N)
    close(trace.pool_attention, weights[0], "SigLIP probe attention", 8)
    assert trace.layout.special == () and trace.layout.leading == 0


@pytest.mark.parametrize("processor", ["ViTImageProcessor", "CLIPImageProcessor", "DeiTImageProcessor",
                                       "BitImageProcessor", "SiglipImageProcessor"])
def test_preprocessing_from_preprocessor_config_matches_transformers(tmp_path, processor):
    from PIL import Image

    torch.manual_seed(9)
    perturb(T.ViTModel(T.ViTConfig(**{**SMALL, "image_size": 224})), 9).save_pretrained(tmp_path)
    getattr(T, processor)().save_pretrained(tmp_path)
    model = vit.load(tmp_path)
    assert model.config.preprocessing_from == "preprocessor_config.json"
    config = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert model.config.mean == pytest.approx(tuple(config["image_mean"]))
    theirs = T.AutoImageProcessor.from_pretrained(tmp_path, backend="pil")
    rng = torch.Generator().manual_seed(9)
    for size in ((300, 200), (256, 320), (224, 224)):  # even crop margins (transformers floors odd ones)
        image = Image.fromarray((torch.rand(size[1], size[0], 3, generator=rng) * 255).byte().numpy())
        expected = torch.as_tensor(theirs(image, return_tensors="np")["pixel_values"])
        close(model.preprocess(image), expected, f"{processor} on a {size} image", 9, tol=1e-5)


def test_full_clip_model_sets_the_text_tower_aside(tmp_path):
    text = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    config = T.CLIPConfig(vision_config={k: v for k, v in SMALL.items() if k != "attn_implementation"},
                          text_config=text, projection_dim=16)
    torch.manual_seed(10)
    reference = perturb(T.CLIPModel(config), 10)
    reference.save_pretrained(tmp_path)
    model = vit.load(tmp_path)
    assert model.config.projection == 16 and any("text tower" in note for note in model.notes)
    x = pixels(10, 56, 56)
    with torch.no_grad():
        expected = reference.get_image_features(pixel_values=x)
    expected = expected.pooler_output if hasattr(expected, "pooler_output") else expected
    close(model.trace(x).embedding, expected, "CLIPModel image features", 10)
