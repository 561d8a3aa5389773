"""Captioning panel: a caption word by word, with where the attention decoder looked for each word.

The attention decoder (Show, Attend and Tell) and the classic CNN→RNN decoder
caption the shared current image side by side. Hover or click a word of the
caption to lay its attention map over the image; step through the generation
with ◀ ▶ to see the candidates the model weighed at each step; the beam's
finished alternatives are listed with their scores. Captioning runs in a
worker (:func:`explorer.ui.workers.run_task`).

What is shown and the rules behind it live in :mod:`.state` (no Qt); the tabs
are in :mod:`.pages`. This module builds the bar above them, binds it to the
state, and runs the dialogs.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
)

from explorer.engine.captioning.search import MAX_BEAM
from explorer.ui import library
from explorer.ui.context import CurrentImage
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.captioning.pages import FigurePage, WordPage, classic_caption_sheet
from explorer.ui.panels.captioning.state import CaptioningState
from explorer.ui.widgets.control_row import ControlRow
from explorer.ui.workers import run_task

SYNTHETIC_NOTE = (
    "The bundled captioners were trained only on generated scenes of coloured shapes: on a photo they can "
    "only say which shapes they think they see. Press <b>Generated scene</b> to see them work, or open a "
    "captioner of your own."
)


class CaptioningPanel(Panel):
    title = "Captioning"

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.bind_state(CaptioningState(runner=run_task, on_error=show_error, share_image=context.set_image))
        self._build()
        self._bind()

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(14, 10, 14, 10)
        root.setSpacing(8)
        root.addLayout(self._build_bar())

        self.note = QLabel(SYNTHETIC_NOTE)
        self.note.setProperty("role", "note")
        self.note.setWordWrap(True)
        root.addWidget(self.note)

        self.tabs = QTabWidget()
        root.addWidget(self.tabs, 1)
        self.page = WordPage(self.state)
        self.tabs.addTab(self.page, "Attention per word")
        self.figure = FigurePage(self.state)
        self.tabs.addTab(self.figure, "Figure (word by word)")
        self.tabs.setCurrentIndex(self.state.tab)

        self.status = QLabel(self.state.status)
        self.status.setProperty("role", "muted")
        self.status.setWordWrap(True)  # one long line would set the window's width at a large zoom
        root.addWidget(self.status)
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, activated=self.state.step_back)
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, activated=self.state.step_forward)

        # The page's widgets under the names they had when the panel built them itself.
        page = self.page
        self.view, self.chips, self.word_info, self.attention_note = page.view, page.chips, page.word_info, page.attention_note
        self.prev_button, self.next_button, self.all_button = page.prev_button, page.next_button, page.all_button
        self.step_label, self.candidates, self.beams = page.step_label, page.candidates, page.beams
        self.classic_caption, self.figure_label = page.classic_caption, self.figure.label
        self.current_overlay = page.current_overlay

    def _build_bar(self) -> ControlRow:
        """The controls in one row that wraps onto a second where the window is narrow (a large zoom)."""
        bar = ControlRow()
        heading = QLabel("Captioning")
        heading.setProperty("role", "title")
        bar.addWidget(heading)
        self.scene_button = QPushButton("Generated scene")
        self.scene_button.setToolTip("Make a new scene of the kind the bundled models were trained on and caption it.")
        bar.addWidget(self.scene_button)
        bar.addWidget(QLabel("Beam"))
        self.beam_spin = QSpinBox()
        self.beam_spin.setRange(1, MAX_BEAM)
        self.beam_spin.setValue(self.state.beam_size)
        self.beam_spin.setToolTip("Beam size: 1 is greedy (the most likely word at every step).")
        bar.addWidget(self.beam_spin)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Which attention decoder captions the image (the classic decoder is always beside it)")
        # 30 characters: a whole model name at 1280 px; the row wraps where it has no room (a large zoom).
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(30)
        self.model_combo.setMaximumWidth(self.model_combo.fontMetrics().averageCharWidth() * 44)
        bar.addWidget(self.model_combo)
        self.model_button = QToolButton()
        self.model_button.setText("Open model ▾")
        self.model_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.model_button)
        menu.addAction("Models library…", lambda: library.show_library(self.context, "captioning", self))
        library.register_opener(self.context, "captioning", self.state.load_model)
        self.open_file_action = QAction("Open model file (.safetensors, converted tutorial checkpoint)…", self)
        self.open_file_action.triggered.connect(self.open_model_dialog)
        self.open_folder_action = QAction("Open Hugging Face captioner folder (VisionEncoderDecoder or BLIP)…", self)
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
        # Sized to a short entry, so the bar keeps to 1280 px with both boxes shown (the list opens wider).
        self.head_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.head_combo.setMinimumContentsLength(14)
        self.head_combo.hide()
        bar.addWidget(self.head_combo)
        self.rnn_button = QPushButton("Decoder in RNN panel")
        self.rnn_button.setToolTip("Open decoder in RNN panel: step its LSTM through this caption there, at the word shown here")
        self.rnn_button.clicked.connect(self.open_in_rnn)
        bar.addWidget(self.rnn_button)
        self.export_button = QPushButton("Export figure…")
        self.export_button.setToolTip("Save the word-by-word figure as a PNG")
        self.export_button.clicked.connect(self.export_dialog)
        bar.addWidget(self.export_button)
        return bar

    def _bind(self) -> None:
        state, events = self.state, self.state.events
        self.scene_button.clicked.connect(state.new_scene)
        self.beam_spin.valueChanged.connect(lambda value: setattr(state, "beam_size", value))
        events.beam_size.connect(lambda value: self.beam_spin.setValue(value))
        self._fill_models()
        self.model_combo.currentIndexChanged.connect(lambda index: state.choose_model(self.model_combo.itemData(index)))
        events.choices.connect(self._fill_models)
        events.chosen.connect(self._show_chosen)
        self.head_combo.currentIndexChanged.connect(self._head_chosen)
        events.main.connect(self._show_model)
        events.layer.connect(self._show_head)
        events.head.connect(self._show_head)
        self.tabs.currentChanged.connect(lambda index: setattr(state, "tab", index))
        events.tab.connect(lambda index: self.tabs.setCurrentIndex(index))
        events.status.connect(lambda text: self.status.setText(text))
        events.loading.connect(self._show_loading)

    # -- the bar, from the state -------------------------------------------------------------------
    def _fill_models(self) -> None:
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for source, label in self.state.choices:
            self.model_combo.addItem(label, source)
        self.model_combo.blockSignals(False)
        self._show_chosen()

    def _show_chosen(self) -> None:
        index = next((i for i, (source, _label) in enumerate(self.state.choices) if source == self.state.chosen), 0)
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)

    def _show_model(self) -> None:
        self.head_combo.blockSignals(True)
        self.head_combo.clear()
        for label, layer, head in self.state.attention_choices:
            self.head_combo.addItem(label, (layer, head))
        self.head_combo.setVisible(self.head_combo.count() > 0)
        self.head_combo.blockSignals(False)
        self._show_head()
        if self.state.main is not None:
            self.note.setVisible(self.state.main.synthetic)

    def head_index(self, layer: int | None, head: int | None) -> int:
        """The head box's entry for ``layer`` and ``head`` (0, the mean, if it has none).

        Compared by value: ``findData`` compares Python objects by identity, so a tuple
        built anew never matched and the box fell back to the mean.
        """
        return next((i for i in range(self.head_combo.count()) if self.head_combo.itemData(i) == (layer, head)), 0)

    def _show_head(self) -> None:
        self.head_combo.blockSignals(True)
        self.head_combo.setCurrentIndex(self.head_index(self.state.layer, self.state.head))
        self.head_combo.blockSignals(False)

    def _head_chosen(self, index: int) -> None:
        if index >= 0:
            self.state.choose_attention(*self.head_combo.itemData(index))

    def _show_loading(self, text: str) -> None:
        window = self.window()
        if text and hasattr(window, "statusBar"):
            window.statusBar().showMessage(text, 5000)

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.context.image is not None:  # no model yet: this only hands the state the image
            self.state.set_image(self.context.image.image, self.context.image.name)
        self.state.load_bundled()

    def on_image_changed(self, current: CurrentImage) -> None:
        self.state.set_image(current.image, current.name)

    def on_theme_changed(self, theme_name: str) -> None:  # also after a zoom (Panel.restyle)
        self.chips.apply_style()
        self.page.classic_caption.setStyleSheet(classic_caption_sheet())
        self.page.redraw()
        self.figure.refresh()

    def on_model_trained(self, task: str, path: str) -> None:
        self.state.model_trained(task, path)

    # -- the decoder in the RNN panel, and back ----------------------------------------------------
    def open_in_rnn(self) -> None:
        """Hand the decoder LSTM, replayed through this caption, to the RNN panel at the word in focus."""
        from explorer.engine.captioning.recurrence import decoder_recurrence
        from explorer.ui.panels.state import BackLink

        state = self.state
        if state.main is None or state.trace is None or state.image is None:
            show_error("Open decoder in RNN panel", ValueError("there is no caption yet: wait for it, then try again."))
            return
        word = state.focus_word() or 0
        name = state.scene_name if state.scene is not None else (self.context.image.name if self.context.image else "")
        back = BackLink("captioning", {"word": word}, "Back to Captioning")
        run_task(decoder_recurrence, state.main, state.image, state.trace, step=word, image_name=name, back=back,
                 on_result=lambda recurrence: self.context.offer("rnn", recurrence),
                 on_error=lambda exc: show_error("Open decoder in RNN panel", exc), description="replaying the decoder")

    def receive(self, payload: object) -> None:
        """Back from the RNN panel: select the word it was on."""
        from explorer.ui.panels.state import BackLink

        if not isinstance(payload, BackLink) or payload.panel != "captioning":
            super().receive(payload)
        if self.state.trace is not None and self.state.trace.words:
            self.state.select_word(min(int(payload.selection.get("word", 0)), len(self.state.trace.words) - 1))

    # -- dialogs and export ----------------------------------------------------------------------
    def download_dialog(self) -> None:
        """Ask for a model id, e.g. nlpconnect/vit-gpt2-image-captioning or Salesforce/blip-image-captioning-base,
        and fetch it (online only)."""
        from PyQt6.QtWidgets import QInputDialog, QProgressDialog

        repo_id, ok = QInputDialog.getText(
            self, "Download a captioner", "Hugging Face captioner id, VisionEncoderDecoder or BLIP (owner/name):",
            text="nlpconnect/vit-gpt2-image-captioning",
        )
        if not ok or not repo_id.strip():
            return
        progress = QProgressDialog(f"Downloading {repo_id.strip()}…", "Cancel", 0, 1000, self)
        progress.setMinimumDuration(0)
        task = self.state.load_model(repo_id.strip())
        task.progressed.connect(lambda fraction, text: (progress.setValue(int(fraction * 1000)), progress.setLabelText(text)))
        progress.canceled.connect(task.cancel)
        task.finished.connect(progress.close)

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open captioner", "", "Captioners (*.safetensors *.pt *.pth *.bin *.tar);;All files (*)")
        if path:
            self.state.load_model(Path(path))

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Hugging Face captioner folder (VisionEncoderDecoder or BLIP)")
        if path:
            self.state.load_model(Path(path))

    def export_figure(self, path: str | Path) -> Path:
        if self.state.trace is None or self.state.image is None:
            raise ValueError("there is no caption to export yet")
        path = Path(path)
        if not self.figure.figure_image().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export word-by-word figure", "caption-figure.png", "PNG image (*.png)")
        if path:
            try:
                self.export_figure(path)
            except ValueError as exc:
                show_error("Export", exc)
