"""Captioning panel: a caption word by word, with where the attention decoder looked for each word.

The attention decoder (Show, Attend and Tell) and the classic CNN→RNN decoder
caption the shared current image side by side. Hover or click a word of the
caption to lay its attention map over the image; step through the generation
with ◀ ▶ to see the candidates the model weighed at each step; the beam's
finished alternatives are listed with their scores. Captioning runs in a
worker (:func:`explorer.ui.workers.run_task`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QColor, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.engine import captioning
from explorer.engine.captioning.captioner import Captioner, CaptionTrace
from explorer.engine.infra import scenes
from explorer.ui import theme
from explorer.ui.context import CurrentImage
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.captioning.views import WordChips, image_array, overlay, render_figure
from explorer.ui.qt_images import array_to_qimage
from explorer.ui.workers import Task, run_task

SYNTHETIC_NOTE = (
    "The bundled captioners were trained only on generated scenes of coloured shapes: on a photo they can "
    "only say which shapes they think they see. Press <b>Generated scene</b> to see them work, or open a "
    "captioner of your own."
)


def caption_both(main: Captioner, classic: Captioner | None, image, beam_size: int):
    """Both captions of one image (runs in a worker)."""
    first = main.caption(image, beam_size=beam_size)
    second = classic.caption(image, beam_size=beam_size) if classic is not None else None
    return first, second


#: The bundled attention decoders offered in the model box: (bundled name, label).
BUNDLED_CHOICES = (
    ("attention", "Attention · learned from captions only"),
    ("attention_boxes", "Attention · taught from the boxes"),
)
DEFAULT_MODEL = "attention"


def load_bundled(name: str = DEFAULT_MODEL):
    return captioning.load(name), captioning.load("classic")


class ImageView(QLabel):
    """The picture with an overlay, scaled to fit while keeping its aspect ratio."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(260, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.array: np.ndarray | None = None
        self.box: tuple[float, float, float, float] | None = None  # in [0, 1] units

    def set_array(self, array: np.ndarray | None, box=None) -> None:
        self.array, self.box = array, box
        self._redraw()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._redraw()

    def _redraw(self) -> None:
        if self.array is None:
            self.clear()
            return
        pixmap = QPixmap.fromImage(array_to_qimage(np.ascontiguousarray(self.array)))
        pixmap = pixmap.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        if self.box is not None:
            painter = QPainter(pixmap)
            pen = QPen(QColor(theme.colors().highlight))
            pen.setWidth(2)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            x0, y0, x1, y1 = self.box
            painter.drawRect(int(x0 * pixmap.width()), int(y0 * pixmap.height()),
                             int((x1 - x0) * pixmap.width()), int((y1 - y0) * pixmap.height()))
            painter.end()
        self.setPixmap(pixmap)


class CaptioningPanel(Panel):
    title = "Captioning"

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.main: Captioner | None = None
        self.classic: Captioner | None = None
        self.trace: CaptionTrace | None = None
        self.classic_trace: CaptionTrace | None = None
        self.image = None
        self.scene: scenes.Scene | None = None
        self.scene_name = ""
        self.selected = 0  # the word whose map is shown when the pointer is elsewhere
        self.hovered = -1
        self.shown = 0  # words revealed when stepping through generation
        self.task = None
        self._generation = 0
        self._scene_counter = 0
        self._build()

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(14, 10, 14, 10)
        root.setSpacing(8)

        bar = QHBoxLayout()
        heading = QLabel("Captioning")
        heading.setProperty("role", "title")
        bar.addWidget(heading)
        bar.addSpacing(12)
        self.scene_button = QPushButton("Generated scene")
        self.scene_button.setToolTip("Make a new scene of the kind the bundled models were trained on and caption it.")
        self.scene_button.clicked.connect(self.new_scene)
        bar.addWidget(self.scene_button)
        bar.addWidget(QLabel("Beam"))
        self.beam_spin = QSpinBox()
        self.beam_spin.setRange(1, 10)
        self.beam_spin.setValue(3)
        self.beam_spin.setToolTip("Beam size: 1 is greedy (the most likely word at every step).")
        self.beam_spin.valueChanged.connect(lambda _v: self.run_caption())
        bar.addWidget(self.beam_spin)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Which attention decoder captions the image (the classic decoder is always beside it)")
        for key, text in BUNDLED_CHOICES:
            self.model_combo.addItem(text, key)
        self.model_combo.currentIndexChanged.connect(self._model_chosen)
        bar.addWidget(self.model_combo)
        self.model_button = QToolButton()
        self.model_button.setText("Open model ▾")
        self.model_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.model_button)
        self.open_file_action = QAction("Open model file (.safetensors, converted tutorial checkpoint)…", self)
        self.open_file_action.triggered.connect(self.open_model_dialog)
        self.open_folder_action = QAction("Open Hugging Face VisionEncoderDecoder folder…", self)
        self.open_folder_action.triggered.connect(self.open_folder_dialog)
        self.download_action = QAction("Download from Hugging Face (model id)…", self)
        self.download_action.triggered.connect(self.download_dialog)
        menu.addAction(self.open_file_action)
        menu.addAction(self.open_folder_action)
        menu.addAction(self.download_action)
        self.model_button.setMenu(menu)
        bar.addWidget(self.model_button)
        self.head_combo = QComboBox()
        self.head_combo.setToolTip("Which cross-attention of the Hugging Face decoder to show")
        self.head_combo.currentIndexChanged.connect(self._head_changed)
        self.head_combo.hide()
        bar.addWidget(self.head_combo)
        bar.addStretch(1)
        self.export_button = QPushButton("Export figure…")
        self.export_button.setToolTip("Save the word-by-word figure as a PNG")
        self.export_button.clicked.connect(self.export_dialog)
        bar.addWidget(self.export_button)
        root.addLayout(bar)

        self.note = QLabel(SYNTHETIC_NOTE)
        self.note.setProperty("role", "note")
        self.note.setWordWrap(True)
        root.addWidget(self.note)

        self.tabs = QTabWidget()
        root.addWidget(self.tabs, 1)

        # Tab 1: overlay + side column
        page = QWidget()
        grid = QHBoxLayout(page)
        grid.setContentsMargins(6, 6, 6, 6)
        left = QVBoxLayout()
        controls = QHBoxLayout()
        self.model_label = QLabel("Attention decoder")
        self.model_label.setStyleSheet("font-weight: 600;")
        controls.addWidget(self.model_label)
        controls.addStretch(1)
        controls.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(65)
        self.opacity.setFixedWidth(90)
        self.opacity.valueChanged.connect(lambda _v: self.redraw())
        controls.addWidget(self.opacity)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(theme.SEQUENTIAL_NAMES)
        self.cmap_combo.setToolTip("Colour map of the attention weights (0 → peak of the map)")
        self.cmap_combo.currentTextChanged.connect(lambda _t: self.redraw())
        controls.addWidget(self.cmap_combo)
        self.boxes_check = QPushButton("Object box")
        self.boxes_check.setCheckable(True)
        self.boxes_check.setChecked(True)
        self.boxes_check.setToolTip("On a generated scene: outline the object the selected word names (from the generator).")
        self.boxes_check.toggled.connect(lambda _c: self.redraw())
        controls.addWidget(self.boxes_check)
        left.addLayout(controls)
        self.view = ImageView()
        left.addWidget(self.view, 1)
        self.chips = WordChips()
        self.chips.hovered.connect(self._on_hover)
        self.chips.clicked.connect(self.select_word)
        chip_scroll = QScrollArea()
        chip_scroll.setWidget(self.chips)
        chip_scroll.setWidgetResizable(True)
        chip_scroll.setFrameShape(QFrame.Shape.NoFrame)
        chip_scroll.setFixedHeight(46)
        chip_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.addWidget(chip_scroll)
        self.word_info = QLabel(" ")
        self.word_info.setWordWrap(True)
        left.addWidget(self.word_info)
        self.attention_note = QLabel(" ")
        self.attention_note.setProperty("role", "muted")
        self.attention_note.setWordWrap(True)
        left.addWidget(self.attention_note)
        grid.addLayout(left, 3)

        side = QVBoxLayout()
        step_box = QGroupBox("Step through generation")
        step = QGridLayout(step_box)
        self.prev_button = QPushButton("◀")
        self.next_button = QPushButton("▶")
        self.all_button = QPushButton("All")
        for button in (self.prev_button, self.next_button, self.all_button):
            button.setFixedWidth(44)
        self.prev_button.clicked.connect(lambda: self.step_to(self.shown - 1))
        self.next_button.clicked.connect(lambda: self.step_to(self.shown + 1))
        self.all_button.clicked.connect(lambda: self.step_to(len(self.trace.words) if self.trace else 0))
        self.step_label = QLabel("—")
        step.addWidget(self.prev_button, 0, 0)
        step.addWidget(self.next_button, 0, 1)
        step.addWidget(self.all_button, 0, 2)
        step.addWidget(self.step_label, 0, 3)
        self.candidates = QTableWidget(0, 2)
        self.candidates.setHorizontalHeaderLabels(["next word", "probability"])
        self._table_style(self.candidates)
        self.candidates.setFixedHeight(150)
        step.addWidget(self.candidates, 1, 0, 1, 4)
        side.addWidget(step_box)

        beam_box = QGroupBox("The beam's finished captions")
        beam_layout = QVBoxLayout(beam_box)
        self.beams = QTableWidget(0, 2)
        self.beams.setHorizontalHeaderLabels(["caption", "log-prob"])
        self._table_style(self.beams)
        self.beams.setMinimumHeight(90)
        beam_layout.addWidget(self.beams)
        side.addWidget(beam_box, 1)

        classic_box = QGroupBox("Classic CNN→RNN decoder (no attention)")
        classic_layout = QVBoxLayout(classic_box)
        self.classic_caption = QLabel("—")
        self.classic_caption.setWordWrap(True)
        self.classic_caption.setStyleSheet("font-size: 12pt;")
        self.classic_info = QLabel("The whole image enters once, as the LSTM's initial state; no map per word.")
        self.classic_info.setProperty("role", "muted")
        self.classic_info.setWordWrap(True)
        classic_layout.addWidget(self.classic_caption)
        classic_layout.addWidget(self.classic_info)
        side.addWidget(classic_box)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setMinimumWidth(330)
        side_widget.setMaximumWidth(430)
        grid.addWidget(side_widget, 2)
        self.tabs.addTab(page, "Attention per word")

        # Tab 2: the word-by-word figure
        self.figure_label = QLabel("Caption an image to see the figure.")
        self.figure_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        figure_scroll = QScrollArea()
        figure_scroll.setWidget(self.figure_label)
        figure_scroll.setWidgetResizable(True)
        self.tabs.addTab(figure_scroll, "Figure (word by word)")
        self.tabs.currentChanged.connect(lambda _i: self._update_figure())

        self.status = QLabel(" ")
        self.status.setProperty("role", "muted")
        root.addWidget(self.status)
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, activated=lambda: self.step_to(self.shown - 1))
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, activated=lambda: self.step_to(self.shown + 1))

    @staticmethod
    def _table_style(table: QTableWidget) -> None:
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(24)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.status.setText("Loading the bundled captioners…")
        run_task(load_bundled, on_result=self._models_loaded, on_error=self._models_failed, description="loading the captioners")

    def _models_loaded(self, models) -> None:
        self.main, self.classic = models
        self.main.source = DEFAULT_MODEL
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(self.model_combo.findData(DEFAULT_MODEL))
        self.model_combo.blockSignals(False)
        self._describe_model()
        self.status.setText(" ")
        if self.context.image is not None:
            self.on_image_changed(self.context.image)
        else:
            self.new_scene()

    def _models_failed(self, exc) -> None:
        show_error("Captioning", exc)
        self.status.setText("No captioner loaded: " + str(exc))

    def on_image_changed(self, current: CurrentImage) -> None:
        self.image = current.image
        if self.scene is not None and current.name != self.scene_name:
            self.scene = None
        self.run_caption()

    def on_theme_changed(self, theme_name: str) -> None:
        self.chips.apply_style()
        self.redraw()

    # -- actions -----------------------------------------------------------------------------
    def new_scene(self) -> None:
        """A fresh generated scene (from a stream the models never saw) as the current image."""
        self._scene_counter += 1
        index = 900_000 + self._scene_counter + int(np.random.default_rng().integers(0, 90_000))
        self.scene = scenes.generate(scenes.split_seed("val", index), size=256)
        self.scene_name = f"generated scene {index}"
        self.context.set_image(self.scene.image, self.scene_name)

    def run_caption(self) -> None:
        if self.main is None or self.image is None:
            return
        if self.task is not None and not self.task.done:
            self.task.cancel()
        self._generation += 1
        generation = self._generation
        self.status.setText("Captioning…")
        self.task = run_task(
            caption_both, self.main, self.classic if self.main.kind != "classic" else None, self.image, self.beam_spin.value(),
            on_result=lambda result: self._show(result, generation),
            description="captioning",
        )

    def _show(self, result, generation: int) -> None:
        if generation != self._generation:
            return  # a newer request is on its way
        self.trace, self.classic_trace = result
        # Start on the word with the sharpest map: where looking mattered most.
        peaks = self.trace.alphas.reshape(len(self.trace.words), -1).max(1) if self.trace.alphas is not None and self.trace.words else []
        self.selected = int(np.argmax(peaks)) if len(peaks) else 0
        self.hovered = -1
        self.shown = len(self.trace.words)
        words = self.trace.words
        tips = []
        for t, word in enumerate(words):
            tip = f"“{word}”: probability {self.trace.probs[t]:.3f} at step {t + 1}"
            if self.trace.betas is not None:
                tip += f"; β = {self.trace.betas[t]:.3f} (share of the glimpse let into the LSTM)"
            tips.append(tip)
        self.chips.set_words(words, tips)
        self._fill_beams()
        if self.classic_trace is not None:
            self.classic_caption.setText(self.classic_trace.caption or "(empty caption)")
            self.classic_info.setText(
                f"log-prob {self.classic_trace.score:.2f}. The whole image enters once, as the LSTM's "
                "initial state: there is no map per word."
            )
        else:
            self.classic_caption.setText("—")
        self.status.setText(
            f"{self.trace.model}: {len(words)} words, beam {self.trace.beam_size}"
            + ("" if self.trace.ended else " — stopped at the length limit before an end token")
        )
        self.redraw()

    def _fill_beams(self) -> None:
        alternatives = self.trace.alternatives if self.trace else []
        self.beams.setRowCount(len(alternatives))
        for row, alt in enumerate(alternatives):
            item = QTableWidgetItem(" ".join(alt.words) or "(empty)")
            item.setToolTip("Word probabilities: " + ", ".join(f"{p:.2f}" for p in alt.probs))
            score = QTableWidgetItem(f"{alt.score:.3f}")
            score.setToolTip(f"Sum of the log-probabilities of its words; probability {np.exp(alt.score):.3f}")
            if row == 0:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.beams.setItem(row, 0, item)
            self.beams.setItem(row, 1, score)

    def select_word(self, index: int) -> None:
        if self.trace is None or not 0 <= index < len(self.trace.words):
            return
        self.selected = index
        self.shown = max(self.shown, index + 1)
        self.redraw()

    def _on_hover(self, index: int) -> None:
        self.hovered = index
        self.redraw()

    def step_to(self, shown: int) -> None:
        """Reveal the caption up to word ``shown`` (1-based count) and show that word's step."""
        if self.trace is None:
            return
        n = len(self.trace.words)
        self.shown = int(min(max(shown, 0), n))
        self.selected = max(self.shown - 1, 0)
        self.redraw()

    # -- drawing -----------------------------------------------------------------------------
    def current_word(self) -> int:
        return self.hovered if self.hovered >= 0 else self.selected

    def current_overlay(self) -> np.ndarray | None:
        """The picture as shown: image with the current word's map (None before a caption)."""
        if self.image is None:
            return None
        base = image_array(self.image, 720)
        if self.trace is None or self.trace.alphas is None or not self.trace.words or self.shown == 0:
            return base
        t = min(self.current_word(), len(self.trace.words) - 1)
        return overlay(base, self.trace.alphas[t], opacity=self.opacity.value() / 100, cmap=self.cmap_combo.currentText())

    def redraw(self) -> None:
        self.view.set_array(self.current_overlay(), self._true_box())
        self._update_words()
        self._update_candidates()
        self._update_figure()

    def _true_box(self):
        if self.scene is None or self.trace is None or not self.boxes_check.isChecked() or not self.trace.words:
            return None
        from explorer.engine.captioning.metrics import named_objects

        t = min(self.current_word(), len(self.trace.words) - 1)
        kind, obj = named_objects(self.trace.words, self.scene)[t]
        if not kind or obj < 0:
            return None
        x0, y0, x1, y1 = self.scene.boxes()[obj]
        s = self.scene.size
        return x0 / s, y0 / s, x1 / s, y1 / s

    def _update_words(self) -> None:
        trace = self.trace
        if trace is None:
            return
        self.chips.set_state(self.current_word() if self.shown else -1, self.shown)
        n = len(trace.words)
        self.step_label.setText(f"word {self.shown} of {n}" + ("" if self.shown < n else " · end"))
        self.prev_button.setEnabled(self.shown > 0)
        self.next_button.setEnabled(self.shown < n)
        if not n or self.shown == 0:
            self.word_info.setText("Step ▶ to generate the first word.")
            return
        t = min(self.current_word(), n - 1)
        text = f"<b>“{trace.words[t]}”</b> — word {t + 1}, probability {trace.probs[t]:.3f}"
        if trace.alphas is not None:
            alpha = trace.alphas[t]
            r, c = np.unravel_index(int(np.argmax(alpha)), alpha.shape)
            text += f"; map peak {alpha.max():.3f} at row {r + 1}, column {c + 1} of {alpha.shape[0]}×{alpha.shape[1]}"
        if trace.betas is not None:
            text += f"; β = {trace.betas[t]:.3f}"
        self.word_info.setText(text)

    def _update_candidates(self) -> None:
        trace = self.trace
        if trace is None:
            return
        # The candidates the model weighed when it chose the word in focus.
        step = min(self.current_word(), len(trace.candidates) - 1) if self.shown else 0
        rows = trace.candidates[step] if 0 <= step < len(trace.candidates) else []
        self.candidates.setRowCount(len(rows))
        chosen = trace.words[step] if step < len(trace.words) else "<end>"
        for row, (word, prob) in enumerate(rows):
            item = QTableWidgetItem(word)
            if word == chosen:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.candidates.setItem(row, 0, item)
            self.candidates.setItem(row, 1, QTableWidgetItem(f"{prob:.3f}  " + "█" * int(round(prob * 12))))
        self.candidates.setToolTip(f"The most likely words at step {step + 1}, after “{' '.join(trace.words[:step]) or '<start>'}”")

    def _update_figure(self) -> None:
        if self.tabs.currentIndex() != 1 or self.trace is None or self.image is None:
            return
        figure = self.figure_image()
        self.figure_label.setPixmap(QPixmap.fromImage(figure))

    def figure_image(self):
        return render_figure(
            self.image, self.trace, opacity=self.opacity.value() / 100, cmap=self.cmap_combo.currentText(),
            dark=theme.current_theme() == "dark", note=self.main.attention_note if self.main else "",
        )

    def _fill_heads(self) -> None:
        self.head_combo.blockSignals(True)
        self.head_combo.clear()
        if self.main is not None and self.main.kind == "transformer":
            self.head_combo.addItem("mean of all layers and heads", (None, None))
            for layer in range(self.main.layers):
                self.head_combo.addItem(f"layer {layer + 1}, mean of heads", (layer, None))
                for head in range(self.main.heads):
                    self.head_combo.addItem(f"layer {layer + 1}, head {head + 1}", (layer, head))
        self.head_combo.setVisible(self.head_combo.count() > 0)
        self.head_combo.blockSignals(False)

    def _head_changed(self, index: int) -> None:
        if self.main is None or self.main.kind != "transformer" or index < 0:
            return
        self.main.set_attention(*self.head_combo.itemData(index))
        self.run_caption()

    def _describe_model(self) -> None:
        self._fill_heads()
        if self.main is None:
            return
        m = self.main.metrics
        figures = ""
        if m:
            figures = (
                f" Measured on {int(m.get('scenes', 0))} fresh scenes: exact match {m.get('exact_match', 0):.1%}, "
                f"BLEU-4 {m.get('bleu4', 0):.3f}"
            )
            if "pointing" in m:
                figures += (
                    f", pointing {m['pointing']:.1%} (colour words {m['pointing_colour']:.1%}, "
                    f"shape words {m['pointing_shape']:.1%})"
                )
            figures += "."
        self.model_label.setText(self.main.title)
        self.attention_note.setText(
            (self.main.attention_note or "This model has no attention: no map per word.") + figures
        )
        self.note.setVisible(self.main.synthetic)

    # -- models and export -------------------------------------------------------------------
    def load_model(self, source) -> Task:
        return run_task(captioning.load, source, on_result=lambda model: self._model_opened(model, source),
                        on_error=self._model_failed, on_progress=self._load_progress,
                        description="opening the captioner")

    def _load_progress(self, fraction: float, text: str) -> None:
        self.context_status(f"{text} ({fraction:.0%})")

    def context_status(self, text: str) -> None:
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(text, 5000)

    def download_dialog(self) -> None:
        """Ask for a model id, e.g. nlpconnect/vit-gpt2-image-captioning, and fetch it (online only)."""
        from PyQt6.QtWidgets import QInputDialog, QProgressDialog

        repo_id, ok = QInputDialog.getText(
            self, "Download a captioner", "Hugging Face VisionEncoderDecoder model id (owner/name):",
            text="nlpconnect/vit-gpt2-image-captioning",
        )
        if not ok or not repo_id.strip():
            return
        progress = QProgressDialog(f"Downloading {repo_id.strip()}…", "Cancel", 0, 1000, self)
        progress.setMinimumDuration(0)
        task = self.load_model(repo_id.strip())
        task.progressed.connect(lambda fraction, text: (progress.setValue(int(fraction * 1000)), progress.setLabelText(text)))
        progress.canceled.connect(task.cancel)
        task.finished.connect(progress.close)

    def _model_failed(self, exc) -> None:
        show_error("Open captioner", exc)
        index = self.model_combo.findData(getattr(self.main, "source", None))
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(max(index, 0))
        self.model_combo.blockSignals(False)

    def on_model_trained(self, task: str, path: str) -> None:
        """A captioner retrained in the Training panel: the classic one replaces the classic
        decoder beside the caption, an attention one becomes the decoder shown."""
        if task == "caption_classic":
            run_task(captioning.load, Path(path), on_result=self._classic_opened,
                     on_error=self._model_failed, description="opening the retrained captioner")
        else:
            self.load_model(Path(path))

    def _classic_opened(self, captioner: Captioner) -> None:
        self.classic = captioner
        self.run_caption()

    def _model_chosen(self, index: int) -> None:
        source = self.model_combo.itemData(index)
        if source is not None and (self.main is None or self.model_combo.itemData(index) != getattr(self.main, "source", None)):
            self.load_model(source)

    def _model_opened(self, captioner: Captioner, source=None) -> None:
        captioner.source = source
        self.main = captioner
        index = self.model_combo.findData(source)
        if index < 0:
            self.model_combo.addItem(f"Opened · {captioner.name}", source)
            index = self.model_combo.count() - 1
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)
        self._describe_model()
        self.run_caption()

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open captioner", "", "Captioners (*.safetensors *.pt *.pth *.bin *.tar);;All files (*)")
        if path:
            self.load_model(Path(path))

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Hugging Face VisionEncoderDecoder folder")
        if path:
            self.load_model(Path(path))

    def export_figure(self, path: str | Path) -> Path:
        if self.trace is None or self.image is None:
            raise ValueError("there is no caption to export yet")
        path = Path(path)
        if not self.figure_image().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export word-by-word figure", "caption-figure.png", "PNG image (*.png)")
        if path:
            try:
                self.export_figure(path)
            except ValueError as exc:
                show_error("Export", exc)
