"""Small random decoders whose every caption can be enumerated, and the brute-force search over them.

A toy decoder is a random tanh RNN over a handful of tokens with the one-step
interface of :mod:`explorer.engine.captioning.search`; with 3–5 tokens and
captions of up to 6, every possible caption (a few thousand) is scored, so the
best one is known exactly, and so is how wide a beam has to be to find it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from explorer.engine.captioning.networks import select_state
from explorer.engine.captioning.search import PLAIN, SearchRule


class ToyDecoder:
    """A random tanh RNN over ``vocab`` tokens, in float64; token 0 ends a caption, ``vocab`` starts one (input only).

    ``h_t = tanh(E[prev] + U·h_{t-1})``, ``log p = log_softmax(sharpness · O·h_t + b)``: every word's
    probability depends on the whole prefix, as in a real decoder.
    """

    end_token = 0

    def __init__(self, seed: int, vocab: int, hidden: int = 6, sharpness: float = 2.0, end_bias: float = 0.0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.start_token = vocab
        self.embed = torch.randn(vocab + 1, hidden, generator=gen, dtype=torch.float64)  # (V + 1, H)
        self.recur = torch.randn(hidden, hidden, generator=gen, dtype=torch.float64) / hidden**0.5  # (H, H)
        self.out = torch.randn(vocab, hidden, generator=gen, dtype=torch.float64) * sharpness  # (V, H)
        self.bias = torch.randn(vocab, generator=gen, dtype=torch.float64)
        self.bias[0] += end_bias
        self.h0 = torch.randn(1, hidden, generator=gen, dtype=torch.float64)

    def start(self, pixels=None) -> dict[str, torch.Tensor]:
        return {"h": self.h0.clone()}

    def step(self, prev: torch.Tensor, state: dict[str, torch.Tensor]):
        h = torch.tanh(self.embed[prev] + state["h"] @ self.recur)  # (k, H)
        log_probs = torch.log_softmax(h @ self.out.T + self.bias, dim=-1)  # (k, V)
        return log_probs, {"h": h}, None, None


@dataclass
class Enumeration:
    """Every caption of a toy decoder up to ``max_words`` tokens, and what a beam needs to find the best."""

    captions: dict[tuple[int, ...], tuple[float, bool]]  # tokens → (total log-probability, ended by the end token)
    best: tuple[int, ...]
    best_score: float
    width: int  # the narrowest beam guaranteed to find ``best``

    def score(self, tokens, rule: SearchRule) -> float:
        return rule.score(self.captions[tuple(tokens)][0], len(tokens))


@torch.no_grad()
def enumerate_captions(model: ToyDecoder, max_words: int, rule: SearchRule = PLAIN) -> Enumeration:
    """Score every caption (ended by the end token, or ``max_words`` tokens long) by expanding the whole tree.

    ``width``: every live prefix of the best caption must rank within the beam among *all* open prefixes of its
    length, and the caption itself within the first ``k`` of all continuations at its last step; a beam that
    wide keeps it whatever else it meets (the beam's candidates are a subset of the tree's).
    """
    end = model.end_token
    level: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
    state = model.start()
    captions: dict[tuple[int, ...], tuple[float, bool]] = {}
    by_length: list[tuple[list[float], dict[tuple[int, ...], float]]] = []  # per length: open totals, all totals
    for length in range(1, max_words + 1):
        prev = torch.tensor([seq[-1] if seq else model.start_token for seq, _ in level])
        log_probs, state, _a, _b = model.step(prev, state)  # (n, V)
        children, rows, open_totals, every = [], [], [], {}
        for row, ((seq, total), values) in enumerate(zip(level, log_probs.tolist())):
            for token, value in enumerate(values):
                child, child_total = seq + (token,), total + value
                every[child] = child_total
                if token == end or length == max_words:
                    captions[child] = (child_total, token == end)
                else:
                    children.append((child, child_total))
                    rows.append(row)
                    open_totals.append(child_total)
        by_length.append((open_totals, every))
        if not children:
            break
        level = children
        state = select_state(state, torch.tensor(rows))
    best = max(captions, key=lambda seq: rule.score(captions[seq][0], len(seq)))
    ranks = []
    for t in range(1, len(best) + 1):
        open_totals, every = by_length[t - 1]
        mine = every[best[:t]]
        pool = list(every.values()) if t == len(best) else open_totals
        ranks.append(1 + sum(total > mine for total in pool))
    return Enumeration(captions, best, rule.score(captions[best][0], len(best)), max(ranks))


class TableDecoder:
    """A decoder written out by hand: ``table[prefix]`` gives the next-token probabilities after ``prefix``.

    Prefixes not in the table get ``default``. The state is the prefix itself, padded with −1.
    """

    end_token = 0
    start_token = -1

    def __init__(self, table: dict[tuple[int, ...], list[float]], default: list[float], max_len: int = 8) -> None:
        self.table, self.default, self.max_len = table, default, max_len

    def start(self, pixels=None) -> dict[str, torch.Tensor]:
        return {"prefix": torch.full((1, self.max_len), -1)}

    def step(self, prev: torch.Tensor, state: dict[str, torch.Tensor]):
        prefix = state["prefix"].clone()  # (k, max_len)
        rows = []
        for row, token in enumerate(prev.tolist()):
            if token != self.start_token:
                prefix[row, int((prefix[row] >= 0).sum())] = token
            seq = tuple(t for t in prefix[row].tolist() if t >= 0)
            rows.append(self.table.get(seq, self.default))
        log_probs = torch.tensor(rows, dtype=torch.float64).log()  # (k, V)
        return log_probs, {"prefix": prefix}, None, None
