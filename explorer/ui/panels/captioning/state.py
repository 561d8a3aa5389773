"""What the Captioning panel shows, and the rules that keep it consistent. No Qt.

Two captioners caption the current image side by side: the attention decoder
shown with its maps (``main``: bundled, a file, a folder or a Hugging Face id)
and the classic CNN→RNN decoder beside it. A caption arrives as a trace; the
state then keeps the stepper and the selection inside it, says which word is in
focus, and which caption request is the latest (only that one is shown).

Set ``beam_size`` and the caption is made again; a Hugging Face model brings its own
beam (its generation config's ``num_beams``) when it is opened. Choose a model with
:meth:`CaptioningState.choose_model` or :meth:`CaptioningState.load_model`, and a
Hugging Face decoder's cross-attention with :meth:`CaptioningState.choose_attention`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from psygnal import evented

from explorer.engine import captioning
from explorer.engine.captioning.captioner import Captioner, CaptionTrace
from explorer.engine.captioning.metrics import named_objects, sentence_bleu
from explorer.engine.captioning.search import MAX_BEAM
from explorer.engine.infra import scenes
from explorer.ui.panels.captioning import describe
from explorer.ui.panels.state import Runner, hold_events, identity_fields, persisted, run_now

#: The bundled attention decoders offered in the model box: (bundled name, label).
BUNDLED_CHOICES: tuple[tuple[Any, str], ...] = (
    ("attention", "Attention · learned from captions only"),
    ("attention_boxes", "Attention · taught from the boxes"),
)
BUNDLED_KEYS = tuple(key for key, _label in BUNDLED_CHOICES)
DEFAULT_MODEL = "attention"
#: The sequential colour maps of the overlay (``explorer.ui.theme.SEQUENTIAL_NAMES``, which lives in a Qt module).
COLOUR_MAPS = ("viridis", "inferno", "magma", "plasma", "cividis")
#: The panel's tabs, by index: the attention per word, the word-by-word figure.
WORDS_TAB, FIGURE_TAB = 0, 1


def caption_both(main: Captioner, classic: Captioner | None, image: Image.Image, beam_size: int):
    """Both captions of one image (runs in a worker)."""
    first = main.caption(image, beam_size=beam_size)
    second = classic.caption(image, beam_size=beam_size) if classic is not None else None
    return first, second


def load_bundled(name: str = DEFAULT_MODEL) -> tuple[Captioner, Captioner]:
    """A bundled attention decoder and the bundled classic decoder (runs in a worker)."""
    return captioning.load(name), captioning.load("classic")


@evented(equality_operators=identity_fields("main", "classic", "trace", "classic_trace", "image", "scene"))
@dataclass
class CaptioningState:
    """The captioners, their captions, the word in focus and the overlay settings of the Captioning panel.

    ``selected`` is the word whose map shows when the pointer is on no word
    (``hovered`` is -1); ``shown`` is how many words are revealed when stepping
    through the generation. Whenever there are revealed words, ``selected`` is
    one of them, so the stepper always stands on the selected word.
    """

    PERSISTED: ClassVar[tuple[str, ...]] = (
        "model_key", "beam_size", "opacity", "cmap", "show_box", "tab", "layer", "head",
    )
    #: The bundled attention decoder to start with (a file or folder opened is not remembered).
    model_key: str = persisted(DEFAULT_MODEL, choices=BUNDLED_KEYS)
    beam_size: int = persisted(3, min=1, max=MAX_BEAM)  # 1: greedy
    opacity: int = persisted(65, min=0, max=100)  # percent, the overlay's blend at the map's peak
    cmap: str = persisted("viridis", choices=COLOUR_MAPS)
    show_box: bool = persisted(True)  # outline the object the word names (generated scenes only)
    tab: int = persisted(WORDS_TAB, choices=(WORDS_TAB, FIGURE_TAB))
    #: The Hugging Face decoder's cross-attention shown: layer and head, None meaning the mean over them.
    layer: int | None = persisted(None, min=0)
    head: int | None = persisted(None, min=0)

    main: Captioner | None = None
    classic: Captioner | None = None
    source: Any = None  # where ``main`` came from: a bundled name, a path or a model id
    chosen: Any = None  # the model box's entry: ``source``, or the one being opened
    choices: tuple[tuple[Any, str], ...] = BUNDLED_CHOICES  # the model box: (source, label)
    image: Image.Image | None = None
    scene: scenes.Scene | None = None  # the generated scene shown, whose boxes are known
    scene_name: str = ""
    trace: CaptionTrace | None = None
    classic_trace: CaptionTrace | None = None
    selected: int = 0
    hovered: int = -1
    shown: int = 0
    status: str = " "
    loading: str = ""  # progress of the model being opened ("" when none)

    runner: Runner = field(default=run_now, repr=False, compare=False)  # the panel passes run_task
    #: Shows an error the user must see: (title, exception). Without it the exception is raised.
    on_error: Callable[[str, BaseException], None] | None = field(default=None, repr=False, compare=False)
    #: Makes a generated scene the app's current image (the panel passes the context's ``set_image``,
    #: which comes back through :meth:`set_image`); without it the state takes the scene itself.
    share_image: Callable[[Image.Image, str], None] | None = field(default=None, repr=False, compare=False)
    rng: np.random.Generator = field(default_factory=np.random.default_rng, repr=False, compare=False)

    _request: int = field(default=0, init=False, repr=False, compare=False)
    _job: Any = field(default=None, init=False, repr=False, compare=False)
    _scenes_made: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.events.beam_size.connect(self.run_caption)

    # -- models ------------------------------------------------------------------------------
    def load_bundled(self) -> Any:
        """Open the bundled ``model_key`` decoder and the classic one; then caption (or make a scene)."""
        self.status = "Loading the bundled captioners…"
        self.chosen = self.model_key
        return self.runner(load_bundled, self.model_key, on_result=self._bundled_loaded,
                           on_error=self._bundled_failed, description="loading the captioners")

    def _bundled_loaded(self, models: tuple[Captioner, Captioner]) -> None:
        main, classic = models
        with hold_events(self):
            self.classic = classic
            self._adopt(main, self.model_key)
            self.status = " "
        # A photo already open is captioned; otherwise start on what the bundled models know.
        if self.image is not None:
            self.run_caption()
        else:
            self.new_scene()

    def _bundled_failed(self, exc: BaseException) -> None:
        self.status = "No captioner loaded: " + str(exc)
        self._error("Captioning", exc)

    def choose_model(self, source: Any) -> Any:
        """The model box's entry ``source`` was picked: open it unless it is the one shown."""
        if source is None or (self.main is not None and source == self.source):
            return None
        self.chosen = source
        return self.load_model(source)

    def load_model(self, source: Any) -> Any:
        """Open ``source`` (bundled name, file, folder or Hugging Face id) as the decoder shown.

        Returns the job, whose progress and cancel a dialog can follow. On
        failure the model shown stays, and so does the model box.
        """
        return self.runner(captioning.load, source, on_result=lambda model: self._model_opened(model, source),
                           on_error=self._model_failed, on_progress=self._load_progress,
                           on_finished=self._load_finished, description="opening the captioner")

    def load_classic(self, source: Any) -> Any:
        """Open ``source`` as the classic decoder beside the caption (a retrained one)."""
        return self.runner(captioning.load, source, on_result=self._classic_opened, on_error=self._model_failed,
                           description="opening the retrained captioner")

    def model_trained(self, task: str, path: str) -> Any:
        """A captioner retrained in the Training panel: the classic one replaces the classic
        decoder beside the caption, an attention one becomes the decoder shown."""
        if task == "caption_classic":
            return self.load_classic(Path(path))
        return self.load_model(Path(path))

    def _model_opened(self, captioner: Captioner, source: Any) -> None:
        with hold_events(self):
            if all(known != source for known, _label in self.choices):
                self.choices = (*self.choices, (source, f"Opened · {captioner.name}"))
            self._adopt(captioner, source)
        beam = captioner.default_beam  # a Hugging Face model's own beam, from its generation config
        if beam is not None and beam != self.beam_size:
            self.beam_size = beam  # captions again, through the beam size's event
        else:
            self.run_caption()

    def _adopt(self, captioner: Captioner, source: Any) -> None:
        """``captioner`` becomes the decoder shown; a Hugging Face one shows the layer/head chosen, if it has it."""
        if captioner.kind == "transformer":
            offered = {(layer, head) for _label, layer, head in describe.attention_choices(captioner)}
            if (self.layer, self.head) not in offered:
                self.layer, self.head = None, None
            captioner.set_attention(self.layer, self.head)
        self.main = captioner
        self.source = self.chosen = source
        if source in BUNDLED_KEYS:
            self.model_key = source

    def _model_failed(self, exc: BaseException) -> None:
        self.chosen = self.source  # the model box goes back to the model still shown
        self._error("Open captioner", exc)

    def _classic_opened(self, captioner: Captioner) -> None:
        self.classic = captioner
        self.run_caption()

    def _load_progress(self, fraction: float, text: str) -> None:
        self.loading = f"{text} ({fraction:.0%})"

    def _load_finished(self) -> None:
        self.loading = ""

    def choose_attention(self, layer: int | None, head: int | None) -> None:
        """Show a Hugging Face decoder's cross-attention of ``layer`` and ``head`` (None: the mean), and recaption."""
        if self.main is None or self.main.kind != "transformer":
            return
        self.main.set_attention(layer, head)
        with hold_events(self):
            self.layer, self.head = layer, head
        self.run_caption()

    @property
    def attention_choices(self) -> list[tuple[str, int | None, int | None]]:
        """The model's cross-attentions to choose from: (label, layer, head); empty unless Hugging Face."""
        return describe.attention_choices(self.main)

    # -- the image -----------------------------------------------------------------------------
    def set_image(self, image: Image.Image, name: str = "") -> None:
        """The app's current image changed: caption it. A scene's boxes no longer apply to another image."""
        with hold_events(self):
            self.image = image
            if self.scene is not None and name != self.scene_name:
                self.scene = None
        self.run_caption()

    def new_scene(self) -> None:
        """A fresh generated scene (from a stream the models never saw) as the current image."""
        self._scenes_made += 1
        index = 900_000 + self._scenes_made + int(self.rng.integers(0, 90_000))
        self.scene = scenes.generate(scenes.split_seed("val", index), size=256)
        self.scene_name = f"generated scene {index}"
        (self.share_image or self.set_image)(self.scene.image, self.scene_name)

    # -- captioning ----------------------------------------------------------------------------
    def run_caption(self) -> Any:
        """Caption the image with both decoders; a newer request supersedes any still running."""
        if self.main is None or self.image is None:
            return None
        if self._job is not None and not self._job.done:
            self._job.cancel()
        self._request += 1
        request = self._request
        self.status = "Captioning…"
        classic = self.classic if self.main.kind != "classic" else None
        self._job = self.runner(caption_both, self.main, classic, self.image, self.beam_size,
                                on_result=lambda result: self._captioned(result, request), description="captioning")
        return self._job

    def _captioned(self, result: tuple[CaptionTrace, CaptionTrace | None], request: int) -> None:
        if request != self._request:
            return  # a newer request is on its way
        trace, classic_trace = result
        with hold_events(self):
            self.classic_trace = classic_trace
            self.trace = trace
            self.selected = sharpest_word(trace)
            self.hovered = -1
            self.shown = len(trace.words)
            self.status = describe.caption_summary(trace, self.scene_bleu(trace))

    # -- the word in focus and the stepper -------------------------------------------------------
    def select_word(self, index: int) -> None:
        """Select word ``index`` (revealing the caption up to it if stepping had hidden it)."""
        if self.trace is None or not 0 <= index < len(self.trace.words):
            return
        with hold_events(self):
            self.selected = index
            self.shown = max(self.shown, index + 1)

    def hover(self, index: int) -> None:
        """The pointer is on word ``index`` (-1: on none, and the selected word shows again)."""
        self.hovered = index

    def step_to(self, shown: int) -> None:
        """Reveal the caption up to word ``shown`` (1-based count) and show that word's step."""
        if self.trace is None:
            return
        with hold_events(self):
            self.shown = int(min(max(shown, 0), len(self.trace.words)))
            self.selected = max(self.shown - 1, 0)

    def step_back(self) -> None:
        self.step_to(self.position - 1)

    def step_forward(self) -> None:
        self.step_to(self.position + 1)

    def step_all(self) -> None:
        self.step_to(self.word_count)

    @property
    def word_count(self) -> int:
        return len(self.trace.words) if self.trace is not None else 0

    @property
    def position(self) -> int:
        """Where the stepper stands: the selected word's number (1-based), 0 before the first word."""
        return self.selected + 1 if self.shown else 0

    @property
    def step_text(self) -> str:
        return f"word {self.position} of {self.word_count}" + ("" if self.position < self.word_count else " · end")

    @property
    def focus(self) -> int:
        """The word whose map, step and details are shown: the hovered one, else the selected one."""
        return self.hovered if self.hovered >= 0 else self.selected

    def focus_word(self) -> int | None:
        """The word in focus as an index into the caption (None with no caption or nothing revealed)."""
        if self.trace is None or not self.trace.words or self.shown == 0:
            return None
        return min(self.focus, len(self.trace.words) - 1)

    def focus_map(self) -> np.ndarray | None:
        """The (g, g) attention map of the word in focus, or None (no map, or nothing revealed)."""
        t = self.focus_word()
        return None if t is None or self.trace.alphas is None else self.trace.alphas[t]

    def focus_info(self) -> str:
        t = self.focus_word()
        return "Step ▶ to generate the first word." if t is None else describe.word_info(self.trace, t)

    def focus_step(self) -> tuple[int, list[tuple[str, float]], str]:
        """The step whose candidates are shown: (step, its (word, probability) rows, the word chosen there)."""
        trace = self.trace
        step = min(self.focus, len(trace.candidates) - 1) if self.shown else 0
        rows = trace.candidates[step] if 0 <= step < len(trace.candidates) else []
        chosen = trace.words[step] if step < len(trace.words) else "<end>"
        return step, rows, chosen

    def scene_bleu(self, trace: CaptionTrace | None = None) -> float | None:
        """On a generated scene: the caption's BLEU-4 against the scene's own caption (None elsewhere)."""
        trace = trace or self.trace
        if self.scene is None or trace is None:
            return None
        return sentence_bleu([self.scene.words], trace.words)

    def true_box(self) -> tuple[float, float, float, float] | None:
        """On a generated scene: the box (x0, y0, x1, y1 in [0, 1]) of the object the word in focus names."""
        if self.scene is None or self.trace is None or not self.show_box or not self.trace.words:
            return None
        t = min(self.focus, len(self.trace.words) - 1)
        kind, obj = named_objects(self.trace.words, self.scene)[t]
        if not kind or obj < 0:
            return None
        x0, y0, x1, y1 = self.scene.boxes()[obj]
        s = self.scene.size
        return x0 / s, y0 / s, x1 / s, y1 / s

    # -- helpers -------------------------------------------------------------------------------------
    def _error(self, title: str, exc: BaseException) -> None:
        if self.on_error is None:
            raise exc
        self.on_error(title, exc)


def sharpest_word(trace: CaptionTrace) -> int:
    """The word whose map peaks highest, where looking mattered most (0 without maps)."""
    if trace.alphas is None or not trace.words:
        return 0
    peaks = trace.alphas.reshape(len(trace.words), -1).max(1)  # (T,)
    return int(np.argmax(peaks))
