"""BLEU-4 on hand-computed cases, and the pointing rule."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from explorer.engine.captioning.metrics import Figures, corpus_bleu, inside, named_objects, peak_point, sentence_bleu
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


def test_bleu_clips_each_word_at_its_count_in_the_reference():
    ref = "the cat is on the mat".split()
    # Unigrams only: "the" ×7 matches at most twice; 7 words > 6, no brevity penalty.
    assert corpus_bleu([[ref]], ["the the the the the the the".split()], max_n=1) == pytest.approx(2 / 7)
    assert corpus_bleu([[ref]], ["the the the the the the".split()]) == 0.0  # no bigram matches at all
    # 6/7 unigrams ("the" ×3 clipped to 2), 5/6 bigrams, 4/5 trigrams, 3/4 four-grams: product 3/7.
    assert corpus_bleu([[ref]], ["the the cat is on the mat".split()]) == pytest.approx((3 / 7) ** 0.25)


def test_bleu_clips_at_the_most_any_one_reference_allows():
    # "the" ×4 against references with 2 and 3 of it: clipped to 3 (not 2 + 3); lengths 4 = 4, penalty 1.
    refs = ["the cat the cat".split(), "the the the dog".split()]
    assert corpus_bleu([refs], ["the the the the".split()], max_n=1) == pytest.approx(3 / 4)


def test_brevity_penalty_takes_the_closest_reference_the_shorter_on_a_tie():
    hyp = "a red circle".split()  # 3 words; references of 2 and 4 are equally close: r = 2, c > r, no penalty
    assert corpus_bleu([["a red".split(), "a red circle left".split()]], [hyp], max_n=1) == pytest.approx(1.0)
    # Only a reference of 5: r = 5, penalty exp(1 − 5/3); 3 of 3 unigrams match.
    assert corpus_bleu([["a red circle left square".split()]], [hyp], max_n=1) == pytest.approx(math.exp(1 - 5 / 3))


def test_add_one_smoothing_by_hand():
    # "a blue circle" against "a red circle left of a green square": unigrams 2/3 (not smoothed), bigrams
    # 0/2 → 1/3, trigrams 0/1 → 1/2, four-grams 0/0 → 1/1; brevity exp(1 − 8/3).
    ref, hyp = "a red circle left of a green square".split(), "a blue circle".split()
    expected = math.exp(1 - 8 / 3) * (2 / 3 * 1 / 3 * 1 / 2 * 1) ** 0.25
    assert corpus_bleu([[ref]], [hyp], smoothing="add-one") == pytest.approx(expected)
    assert sentence_bleu([ref], hyp) == pytest.approx(expected)
    assert corpus_bleu([[ref]], [hyp]) == 0.0  # unsmoothed: no bigram matches
    assert sentence_bleu([ref], "blue".split()) == 0.0  # no unigram match: 0 even smoothed
    with pytest.raises(ValueError, match="unknown BLEU smoothing"):
        corpus_bleu([[ref]], [hyp], smoothing="laplace")
    with pytest.raises(ValueError, match="2 reference sets for 1 hypotheses"):
        corpus_bleu([[ref], [ref]], [hyp])


WORDS = "a the red blue green circle square cross left right of above below and".split()


def random_corpus(rng, size: int) -> tuple[list[list[list[str]]], list[list[str]]]:
    """Captions of 4–12 words from a small vocabulary (so n-grams repeat), 1–3 references each."""
    def caption():
        return [WORDS[i] for i in rng.integers(0, 6 if rng.random() < 0.5 else len(WORDS), rng.integers(4, 13))]

    refs = [[caption() for _ in range(rng.integers(1, 4))] for _ in range(size)]
    hyps = []
    for ref in refs:  # half near a reference (edited), half unrelated
        hyp = list(ref[0]) if rng.random() < 0.5 else caption()
        for _ in range(rng.integers(0, 4)):
            hyp[rng.integers(0, len(hyp))] = WORDS[rng.integers(0, len(WORDS))]
        hyps.append(hyp)
    return refs, hyps


@pytest.mark.parametrize("seed", range(6))
def test_bleu_agrees_with_nltk(seed):
    """NLTK's corpus_bleu as the independent reference, plain and with Lin & Och smoothing (its method2).

    Hypotheses have at least 4 words: for shorter ones NLTK counts one n-gram where there are none
    (its denominators are max(1, count)), which Papineni's definition does not.
    """
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    rng = np.random.default_rng(seed)
    smooth = nltk_bleu.SmoothingFunction()
    for size in (1, 3, 20):
        refs, hyps = random_corpus(rng, size)
        where = f"seed {seed}, {size} captions"
        with warnings.catch_warnings():  # NLTK warns when some n has no match (and returns about 1e-77)
            warnings.simplefilter("ignore")
            theirs = nltk_bleu.corpus_bleu(refs, hyps)
        assert corpus_bleu(refs, hyps) == pytest.approx(theirs, abs=1e-12), where
        smoothed = nltk_bleu.corpus_bleu(refs, hyps, smoothing_function=smooth.method2)
        assert corpus_bleu(refs, hyps, smoothing="add-one") == pytest.approx(smoothed, rel=1e-12, abs=1e-15), where
        for n in (1, 2):
            weights = (1 / n,) * n
            assert corpus_bleu(refs, hyps, max_n=n) == pytest.approx(nltk_bleu.corpus_bleu(refs, hyps, weights=weights), abs=1e-12), where


def test_nltk_comparisons_reach_nonzero_and_clipped_cases():
    """The random corpora above are not all zeros or all perfect, and clipping changes some of them."""
    nonzero = clipped = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        for size in (1, 3, 20):
            refs, hyps = random_corpus(rng, size)
            nonzero += 0 < corpus_bleu(refs, hyps) < 1
            clipped += any(max(h.count(w) for w in h) > max(r.count(max(h, key=h.count)) for r in rs)
                           for rs, h in zip(refs, hyps))
    assert nonzero >= 4 and clipped >= 6, (nonzero, clipped)


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
