"""Video panel: a clip as a sequence of frames, read by a per-frame CNN and a model over time.

Open a clip (video file, GIF / APNG, or a folder of frames) or generate one of
the training classes; a bundled model — a CNN + GRU, or a CNN + causal
temporal transformer — reads it frame by frame. Scrub or play through the
frames to see the current frame's CNN feature vector, the state after each
frame (hidden state × time), the belief forming as frames arrive, the
transformer's frame-to-frame attention, and how much the final answer still
depends on each frame (gradient norm). Reading and the model run in a worker
with progress and cancel; a clip that cannot be read is reported and the
previous one stays.

This panel is about frames: the shared current image is not a clip, so image
changes are ignored here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.video.views import BeliefPlot, FrameStrip, FrameView, ImportanceBars
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.workers import Task, run_task

MODEL_CHOICES = (("video_gru", "CNN + GRU"), ("video_transformer", "CNN + transformer"))
VIDEO_FILTER = "Videos and animations (*.mp4 *.m4v *.webm *.avi *.mov *.mkv *.mpg *.mpeg *.ogv *.gif *.png *.apng *.webp);;All files (*)"
DEFAULT_EXAMPLE = 6  # "bounces": the belief visibly changes its mind half-way


def _load_model(name: str):
    from explorer.engine.video.models import load

    return load(name)


def _process(source, loaded, max_frames: int, reporter=None):
    """Worker job: read (unless ``source`` is a clip already) and analyse."""
    from explorer.engine.video.analysis import read_and_analyse

    return read_and_analyse(source, loaded, max_frames=max_frames, reporter=reporter)


class VideoPanel(Panel):
    title = "Video"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        from explorer.engine.video.generated import CLASSES

        self.classes = list(CLASSES)
        self.clip = None  # explorer.engine.video.io.Clip
        self.trace = None  # explorer.engine.video.analysis.VideoTrace
        self.current = 0
        self.models: dict[str, object] = {}
        self.task: Task | None = None
        self._example_seed = 0
        self.source_path: Path | None = None  # the file or folder the clip came from (None: generated)
        self._requested_path: Path | None = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self._build()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 6, 8, 6)
        root.setSpacing(6)

        bar = QHBoxLayout()
        self.open_button = QToolButton()
        self.open_button.setText("Open video…")
        self.open_button.setToolTip("Open a video file (mp4, webm, avi, mov…), an animated GIF/APNG, or a folder of frames")
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.open_button)
        menu.addAction("Video or animation file…", self.choose_file)
        menu.addAction("Folder of frames…", self.choose_folder)
        self.open_button.setMenu(menu)
        self.open_button.clicked.connect(self.choose_file)
        bar.addWidget(self.open_button)
        bar.addSpacing(6)
        bar.addWidget(QLabel("Example:"))
        self.example_combo = QComboBox()
        self.example_combo.addItems(self.classes)
        self.example_combo.setCurrentIndex(DEFAULT_EXAMPLE)
        self.example_combo.setToolTip("A freshly generated clip of this class (never seen in training)")
        bar.addWidget(self.example_combo)
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(lambda: self.show_example(self.example_combo.currentIndex()))
        bar.addWidget(self.generate_button)
        bar.addSpacing(6)
        bar.addWidget(QLabel("Model:"))
        self.model_combo = QComboBox()
        for key, title in MODEL_CHOICES:
            self.model_combo.addItem(title, key)
        saved = self.context.settings.value("video/model", "") if self.context.settings is not None else ""
        if saved in dict(MODEL_CHOICES):
            self.model_combo.setCurrentIndex([key for key, _ in MODEL_CHOICES].index(saved))
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        bar.addWidget(self.model_combo)
        bar.addSpacing(6)
        bar.addWidget(QLabel("Frames:"))
        self.cap_spin = QSpinBox()
        self.cap_spin.setRange(2, 64)
        self.cap_spin.setValue(16)
        self.cap_spin.setToolTip("Frame cap: a longer file is sampled evenly down to this many frames (models were trained on 16)")
        self.cap_spin.editingFinished.connect(self._cap_changed)
        bar.addWidget(self.cap_spin)
        bar.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()
        bar.addWidget(self.progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        bar.addWidget(self.cancel_button)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self.choose_export)
        bar.addWidget(self.export_button)
        root.addLayout(bar)

        self.status = QLabel(" ")
        self.status.setProperty("role", "note")
        self.status.setWordWrap(True)
        root.addWidget(self.status)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        root.addWidget(splitter, 1)

        # left: the frames
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(4)
        self.frame_view = FrameView()
        left_layout.addWidget(self.frame_view, 3)
        scrub = QHBoxLayout()
        self.play_button = QToolButton()
        self.play_button.setText("▶")
        self.play_button.setToolTip("Play / pause (loops)")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        scrub.addWidget(self.play_button)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.set_frame)
        scrub.addWidget(self.slider, 1)
        self.frame_label = QLabel("frame –")
        self.frame_label.setMinimumWidth(90)
        scrub.addWidget(self.frame_label)
        left_layout.addLayout(scrub)
        self.strip = FrameStrip()
        self.strip.frameClicked.connect(self.slider.setValue)
        left_layout.addWidget(self.strip)
        self.feature_map = Heatmap("CNN features of this frame", kind="diverging", annotate=False)
        self.feature_map.setMinimumHeight(70)
        left_layout.addWidget(self.feature_map, 1)
        splitter.addWidget(left)

        # right: the model over time
        right = QWidget()
        grid = QGridLayout(right)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        self.belief = BeliefPlot()
        grid.addWidget(self.belief, 0, 0, 1, 2)
        self.hidden_map = Heatmap("Hidden state × time", kind="diverging", annotate=False)
        self.hidden_map.setMinimumHeight(170)
        grid.addWidget(self.hidden_map, 1, 0)
        self.attention_map = Heatmap("Attention: frame (row) looks at frame (column)", kind="sequential", annotate=True, fmt="{:.2f}")
        self.attention_map.setMinimumHeight(170)
        grid.addWidget(self.attention_map, 1, 1)
        self.importance = ImportanceBars()
        grid.addWidget(self.importance, 2, 0, 1, 2)
        grid.setRowStretch(0, 5)
        grid.setRowStretch(1, 5)
        grid.setRowStretch(2, 2)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([420, 640])
        self.attention_map.hide()
        # clicking a frame's column (hidden state) or row (attention) shows that frame
        self.hidden_map.clicked.connect(lambda _row, col: self.slider.setValue(col))
        self.attention_map.clicked.connect(lambda row, _col: self.slider.setValue(row))

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """First shown: analyse a generated example so the panel is meaningful at once."""
        if self.clip is None:
            self.show_example(DEFAULT_EXAMPLE)

    def on_image_changed(self, current) -> None:
        """The shared image is a still, not a clip: nothing to do here."""

    def on_theme_changed(self, theme: str) -> None:
        for view in (self.feature_map, self.hidden_map, self.attention_map):
            view.apply_theme()
        self.belief.apply_theme()
        self.importance.apply_theme()
        if self.trace is not None:
            self.set_frame(self.current)

    # -- actions ----------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self.model_combo.currentData()

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of frames")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> Task | None:
        """Read a file or folder and analyse it; on failure say why and keep the current clip."""
        self._requested_path = Path(path)
        return self._run(Path(path), f"opening {Path(path).name}")

    def _cap_changed(self) -> None:
        """A new frame cap re-reads the file the clip came from (generated clips have a fixed length)."""
        if self.source_path is not None and self.clip is not None and self.cap_spin.value() != self.clip.count:
            self.open_path(self.source_path)

    def show_example(self, label: int) -> Task | None:
        """A freshly generated clip of class ``label`` (a new seed each time)."""
        from explorer.engine.video.generated import FRAMES, example
        from explorer.engine.video.io import Clip

        self._example_seed += 1
        frames, _ = example(label, seed=10_000 + self._example_seed, frames=FRAMES)
        clip = Clip(frames=frames, name=f"generated: {self.classes[label]}", fps=8.0,
                    source_indices=list(range(len(frames))), source_frames=len(frames), label=label)
        self.example_combo.setCurrentIndex(label)
        self._requested_path = None
        return self._run(clip, "analysing the generated clip")

    def on_model_trained(self, task: str, path: str) -> None:
        """The Training panel saved a video model: offer it beside the bundled ones and show it."""
        index = self.model_combo.findData(path)
        if index < 0:
            self.model_combo.addItem(f"trained: {Path(path).stem}", path)
            index = self.model_combo.count() - 1
        self.models.pop(path, None)  # a file saved again under the same name is re-read
        self.model_combo.setCurrentIndex(index)

    def _model_changed(self) -> None:
        if self.context.settings is not None and self.model_name in dict(MODEL_CHOICES):
            self.context.settings.setValue("video/model", self.model_name)
        if self.clip is not None:
            self._run(self.clip, "running the other model")

    def _run(self, source, description: str) -> Task | None:
        if self.task is not None and not self.task.done:
            self.task.cancel()
        name = self.model_name
        loaded = self.models.get(name)
        job = _process_with_model if loaded is not None else _load_and_process
        args = (source, loaded, self.cap_spin.value()) if loaded is not None else (source, name, self.cap_spin.value())
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        task = run_task(
            job,
            *args,
            on_result=self._show_result,
            on_progress=lambda f, text: self.progress.setValue(int(f * 1000)),
            on_error=lambda exc: self._failed(description, exc),
            on_finished=lambda: self._finished(task),
            description=description,
        )
        self.task = task
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _finished(self, task: Task) -> None:
        if task is self.task:
            self.progress.hide()
            self.cancel_button.hide()

    def _failed(self, description: str, exc: BaseException) -> None:
        show_error(f"{description.capitalize()} failed", exc)
        if self.clip is not None:
            self.status.setText(f"Kept the previous clip ({self.clip.name}). " + self._summary())

    # -- showing a result -------------------------------------------------------------------
    def _show_result(self, result) -> None:
        clip, trace, loaded = result
        self.models[loaded.source] = loaded
        if clip is not self.clip:  # a new clip (not the same one through another model)
            self.source_path = self._requested_path
        self.clip, self.trace = clip, trace
        T = clip.count
        self.strip.set_frames(clip.frames)
        frames = [str(i + 1) for i in range(T)]
        hidden = trace.hidden.numpy().T  # (H, T)
        self.hidden_map.set_title("Hidden state × time (GRU)" if trace.arch in ("gru", "lstm") else "Transformer output state × time")
        self.hidden_map.set_data(hidden, row_labels=[f"h{i}" for i in range(hidden.shape[0])], col_labels=frames)
        every = max(1, hidden.shape[0] // 8)  # readable unit ticks; hovering names every unit
        self.hidden_map.plot.getAxis("left").setTicks([[(i + 0.5, f"h{i}") for i in range(0, hidden.shape[0], every)], []])
        attention = trace.mean_attention
        if attention is not None:
            self.attention_map.set_data(attention.numpy(), row_labels=frames, col_labels=frames)
            self.attention_map.annotate = T <= 16
        self.attention_map.setVisible(attention is not None)
        self.belief.set_data(trace.probs.numpy(), trace.classes)
        if trace.importance is not None:
            self.importance.set_data(trace.importance.numpy())
        self.slider.blockSignals(True)
        self.slider.setRange(0, T - 1)
        self.slider.setValue(min(self.current, T - 1) if T else 0)
        self.slider.blockSignals(False)
        self.status.setText(self._summary())
        self.set_frame(self.slider.value())

    def _summary(self) -> str:
        clip, trace = self.clip, self.trace
        if clip is None or trace is None:
            return " "
        final = trace.prediction
        truth = (
            f" · true class: {self.classes[clip.label]}"
            if clip.label is not None
            else " — the bundled models know only the 8 generated motions: on other clips, watch the mechanism, not the label"
        )
        model = self.model_combo.currentText()
        loaded = self.models.get(self.model_name)
        accuracy = getattr(loaded, "accuracy", None)
        acc = f" (accuracy on fresh generated clips {accuracy:.1%})" if accuracy is not None else ""
        how = (
            "a per-frame CNN, then the GRU reads the features one frame at a time (sequential: frame t waits "
            "for t−1); its hidden state changes every frame while its weights stay fixed, and its belief after "
            "frame t uses frames 1…t only"
            if trace.arch in ("gru", "lstm")
            else "a per-frame CNN, then all frames at once (in parallel) through causal self-attention: "
            "frame t looks directly at frames 1…t, at any distance, never at later ones"
        )
        return (
            f"<b>{clip.name}</b> — {clip.describe()}. <b>{model}</b>{acc}: {how}. "
            f"Final answer: <b>{trace.classes[final]}</b> ({float(trace.probs[-1, final]):.0%}){truth}."
        )

    def set_frame(self, index: int) -> None:
        """Show frame ``index`` in every view (the scrubber, the strip and playback call this)."""
        if self.clip is None or self.trace is None:
            return
        index = int(np.clip(index, 0, self.clip.count - 1))
        self.current = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self.frame_view.set_frame(self.clip.frames[index])
        self.strip.set_current(index)
        source = self.clip.source_indices[index] + 1 if index < len(self.clip.source_indices) else index + 1
        self.frame_label.setText(f"frame {index + 1} / {self.clip.count}" + (f" (#{source})" if source != index + 1 else ""))
        features = self.trace.features[index].numpy()
        self.feature_map.set_data(features[None, :], row_labels=[f"t={index + 1}"],
                                  col_labels=[f"f{i}" for i in range(features.shape[0])])
        self.hidden_map.set_highlight(cols=[index])
        if self.attention_map.isVisible():
            self.attention_map.set_highlight(rows=[index])
        self.belief.set_current(index)
        self.importance.set_current(index)

    # -- playback ---------------------------------------------------------------------------
    def set_playing(self, playing: bool) -> None:
        self.play_button.setText("⏸" if playing else "▶")
        if playing and self.clip is not None:
            fps = min(max(self.clip.fps or 8.0, 1.0), 15.0)
            self.timer.start(int(1000 / fps))
        else:
            self.timer.stop()

    def _advance(self) -> None:
        if self.clip is None:
            return
        self.slider.setValue((self.current + 1) % self.clip.count)

    # -- export -----------------------------------------------------------------------------
    def choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the Video panel as PNG", "video.png", "PNG image (*.png)")
        if path:
            try:
                self.export_png(path)
            except ValueError as exc:
                show_error("Export failed", exc)


def _load_and_process(source, name: str, max_frames: int, reporter=None):
    """Worker job when the model is not loaded yet: load it, then read and analyse."""
    loaded = _load_model(name)
    clip, trace = _process(source, loaded, max_frames, reporter=reporter)
    return clip, trace, loaded


def _process_with_model(source, loaded, max_frames: int, reporter=None):
    clip, trace = _process(source, loaded, max_frames, reporter=reporter)
    return clip, trace, loaded
