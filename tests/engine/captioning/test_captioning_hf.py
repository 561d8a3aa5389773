"""Hugging Face captioners (VisionEncoderDecoder and BLIP), random and tiny, against transformers' generate().

Both tiny models (hf_captioners.py) carry a generation config with beam 3, length_penalty 0.6,
no_repeat_ngram_size 2 and max_length 10; the variants below change it and follow the change.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from hf_captioners import generate_reference, images  # noqa: E402  (beside this file)

from explorer.engine.captioning.captioner import CaptionModelError  # noqa: E402
from explorer.engine.captioning.loading import load  # noqa: E402

#: Generation-config variants (on top of the saved one) whose captions must match generate() as well.
VARIANTS = {
    "long-favouring, never stop early": {"length_penalty": 2.0, "early_stopping": "never"},
    "stop when the beam is full": {"early_stopping": True, "length_penalty": 1.0},
    "short-favouring, trigrams, max_new_tokens": {"length_penalty": -0.5, "no_repeat_ngram_size": 3,
                                                  "max_new_tokens": 6},
    "at least four tokens": {"min_length": 5, "no_repeat_ngram_size": 0},
}


def expected_map(cross: torch.Tensor, grid: tuple[int, int], layer=None, head=None) -> np.ndarray:
    """(T, g·g) from generate()'s cross-attention (T, L, heads, N): chosen layer/head or mean, grid renormalised."""
    cross = cross if layer is None else cross[:, layer : layer + 1]
    maps = cross.mean(dim=(1, 2)) if head is None else cross[:, :, head].mean(1)  # (T, N)
    maps = maps[:, maps.shape[1] - grid[0] * grid[1]:]
    return (maps / maps.sum(-1, keepdim=True)).numpy()


def check_against_generate(captioner, image, beams: int, where: str):
    """Our caption of ``image`` against generate()'s: every beam's tokens and score, the best one's maps."""
    trace = captioner.caption(image, beam_size=beams)
    captions, scores, cross = generate_reference(captioner, image, beams)
    ours = [(alt.tokens, alt.ended) for alt in trace.alternatives]
    assert ours == captions, f"{where}: ours {ours}, generate() {captions}"
    assert (trace.tokens, trace.ended) == captions[0], where
    if beams == 1:
        assert trace.total == pytest.approx(scores[0], abs=1e-4), where
    else:
        assert [a.score for a in trace.alternatives] == pytest.approx(scores, abs=1e-4), where
    n, cells = len(trace.words), captioner.grid[0] * captioner.grid[1]
    assert trace.alphas.shape == (n, *captioner.grid), where
    assert np.allclose(trace.alphas.reshape(n, cells), expected_map(cross, captioner.grid)[:n], atol=1e-5), where
    return trace


@pytest.mark.parametrize("beams", [1, 3, 4])
def test_words_scores_and_cross_attention_match_generate(hf_folder, beams):
    captioner = load(hf_folder)
    traces = [check_against_generate(captioner, image, beams, f"{captioner.family}, beam {beams}, image {i}")
              for i, image in enumerate(images())]
    ended = sum(t.ended for t in traces)
    assert 0 < ended < len(traces), f"{captioner.family}, beam {beams}: {ended} of {len(traces)} captions ended"
    assert len({tuple(t.tokens) for t in traces}) >= 3  # the captions depend on the image
    assert max(float(t.alphas.max()) for t in traces if t.words) > 0.15  # maps far from uniform (1/16)


def test_beam_and_greedy_disagree_on_these_images(hf_folder):
    """So the beam comparisons above compare a search, not greedy decoding twice."""
    captioner = load(hf_folder)
    differ = sum(captioner.caption(im, beam_size=1).tokens != captioner.caption(im, beam_size=3).tokens for im in images())
    assert differ >= 3, differ


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_changed_generation_configs_are_followed_like_generate(hf_folder, variant):
    captioner = load(hf_folder)
    captioner.model.generation_config.update(**VARIANTS[variant])
    captioner.follow_generation_config()
    for i, image in enumerate(images()[:4]):
        check_against_generate(captioner, image, 3, f"{captioner.family}, {variant}, image {i}")


def test_the_saved_generation_config_is_followed(hf_folder):
    captioner = load(hf_folder)
    assert captioner.default_beam == 3 and captioner.max_words == 9  # max_length 10 counts the start token
    assert captioner.rule.length_penalty == 0.6 and captioner.rule.no_repeat_ngram_size == 2
    assert captioner.rule.early_stopping is False and captioner.search_notes == ()
    image = images()[0]
    assert captioner.caption(image, beam_size=None).beam_size == 3  # the model's own beam
    trace = captioner.caption(image, beam_size=3)
    assert "length^0.6" in trace.rule and "no repeated 2-grams" in trace.rule
    for alt in trace.alternatives:  # the score is the length-penalised total
        assert alt.score == pytest.approx(alt.total / (len(alt.tokens) + alt.ended) ** 0.6)


def test_one_layer_and_head_match_generate(hf_folder):
    captioner = load(hf_folder)
    for layer, head in [(0, 1), (1, 0), (1, None)]:
        captioner.set_attention(layer, head)
        for image in images()[:3]:
            trace = captioner.caption(image, beam_size=3)
            _captions, _scores, cross = generate_reference(captioner, image, 3)
            n = len(trace.words)
            expected = expected_map(cross, captioner.grid, layer, head)[:n]
            assert np.allclose(trace.alphas.reshape(n, captioner.grid[0] * captioner.grid[1]), expected, atol=1e-5), (layer, head)
            assert np.allclose(trace.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="layer must be from 0 to 1"):
        captioner.set_attention(5, 0)
    with pytest.raises(ValueError, match="head must be from 0 to 1"):
        captioner.set_attention(0, 2)


def test_settings_the_app_does_not_apply_are_named(ved_folder):
    captioner = load(ved_folder)
    captioner.model.generation_config.update(repetition_penalty=1.3, num_beams=16)
    captioner.follow_generation_config()
    notes = " ".join(captioner.search_notes)
    assert "repetition_penalty = 1.3" in notes and "at most 10" in notes and captioner.default_beam == 10
    assert captioner.caption(images()[0], beam_size=2).notes == list(captioner.search_notes)


def test_folders_that_are_not_captioners_are_named(tmp_path):
    with pytest.raises(CaptionModelError, match="no config.json"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CaptionModelError, match="'bert' model, not a captioner"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "blip", "architectures": ["BlipForQuestionAnswering"]}))
    with pytest.raises(CaptionModelError, match="not the captioning one"):
        load(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(CaptionModelError, match="not readable JSON"):
        load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "blip"}))  # no weights beside it
    with pytest.raises(CaptionModelError, match="could not load"):
        load(tmp_path)


@pytest.mark.parametrize("part, field, value, words", [
    ("encoder", "hidden_size", 0, r"encoder\.hidden_size must be a positive whole number \(got 0\)"),
    ("encoder", "num_attention_heads", -2, r"encoder\.num_attention_heads must be a positive whole number \(got -2\)"),
    ("encoder", "patch_size", "8", r"encoder\.patch_size must be a positive whole number \(got '8'\)"),
    ("encoder", "hidden_size", 33, r"encoder\.hidden_size \(33\) must be a multiple of encoder\.num_attention_heads"),
    ("decoder", "n_embd", 0, r"decoder\.n_embd must be a positive whole number \(got 0\)"),
    ("decoder", "vocab_size", 1.5, r"decoder\.vocab_size must be a positive whole number \(got 1\.5\)"),
])
def test_a_damaged_size_in_a_real_config_is_named_by_file_and_field(ved_folder, tmp_path, part, field, value, words):
    """Without the check, transformers fails with e.g. ZeroDivisionError ("0.0 cannot be raised to a negative power")."""
    import shutil

    folder = tmp_path / "damaged"
    shutil.copytree(ved_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    assert field in config[part], f"the tiny model's {part} has no {field}"
    config[part][field] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CaptionModelError, match=rf"^damaged/config\.json: {words}"):
        load(folder)
