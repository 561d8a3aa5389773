"""How good a captioner is on generated scenes: exact match, BLEU-4 and pointing.

*Pointing* asks whether the attention map of a colour or shape word peaks on
the object that word names: the grid cell with the largest weight is taken,
its centre is mapped to image pixels, and the word counts as pointing when
that centre lies inside the object's ground-truth box. A generated word that
names no object of the scene (a wrong colour) counts as a miss.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from explorer.engine.infra import scenes as scene_lib


def _ngrams(words: Sequence[str], n: int) -> Counter:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


#: Smoothings of the n-gram precisions: Lin & Och (2004) add one to the matches and the count of every
#: n > 1 (NLTK's ``method2``), so one caption's BLEU is not 0 just because it has no matching 4-gram.
SMOOTHINGS = (None, "add-one")


def corpus_bleu(references: Sequence[Sequence[Sequence[str]]], hypotheses: Sequence[Sequence[str]], max_n: int = 4,
                smoothing: str | None = None) -> float:
    """Corpus-level BLEU (Papineni et al. 2002), uniform weights, in [0, 1].

    ``references[i]`` is a list of reference word lists for ``hypotheses[i]``.
    Each hypothesis n-gram counts at most as often as it occurs in one reference
    (clipping); clipped matches, n-gram counts and lengths are summed over the
    corpus before the geometric mean and the brevity penalty
    ``exp(1 − r / c)`` when the hypotheses are shorter (``r``: the closest
    reference length of each, the shorter on a tie). Without smoothing, no match
    at some n gives 0.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} reference sets for {len(hypotheses)} hypotheses")
    if smoothing not in SMOOTHINGS:
        raise ValueError(f"unknown BLEU smoothing {smoothing!r} (expected one of {SMOOTHINGS})")
    matches = [0] * max_n
    totals = [0] * max_n
    hyp_length = ref_length = 0
    for refs, hyp in zip(references, hypotheses):
        hyp = list(hyp)
        hyp_length += len(hyp)
        ref_length += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1] if refs else 0
        for n in range(1, max_n + 1):
            counts = _ngrams(hyp, n)
            most: Counter = Counter()  # each n-gram's largest count in any one reference
            for ref in refs:
                most |= _ngrams(list(ref), n)
            matches[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_length == 0 or matches[0] == 0:
        return 0.0
    log_precision = 0.0
    for n, (m, t) in enumerate(zip(matches, totals), start=1):
        if smoothing == "add-one" and n > 1:
            m, t = m + 1, t + 1
        if m == 0:
            return 0.0
        log_precision += math.log(m / t) / max_n
    brevity = 1.0 if hyp_length > ref_length else math.exp(1 - ref_length / hyp_length)
    return brevity * math.exp(log_precision)


def sentence_bleu(references: Sequence[Sequence[str]], hypothesis: Sequence[str], max_n: int = 4,
                  smoothing: str | None = "add-one") -> float:
    """BLEU of one caption against its references (smoothed by default: one caption rarely has every n-gram)."""
    return corpus_bleu([references], [hypothesis], max_n, smoothing)


def peak_point(alpha: np.ndarray, image_size: int) -> tuple[float, float]:
    """(x, y) in pixels of the centre of the grid cell where the (g, g) map ``alpha`` peaks."""
    g_rows, g_cols = alpha.shape
    row, col = np.unravel_index(int(np.argmax(alpha)), alpha.shape)
    return (col + 0.5) * image_size / g_cols, (row + 0.5) * image_size / g_rows


def inside(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    x, y = point
    x0, y0, x1, y1 = box
    return x0 <= x < x1 and y0 <= y < y1


def named_objects(words: Sequence[str], scene: scene_lib.Scene) -> list[tuple[str, int]]:
    """For each generated word: (kind, index of the object it names, or -1 if none), kind "" for others.

    A colour names the scene's object of that colour (colours are distinct in a
    scene); a shape names the object of its phrase, i.e. the one whose colour
    came just before it, if that object has this shape.
    """
    by_colour = {obj.colour: i for i, obj in enumerate(scene.objects)}
    out: list[tuple[str, int]] = []
    current = -1
    for word in words:
        if word in scene_lib.COLOURS:
            current = by_colour.get(word, -1)
            out.append(("colour", current))
        elif word in scene_lib.SHAPES:
            ok = current >= 0 and scene.objects[current].shape == word
            out.append(("shape", current if ok else -1))
        else:
            out.append(("", -1))
    return out


@dataclass
class Figures:
    scenes: int = 0
    exact: int = 0
    colour_hits: int = 0
    colour_words: int = 0
    shape_hits: int = 0
    shape_words: int = 0
    hypotheses: list[list[str]] = field(default_factory=list)
    references: list[list[list[str]]] = field(default_factory=list)

    def add(self, scene: scene_lib.Scene, words: Sequence[str], alphas: np.ndarray | None) -> None:
        """One scene's caption ``words`` with their maps ``alphas`` (T, g, g) (None: no attention)."""
        self.scenes += 1
        self.exact += list(words) == list(scene.words)
        self.hypotheses.append(list(words))
        self.references.append([list(scene.words)])
        if alphas is None:
            return
        boxes = scene.boxes()
        for t, (kind, obj) in enumerate(named_objects(words, scene)):
            if not kind:
                continue
            hit = obj >= 0 and inside(peak_point(alphas[t], scene.size), boxes[obj])
            if kind == "colour":
                self.colour_words += 1
                self.colour_hits += hit
            else:
                self.shape_words += 1
                self.shape_hits += hit

    def summary(self) -> dict[str, float]:
        words = self.colour_words + self.shape_words
        out = {
            "scenes": self.scenes,
            "exact_match": self.exact / max(self.scenes, 1),
            "bleu4": corpus_bleu(self.references, self.hypotheses),
        }
        if words:
            out.update(
                pointing=(self.colour_hits + self.shape_hits) / words,
                pointing_colour=self.colour_hits / max(self.colour_words, 1),
                pointing_shape=self.shape_hits / max(self.shape_words, 1),
            )
        return out


def evaluate(model, vocab, count: int = 500, *, split: str = "test", start: int = 0, batch_size: int = 100, image_size: int | None = None) -> dict[str, float]:
    """Greedy-caption ``count`` fresh scenes of ``split`` and return the figures.

    Scenes are rendered at 4× the model's input and resized down, the way a
    user's larger image reaches the model.
    """

    from explorer.engine.captioning.networks import END, to_pixels
    from explorer.engine.captioning.search import greedy_batch

    size = image_size or model.config.image_size
    figures = Figures()
    model.eval()
    for first in range(start, start + count, batch_size):
        batch = [scene_lib.generate(scene_lib.split_seed(split, i), size=4 * size) for i in range(first, min(first + batch_size, start + count))]
        tokens, alphas = greedy_batch(model, to_pixels([s.image for s in batch], size))
        g = int(round(alphas.shape[-1] ** 0.5)) if alphas is not None else 0
        for row, scene in enumerate(batch):
            ids = tokens[row].tolist()
            length = ids.index(END) if END in ids else len(ids)
            maps = alphas[row, :length].reshape(length, g, g).numpy() if alphas is not None else None
            figures.add(scene, vocab.decode(ids[:length]), maps)
    return figures.summary()
