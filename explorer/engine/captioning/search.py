"""Greedy and beam search over any decoder with the one-step interface.

A *stepper* is a model with ``start(pixels) -> state`` and
``step(prev_tokens (k,), state) -> (log_probs (k, V), state, alpha (k, N) | None, beta (k,) | None)``;
its state is a dict of tensors whose first dimension is the hypothesis
(reordered with :func:`explorer.engine.captioning.networks.select_state`).

Beam search keeps, for every hypothesis, the word chosen at each step with its
probability, attention map and β, so the finished caption carries its whole
history; with ``beam_size=1`` it makes exactly the greedy choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from explorer.engine.captioning.networks import END, START, select_state

MAX_WORDS = 24
MAX_BEAM = 10


@dataclass
class Hypothesis:
    tokens: list[int]
    score: float  # sum of log-probabilities
    probs: list[float] = field(default_factory=list)
    alphas: list[torch.Tensor] = field(default_factory=list)  # each (N,)
    betas: list[float] = field(default_factory=list)
    #: At each step, the most likely next words: [(token, probability), ...].
    candidates: list[list[tuple[int, float]]] = field(default_factory=list)
    finished: bool = False


def check_beam(beam_size) -> int:
    try:
        value = int(beam_size)
    except (TypeError, ValueError):
        raise ValueError(f"beam size must be a whole number from 1 to {MAX_BEAM} (got {beam_size!r})") from None
    if value != beam_size or not 1 <= value <= MAX_BEAM:
        raise ValueError(f"beam size must be a whole number from 1 to {MAX_BEAM} (got {beam_size!r})")
    return value


@torch.no_grad()
def greedy(model, pixels: torch.Tensor, max_words: int = MAX_WORDS, top: int = 5) -> Hypothesis:
    """The most likely word at every step, for one image ``pixels`` (1, 3, S, S)."""
    start_token, end_token = _specials(model)
    state = model.start(pixels)
    hyp = Hypothesis(tokens=[], score=0.0)
    prev = torch.tensor([start_token])
    for _ in range(max_words):
        log_probs, state, alpha, beta = model.step(prev, state)
        _record(hyp, log_probs[0], alpha, beta, top)
        token = int(log_probs[0].argmax())
        hyp.tokens.append(token)
        hyp.score += float(log_probs[0, token])
        hyp.probs.append(float(log_probs[0, token].exp()))
        if token == end_token:
            hyp.finished = True
            break
        prev = torch.tensor([token])
    return hyp


@torch.no_grad()
def beam_search(model, pixels: torch.Tensor, beam_size: int = 3, max_words: int = MAX_WORDS, top: int = 5) -> list[Hypothesis]:
    """Up to ``beam_size`` hypotheses, best first (by total log-probability)."""
    k = check_beam(beam_size)
    start_token, end_token = _specials(model)
    state = model.start(pixels)
    live = [Hypothesis(tokens=[], score=0.0)]
    finished: list[Hypothesis] = []
    for _ in range(max_words):
        prev = torch.tensor([h.tokens[-1] if h.tokens else start_token for h in live])
        log_probs, state, alpha, beta = model.step(prev, state)  # (n, V)
        totals = torch.tensor([h.score for h in live])[:, None] + log_probs  # (n, V)
        vocab = log_probs.shape[1]
        best = torch.topk(totals.flatten(), min(k, totals.numel()))  # ordered, ties by index
        chosen: list[Hypothesis] = []
        rows = []
        for flat in best.indices.tolist():
            row, token = divmod(flat, vocab)
            parent = live[row]
            child = Hypothesis(
                tokens=parent.tokens + [token],
                score=float(totals[row, token]),
                probs=parent.probs + [float(log_probs[row, token].exp())],
                alphas=list(parent.alphas),
                betas=list(parent.betas),
                candidates=list(parent.candidates),
            )
            _record(child, log_probs[row], None if alpha is None else alpha[row : row + 1], None if beta is None else beta[row : row + 1], top)
            if token == end_token:
                child.finished = True
                finished.append(child)
            else:
                chosen.append(child)
                rows.append(row)
        # Stop when no live hypothesis can beat the k-th finished one (log-probs only fall).
        finished.sort(key=lambda h: h.score, reverse=True)
        if len(finished) >= k:
            finished = finished[:k]
            if not chosen or chosen[0].score <= finished[-1].score:
                break
        if not chosen:
            break
        live = chosen
        state = select_state(state, torch.tensor(rows))
    pool = finished + ([] if len(finished) >= k else live)
    pool.sort(key=lambda h: h.score, reverse=True)
    return pool[:k]


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
    hyp.candidates.append([(int(i), float(v)) for i, v in zip(indices, values)])


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
