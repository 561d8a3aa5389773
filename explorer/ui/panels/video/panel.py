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

What is shown and the rules behind it live in :class:`~.state.VideoState`;
this module builds the widgets, forwards the user's actions to the state and
redraws on its events.

This panel is about frames: the shared current image is not a clip, so image
changes are ignored here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import library
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.video.handover import HandOver
from explorer.ui.panels.video.state import FRAME_CAP_RANGE, VideoState
from explorer.ui.panels.video.views import BeliefPlot, FrameStrip, FrameView, ImportanceBars
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.workers import run_task

VIDEO_FILTER = "Videos and animations (*.mp4 *.m4v *.webm *.avi *.mov *.mkv *.mpg *.mpeg *.ogv *.gif *.png *.apng *.webp);;All files (*)"


class VideoPanel(HandOver, Panel):
    title = "Video"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.state: VideoState = self.bind_state(VideoState(runner=run_task, on_error=show_error))
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.state.advance)
        self._build()
        self._bind()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 6, 8, 6)
        root.setSpacing(6)
        root.addLayout(self._build_bar())

        self.status = QLabel(" ")
        self.status.setProperty("role", "note")
        self.status.setWordWrap(True)
        root.addWidget(self.status)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        root.addWidget(splitter, 1)
        splitter.addWidget(self._build_frames())
        splitter.addWidget(self._build_model_views())
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([420, 640])

    def _build_bar(self) -> QHBoxLayout:
        """Open / generate a clip, choose the model and the frame cap; progress and export."""
        state = self.state
        bar = QHBoxLayout()
        self.open_button = QToolButton()
        self.open_button.setText("Open video…")
        self.open_button.setToolTip("Open a video file (mp4, webm, avi, mov…), an animated GIF/APNG, or a folder of frames")
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.open_button)
        menu.addAction("Video or animation file…", self.choose_file)
        menu.addAction("Folder of frames…", self.choose_folder)
        menu.addAction("Models library…", lambda: library.show_library(self.context, "video", self))
        library.register_opener(self.context, "video", lambda source: state.select_model(source) if source in dict(
            state.model_choices) else state.add_trained_model(source))
        self.open_button.setMenu(menu)
        self.open_button.clicked.connect(self.choose_file)
        bar.addWidget(self.open_button)
        bar.addSpacing(6)
        bar.addWidget(QLabel("Example:"))
        self.example_combo = QComboBox()
        self.example_combo.addItems(state.classes)
        self.example_combo.setCurrentIndex(state.example)
        self.example_combo.setToolTip("A freshly generated clip of this class (never seen in training)")
        bar.addWidget(self.example_combo)
        self.generate_button = QPushButton("Generate")
        bar.addWidget(self.generate_button)
        bar.addSpacing(6)
        bar.addWidget(QLabel("Model:"))
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._sync_model_combo()
        bar.addWidget(self.model_combo)
        bar.addSpacing(6)
        bar.addWidget(QLabel("Frames:"))
        self.cap_spin = QSpinBox()
        self.cap_spin.setRange(*FRAME_CAP_RANGE)
        self.cap_spin.setValue(state.max_frames)
        self.cap_spin.setToolTip("Frame cap: a longer file is sampled evenly down to this many frames (models were trained on 16)")
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
        bar.addWidget(self.cancel_button)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self.choose_export)
        bar.addWidget(self.export_button)
        return bar

    def _build_frames(self) -> QWidget:
        """Left: the current frame, the scrubber, the strip of all frames, the frame's CNN features."""
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.frame_view = FrameView()
        layout.addWidget(self.frame_view, 3)
        scrub = QHBoxLayout()
        self.play_button = QToolButton()  # standard icons: the font may lack the ⏸ glyph (U+23F8)
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip("Play / pause (loops)")
        self.play_button.setCheckable(True)
        scrub.addWidget(self.play_button)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        scrub.addWidget(self.slider, 1)
        self.frame_label = QLabel(self.state.frame_text())
        self.frame_label.setMinimumWidth(90)
        scrub.addWidget(self.frame_label)
        self.rnn_button = QPushButton("GRU in RNN panel")  # beside the frame it opens at
        self.rnn_button.setToolTip("Open GRU in RNN panel: step the model's recurrence over this clip's frame features there, at this frame")
        self.rnn_button.setEnabled(False)
        scrub.addWidget(self.rnn_button)
        layout.addLayout(scrub)
        self.strip = FrameStrip()
        layout.addWidget(self.strip)
        self.feature_map = Heatmap("CNN features of this frame", kind="diverging", annotate=False)
        self.feature_map.setMinimumHeight(70)
        layout.addWidget(self.feature_map, 1)
        return left

    def _build_model_views(self) -> QWidget:
        """Right: the model over time — belief, state × time, attention, frame importance."""
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
        # The transformer's heads: one of them, at the current frame, opens in the Attention panel.
        attention_box = QWidget()
        box, row = QVBoxLayout(attention_box), QHBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        self.head_combo = QComboBox()
        self.head_pairs: list[tuple[int, int]] = []  # (layer, head) of each entry
        self.head_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.head_combo.setToolTip("A layer and head of the temporal transformer")
        self.open_attention_button = QPushButton("Open in Attention panel")
        self.open_attention_button.setToolTip("This head's real Q, K and V on the clip, queried from the current frame")
        for widget in (self.head_combo, self.open_attention_button):
            row.addWidget(widget)
        row.addStretch(1)
        box.addLayout(row)
        box.addWidget(self.attention_map, 1)
        grid.addWidget(attention_box, 1, 1)
        self.importance = ImportanceBars()
        grid.addWidget(self.importance, 2, 0, 1, 2)
        grid.setRowStretch(0, 5)
        grid.setRowStretch(1, 5)
        grid.setRowStretch(2, 2)
        self.attention_map.hide()
        return right

    # -- binding: user actions → state, state events → widgets --------------------------------
    def _bind(self) -> None:
        state = self.state
        self.example_combo.currentIndexChanged.connect(lambda index: setattr(state, "example", index))
        self.generate_button.clicked.connect(lambda: state.show_example(self.example_combo.currentIndex()))
        self.model_combo.currentIndexChanged.connect(lambda _index: state.select_model(self.model_combo.currentData()))
        self.cap_spin.valueChanged.connect(lambda value: setattr(state, "max_frames", value))
        self.cap_spin.editingFinished.connect(state.apply_frame_cap)
        self.cancel_button.clicked.connect(state.cancel)
        self.rnn_button.clicked.connect(self.open_in_rnn)
        self.open_attention_button.clicked.connect(self.open_in_attention)
        self.play_button.toggled.connect(lambda playing: setattr(state, "playing", playing))
        self.slider.valueChanged.connect(state.set_frame)
        self.strip.frameClicked.connect(state.set_frame)
        # clicking a frame's column (hidden state) or row (attention) shows that frame
        self.hidden_map.clicked.connect(lambda _row, col: state.set_frame(col))
        self.attention_map.clicked.connect(lambda row, _col: state.set_frame(row))

        events = state.events
        events.trace.connect(self._show_trace)
        events.current.connect(self._show_frame)
        events.status.connect(lambda text: self.status.setText(text))
        events.busy.connect(self._show_busy)
        events.progress.connect(lambda fraction: self.progress.setValue(int(fraction * 1000)))
        events.playing.connect(self._show_playing)
        events.model_name.connect(self._sync_model_combo)
        events.trained.connect(self._sync_model_combo)
        events.example.connect(lambda index: self.example_combo.setCurrentIndex(index))
        events.max_frames.connect(lambda value: self.cap_spin.setValue(value))

    def _sync_model_combo(self) -> None:
        """The combo offers the state's models and shows the chosen one (without asking for a run)."""
        combo = self.model_combo
        combo.blockSignals(True)
        for name, title in self.state.model_choices:
            if combo.findData(name) < 0:
                combo.addItem(title, name)
        combo.setCurrentIndex(max(combo.findData(self.state.model_name), 0))
        combo.blockSignals(False)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """First shown: analyse a generated example so the panel is meaningful at once."""
        if self.state.clip is None:
            self.state.show_example()

    def on_image_changed(self, current) -> None:
        """The shared image is a still, not a clip: nothing to do here."""

    def on_theme_changed(self, theme: str) -> None:
        for view in (self.feature_map, self.hidden_map, self.attention_map):
            view.apply_theme()
        self.belief.apply_theme()
        self.importance.apply_theme()
        self._show_frame()

    def on_model_trained(self, task: str, path: str) -> None:
        """The Training panel saved a video model: offer it beside the bundled ones and show it."""
        self.state.add_trained_model(path)

    # -- actions ----------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of frames")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> Any:
        """Read a file or folder and analyse it (the running task); a failure keeps the current clip."""
        return self.state.open_path(path)

    def show_example(self, label: int) -> Any:
        """A freshly generated clip of class ``label`` (the running task)."""
        return self.state.show_example(label)

    def cancel(self) -> None:
        self.state.cancel()

    def choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the Video panel as PNG", "video.png", "PNG image (*.png)")
        if path:
            try:
                self.export_png(path)
            except ValueError as exc:
                show_error("Export failed", exc)

    # -- redrawing from the state -----------------------------------------------------------
    def _show_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def _show_playing(self, playing: bool) -> None:
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.blockSignals(False)
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        if playing and self.state.clip is not None:
            self.timer.start(self.state.play_interval_ms)
        else:
            self.timer.stop()

    def _show_trace(self) -> None:
        """A new analysis (a new clip, or the same clip through another model): redraw every view."""
        clip, trace = self.state.clip, self.state.trace
        if clip is None or trace is None:
            return
        T = clip.count
        self.strip.set_frames(clip.frames)
        frames = [str(i + 1) for i in range(T)]
        hidden = trace.hidden.numpy().T  # (H, T)
        self.hidden_map.set_title(self.state.hidden_title)
        self.hidden_map.set_data(hidden, row_labels=[f"h{i}" for i in range(hidden.shape[0])], col_labels=frames)
        every = max(1, hidden.shape[0] // 8)  # readable unit ticks; hovering names every unit
        self.hidden_map.plot.getAxis("left").setTicks([[(i + 0.5, f"h{i}") for i in range(0, hidden.shape[0], every)], []])
        attention = trace.mean_attention
        if attention is not None:
            self.attention_map.set_data(attention.numpy(), row_labels=frames, col_labels=frames)
            self.attention_map.annotate = T <= 16
        self.attention_map.setVisible(attention is not None)
        self._fill_heads(trace)
        self.belief.set_data(trace.probs.numpy(), trace.classes)
        if trace.importance is not None:
            self.importance.set_data(trace.importance.numpy())
        self.slider.blockSignals(True)
        self.slider.setRange(0, T - 1)
        self.slider.blockSignals(False)
        recurrent = self.state.is_recurrent
        self.rnn_button.setEnabled(recurrent)
        self.rnn_button.setText(f"{trace.arch.upper() if recurrent else 'GRU'} in RNN panel")
        self.rnn_button.setToolTip(f"Open {trace.arch.upper()} in RNN panel: step the model's recurrence over this clip's frame "
                                   "features there, at this frame" if recurrent else "The transformer has no recurrence to step: choose CNN + GRU")
        self._show_frame()

    def _show_frame(self) -> None:
        """Show the state's current frame in every view."""
        clip, trace, index = self.state.clip, self.state.trace, self.state.current
        if clip is None or trace is None:
            return
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self.frame_view.set_frame(clip.frames[index])
        self.strip.set_current(index)
        self.frame_label.setText(self.state.frame_text())
        features = trace.features[index].numpy()
        self.feature_map.set_data(features[None, :], row_labels=[f"t={index + 1}"],
                                  col_labels=[f"f{i}" for i in range(features.shape[0])])
        self.hidden_map.set_highlight(cols=[index])
        if self.attention_map.isVisible():
            self.attention_map.set_highlight(rows=[index])
        self.belief.set_current(index)
        self.importance.set_current(index)
