"""What every captioner is: an image in, a sequence of words out, and where it looked for each word.

Entry points (DESIGN.md)::

    captioner = load("attention")          # bundled name, a .safetensors file or a Hugging Face folder
    trace = captioner.caption(image, beam_size=3)
    trace.words, trace.alphas, trace.betas, trace.score, trace.probs, trace.alternatives

Bundled models (trained by ``scripts/train_captioner.py`` on generated scenes):

- ``"attention"``: CNN grid of region features + LSTM with soft additive
  attention and the gate β (Show, Attend and Tell). One (g, g) map per word.
- ``"classic"``: the CNN→RNN captioner; the pooled image feature is the
  LSTM's initial state and there is no attention (``alphas`` is None).

Every file goes through :func:`explorer.engine.infra.checkpoints.load_state_dict`;
nothing opened can run code. A file that is not a captioner raises
:class:`CaptionModelError` (a ``ValueError``) saying what it holds instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from explorer.engine.captioning.networks import END
from explorer.engine.captioning.search import MAX_WORDS, PLAIN, Hypothesis, SearchRule, beam_search, check_beam, check_max_words, greedy

CONVERTER_HINT = (
    "If it is a checkpoint of the PyTorch Show-Attend-Tell tutorial, convert it first with "
    "scripts/convert_sat_checkpoint.py (run in the environment that trained it) and open the "
    ".safetensors file it writes."
)


class CaptionModelError(ValueError):
    """The file or folder does not hold a captioner this app can run."""


@dataclass
class Alternative:
    """One finished hypothesis of the beam."""

    words: list[str]
    score: float  # under the model's search rule (the total log-probability without a length penalty)
    probs: list[float]
    total: float = 0.0  # total log-probability
    ended: bool = True  # False: stopped at the length limit
    tokens: list[int] = field(default_factory=list)  # without the end token


@dataclass
class CaptionTrace:
    """Everything the panel shows about one caption.

    ``words`` excludes the end token; ``alphas[t]`` (g, g) is where the model
    looked when it chose ``words[t]`` (sums to 1 over the regions), ``betas[t]``
    how much of that glimpse it let through (β ∈ (0, 1)); ``probs[t]`` the
    word's probability; ``candidates[t]`` the most likely words at that step
    (one more step than words: the last one chose the end).
    """

    words: list[str]
    tokens: list[int]
    probs: np.ndarray  # (T,)
    score: float  # the caption's score under the search rule (``total`` when there is no length penalty)
    alphas: np.ndarray | None  # (T, g, g)
    betas: np.ndarray | None  # (T,)
    candidates: list[list[tuple[str, float]]]
    alternatives: list[Alternative]
    beam_size: int
    model: str
    ended: bool = True  # False when the caption hit the length limit before its end token
    notes: list[str] = field(default_factory=list)
    total: float = 0.0  # sum of the log-probabilities of its tokens (the end token included)
    rule: str = ""  # the search rule in words ("" for the plain sum of log-probabilities)

    @property
    def caption(self) -> str:
        return " ".join(self.words)

    @property
    def grid(self) -> tuple[int, int] | None:
        return None if self.alphas is None else tuple(self.alphas.shape[1:])


class Captioner:
    """A model that captions images. Subclasses supply ``stepper``, ``pixels`` and ``word``."""

    name = "captioner"
    title = "Captioner"
    #: "attention" (a map per word), "classic" (no maps) or "transformer" (cross-attention maps).
    kind = "attention"
    #: Figures measured on fresh generated scenes (bundled models), from the file's metadata.
    metrics: dict[str, Any]
    #: Where attention maps come from, said wherever they are shown.
    attention_note = ""
    #: Grid of attention maps (rows, cols), or None.
    grid: tuple[int, int] | None = None
    #: True when the model was trained on generated scenes only.
    synthetic = False
    #: How captions are scored and which words are banned (a Hugging Face model's generation config).
    rule: SearchRule = PLAIN
    #: The longest caption, in tokens (the end token included), when ``caption`` is given none.
    max_words: int = MAX_WORDS
    #: The beam the model asks for (a Hugging Face generation config's ``num_beams``), or None.
    default_beam: int | None = None
    #: What the panel should know about how this model's captions are made (settings not followed, ...).
    search_notes: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.metrics = {}

    @property
    def has_attention(self) -> bool:
        return self.grid is not None

    # to be supplied --------------------------------------------------------------------------
    @property
    def stepper(self):
        raise NotImplementedError

    def pixels(self, image: Image.Image) -> torch.Tensor:
        raise NotImplementedError

    def word(self, token: int) -> str:
        raise NotImplementedError

    # the one call ------------------------------------------------------------------------------
    @torch.no_grad()
    def caption(self, image: Image.Image, beam_size: int | None = 1, *, max_words: int | None = None) -> CaptionTrace:
        """Caption ``image`` (any size or mode) with greedy (beam 1) or beam search under :attr:`rule`.

        ``beam_size=None`` takes the model's own (:attr:`default_beam`, else greedy);
        ``max_words=None`` its own limit (:attr:`max_words`, in tokens, the end token included).
        """
        if not isinstance(image, Image.Image):
            raise ValueError(f"expected a PIL image, got {type(image).__name__}")
        if image.width < 1 or image.height < 1:
            raise ValueError("the image is empty (0 pixels)")
        k = check_beam((self.default_beam or 1) if beam_size is None else beam_size)
        limit = check_max_words(self.max_words if max_words is None else max_words)
        pixels = self.pixels(image)
        if k == 1:
            best = greedy(self.stepper, pixels, max_words=limit, rule=self.rule)
            beams = [best]
        else:
            beams = beam_search(self.stepper, pixels, k, max_words=limit, rule=self.rule)
            best = beams[0]
        return self._trace(best, beams, k)

    def _trace(self, best: Hypothesis, beams: list[Hypothesis], k: int) -> CaptionTrace:
        end = getattr(self.stepper, "end_token", END)
        n = len(best.tokens) - (1 if best.finished else 0)  # words, without the end token
        alphas = None
        if best.alphas and self.grid is not None:
            alphas = torch.stack(best.alphas[:n]).reshape(n, *self.grid).numpy() if n else np.zeros((0, *self.grid))
        betas = np.array(best.betas[:n], dtype=np.float64) if best.betas else None
        return CaptionTrace(
            words=[self.word(t) for t in best.tokens[:n]],
            tokens=best.tokens[:n],
            probs=np.array(best.probs[:n], dtype=np.float64),
            score=best.score,
            total=best.total,
            rule=self.rule.text,
            alphas=alphas,
            betas=betas,
            candidates=[[(self.word(t) if t != end else "<end>", p) for t, p in step] for step in best.candidates],
            alternatives=[
                Alternative([self.word(t) for t in h.tokens[: len(h.tokens) - h.finished]], h.score, h.probs, h.total,
                            h.finished, h.tokens[: len(h.tokens) - h.finished])
                for h in beams
            ],
            beam_size=k,
            model=self.name,
            ended=best.finished,
            notes=list(self.search_notes),
        )
