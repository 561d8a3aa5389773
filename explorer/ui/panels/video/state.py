"""What the Video panel shows, and the rules that keep it consistent. No Qt.

One clip (a generated example, or a file or folder the user opened), one
model over time (a bundled CNN + GRU or CNN + causal transformer, or one the
Training panel saved), the trace the engine made of the two, and the frame
being looked at. The rules:

* every clip is read and analysed through the runner (a worker in the app),
  with progress and cancel; **the latest request wins** — an older one is
  cancelled and whatever it still delivers is dropped;
* a clip that cannot be read, or a cancelled request, **keeps the previous
  clip** (and says so);
* a new clip **clamps the current frame** into its range;
* a new **frame cap re-reads the file** the clip came from (a generated clip
  has a fixed length);
* a new model re-analyses the clip shown (or the one being read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from psygnal import evented

from explorer.engine.video.analysis import VideoTrace, read_and_analyse
from explorer.engine.video.generated import CLASSES, FRAMES, example
from explorer.engine.video.io import Clip
from explorer.engine.video.models import LoadedModel, VideoModelError, load
from explorer.ui.panels.state import Runner, hold_events, identity_fields, persisted, run_now

#: The bundled models, by the name the engine loads them under, with the title the panel shows.
MODEL_CHOICES: tuple[tuple[str, str], ...] = (("video_gru", "CNN + GRU"), ("video_transformer", "CNN + transformer"))
DEFAULT_EXAMPLE = 6  # "bounces": the belief visibly changes its mind half-way
EXAMPLE_FPS = 8.0
FRAME_CAP_RANGE = (2, 64)
FIRST_EXAMPLE_SEED = 10_000  # generated examples use seeds above the training ones


def analyse_clip(source: Path | Clip, model: str | LoadedModel, max_frames: int, reporter=None):
    """Worker job: load ``model`` if only its name is known, read ``source`` unless it is a clip, analyse.

    Returns ``(clip, trace, loaded model)``; the model comes back so it is loaded only once.
    """
    loaded = load(model) if isinstance(model, str) else model
    clip, trace = read_and_analyse(source, loaded, max_frames=max_frames, reporter=reporter)
    return clip, trace, loaded


@dataclass
class _Request:
    """One call for a clip: what to read, and the file it came from (None: generated)."""

    source: Path | Clip
    description: str
    path: Path | None


@evented(equality_operators=identity_fields("clip", "trace", "models", "job"))
@dataclass
class VideoState:
    """The Video panel's clip, model, trace, frame and settings.

    Actions (:meth:`open_path`, :meth:`show_example`, :meth:`select_model`,
    :meth:`apply_frame_cap`, :meth:`set_frame`, ...) change it; the panel
    redraws on ``events.trace`` (a new analysis: redraw everything),
    ``events.current`` (another frame), ``events.status``, ``events.busy`` /
    ``events.progress``, ``events.playing`` and the settings' events.
    """

    PERSISTED: ClassVar[tuple[str, ...]] = ("model_name", "max_frames", "example")

    #: The model over time: a bundled name (the ones that persist) or the path of a trained model.
    model_name: str = persisted(MODEL_CHOICES[0][0], choices=[key for key, _ in MODEL_CHOICES])
    #: Frame cap: a longer file is sampled evenly down to this many frames (models were trained on 16).
    max_frames: int = persisted(FRAMES, min=FRAME_CAP_RANGE[0], max=FRAME_CAP_RANGE[1])
    #: Class of the generated example.
    example: int = persisted(DEFAULT_EXAMPLE, min=0, max=len(CLASSES) - 1)
    #: Models saved by the Training panel, offered beside the bundled ones (paths).
    trained: tuple[str, ...] = ()
    clip: Clip | None = None
    trace: VideoTrace | None = None
    #: The file or folder the clip came from (None: generated).
    source_path: Path | None = None
    current: int = 0
    playing: bool = False
    busy: bool = False
    progress: float = 0.0  # of the latest request, 0..1
    status: str = " "
    #: The latest request's job (what the runner returned): ``cancel()``, ``done``.
    job: Any = None
    #: Loaded models by the name they were loaded under.
    models: dict[str, LoadedModel] = field(default_factory=dict, repr=False)
    examples_made: int = 0
    runner: Runner = field(default=run_now, repr=False, compare=False)
    #: ``on_error(title, exc)``: how a failure reaches the user; without one the exception is raised.
    on_error: Callable[[str, BaseException], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._latest = 0  # ticket of the latest request: an older one's callbacks are dropped
        self._pending: _Request | None = None

    # -- what is offered and shown --------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return list(CLASSES)

    @property
    def model_choices(self) -> list[tuple[str, str]]:
        """(name, title) of every model on offer: the bundled ones, then the trained ones."""
        return [*MODEL_CHOICES, *((path, self.model_title(path)) for path in self.trained)]

    @staticmethod
    def model_title(name: str) -> str:
        return dict(MODEL_CHOICES).get(name) or f"trained: {Path(name).stem}"

    @property
    def is_recurrent(self) -> bool:
        return self.trace is not None and self.trace.arch in ("gru", "lstm")

    @property
    def hidden_title(self) -> str:
        return "Hidden state × time (GRU)" if self.is_recurrent else "Transformer output state × time"

    @property
    def play_interval_ms(self) -> int:
        """Time between frames when playing: the clip's own rate, kept between 1 and 15 fps."""
        fps = self.clip.fps if self.clip is not None else None
        return int(1000 / min(max(fps or EXAMPLE_FPS, 1.0), 15.0))

    def frame_text(self) -> str:
        """``frame 3 / 16``, with the frame's number in the source when the clip was sampled from more."""
        if self.clip is None:
            return "frame –"
        index = self.current
        indices = self.clip.source_indices
        source = indices[index] + 1 if index < len(indices) else index + 1
        return f"frame {index + 1} / {self.clip.count}" + (f" (#{source})" if source != index + 1 else "")

    def summary(self) -> str:
        """The status line: the clip, the model, how it reads frames, and its final answer."""
        clip, trace = self.clip, self.trace
        if clip is None or trace is None:
            return " "
        final = trace.prediction
        truth = (
            f" · true class: {CLASSES[clip.label]}"
            if clip.label is not None
            else " — the bundled models know only the 8 generated motions: on other clips, watch the mechanism, not the label"
        )
        accuracy = getattr(self.models.get(self.model_name), "accuracy", None)
        acc = f" (accuracy on fresh generated clips {accuracy:.1%})" if accuracy is not None else ""
        how = (
            "a per-frame CNN, then the GRU reads the features one frame at a time (sequential: frame t waits "
            "for t−1); its hidden state changes every frame while its weights stay fixed, and its belief after "
            "frame t uses frames 1…t only"
            if self.is_recurrent
            else "a per-frame CNN, then all frames at once (in parallel) through causal self-attention: "
            "frame t looks directly at frames 1…t, at any distance, never at later ones"
        )
        return (
            f"<b>{clip.name}</b> — {clip.describe()}. <b>{self.model_title(self.model_name)}</b>{acc}: {how}. "
            f"Final answer: <b>{trace.classes[final]}</b> ({float(trace.probs[-1, final]):.0%}){truth}."
        )

    # -- actions --------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> Any:
        """Read a file or folder and analyse it; on failure say why and keep the current clip."""
        path = Path(path)
        return self._request(_Request(path, f"opening {path.name}", path))

    def show_example(self, label: int | None = None) -> Any:
        """A freshly generated clip of class ``label`` (default: :attr:`example`), a new seed each time."""
        label = self.example if label is None else label
        if not 0 <= label < len(CLASSES):
            raise ValueError(f"example class must be between 0 and {len(CLASSES) - 1} (got {label})")
        self.example = label
        self.examples_made += 1
        frames, _ = example(label, seed=FIRST_EXAMPLE_SEED + self.examples_made, frames=FRAMES)
        clip = Clip(frames=frames, name=f"generated: {CLASSES[label]}", fps=EXAMPLE_FPS,
                    source_indices=list(range(len(frames))), source_frames=len(frames), label=label)
        return self._request(_Request(clip, "analysing the generated clip", None))

    def select_model(self, name: str) -> Any:
        """Read the clip with another model (the one being read, if a request is in flight)."""
        if name == self.model_name:
            return None
        self.model_name = name
        return self._rerun("running the other model")

    def add_trained_model(self, path: str) -> Any:
        """The Training panel saved a video model: offer it, and show the clip through it.

        A file saved again under the same name is read again, not taken from the cache.
        """
        path = str(path)
        if path not in self.trained:
            self.trained = (*self.trained, path)
        self.models.pop(path, None)
        if path == self.model_name:
            return self._rerun("running the retrained model")
        return self.select_model(path)

    def apply_frame_cap(self) -> Any:
        """A new frame cap re-reads the file the clip came from (generated clips have a fixed length)."""
        if self.source_path is not None and self.clip is not None and self.max_frames != self.clip.count:
            return self.open_path(self.source_path)
        return None

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def set_frame(self, index: int) -> None:
        """Look at frame ``index`` (clamped to the clip)."""
        if self.clip is None or self.trace is None:
            return
        self.current = min(max(int(index), 0), self.clip.count - 1)

    def recurrence(self):
        """The model's recurrence over this clip, at the current frame, with the way back (for the RNN panel).

        Raises:
            VideoModelError: no clip yet, or the model is the transformer (no recurrence).
        """
        from explorer.engine.video.recurrence import clip_recurrence
        from explorer.ui.panels.state import BackLink

        loaded = self.models.get(self.model_name)
        if self.clip is None or self.trace is None or loaded is None:
            raise VideoModelError("no clip has been analysed yet: generate or open one first.")
        back = BackLink("video", {"frame": self.current}, "Back to Video")
        return clip_recurrence(loaded, self.trace, clip_name=self.clip.name, step=self.current, back=back)

    def advance(self) -> None:
        """The next frame, looping (playback)."""
        if self.clip is not None:
            self.set_frame((self.current + 1) % self.clip.count)

    # -- requests -------------------------------------------------------------------------------
    def _rerun(self, description: str) -> Any:
        if self._pending is not None:
            return self._request(self._pending)
        if self.clip is not None:
            return self._request(_Request(self.clip, description, self.source_path))
        return None

    def _request(self, request: _Request) -> Any:
        """Start ``request``; the one before it is cancelled, and anything it still delivers is dropped."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self._latest += 1
        ticket = self._latest
        self._pending = request
        loaded = self.models.get(self.model_name)
        self.progress = 0.0
        self.busy = True
        job = self.runner(
            analyse_clip,
            request.source,
            loaded if loaded is not None else self.model_name,
            self.max_frames,
            on_result=lambda result: self._apply(ticket, request, result),
            on_progress=lambda fraction, _text: self._progressed(ticket, fraction),
            on_error=lambda exc: self._failed(ticket, request, exc),
            on_finished=lambda: self._finished(ticket),
            description=request.description,
        )
        if ticket == self._latest:
            self.job = job
        return job

    def _is_latest(self, ticket: int) -> bool:
        return ticket == self._latest

    def _progressed(self, ticket: int, fraction: float) -> None:
        if self._is_latest(ticket):
            self.progress = fraction

    def _apply(self, ticket: int, request: _Request, result: tuple[Clip, VideoTrace, LoadedModel]) -> None:
        clip, trace, loaded = result
        self.models[loaded.source] = loaded  # a stale request's model is still worth keeping
        if not self._is_latest(ticket):
            return
        # Views redraw on these events: hold them until clip, trace and frame agree.
        with hold_events(self, "source_path", "clip", "trace", "current"):
            if clip is not self.clip:  # a new clip (not the same one through another model)
                self.source_path = request.path
            self.clip, self.trace = clip, trace
            self.current = min(self.current, clip.count - 1) if clip.count else 0
        self.status = self.summary()

    def _failed(self, ticket: int, request: _Request, exc: BaseException) -> None:
        if not self._is_latest(ticket):
            return
        if self.clip is not None:
            self.status = f"Kept the previous clip ({self.clip.name}). " + self.summary()
        title = f"{request.description.capitalize()} failed"
        if self.on_error is None:
            raise exc
        self.on_error(title, exc)

    def _finished(self, ticket: int) -> None:
        if self._is_latest(ticket):
            self._pending = None
            self.busy = False
