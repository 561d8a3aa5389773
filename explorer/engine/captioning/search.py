"""Greedy and beam search over any decoder with the one-step interface.

A *stepper* is a model with ``start(pixels) -> state`` and
``step(prev_tokens (k,), state) -> (log_probs (k, V), state, alpha (k, N) | None, beta (k,) | None)``;
its state is a dict of tensors whose first dimension is the hypothesis
(reordered with :func:`explorer.engine.captioning.networks.select_state`).

Beam search follows one procedure, the one ``transformers`` uses, so that a
Hugging Face captioner gives what its ``generate()`` gives and our own
decoders get a search whose result can be proved:

- every step extends the ``k`` live hypotheses by every word and ranks the
  continuations by their *running total* of log-probabilities;
- of the best ``2k``, those among the first ``k`` that choose the end token
  (or reach ``max_words``, a hard cap on tokens, the end token included) are
  finished and scored under the :class:`SearchRule` (``total / length^lp``),
  and the best ``k`` that go on stay live, so the beam never shrinks;
- the ``k`` best finished hypotheses are kept; the search stops when none of
  the live ones can still beat the worst of them (or, with
  ``early_stopping=True``, as soon as there are ``k``).

With the bundled rule (no length penalty) scores only fall as words are
added, so the stopping test is exact: whenever every prefix of the best
caption ranks within the top ``k`` of its length, beam search of width ``k``
returns it. With ``k = 1`` it makes exactly the greedy choices. A wider beam is
*not* always better than a narrower one (beam search's known curse): a wider
beam can push the narrow beam's prefix out for prefixes that end badly.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import torch

from explorer.engine.captioning.networks import END, START, select_state

MAX_WORDS = 24
MAX_BEAM = 10


@dataclass(frozen=True)
class SearchRule:
    """How a caption is scored and which words are allowed: a Hugging Face generation config's rules.

    The default (no length penalty, nothing banned) is the bundled decoders' rule:
    a caption's score is the plain sum of its log-probabilities.
    """

    #: A finished caption of ``n`` tokens (end included) scores ``total / n ** length_penalty``.
    length_penalty: float = 0.0
    #: ``False``: stop when no live hypothesis can beat the worst finished one (estimated at the current
    #: length, transformers' heuristic); ``"never"``: the same with the bound at ``max_words`` (exact for any
    #: penalty); ``True``: stop as soon as ``k`` hypotheses have finished.
    early_stopping: bool | str = False
    #: No n-gram of this size appears twice (0: off), counted over the start token and the words.
    no_repeat_ngram_size: int = 0
    #: The end token is banned until this many tokens have been chosen.
    min_words: int = 0

    def score(self, total: float, length: int) -> float:
        return total / (length ** self.length_penalty) if self.length_penalty else total

    def best_possible(self, total: float, length: int, max_words: int) -> float:
        """The best score a live hypothesis of running ``total`` after ``length`` tokens might still reach."""
        if self.early_stopping == "never" and self.length_penalty > 0:
            return total / (max_words**self.length_penalty)
        return self.score(total, length)

    def process(self, sequences: list[list[int]], log_probs: torch.Tensor, end: int) -> torch.Tensor:
        """``log_probs`` (k, V) with banned words set to −∞; ``sequences[i]`` is start token + tokens of row i."""
        if not self.no_repeat_ngram_size and not self.min_words:
            return log_probs
        log_probs = log_probs.clone()
        n = self.no_repeat_ngram_size
        for row, seq in enumerate(sequences):
            if len(seq) - 1 < self.min_words:
                log_probs[row, end] = -math.inf
            if n and len(seq) + 1 >= n:
                tail = tuple(seq[len(seq) - n + 1:]) if n > 1 else ()
                banned = {seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i : i + n - 1]) == tail}
                if banned:
                    log_probs[row, sorted(banned)] = -math.inf
        return log_probs

    @property
    def text(self) -> str:
        """The rule in words, for the panel ("" for the plain sum)."""
        parts = []
        if self.length_penalty:
            parts.append(f"score = log-probability / length^{self.length_penalty:g}")
        if self.no_repeat_ngram_size:
            parts.append(f"no repeated {self.no_repeat_ngram_size}-grams")
        if self.min_words:
            parts.append(f"at least {self.min_words} tokens")
        if self.early_stopping is True:
            parts.append("stops once the beam has finished")
        return ", ".join(parts)


PLAIN = SearchRule()


@dataclass
class Hypothesis:
    tokens: list[int]
    total: float  # sum of log-probabilities
    score: float = 0.0  # ``total`` under the search rule (the plain total without a length penalty)
    probs: list[float] = field(default_factory=list)
    alphas: list[torch.Tensor] = field(default_factory=list)  # each (N,)
    betas: list[float] = field(default_factory=list)
    #: At each step, the most likely next words: [(token, probability), ...].
    candidates: list[list[tuple[int, float]]] = field(default_factory=list)
    finished: bool = False  # True when it chose the end token (False: stopped at max_words)


def check_beam(beam_size) -> int:
    try:
        value = int(beam_size)
    except (TypeError, ValueError):
        raise ValueError(f"beam size must be a whole number from 1 to {MAX_BEAM} (got {beam_size!r})") from None
    if value != beam_size or not 1 <= value <= MAX_BEAM:
        raise ValueError(f"beam size must be a whole number from 1 to {MAX_BEAM} (got {beam_size!r})")
    return value


def check_max_words(max_words) -> int:
    try:
        value = operator.index(max_words)
    except TypeError:
        value = 0
    if isinstance(max_words, bool) or value < 1:
        raise ValueError(f"the caption length limit must be a whole number of at least 1 (got {max_words!r})")
    return value


@torch.no_grad()
def greedy(model, pixels: torch.Tensor, max_words: int = MAX_WORDS, top: int = 5, rule: SearchRule = PLAIN) -> Hypothesis:
    """The most likely allowed word at every step, for one image ``pixels`` (1, 3, S, S)."""
    limit = check_max_words(max_words)
    start_token, end_token = _specials(model)
    state = model.start(pixels)
    hyp = Hypothesis(tokens=[], total=0.0)
    prev = torch.tensor([start_token])
    for _ in range(limit):
        log_probs, state, alpha, beta = model.step(prev, state)
        log_probs = rule.process([[start_token, *hyp.tokens]], log_probs, end_token)  # (1, V)
        _record(hyp, log_probs[0], alpha, beta, top)
        token = int(log_probs[0].argmax())
        hyp.tokens.append(token)
        hyp.total += float(log_probs[0, token])
        hyp.probs.append(float(log_probs[0, token].exp()))
        if token == end_token:
            hyp.finished = True
            break
        prev = torch.tensor([token])
    hyp.score = rule.score(hyp.total, len(hyp.tokens))
    return hyp


@torch.no_grad()
def beam_search(model, pixels: torch.Tensor, beam_size: int = 3, max_words: int = MAX_WORDS, top: int = 5,
                rule: SearchRule = PLAIN) -> list[Hypothesis]:
    """Up to ``beam_size`` finished hypotheses (ended, or stopped at ``max_words``), best score first."""
    k = check_beam(beam_size)
    limit = check_max_words(max_words)  # tokens, the end token included: a hard cap
    start_token, end_token = _specials(model)
    state = model.start(pixels)
    live = [Hypothesis(tokens=[], total=0.0)]
    finished: list[Hypothesis] = []
    for length in range(1, limit + 1):
        prev = torch.tensor([h.tokens[-1] if h.tokens else start_token for h in live])
        log_probs, state, alpha, beta = model.step(prev, state)  # (n, V)
        log_probs = rule.process([[start_token, *h.tokens] for h in live], log_probs, end_token)
        totals = torch.tensor([h.total for h in live], dtype=log_probs.dtype)[:, None] + log_probs  # (n, V)
        vocab = log_probs.shape[1]
        best = torch.topk(totals.flatten(), min(2 * k, totals.numel()))  # by running total, ties by index
        capped = length == limit
        going: list[Hypothesis] = []
        rows: list[int] = []
        for rank, flat in enumerate(best.indices.tolist()):
            row, token = divmod(flat, vocab)
            total = float(totals[row, token])
            ends = token == end_token or capped
            if not math.isfinite(total) or (ends and rank >= k) or (not ends and len(going) == k):
                continue  # banned, or a finished one beyond the first k (as transformers does)
            child = _extend(live[row], token, total, log_probs[row], alpha, beta, row, top)
            if ends:
                child.finished = token == end_token
                child.score = rule.score(total, length)
                finished.append(child)
            else:
                going.append(child)
                rows.append(row)
        finished = sorted(finished, key=lambda h: h.score, reverse=True)[:k]
        if not going:
            break
        if len(finished) == k:
            if rule.early_stopping is True:
                break
            if rule.best_possible(going[0].total, length, limit) <= finished[-1].score:
                break  # no live hypothesis can still beat the worst finished one
        live = going
        state = select_state(state, torch.tensor(rows))
    return finished


def _extend(parent: Hypothesis, token: int, total: float, log_probs: torch.Tensor, alpha, beta, row: int,
            top: int) -> Hypothesis:
    child = Hypothesis(
        tokens=parent.tokens + [token],
        total=total,
        probs=parent.probs + [float(log_probs[token].exp())],
        alphas=list(parent.alphas),
        betas=list(parent.betas),
        candidates=list(parent.candidates),
    )
    _record(child, log_probs, None if alpha is None else alpha[row : row + 1], None if beta is None else beta[row : row + 1], top)
    return child


def _specials(model) -> tuple[int, int]:
    """The model's start and end tokens (our captioners use START / END; others say theirs)."""
    return int(getattr(model, "start_token", START)), int(getattr(model, "end_token", END))


def _record(hyp: Hypothesis, log_probs: torch.Tensor, alpha, beta, top: int) -> None:
    if alpha is not None:
        hyp.alphas.append(alpha[0].detach().clone())
    if beta is not None:
        hyp.betas.append(float(beta[0]))
    probs = log_probs.exp()
    values, indices = torch.topk(probs, min(top, probs.numel()))
    hyp.candidates.append([(int(i), float(v)) for i, v in zip(indices, values) if v > 0])


@torch.no_grad()
def greedy_batch(model, pixels: torch.Tensor, max_words: int = MAX_WORDS):
    """Greedy captions of a batch, for evaluation: (tokens (B, T), alphas (B, T, N) or None)."""
    state = model.start(pixels)
    b = pixels.shape[0]
    prev = torch.full((b,), START, dtype=torch.long)
    tokens, alphas = [], []
    done = torch.zeros(b, dtype=torch.bool)
    for _ in range(max_words):
        log_probs, state, alpha, _beta = model.step(prev, state)
        prev = log_probs.argmax(-1)  # (B,)
        tokens.append(prev)
        if alpha is not None:
            alphas.append(alpha)
        done |= prev == END
        if bool(done.all()):
            break
    return torch.stack(tokens, 1), (torch.stack(alphas, 1) if alphas else None)
