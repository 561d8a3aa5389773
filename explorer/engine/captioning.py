"""Captioning: an image in, a sequence of words out, and where the model looked for each word.

Entry points (DESIGN.md)::

    captioner = load("attention")          # bundled name, a .safetensors file or a Hugging Face folder
    trace = captioner.caption(image, beam_size=3)
    trace.words, trace.alphas, trace.betas, trace.score, trace.probs, trace.alternatives

Bundled models (trained by ``scripts/train_captioner.py`` on generated scenes):

- ``"attention"``: CNN grid of region features + LSTM with soft additive
  attention and the gate β (Show, Attend and Tell). One (g, g) map per word.
- ``"classic"``: the CNN→RNN captioner; the pooled image feature is the
  LSTM's initial state and there is no attention (``alphas`` is None).

Every file goes through :func:`explorer.engine.checkpoints.load_state_dict`;
nothing opened can run code. A file that is not a captioner raises
:class:`CaptionModelError` (a ``ValueError``) saying what it holds instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from explorer.engine.captioning_models import END, ModelConfig, Vocabulary, build, to_pixels
from explorer.engine.captioning_search import Hypothesis, beam_search, check_beam, greedy
from explorer.engine.checkpoints import CheckpointError, load_config, load_state_dict
from explorer.engine.progress import Reporter

#: Bundled captioners: name → (file in resources/models, title).
BUNDLED: dict[str, tuple[str, str]] = {
    "attention": ("caption_attention.safetensors", "Attention decoder (Show, Attend and Tell)"),
    "attention_boxes": ("caption_attention_boxes.safetensors", "Attention decoder, attention taught from boxes"),
    "classic": ("caption_classic.safetensors", "Classic CNN→RNN decoder"),
}

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
    score: float  # total log-probability
    probs: list[float]


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
    score: float
    alphas: np.ndarray | None  # (T, g, g)
    betas: np.ndarray | None  # (T,)
    candidates: list[list[tuple[str, float]]]
    alternatives: list[Alternative]
    beam_size: int
    model: str
    ended: bool = True  # False when the caption hit the length limit before its end token
    notes: list[str] = field(default_factory=list)

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
    def caption(self, image: Image.Image, beam_size: int = 1, *, max_words: int = 24) -> CaptionTrace:
        """Caption ``image`` (any size or mode) with greedy (beam 1) or beam search."""
        if not isinstance(image, Image.Image):
            raise ValueError(f"expected a PIL image, got {type(image).__name__}")
        if image.width < 1 or image.height < 1:
            raise ValueError("the image is empty (0 pixels)")
        k = check_beam(beam_size)
        pixels = self.pixels(image)
        if k == 1:
            best = greedy(self.stepper, pixels, max_words=max_words)
            beams = [best]
        else:
            beams = beam_search(self.stepper, pixels, k, max_words=max_words)
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
            alphas=alphas,
            betas=betas,
            candidates=[[(self.word(t) if t != end else "<end>", p) for t, p in step] for step in best.candidates],
            alternatives=[
                Alternative([self.word(t) for t in h.tokens if t != end], h.score, h.probs) for h in beams
            ],
            beam_size=k,
            model=self.name,
            ended=best.finished,
        )


class SceneCaptioner(Captioner):
    """A captioner of this project's own architecture (bundled or retrained)."""

    synthetic = True

    def __init__(self, model: torch.nn.Module, vocab: Vocabulary, config: dict[str, Any], name: str) -> None:
        super().__init__()
        self.model = model.eval()
        self.vocab = vocab
        self.config = model.config
        self.name = name
        self.kind = self.config.kind
        self.title = BUNDLED.get(name, ("", "Attention decoder" if self.kind == "attention" else "Classic CNN→RNN decoder"))[1]
        self.metrics = dict(config.get("metrics", {}))
        g = self.config.image_size // 8
        self.grid = (g, g) if self.kind == "attention" else None
        if self.kind == "attention":
            supervised = bool(config.get("model", {}).get("attention_supervision", 0))
            self.attention_note = (
                "These maps were TAUGHT: in training, the scene generator's boxes told the attention where each "
                "named object is (box supervision)." if supervised
                else "These maps were learned without supervision: training gave only the captions, never where the objects are."
            )

    @property
    def stepper(self):
        return self.model

    def pixels(self, image: Image.Image) -> torch.Tensor:
        return to_pixels([image], self.config.image_size)  # (1, 3, S, S)

    def word(self, token: int) -> str:
        return self.vocab.word(token)


def bundled_path(name: str) -> Path:
    from explorer.assets import resource_path

    return resource_path("models", BUNDLED[name][0])


def load(source: str | Path, reporter: Reporter | None = None) -> Captioner:
    """A captioner from a bundled name (``"attention"``, ``"classic"``), a weight file, a model
    folder, or a Hugging Face model id (``owner/name``), downloaded with progress when online.

    Raises:
        CaptionModelError: the file or folder is not a captioner (or is broken).
    """
    if isinstance(source, str) and source in BUNDLED:
        path = bundled_path(source)
        if not path.is_file():
            raise CaptionModelError(
                f"the bundled {source} captioner is missing ({path.name}); retrain it with "
                "python scripts/train_captioner.py"
            )
        return load_file(path, name=source)
    path = Path(source)
    if path.is_dir():
        from explorer.engine.captioning_hf import load_folder

        return load_folder(path)
    if not path.exists():
        from explorer.engine.hub import HubDownloadError, download_folder, looks_like_repo_id

        if isinstance(source, str) and looks_like_repo_id(source):
            try:
                folder = download_folder(source, reporter=reporter)
            except HubDownloadError as exc:
                raise CaptionModelError(str(exc)) from exc
            from explorer.engine.captioning_hf import load_folder

            return load_folder(folder)
        raise CaptionModelError(f"{path.name}: no such file or folder.")
    return load_file(path)


def load_file(path: str | Path, name: str | None = None) -> Captioner:
    path = Path(path)
    try:
        state = load_state_dict(path)
    except CheckpointError as exc:
        raise CaptionModelError(f"{exc} {CONVERTER_HINT}" if "pickled" in str(exc) else str(exc)) from exc
    config = load_config(path) if path.suffix.lower() == ".safetensors" else {}
    if config.get("format") == "sat-tutorial":
        from explorer.engine.captioning_sat import from_converted

        return from_converted(state, config, name or path.stem)
    task = str(config.get("task", ""))
    if not task.startswith("caption-"):
        what = f"a model for the task {task!r}" if task else f"{len(state)} tensors without a captioner's config"
        raise CaptionModelError(
            f"{path.name}: not a captioning model (it holds {what}). Open a captioner saved by "
            f"scripts/train_captioner.py or the Training panel, or a Hugging Face folder. {CONVERTER_HINT}"
        )
    model_config = dict(config.get("model", {}))
    try:
        vocab = Vocabulary(model_config["vocabulary"])
        model = build(ModelConfig.from_dict(model_config))
        model.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CaptionModelError(f"{path.name}: the weights do not fit the captioner its config describes ({first}).") from exc
    return SceneCaptioner(model, vocab, config, name or path.stem)
