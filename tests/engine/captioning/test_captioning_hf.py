"""Hugging Face VisionEncoderDecoder captioners: a tiny random ViT + GPT-2 built from configs, no download."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

transformers = pytest.importorskip("transformers")

from explorer.engine.captioning.captioner import CaptionModelError
from explorer.engine.captioning.loading import load

WORDS = ["<s>", "</s>", "a", "cat", "dog", "on", "the", "mat", "red", "ball", "sits"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder = tmp_path_factory.mktemp("tiny-vit-gpt2")
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<s>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<s>")
    encoder = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)
    decoder = transformers.GPT2Config(vocab_size=len(WORDS), n_positions=40, n_embd=32, n_layer=2, n_head=2,
                                      add_cross_attention=True, is_decoder=True, bos_token_id=0, eos_token_id=1)
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.eos_token_id, config.pad_token_id = 0, 1, 1
    torch.manual_seed(0)
    model = transformers.VisionEncoderDecoderModel(config=config)
    with torch.no_grad():  # sharpen the random output so greedy choices are clear
        model.decoder.lm_head.weight.mul_(20)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    from transformers import ViTImageProcessor

    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def images():
    rng = np.random.default_rng(1)
    return [
        Image.fromarray(rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)),
        Image.new("L", (300, 20), 90),
        Image.new("RGBA", (64, 64), (200, 10, 10, 128)),
    ]


def test_greedy_matches_transformers_generate_and_maps_match_its_cross_attention(tiny_folder):
    captioner = load(tiny_folder)
    assert captioner.kind == "transformer" and captioner.grid == (4, 4)
    model = captioner.model
    for image in images():
        trace = captioner.caption(image, beam_size=1, max_words=8)
        pixels = captioner.pixels(image)
        with torch.no_grad():
            generated = model.generate(pixel_values=pixels, max_new_tokens=8, do_sample=False, num_beams=1)
        expected = [t for t in generated[0, 1:].tolist()]
        if 1 in expected:
            expected = expected[: expected.index(1)]
        assert trace.tokens == expected
        assert trace.alphas.shape == (len(trace.words), 4, 4)
        assert np.allclose(trace.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5)
        # Recompute the maps with one teacher-forced forward pass: mean over layers and heads, class token dropped.
        ids = torch.tensor([[0] + trace.tokens])
        with torch.no_grad():
            out = model(pixel_values=pixels, decoder_input_ids=ids, output_attentions=True)
        cross = torch.stack(out.cross_attentions).mean(dim=(0, 2))[0, :-1, 1:]  # (T, 16)
        cross = cross / cross.sum(-1, keepdim=True)
        assert np.allclose(trace.alphas.reshape(len(trace.words), 16), cross[: len(trace.words)].numpy(), atol=1e-5)


def test_one_layer_and_head_and_beam_search(tiny_folder):
    captioner = load(tiny_folder)
    image = images()[0]
    greedy = captioner.caption(image, beam_size=1, max_words=6)
    assert captioner.caption(image, beam_size=1, max_words=6).tokens == greedy.tokens
    beams = captioner.caption(image, beam_size=4, max_words=6)
    assert len(beams.alternatives) >= 1
    assert beams.score >= greedy.score - 1e-5 or not greedy.ended
    captioner.set_attention(1, 0)
    one = captioner.caption(image, beam_size=1, max_words=6)
    assert one.tokens == greedy.tokens and np.allclose(one.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        captioner.set_attention(5, 0)


def test_folders_that_are_not_captioners_are_named(tmp_path):
    with pytest.raises(CaptionModelError, match="no config.json"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CaptionModelError, match="not a VisionEncoderDecoder"):
        load(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(CaptionModelError, match="JSON"):
        load(tmp_path)
