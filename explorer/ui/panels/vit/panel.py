"""The ViT panel: walk a Vision Transformer's six steps on the current image.

Left: the model (bundled or opened from a file / folder) with its detected
architecture, and the list of steps. Right: the page of the chosen step. What
is shown, and every rule about it, lives in :class:`~explorer.ui.panels.vit.state.ViTState`;
this module builds the widgets, forwards user actions to the state and
redraws on its events. Loads and runs go through workers
(:func:`explorer.ui.workers.run_task`) with progress and cancel.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFontMetrics
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.engine import vit
from explorer.engine.vit.heads import vit_head
from explorer.ui import library
from explorer.ui.context import CurrentImage
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.state import BackLink
from explorer.ui.panels.vit.pages import PAGES, Page
from explorer.ui.panels.vit.state import DEVICE_CHOICES, ViTState
from explorer.ui.widgets.scroll import ColumnScroll
from explorer.ui.workers import run_task

WEIGHT_FILTER = "ViT weights (*.safetensors *.pth *.pt *.bin *.ckpt);;All files (*)"


class ViTPanel(Panel):
    title = "ViT"

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        state = self.bind_state(ViTState(runner=run_task, on_error=show_error))

        # -- left column: model and steps ---------------------------------------------------------
        left = QWidget()
        left.setFixedWidth(250)
        side = QVBoxLayout(left)
        side.setContentsMargins(8, 8, 4, 8)
        heading = QLabel("Model")
        heading.setStyleSheet("font-weight: 600;")
        self.model_label = QLabel("loading…")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.model_scroll = ColumnScroll(self.model_label)  # a real model's notes can be long: they scroll
        self.model_scroll.setMinimumHeight(150)
        self.model_scroll.setMaximumHeight(230)
        self.open_button = QPushButton("Open model…")
        menu = QMenu(self.open_button)
        menu.addAction("Models library…", lambda: library.show_library(context, "vit", self))
        library.register_opener(context, "vit", self.load_model)
        menu.addAction("Weight file (timm, torchvision, DINO, DINOv2, CLIP)…", self.open_file_dialog)
        menu.addAction("Model folder (transformers, timm hub, OpenCLIP)…", self.open_folder_dialog)
        menu.addSeparator()
        menu.addAction("Bundled shapes model", lambda: self.load_model(vit.DEFAULT_BUNDLED))
        self.open_button.setMenu(menu)
        self.sample_button = QPushButton("Sample scene")
        self.sample_button.setToolTip("A generated scene like those the bundled model was trained on")
        self.sample_button.clicked.connect(self.load_sample_scene)
        size_row = QHBoxLayout()
        size_label = QLabel("Input size")
        self.size_spin = QSpinBox()
        self.size_spin.setSuffix(" px")
        self.size_spin.setKeyboardTracking(False)
        self.size_spin.setToolTip("Other sizes than the trained one resample the position embeddings, "
                                  "each family by its own rule (the model's notes say which)")
        self.size_spin.valueChanged.connect(state.set_input_size)
        size_row.addWidget(size_label)
        size_row.addWidget(self.size_spin, 1)
        device_row = QHBoxLayout()
        self.device_combo = QComboBox()
        gpu = [d for d in vit.available_devices() if d != "cpu"]
        self.device_combo.addItems([f"GPU ({gpu[0]})" if gpu else "GPU (none found)", "CPU"])  # DEVICE_CHOICES
        self.device_combo.setToolTip("Where the model runs: the GPU torch can use (CUDA or MPS), or the CPU")
        self.device_combo.currentIndexChanged.connect(lambda i: state.set_device(DEVICE_CHOICES[i]))
        self.device_label = QLabel()
        self.device_label.setProperty("role", "muted")
        device_row.addWidget(QLabel("Run on"))
        device_row.addWidget(self.device_combo, 1)
        self.steps = QListWidget()
        self.steps.setObjectName("vitSteps")
        self.pages: list[Page] = [page(state) for page in PAGES]
        for page in self.pages:
            self.steps.addItem(page.title)
        self.export_png_button = QPushButton("Export view PNG…")
        self.export_png_button.clicked.connect(self.export_view_dialog)
        self.export_npy_button = QPushButton("Export attention NPY…")
        self.export_npy_button.clicked.connect(self.export_attention_dialog)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(state.cancel)
        for widget in (heading, self.model_scroll, self.open_button, self.sample_button):
            side.addWidget(widget)
        side.addLayout(size_row)
        side.addLayout(device_row)
        side.addWidget(self.device_label)
        side.addWidget(self.steps, 1)
        for widget in (self.export_png_button, self.export_npy_button, self.progress, self.cancel_button):
            side.addWidget(widget)

        self.stack = QStackedWidget()
        for page in self.pages:
            self.stack.addWidget(page)
            if hasattr(page, "open_attention_button"):
                page.open_attention_button.clicked.connect(self.open_in_attention)
        self.steps.currentRowChanged.connect(self._step_chosen)
        self._show_step(state.step)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(left)
        layout.addWidget(self.stack, 1)

        state.events.step.connect(self._show_step)
        state.events.model.connect(self._show_model)
        state.events.input_size.connect(self._show_input_size)
        state.events.progress.connect(self._show_progress)
        state.events.device.connect(self._show_device)
        self._show_device()

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.context.image is not None:
            self.state.set_image(self.context.image.image)
        self.state.start()

    def on_image_changed(self, current: CurrentImage) -> None:
        self.state.set_image(current.image)

    def on_model_trained(self, task: str, path: str) -> None:
        """A ViT just trained in the Training panel replaces the current model."""
        self.load_model(path)

    def on_theme_changed(self, theme: str) -> None:
        for page in self.pages:
            page.apply_theme()
            page.redraw()

    # -- forwarding user actions -----------------------------------------------------------------------
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open ViT weights", str(Path.home()), WEIGHT_FILTER)
        if path:
            self.load_model(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Hugging Face ViT folder", str(Path.home()))
        if path:
            self.load_model(path)

    def load_model(self, path_or_name: str | Path):
        """Load weights in a worker; on failure say why and keep the model we had."""
        return self.state.load_model(path_or_name)

    def select_patch(self, index: int) -> None:
        """Select patch ``index`` (raster order) in every view."""
        self.state.select_patch(index)

    def load_sample_scene(self) -> None:
        image, name = self.state.next_sample_scene()
        self.context.set_image(image, name)

    def _step_chosen(self, row: int) -> None:
        if row >= 0:
            self.state.step = row + 1

    # -- redrawing from the state ----------------------------------------------------------------------
    def _show_step(self, step: int) -> None:
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(step - 1)
        self.steps.blockSignals(False)
        self.stack.setCurrentIndex(step - 1)

    def _show_model(self, model: vit.LoadedViT) -> None:
        cfg = model.config
        notes = "".join(f"<br><i>{note}</i>" for note in model.notes)
        metrics = ""
        if "accuracy_fresh" in model.metrics:
            metrics = (f"<br>Accuracy on fresh scenes {model.metrics['accuracy_fresh']:.1%}; "
                       f"position ρ {model.metrics.get('position_spearman', float('nan')):+.2f}")
        width = self.model_scroll.viewport().width() - 4 if self.model_scroll.viewport().width() > 50 else 225
        bold = self.model_label.font()
        bold.setBold(True)
        name = QFontMetrics(bold).elidedText(model.name, Qt.TextElideMode.ElideMiddle, width)
        tokens = " ".join(cfg.special_tokens) or "no special tokens"
        self.model_label.setText(
            f"<b>{name}</b><br>{cfg.family} · {cfg.source}<br>{cfg.depth} layers · width {cfg.dim} · {cfg.heads} heads<br>"
            f"MLP {cfg.mlp_dim} · patch {cfg.patch_size} · {cfg.image_size} px<br>{tokens}<br>"
            f"{cfg.num_classes or 'no'} classes{metrics}{notes}"
        )
        self.model_label.setToolTip(f"{self.state.model_path or model.name}\n{model.describe()}")
        self.sample_button.setEnabled(self.state.meaningless_on_photos)
        self._show_input_size()
        self._show_device()

    def _show_device(self, *_args) -> None:
        self.device_combo.blockSignals(True)
        self.device_combo.setCurrentIndex(DEVICE_CHOICES.index(self.state.device))
        self.device_combo.blockSignals(False)
        text = self.state.device_text()
        self.device_label.setText(f"running on {text}" if text else "")

    def _show_input_size(self) -> None:
        if self.state.input_size_range() is None:
            return
        lowest, highest, step = self.state.input_size_range()
        self.size_spin.blockSignals(True)
        self.size_spin.setRange(lowest, highest)
        self.size_spin.setSingleStep(step)
        self.size_spin.setValue(self.state.input_size)
        self.size_spin.blockSignals(False)

    def _show_progress(self, progress: tuple[float, str] | None) -> None:
        self.progress.setVisible(progress is not None)
        self.cancel_button.setVisible(progress is not None)
        if progress is not None:
            fraction, text = progress
            self.progress.setValue(int(fraction * 100))
            self.progress.setFormat(f"{text} %p%" if text else "%p%")

    # -- the Attention panel ---------------------------------------------------------------------------
    def open_in_attention(self) -> None:
        """The selected layer and head, from the selected query, in the Attention panel (real Q, K, V)."""
        state, result = self.state, self.state.result
        sel = state.selection
        if result is None or sel.head is None:
            return
        token = state.query_token
        link = BackLink("vit", {"layer": sel.layer, "head": sel.head, "token": token},
                        f"Back to ViT · layer {sel.layer + 1}, head {sel.head + 1}")
        image = self.context.image.name if self.context.image is not None else ""
        try:
            head = vit_head(result.model, result.trace, sel.layer, sel.head, query=token, picture=result.seen,
                            model_name=f"{result.model.name} ({result.model.config.source})", input_name=image, back=link)
        except ValueError as exc:
            show_error("Open in Attention panel", exc)
            return
        self.context.offer("attention", head)

    def receive(self, payload: object) -> None:
        """Back from the Attention panel: the encoder step at that layer, head and query token."""
        if not isinstance(payload, BackLink):
            super().receive(payload)
            return
        state, chosen = self.state, payload.selection
        state.step = 6
        state.show_head(int(chosen.get("layer", 0)), int(chosen.get("head", 0)))
        token, leading = int(chosen.get("token", 0)), (state.layout.leading if state.layout else 1)
        if token < leading:
            state.set_query(token)
        else:
            state.attend_from_patch(token - leading)

    # -- export ----------------------------------------------------------------------------------------
    def export_view_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", f"vit_step{self.state.step}.png", "PNG image (*.png)")
        if path:
            try:
                self.export_page_png(path)
            except ValueError as exc:
                show_error("Export", exc)

    def export_page_png(self, path: str | Path, index: int | None = None) -> Path:
        page = self.pages[self.state.step - 1 if index is None else index]
        path = Path(path)
        if not page.grab().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path

    def export_attention_dialog(self) -> None:
        if self.state.result is None:
            show_error("Export", "Nothing to export yet: the model has not run.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export attention", "vit_attention.npy", "NumPy array (*.npy)")
        if path:
            try:
                self.export_attention(path)
            except (OSError, ValueError) as exc:
                show_error("Export", exc)

    def export_attention(self, path: str | Path) -> Path:
        """All attention weights as one (layers, heads, T, T) float32 array, special tokens first."""
        return self.state.export_attention(path)
