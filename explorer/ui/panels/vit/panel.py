"""The ViT panel: walk a Vision Transformer's six steps on the current image.

Left: the model (bundled or opened from a file / folder) with its detected
architecture, and the list of steps. Right: the page of the chosen step. The
model loads and runs in workers (:func:`explorer.ui.workers.run_task`) with
progress and cancel; a patch clicked anywhere is selected everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
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
from explorer.engine.vit.tasks import render_scene
from explorer.ui.context import CurrentImage
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.vit.pages import (
    ClassTokenPage,
    EmbeddingPage,
    EncoderPage,
    GridPage,
    Page,
    PositionPage,
    SequencePage,
    ViTResult,
    compute_result,
)
from explorer.ui.workers import Task, run_task

WEIGHT_FILTER = "ViT weights (*.safetensors *.pth *.pt *.bin *.ckpt);;All files (*)"


class ViTPanel(Panel):
    title = "ViT"

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.model: vit.LoadedViT | None = None
        self.result: ViTResult | None = None
        self.selected = 0
        self._task: Task | None = None
        self._request = 0
        self._scene_seed = 0

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
        self.open_button = QPushButton("Open model…")
        menu = QMenu(self.open_button)
        menu.addAction("Weight file (timm / torchvision)…", self.open_file_dialog)
        menu.addAction("Hugging Face folder…", self.open_folder_dialog)
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
        self.size_spin.setToolTip("Other sizes than the trained one resample the position embeddings bicubically")
        self.size_spin.valueChanged.connect(lambda _v: self.run_model())
        size_row.addWidget(size_label)
        size_row.addWidget(self.size_spin, 1)
        self.steps = QListWidget()
        self.steps.setObjectName("vitSteps")
        self.pages: list[Page] = [GridPage(), SequencePage(), EmbeddingPage(), PositionPage(), ClassTokenPage(), EncoderPage()]
        for page in self.pages:
            self.steps.addItem(page.title)
            page.patchClicked.connect(self.select_patch)
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
        self.cancel_button.clicked.connect(self.cancel)
        for widget in (heading, self.model_label, self.open_button, self.sample_button):
            side.addWidget(widget)
        side.addLayout(size_row)
        side.addWidget(self.steps, 1)
        for widget in (self.export_png_button, self.export_npy_button, self.progress, self.cancel_button):
            side.addWidget(widget)

        self.stack = QStackedWidget()
        for page in self.pages:
            self.stack.addWidget(page)
        self.steps.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.steps.setCurrentRow(0)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(left)
        layout.addWidget(self.stack, 1)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.load_model(vit.DEFAULT_BUNDLED)

    def on_image_changed(self, current: CurrentImage) -> None:
        self.run_model()

    def on_model_trained(self, task: str, path: str) -> None:
        """A ViT just trained in the Training panel replaces the current model."""
        self.load_model(path)

    def on_theme_changed(self, theme: str) -> None:
        for page in self.pages:
            page.apply_theme()
        if self.result is not None:
            self._show(self.result)

    # -- model -----------------------------------------------------------------------------------------
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open ViT weights", str(Path.home()), WEIGHT_FILTER)
        if path:
            self.load_model(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Hugging Face ViT folder", str(Path.home()))
        if path:
            self.load_model(path)

    def load_model(self, path_or_name: str | Path) -> Task:
        """Load weights in a worker; on failure say why and keep the model we had."""
        name = Path(str(path_or_name)).name
        return self._start(
            _load_model, path_or_name, on_result=self._model_loaded,
            on_error=lambda exc: self._failed(f"Could not open {name} as a ViT", exc),
            description=f"loading {name}",
        )

    def _model_loaded(self, model: vit.LoadedViT) -> None:
        self.model = model
        cfg = model.config
        notes = "".join(f"<br><i>{note}</i>" for note in model.notes)
        metrics = ""
        if "accuracy_fresh" in model.metrics:
            metrics = (f"<br>Accuracy on fresh scenes {model.metrics['accuracy_fresh']:.1%}; "
                       f"position ρ {model.metrics.get('position_spearman', float('nan')):+.2f}")
        self.model_label.setText(
            f"<b>{model.name}</b> ({cfg.source})<br>{cfg.depth} layers · width {cfg.dim} · {cfg.heads} heads<br>"
            f"MLP {cfg.mlp_dim} · patch {cfg.patch_size} · {cfg.image_size} px<br>"
            f"{cfg.num_classes or 'no'} classes{metrics}{notes}"
        )
        self.model_label.setToolTip(model.describe())
        p = cfg.patch_size
        self.size_spin.blockSignals(True)
        self.size_spin.setRange(p, min(vit.MAX_INPUT, int(vit.MAX_PATCHES**0.5) * p))
        self.size_spin.setSingleStep(p)
        self.size_spin.setValue(cfg.image_size)
        self.size_spin.blockSignals(False)
        self.sample_button.setEnabled(cfg.source == "bundled")
        self.run_model()

    # -- inference -------------------------------------------------------------------------------------
    def run_model(self) -> Task | None:
        if self.model is None or self.context.image is None:
            return None
        size = self.size_spin.value() or None
        return self._start(
            compute_result, self.model, self.context.image.image, size, on_result=self._show,
            on_error=lambda exc: self._failed("ViT", exc), description="running the ViT",
        )

    def _start(self, fn, *args, on_result, on_error, description: str) -> Task:
        self._request += 1
        request = self._request
        if self._task is not None and not self._task.done:
            self._task.cancel()
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()

        def finished() -> None:
            if request == self._request:
                self.progress.hide()
                self.cancel_button.hide()

        self._task = run_task(
            fn, *args,
            on_result=lambda value: on_result(value) if request == self._request else None,
            on_error=lambda exc: on_error(exc) if request == self._request else None,
            on_progress=lambda f, text: self._progress(request, f, text),
            on_finished=finished,
            description=description,
        )
        return self._task

    def _progress(self, request: int, fraction: float, text: str) -> None:
        if request == self._request:
            self.progress.setValue(int(fraction * 100))
            self.progress.setFormat(f"{text} %p%")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _failed(self, title: str, exc: BaseException) -> None:
        show_error(title, exc)

    def _show(self, result: ViTResult) -> None:
        self.result = result
        self.selected = min(self.selected, result.trace.num_patches - 1)
        for page in self.pages:
            page.show_result(result, self.selected)

    def select_patch(self, index: int) -> None:
        """Select patch ``index`` (raster order) in every view."""
        if self.result is None or not 0 <= index < self.result.trace.num_patches:
            return
        self.selected = index
        for page in self.pages:
            page.set_selected(self.result, index)

    # -- sample scenes --------------------------------------------------------------------------------
    def load_sample_scene(self) -> None:
        self._scene_seed += 1
        image, label = render_scene(10_000 + self._scene_seed)
        from explorer.engine.vit.tasks import CLASS_NAMES

        self.context.set_image(image, f"generated scene {self._scene_seed} ({CLASS_NAMES[label]})")

    # -- export ----------------------------------------------------------------------------------------
    def export_view_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", f"vit_step{self.stack.currentIndex() + 1}.png", "PNG image (*.png)")
        if path:
            try:
                self.export_page_png(path)
            except ValueError as exc:
                show_error("Export", exc)

    def export_page_png(self, path: str | Path, index: int | None = None) -> Path:
        page = self.pages[self.stack.currentIndex() if index is None else index]
        path = Path(path)
        if not page.grab().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path

    def export_attention_dialog(self) -> None:
        if self.result is None:
            show_error("Export", "Nothing to export yet: the model has not run.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export attention", "vit_attention.npy", "NumPy array (*.npy)")
        if path:
            try:
                self.export_attention(path)
            except (OSError, ValueError) as exc:
                show_error("Export", exc)

    def export_attention(self, path: str | Path) -> Path:
        """All attention weights as one (layers, heads, N + 1, N + 1) float32 array; token 0 is [CLS]."""
        if self.result is None:
            raise ValueError("nothing to export yet: the model has not run")
        path = Path(path)
        stacked = np.stack([a.numpy() for a in self.result.trace.attentions]).astype(np.float32)
        np.save(path, stacked)
        return path


def _load_model(path_or_name, reporter=None) -> vit.LoadedViT:
    from explorer.engine.infra.progress import report

    report(reporter, 0.1, "reading weights")
    model = vit.load(path_or_name)
    report(reporter, 1.0, "loaded")
    return model
