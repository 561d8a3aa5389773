"""Tiny Hugging Face captioners built from configs with random weights, saved as ``save_pretrained`` folders.

One place for the engine's and the panel's tests (each folder's ``conftest.py``
re-exports the fixtures). No download: the configs, a word-level tokenizer and
the image processor are all written here.

- ``ved_folder``: ViT (32 px, patches of 8: a 4 × 4 grid, class token) + GPT-2 with cross-attention,
  2 decoder layers of 2 heads.
- ``blip_folder``: BlipForConditionalGeneration with the same vision size and a 2-layer, 2-head BERT-style
  text decoder; captions start at ``[DEC]`` (bos) and end at ``[SEP]``, as BLIP's do.

Both generation configs ask for beam search with a length penalty ≠ 1 and no repeated bigrams, so the tests
that compare with ``generate()`` exercise every rule the app follows. Weights are drawn with a standard deviation
of 0.3 (transformers' default 0.02 makes the image all but invisible to the decoder), and the seeds were chosen by
a scan so that on :func:`images` the captions differ from image to image, about half end before the limit, beam
and greedy disagree, and the maps are far from uniform (peaks about 0.2–0.35 over 16 patches).
"""

from __future__ import annotations

import pytest

VED_WORDS = ["<s>", "</s>", "a", "cat", "dog", "on", "the", "mat", "red", "ball", "sits", "under", "big", "blue"]
BLIP_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "cat", "dog", "on", "the", "mat", "red",
              "ball", "sits", "under", "big", "blue"]
#: The generation settings saved with both tiny models.
GENERATION = {"num_beams": 3, "length_penalty": 0.6, "no_repeat_ngram_size": 2, "max_length": 10}


def build_ved(folder, generation: dict | None = None, seed: int = 2, init: float = 0.3):
    """A random ViT + GPT-2 VisionEncoderDecoder in ``folder``, with its tokenizer and image processor."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VED_WORDS)}, unk_token="<s>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                         unk_token="<s>").save_pretrained(folder)
    encoder = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64, initializer_range=init)
    decoder = transformers.GPT2Config(vocab_size=len(VED_WORDS), n_positions=40, n_embd=32, n_layer=2, n_head=2,
                                      add_cross_attention=True, is_decoder=True, bos_token_id=0, eos_token_id=1,
                                      initializer_range=init)
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.eos_token_id, config.pad_token_id = 0, 1, 1
    torch.manual_seed(seed)
    model = transformers.VisionEncoderDecoderModel(config=config).eval()
    model.generation_config.update(**(GENERATION if generation is None else generation))
    model.save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def build_blip(folder, generation: dict | None = None, seed: int = 0, init: float = 0.3):
    """A random BlipForConditionalGeneration in ``folder``, with a BERT word-level tokenizer and BLIP's processor."""
    import torch
    import transformers

    transformers.BertTokenizer(vocab={w: i for i, w in enumerate(BLIP_WORDS)}, bos_token="[DEC]").save_pretrained(folder)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                  num_attention_heads=2, initializer_range=init)
    text = dict(vocab_size=len(BLIP_WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, encoder_hidden_size=32, max_position_embeddings=40,
                bos_token_id=5, sep_token_id=3, pad_token_id=0, eos_token_id=3, initializer_range=init)
    config = transformers.BlipConfig(vision_config=vision, text_config=text, projection_dim=32)
    torch.manual_seed(seed)
    model = transformers.BlipForConditionalGeneration(config).eval()
    model.generation_config.update(**(GENERATION if generation is None else generation))
    model.save_pretrained(folder)
    transformers.BlipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def images():
    """Eight 32-px pictures: a plain background with a square of another colour (fixed seed)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    out = []
    for _ in range(8):
        pixels = np.zeros((32, 32, 3), np.uint8)
        pixels[...] = rng.integers(0, 256, 3)
        x0, y0 = rng.integers(0, 24, 2)
        pixels[y0 : y0 + 12, x0 : x0 + 12] = rng.integers(0, 256, 3)
        out.append(Image.fromarray(pixels))
    return out


@pytest.fixture(scope="session")
def ved_folder(tmp_path_factory):
    pytest.importorskip("transformers")
    return build_ved(tmp_path_factory.mktemp("tiny-vit-gpt2"))


@pytest.fixture(scope="session")
def blip_folder(tmp_path_factory):
    pytest.importorskip("transformers")
    return build_blip(tmp_path_factory.mktemp("tiny-blip"))


@pytest.fixture(scope="session", params=["vision-encoder-decoder", "blip"])
def hf_folder(request):
    """Each tiny family in turn."""
    return request.getfixturevalue("ved_folder" if request.param == "vision-encoder-decoder" else "blip_folder")


def generate_reference(captioner, image, beams: int):
    """What transformers' own ``generate()`` gives for ``image`` under the model's generation config.

    Returns ``(captions, scores, cross)``: the ``beams`` returned captions as (tokens without the end token,
    ended), their scores (beam search's ``sequences_scores``; for greedy the sum of the log-softmax of the raw
    logits of the chosen tokens, end included) and, for the best caption, the cross-attention that produced
    each of its tokens, (T, layers, heads, N), taken by a hook on the decoder during ``generate()`` and
    followed back through ``beam_indices``.
    """
    import copy

    import torch

    model = captioner.model
    blip = captioner.family == "blip"
    end = captioner.stepper.end_token
    gc = copy.deepcopy(model.generation_config)
    gc.update(num_beams=beams, num_return_sequences=beams, return_dict_in_generate=True, output_scores=True,
              output_logits=True, output_attentions=True)
    decoder = model.text_decoder if blip else model.decoder
    steps = []
    hook = decoder.register_forward_hook(
        lambda module, args, out: steps.append(torch.stack([a[:, :, -1] for a in out.cross_attentions], 1)))
    try:
        with torch.no_grad():
            out = model.generate(pixel_values=captioner.pixels(image), generation_config=gc)
    finally:
        hook.remove()
    captions = []
    for row in out.sequences[:, 1:].tolist():  # after the start token
        ended = end in row
        captions.append((row[: row.index(end)] if ended else row, ended))
    if beams == 1:
        tokens = out.sequences[0, 1:]
        logits = torch.stack(out.logits)[:, 0]  # (T, V)
        scores = [float(torch.log_softmax(logits.float(), -1).gather(1, tokens[:, None]).sum())]
        rows = [0] * len(tokens)
    else:
        scores = out.sequences_scores.tolist()
        rows = [int(r) for r in out.beam_indices[0] if r >= 0]
    cross = torch.stack([steps[t][rows[t]] for t in range(len(rows))])  # (T, L, heads, N)
    return captions, scores, cross
