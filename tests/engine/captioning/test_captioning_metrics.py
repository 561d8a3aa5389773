"""BLEU-4 on hand-computed cases, and the pointing rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explorer.engine.captioning.metrics import Figures, corpus_bleu, inside, named_objects, peak_point
from explorer.engine.infra import scenes


def test_bleu_of_identical_captions_is_one():
    words = "a red circle left of a blue square".split()
    assert corpus_bleu([[words]], [words]) == pytest.approx(1.0)


def test_bleu_hand_case_one_word_changed():
    # 7/8 unigrams, 5/7 bigrams, 4/6 trigrams, 3/5 four-grams match: product 1/4, so BLEU = 1/4 ** 1/4.
    ref = "a red circle left of a green square".split()
    hyp = "a red circle left of a blue square".split()
    assert corpus_bleu([[ref]], [hyp]) == pytest.approx(0.25**0.25)


def test_bleu_is_corpus_level_with_brevity_penalty():
    # Precisions are all 1 over the corpus (11/11, 9/9, 7/7, 5/5); lengths 11 vs 15.
    refs = [["a red circle left of a blue square".split()], ["a blue cross above a red circle".split()]]
    hyps = ["a red circle left of a blue square".split(), "a blue cross".split()]
    assert corpus_bleu(refs, hyps) == pytest.approx(math.exp(1 - 15 / 11))


def test_bleu_clips_repeated_words_and_is_zero_without_four_grams():
    ref = "the cat is on the mat".split()
    assert corpus_bleu([[ref]], ["the the the the the the".split()]) == 0.0
    # Clipping: "the" counts at most twice; with four-grams present the score is below 1.
    score = corpus_bleu([[ref]], ["the the cat is on the mat".split()])
    assert 0 < score < 1


def test_peak_point_and_inside():
    alpha = np.zeros((8, 8))
    alpha[2, 5] = 1.0
    assert peak_point(alpha, 64) == (44.0, 20.0)
    assert inside((44.0, 20.0), (40, 16, 48, 24))
    assert not inside((44.0, 20.0), (45, 16, 48, 24))


def test_pointing_counts_hits_and_misses_per_word_kind():
    scene = scenes.generate(3, n_objects=2)
    figures = Figures()
    g = 8
    maps = np.full((len(scene.words), g, g), 1.0 / g**2)
    for t, owner in enumerate(scene.word_objects):
        maps[t] = 0
        if owner >= 0 and scene.word_kinds[t] == "colour":
            x0, y0, x1, y1 = scene.boxes()[owner]
            maps[t, int((y0 + y1) / 2) // 8, int((x0 + x1) / 2) // 8] = 1  # on its object
        else:
            maps[t, 0, 0] = 1  # a corner, off every object for this seed
    figures.add(scene, scene.words, maps)
    summary = figures.summary()
    assert summary["exact_match"] == 1.0 and summary["bleu4"] == pytest.approx(1.0)
    assert summary["pointing_colour"] == 1.0 and summary["pointing_shape"] == 0.0


def test_a_wrong_colour_names_no_object():
    scene = scenes.generate(5, n_objects=1)
    other = next(c for c in scenes.COLOURS if c != scene.objects[0].colour)
    kinds = named_objects(["a", other, scene.objects[0].shape], scene)
    assert kinds == [("", -1), ("colour", -1), ("shape", -1)]
