"""Beam search against a brute-force search over every caption of small random decoders.

Each toy decoder (a random LSTM over 3–5 tokens, captions of up to 2–6 tokens)
has every caption scored by expanding the whole tree, so the best caption and
the narrowest beam that must find it are known exactly.
"""

from __future__ import annotations

import math

import pytest
import toy_decoders as toys  # beside this file (pytest puts a test's folder on sys.path)
import torch

from explorer.engine.captioning.search import PLAIN, SearchRule, beam_search, greedy

SEEDS = range(160)
WIDTHS = range(1, 7)
#: Rules under which the search's stopping test is exact: no length penalty (the bundled decoders'), and
#: length penalties with ``early_stopping="never"`` (the bound taken at the longest caption).
PENALTIES = (0.5, 1.0, 2.0, -0.5)


def decoder(seed: int) -> tuple[toys.ToyDecoder, int]:
    """Seed → (decoder, max_words): vocabularies of 3–5 tokens, limits of 2–6, flat or sharp, ending early or late."""
    vocab, max_words = 3 + seed % 3, 2 + seed % 5
    model = toys.ToyDecoder(seed, vocab, sharpness=(1.0, 2.5)[seed % 2], end_bias=(-1.0, 0.0, 1.0)[seed % 3])
    return model, max_words


def rules(seed: int) -> list[SearchRule]:
    return [PLAIN, SearchRule(length_penalty=PENALTIES[seed % 4], early_stopping="never")]


def test_beam_search_returns_the_best_caption_whenever_it_is_wide_enough():
    """For every decoder and rule: a beam at least as wide as the search needs returns the brute-force best;
    no beam returns a caption that does not exist or scores above the best; every caption stops at max_words."""
    reached = {"greedy missed the best": 0, "best ended by <end>": 0, "best stopped at max_words": 0, "width > 1": 0}
    checked = 0
    for seed in SEEDS:
        model, max_words = decoder(seed)
        for rule in rules(seed):
            truth = toys.enumerate_captions(model, max_words, rule)
            where = f"seed {seed}, max_words {max_words}, rule {rule}, best {truth.best}, width {truth.width}"
            for k in WIDTHS:
                beams = beam_search(model, None, k, max_words, rule=rule)
                assert 1 <= len(beams) <= k, where
                assert [h.score for h in beams] == sorted((h.score for h in beams), reverse=True), where
                for hyp in beams:
                    assert len(hyp.tokens) <= max_words, f"{where}: {hyp.tokens} is longer than max_words"
                    total, ended = truth.captions[tuple(hyp.tokens)]  # a KeyError: not a caption at all
                    assert hyp.finished == ended and hyp.total == pytest.approx(total, abs=1e-9), where
                    assert hyp.score == pytest.approx(truth.score(hyp.tokens, rule), abs=1e-9), where
                assert beams[0].score <= truth.best_score + 1e-9, where
                if k >= truth.width:
                    assert tuple(beams[0].tokens) == truth.best, f"{where}: beam {k} returned {beams[0].tokens}"
                    checked += 1
            g = greedy(model, None, max_words, rule=rule)
            reached["greedy missed the best"] += tuple(g.tokens) != truth.best
            reached["best ended by <end>"] += truth.captions[truth.best][1]
            reached["best stopped at max_words"] += not truth.captions[truth.best][1]
            reached["width > 1"] += truth.width > 1
    # The cases the test is about were all met, many times over (figures for 160 seeds × 2 rules).
    assert min(reached.values()) >= 40, reached
    assert checked >= 1500, checked


@pytest.mark.parametrize("seed", SEEDS[:80])
def test_beam_one_makes_the_greedy_choices(seed):
    model, max_words = decoder(seed)
    g = greedy(model, None, max_words)
    [b] = beam_search(model, None, 1, max_words)
    assert b.tokens == g.tokens and b.finished == g.finished, f"seed {seed}"
    assert b.score == pytest.approx(g.score, abs=1e-9) and b.probs == pytest.approx(g.probs, abs=1e-12), f"seed {seed}"


def test_a_wide_enough_beam_is_never_below_a_narrower_one_and_wider_beams_rarely_lose():
    """Beyond the width the search needs, the best score cannot fall; below it, beam search is not monotone
    (a wider beam can crowd out the narrow beam's prefix with prefixes that end badly): on these seeds it
    never happens, and :func:`test_a_wider_beam_can_lose_to_a_narrower_one` shows a decoder where it does."""
    for seed in SEEDS:
        model, max_words = decoder(seed)
        truth = toys.enumerate_captions(model, max_words)
        scores = [beam_search(model, None, k, max_words)[0].score for k in WIDTHS]
        for narrow, wide in zip(scores, scores[1:]):
            assert wide >= narrow - 1e-12, f"seed {seed}: best scores by width {scores}"
        assert all(s == pytest.approx(truth.best_score) for k, s in zip(WIDTHS, scores) if k >= truth.width), seed


def test_a_wider_beam_can_lose_to_a_narrower_one():
    """Known property of beam search, kept visible: a wider beam can crowd out the narrow beam's prefix.

    Tokens: 0 = end, 1 = a, 2 = b, 3 = x. Greedy takes "a" (0.5) then "x" (0.26) then ends (0.97): 0.126.
    Beam 2 keeps "a" and "b" (0.3); b's continuations (0.15 each) push both "a x" (0.13) and "a <end>"
    (0.125) out, and every caption under "b" ends badly: 0.045. Beam 3 keeps "a x" and finds 0.126.
    """
    table = {
        (): [0.05, 0.5, 0.3, 0.15],
        (1,): [0.25, 0.25, 0.24, 0.26],
        (1, 3): [0.97, 0.01, 0.01, 0.01],
        (2,): [0.0001, 0.4999, 0.0, 0.5],
    }
    model = toys.TableDecoder(table, default=[0.1, 0.3, 0.3, 0.3])
    truth = toys.enumerate_captions(model, 3)
    scores = [beam_search(model, None, k, 3)[0].score for k in (1, 2, 3)]
    assert math.exp(scores[1]) == pytest.approx(0.5 * 0.3 * 0.3) and math.exp(scores[0]) == pytest.approx(0.5 * 0.26 * 0.97)
    assert scores[1] < scores[0] == scores[2] == pytest.approx(truth.best_score), scores
    assert truth.best == (1, 3, 0) and truth.width == 3


def test_early_stopping_true_stops_once_the_beam_has_finished():
    """transformers' ``early_stopping=True``: the first k finished captions are final, even if a live one
    would have beaten them; ``"never"`` keeps searching and finds the best."""
    found = wide_enough = 0
    for seed in SEEDS:
        model, max_words = decoder(seed)
        rule = SearchRule(length_penalty=1.0, early_stopping="never")
        truth = toys.enumerate_captions(model, max_words, rule)
        eager = beam_search(model, None, 2, max_words, rule=SearchRule(length_penalty=1.0, early_stopping=True))
        patient = beam_search(model, None, 2, max_words, rule=rule)
        assert eager[0].score <= patient[0].score + 1e-12, seed
        assert patient[0].score <= truth.best_score + 1e-9, seed
        if truth.width <= 2:  # wide enough: "never" finds the best caption
            assert tuple(patient[0].tokens) == truth.best, seed
            wide_enough += 1
        found += eager[0].score < patient[0].score - 1e-9
    assert found >= 3, found
    assert wide_enough >= len(SEEDS) // 2, wide_enough


def test_banned_words_never_appear():
    """no_repeat_ngram_size and min_words, as transformers' processors apply them."""
    for seed in range(20):
        model, _ = decoder(seed)
        rule = SearchRule(no_repeat_ngram_size=2, min_words=3)
        for k in (1, 3):
            for hyp in beam_search(model, None, k, 6, rule=rule) if k > 1 else [greedy(model, None, 6, rule=rule)]:
                seq = [model.start_token, *hyp.tokens]
                pairs = list(zip(seq, seq[1:]))
                assert len(pairs) == len(set(pairs)), f"seed {seed}: {seq} repeats a bigram"
                assert model.end_token not in hyp.tokens[:3], f"seed {seed}: ended before 3 tokens"


@pytest.mark.parametrize("bad", [0, -2, 2.5, "abc", True, None])
def test_bad_length_limits_are_refused(bad):
    model, _ = decoder(0)
    with pytest.raises(ValueError, match="caption length limit"):
        beam_search(model, None, 2, bad)
    with pytest.raises(ValueError, match="caption length limit"):
        greedy(model, None, bad)


def test_probabilities_and_totals_agree():
    model, max_words = decoder(7)
    for hyp in beam_search(model, None, 4, max_words):
        assert hyp.total == pytest.approx(float(torch.tensor(hyp.probs, dtype=torch.float64).log().sum()), abs=1e-9)



def test_the_beam_waits_while_an_open_caption_can_still_beat_its_worst_finished_one():
    """The alternatives the panel lists are the k best the search can reach: with k captions finished, an
    open one that can still beat the *worst* of them (not the best) must be followed.

    Tokens: 0 = end, 1 = a, 2 = b, 3 = c; beam 2, at most 3 tokens. Step 1: "<end>" 0.45 finishes,
    "a" 0.35 and "b" 0.15 go on. Step 2: "b <end>" 0.135 finishes, "a c" 0.21 goes on ("a <end>" 0.105
    ranks third of the candidates and is dropped, as transformers does). Two captions have finished, but
    "a c" (0.21) can still beat the worse of them: step 3 gives "a c <end>" 0.1995, the true second best.
    """
    table = {
        (): [0.45, 0.35, 0.15, 0.05],
        (1,): [0.3, 0.05, 0.05, 0.6],
        (2,): [0.9, 0.04, 0.03, 0.03],
        (1, 3): [0.95, 0.02, 0.02, 0.01],
    }
    model = toys.TableDecoder(table, default=[0.25, 0.25, 0.25, 0.25])
    beams = beam_search(model, None, 2, 3)
    assert [tuple(h.tokens) for h in beams] == [(0,), (1, 3, 0)], [h.tokens for h in beams]
    assert math.exp(beams[1].score) == pytest.approx(0.35 * 0.6 * 0.95)
    truth = toys.enumerate_captions(model, 3)
    second = sorted(truth.captions, key=lambda seq: truth.score(seq, PLAIN), reverse=True)[1]
    assert second == (1, 3, 0)
