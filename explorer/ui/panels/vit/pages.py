"""The six pages of the ViT walk; each draws one step of a :class:`ViTResult` and reports patch clicks.

The panel (``vit.py``) owns the model, runs the engine in workers and keeps the
selected patch; a page only shows. Every number shown comes from the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPen
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.vit import analysis as va
from explorer.engine.vit.loading import LoadedViT, ResizePlan
from explorer.engine.vit.model import ViTTrace
from explorer.ui import theme
from explorer.ui.panels.vit.views import GridOfGridsView, PatchImageView, PatchStripView, TileGridView
from explorer.ui.qt_images import pil_to_pixmap
from explorer.ui.widgets.heatmap import Heatmap


@dataclass
class ViTResult:
    """One run of the model on one image, with the analyses the pages draw (made in a worker)."""

    model: LoadedViT
    trace: ViTTrace
    plan: ResizePlan
    source: Image.Image  # the user's image
    seen: np.ndarray  # (H, W, 3) uint8: what the model saw (unnormalised input)
    patches_rgb: np.ndarray  # (N, P, P, 3) uint8
    similarity: np.ndarray  # (N, N) position-embedding cosine similarity
    tiled: np.ndarray | None  # grid of grids (NaN gaps), None when the grid is too large
    locality: float  # Spearman ρ(similarity, grid distance)
    components: np.ndarray  # (k, P, P, 3) uint8 tiles
    variance: np.ndarray  # (k,)
    distances: np.ndarray  # (depth, heads) pixels
    top: list[tuple[str, float, int]]


def compute_result(model: LoadedViT, image: Image.Image, input_size: int | None, reporter=None) -> ViTResult:
    """Everything the pages need, off the GUI thread."""
    from explorer.engine.infra.progress import report

    report(reporter, 0.05, "resizing and normalising")
    plan = model.resize_plan(image.width, image.height, input_size)
    pixels = model.preprocess(image, input_size)
    report(reporter, 0.2, "running the transformer")
    trace = model.trace(pixels)
    report(reporter, 0.7, "analysing position embeddings and attention")
    seen = model.unnormalise(trace.pixels)
    gh, gw = trace.grid
    p = trace.patch_size
    patches = seen[: gh * p, : gw * p].reshape(gh, p, gw, p, 3).transpose(0, 2, 1, 3, 4).reshape(gh * gw, p, p, 3)
    sim = va.position_similarity(trace.pos_embed)
    tiled = va.grid_of_grids(sim, trace.grid) if gh * gw <= 1024 else None
    locality = va.position_locality(trace.pos_embed, trace.grid) if gh * gw > 2 else float("nan")
    comps, variance = va.filter_components(model.net.patch_embed.proj.weight.detach(), count=28)
    distances = va.mean_attention_distance(trace.attentions, trace.grid, p).numpy()
    report(reporter, 1.0, "done")
    return ViTResult(
        model, trace, plan, image, seen, np.ascontiguousarray(patches), sim.numpy(), tiled, locality,
        va.component_tiles(comps), variance, distances, model.top_k(trace, 5),
    )


def _note(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("role", "note")
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class Page(QWidget):
    """One step of the walk."""

    patchClicked = pyqtSignal(int)
    title = ""

    def show_result(self, result: ViTResult, selected: int) -> None:
        raise NotImplementedError

    def set_selected(self, result: ViTResult, selected: int) -> None:
        self.show_result(result, selected)

    def apply_theme(self) -> None:
        for child in self.findChildren((Heatmap,)):
            child.apply_theme()
        for child in self.findChildren(pg.GraphicsLayoutWidget):
            if hasattr(child, "apply_theme"):
                child.apply_theme()


# -- 1 ------------------------------------------------------------------------------------------------
class SourceView(QLabel):
    """The user's image, scaled to fit, with the part the model sees outlined."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self._image: Image.Image | None = None
        self._box = (0.0, 0.0, 1.0, 1.0)

    def set_image(self, image: Image.Image, box: tuple[float, float, float, float]) -> None:
        self._image, self._box = image, box
        self._redraw()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._redraw()

    def _redraw(self) -> None:
        if self._image is None:
            return
        preview = self._image.copy()
        preview.thumbnail((max(self.width(), 50), max(self.height(), 50)))
        pixmap = pil_to_pixmap(preview)
        scale = pixmap.width() / self._image.width
        painter = QPainter(pixmap)
        pen = QPen(QColor(theme.colors().highlight))
        pen.setWidth(3)
        painter.setPen(pen)
        left, top, right, bottom = (v * scale for v in self._box)
        painter.drawRect(int(left), int(top), max(1, int(right - left) - 1), max(1, int(bottom - top) - 1))
        painter.end()
        self.setPixmap(pixmap)


class GridPage(Page):
    title = "1 · Cut into patches"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.note = _note()
        layout.addWidget(self.note)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.view = PatchImageView()
        self.view.patchClicked.connect(self.patchClicked)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Your image; the outline is what the model sees")
        caption.setProperty("role", "muted")
        caption.setWordWrap(True)
        self.source = SourceView()
        self.grid_box = QCheckBox("Show the patch grid")
        self.grid_box.setChecked(True)
        self.grid_box.toggled.connect(self.view.show_grid)
        side_layout.addWidget(caption)
        side_layout.addWidget(self.source, 1)
        side_layout.addWidget(self.grid_box)
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setSizes([640, 300])
        layout.addWidget(splitter, 1)

    def show_result(self, result: ViTResult, selected: int) -> None:
        t, cfg = result.trace, result.model.config
        gh, gw = t.grid
        p = t.patch_size
        self.view.set_image(result.seen, t.grid, p)
        self.view.set_selected(selected)
        self.source.set_image(result.source, result.plan.source_box)
        self.note.setText(
            f"<b>Step 1.</b> {result.plan.describe()} px, normalised with mean "
            f"{_triple(cfg.mean)} and std {_triple(cfg.std)}. A {gh}×{gw} grid of {p}×{p}-pixel patches: "
            f"<b>{gh * gw} patches</b>, each {p}·{p}·{cfg.channels} = {p * p * cfg.channels} numbers. "
            "Click a patch to follow it through the steps."
        )


def _triple(values) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"


# -- 2 ------------------------------------------------------------------------------------------------
class SequencePage(Page):
    title = "2 · Patches as a sequence"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.note = _note()
        layout.addWidget(self.note)
        self.strip = PatchStripView()
        self.strip.patchClicked.connect(self.patchClicked)
        self.strip.setMinimumHeight(90)
        self.strip.setMaximumHeight(150)
        hint = QLabel("Drag the strip to scroll, wheel to zoom; click a patch to select it.")
        hint.setProperty("role", "muted")
        self.where = PatchImageView()
        self.where.patchClicked.connect(self.patchClicked)
        layout.addWidget(self.strip, 2)
        layout.addWidget(hint)
        layout.addWidget(self.where, 3)
        self._shown: int | None = None

    def show_result(self, result: ViTResult, selected: int) -> None:
        t = result.trace
        gh, gw = t.grid
        if self._shown != id(result):
            self.strip.set_patches(result.patches_rgb)
            self.where.set_image(result.seen, t.grid, t.patch_size)
            self._shown = id(result)
        self.strip.set_selected(selected)
        self.where.set_selected(selected)
        r, c = divmod(selected, gw)
        self.note.setText(
            f"<b>Step 2.</b> The grid is read in raster order — left to right, top to bottom — into a "
            f"sequence of <b>{gh * gw} tokens</b>. Patch {selected} came from row {r}, column {c} "
            f"({selected} = {r}·{gw} + {c}); nothing in the sequence itself says so — step 4 adds that."
        )


# -- 3 ------------------------------------------------------------------------------------------------
class EmbeddingPage(Page):
    title = "3 · Linear embedding"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.note = _note()
        layout.addWidget(self.note)
        row = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Principal components of the embedding filters (share of variance)")
        caption.setStyleSheet("font-weight: 600;")
        caption.setWordWrap(True)
        self.tiles = TileGridView()
        left_layout.addWidget(caption)
        left_layout.addWidget(self.tiles, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.patch_view = PatchImageView()
        self.patch_view.setMaximumHeight(150)
        self.pixels = Heatmap("Patch values x: one row per pixel row, R G B per pixel", kind="diverging", annotate=False)
        self.embedding = Heatmap("Embedding e = W·x + b", kind="diverging", annotate=False, colorbar=True)
        right_layout.addWidget(self.patch_view)
        right_layout.addWidget(self.pixels, 2)
        right_layout.addWidget(self.embedding, 3)
        row.addWidget(left)
        row.addWidget(right)
        row.setSizes([480, 480])
        layout.addWidget(row, 1)
        self._shown: int | None = None

    def show_result(self, result: ViTResult, selected: int) -> None:
        t, cfg = result.trace, result.model.config
        p, c, d = t.patch_size, cfg.channels, cfg.dim
        if self._shown != id(result):
            captions = [f"PC{i + 1} {v:.0%}" if v >= 0.01 else f"PC{i + 1} {v:.1%}" for i, v in enumerate(result.variance)]
            self.tiles.set_tiles(result.components, captions)
            self._shown = id(result)
        self.patch_view.set_image(result.patches_rgb[selected], (1, 1), p)
        x = t.patches[selected].numpy().reshape(p, p * c)  # (P, P·C)
        self.pixels.set_data(x, row_labels=[str(i) for i in range(p)], col_labels=[str(j // c) if j % c == 0 else "" for j in range(p * c)])
        e = t.patch_embeddings[selected].numpy()
        width = 32 if d >= 64 else d
        rows = (d + width - 1) // width
        padded = np.full(rows * width, np.nan)
        padded[:d] = e
        self.embedding.set_data(
            padded.reshape(rows, width),
            row_labels=[str(r * width) for r in range(rows)],
            col_labels=[f"+{j}" for j in range(width)],
        )
        self.embedding.set_title(f"Embedding of patch {selected}: e = W·x + b, {d} numbers (rows of {width})")
        self.note.setText(
            f"<b>Step 3.</b> Each patch is flattened to {p * p * c} numbers x and multiplied by one learned "
            f"matrix W ({d} × {p * p * c}), the same for every patch: {d} numbers per token. The rows of W "
            f"are {p}×{p} filters; their first principal components (left) explain "
            f"{result.variance[:len(result.variance)].sum():.0%} of the variance."
        )


# -- 4 ------------------------------------------------------------------------------------------------
class PositionPage(Page):
    title = "4 · Position embeddings"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.note = _note()
        layout.addWidget(self.note)
        row = QSplitter(Qt.Orientation.Horizontal)
        self.map = Heatmap("Cosine similarity with the selected patch", kind="diverging", colorbar=True)
        self.map.clicked.connect(self._cell_clicked)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Every patch's map in its own place (click a tile)")
        caption.setStyleSheet("font-weight: 600;")
        self.grids = GridOfGridsView()
        self.grids.patchClicked.connect(self.patchClicked)
        right_layout.addWidget(caption)
        right_layout.addWidget(self.grids, 1)
        row.addWidget(self.map)
        row.addWidget(right)
        row.setSizes([480, 480])
        layout.addWidget(row, 1)
        self._grid = (1, 1)
        self._shown: int | None = None

    def _cell_clicked(self, row: int, col: int) -> None:
        self.patchClicked.emit(row * self._grid[1] + col)

    def show_result(self, result: ViTResult, selected: int) -> None:
        t = result.trace
        gh, gw = t.grid
        self._grid = t.grid
        values = result.similarity[selected].reshape(gh, gw)
        self.map.set_data(values, row_labels=[str(r) for r in range(gh)], col_labels=[str(c) for c in range(gw)], levels=(-1.0, 1.0))
        r, c = divmod(selected, gw)
        self.map.set_highlight(cells=[(r, c)])
        self.map.set_title(f"Cosine similarity of patch {selected} (row {r}, col {c}) with every position")
        if self._shown != id(result):
            if result.tiled is not None:
                self.grids.set_data(result.tiled, t.grid)
            self._shown = id(result)
        self.grids.set_selected(selected if result.tiled is not None else None)
        trained = result.model.config.grid
        resampled = "" if t.grid == (trained, trained) else (
            f" The model learned a {trained}×{trained} table; it is resampled bicubically to this {gh}×{gw} grid."
        )
        rho = "" if not np.isfinite(result.locality) else (
            f" Spearman ρ between similarity and grid distance: <b>{result.locality:+.2f}</b> "
            "(−1: similarity falls steadily with distance; 0: no 2-D order)."
        )
        self.note.setText(
            "<b>Step 4.</b> A learned vector per position is added to each token, so the model knows where "
            f"each patch sat; near positions learn similar vectors.{rho}{resampled}"
        )


# -- 5 ------------------------------------------------------------------------------------------------
class ClassTokenPage(Page):
    title = "5 · Class token"

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.note = _note()
        layout.addWidget(self.note)
        self.strip = PatchStripView(leading=("CLS",), follow=False)
        self.strip.patchClicked.connect(self.patchClicked)
        self.strip.setMinimumHeight(90)
        self.strip.setMaximumHeight(150)
        self.tokens = Heatmap("Encoder input z₀ = [CLS; patch embeddings] + position embeddings", kind="diverging", annotate=False, colorbar=True)
        self.tokens.clicked.connect(lambda row, _col: self.patchClicked.emit(row - 1) if row > 0 else None)
        layout.addWidget(self.strip, 2)
        layout.addWidget(self.tokens, 5)
        self._shown: int | None = None

    def show_result(self, result: ViTResult, selected: int) -> None:
        t, cfg = result.trace, result.model.config
        n = t.num_patches
        if self._shown != id(result):
            self.strip.set_patches(result.patches_rgb, visible=20)
            z0 = t.tokens[0].numpy()  # (N + 1, D)
            self.tokens.set_data(z0, row_labels=["[CLS]"] + [str(i + 1) for i in range(n)], col_labels=[str(j) for j in range(cfg.dim)])
            self._shown = id(result)
        self.strip.set_selected(selected)
        self.tokens.set_highlight(rows=[0, selected + 1])
        read = "the mean of the patch tokens" if cfg.pool == "avg" else "position 0, the class token"
        self.note.setText(
            f"<b>Step 5.</b> A learned [CLS] vector is put in front: the sequence is now <b>{n + 1} tokens</b> "
            f"of {cfg.dim} numbers, [CLS] at position 0 and patch i at position i + 1. It holds no image content "
            f"of its own; through attention it gathers from the patches, and after the last block the classifier "
            f"reads {read}."
        )


# -- 6 ------------------------------------------------------------------------------------------------
class Predictions(QWidget):
    """Top-5 classes as bars."""

    def __init__(self) -> None:
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.rows: list[tuple[QLabel, QProgressBar]] = []
        for i in range(5):
            name = QLabel()
            name.setWordWrap(True)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setFormat("%p%")
            bar.setMaximumHeight(16)
            self.grid.addWidget(name, i, 0)
            self.grid.addWidget(bar, i, 1)
            self.rows.append((name, bar))
        self.grid.setColumnStretch(0, 3)
        self.grid.setColumnStretch(1, 2)

    def set_top(self, top: list[tuple[str, float, int]]) -> None:
        for i, (name, bar) in enumerate(self.rows):
            if i < len(top):
                label, prob, index = top[i]
                name.setText(f"{label}")
                name.setToolTip(f"class {index}: softmax probability {prob:.6f}")
                bar.setValue(int(round(prob * 1000)))
                bar.setFormat(f"{prob:.1%}")
                name.show()
                bar.show()
            else:
                name.hide()
                bar.hide()


class EncoderPage(Page):
    title = "6 · Encoder and attention"
    settingsChanged = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.note = _note()
        layout.addWidget(self.note)
        controls = QHBoxLayout()
        self.mode = QComboBox()
        self.mode.addItems(["Attention of one layer", "Rollout through all layers"])
        self.layer = QComboBox()
        self.head = QComboBox()
        self.query = QComboBox()
        self.query.addItems(["from [CLS]", "from the selected patch"])
        self.fusion = QComboBox()
        self.fusion.addItems(list(va.HEAD_FUSIONS))
        self.discard = QDoubleSpinBox()
        self.discard.setRange(0.0, 0.95)
        self.discard.setSingleStep(0.05)
        self.discard.setDecimals(2)
        self.discard.setPrefix("discard ")
        self.cmap = QComboBox()
        self.cmap.addItems(list(theme.SEQUENTIAL_NAMES))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setMaximumWidth(90)
        self.opacity.setToolTip("Overlay opacity")
        for widget in (self.mode, self.layer, self.head, self.fusion, self.discard, self.query):
            controls.addWidget(widget)
        controls.addStretch(1)
        layout.addLayout(controls)
        look = QHBoxLayout()
        look.addWidget(QLabel("colour map"))
        look.addWidget(self.cmap)
        look.addWidget(QLabel("opacity"))
        look.addWidget(self.opacity)
        look.addStretch(1)
        for combo in (self.mode, self.layer, self.head, self.query, self.fusion, self.cmap):
            combo.currentIndexChanged.connect(self._changed)
        self.discard.valueChanged.connect(self._changed)
        self.opacity.valueChanged.connect(self._changed)

        row = QSplitter(Qt.Orientation.Horizontal)
        self.view = PatchImageView()
        self.view.show_grid(False)
        self.view.patchClicked.connect(self.patchClicked)
        self.view.patchHovered.connect(self._hovered)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.hover_label = QLabel(" ")
        self.hover_label.setProperty("role", "muted")
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.hover_label)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.distance_plot = pg.PlotWidget()
        self.distance_plot.setMenuEnabled(False)
        self.distance_plot.setMouseEnabled(x=False, y=False)
        self.distance_plot.hideButtons()
        self.distance_plot.setLabel("bottom", "layer")
        self.distance_plot.setLabel("left", "mean attention distance (px)")
        self.distance_plot.setTitle("Mean attention distance per head")
        self.scatter = pg.ScatterPlotItem(size=9)
        self.scatter.sigClicked.connect(self._dot_clicked)
        self.distance_plot.addItem(self.scatter)
        self.current_dot = pg.ScatterPlotItem(size=15, brush=None)
        self.distance_plot.addItem(self.current_dot)
        self.top_title = top_title = QLabel("Top-5 predictions")
        top_title.setStyleSheet("font-weight: 600;")
        self.predictions = Predictions()
        self.caveat = QLabel()
        self.caveat.setWordWrap(True)
        self.caveat.setProperty("role", "muted")
        right_layout.addLayout(look)
        right_layout.addWidget(self.distance_plot, 3)
        right_layout.addWidget(top_title)
        right_layout.addWidget(self.predictions)
        right_layout.addWidget(self.caveat)
        row.addWidget(left)
        row.addWidget(right)
        row.setSizes([560, 400])
        layout.addWidget(row, 1)
        self.result: ViTResult | None = None
        self.selected = 0
        self.map: np.ndarray | None = None  # the (gh, gw) map shown now
        self._what = ""

    def _changed(self, *_args) -> None:
        if self.result is not None:
            self._draw()

    def _hovered(self, index: int) -> None:
        """Say the weight under the pointer and where it comes from."""
        if self.map is None or index < 0 or self.result is None:
            self.hover_label.setText("Point at a patch to read its weight; click to attend from it.")
            return
        gw = self.result.trace.grid[1]
        r, c = divmod(index, gw)
        self.hover_label.setText(f"patch {index} (row {r}, col {c}): weight {float(self.map.reshape(-1)[index]):.4f} — {self._what}")

    def _dot_clicked(self, _item, points, _event=None) -> None:
        if not points:
            return
        layer, head = points[0].data()
        self.mode.setCurrentIndex(0)
        self.layer.setCurrentIndex(layer)
        self.head.setCurrentIndex(head + 1)

    def show_result(self, result: ViTResult, selected: int) -> None:
        fresh = self.result is None or self.result.model is not result.model
        self.result, self.selected = result, selected
        cfg = result.model.config
        if fresh or self.layer.count() != cfg.depth or self.head.count() != cfg.heads + 1:
            for combo, items, default in (
                (self.layer, [f"layer {i + 1}" for i in range(cfg.depth)], cfg.depth - 1),
                (self.head, ["mean of heads"] + [f"head {h + 1}" for h in range(cfg.heads)], 0),
            ):
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(items)
                combo.setCurrentIndex(default)
                combo.blockSignals(False)
        self.view.set_image(result.seen, result.trace.grid, result.trace.patch_size)
        self._draw_distances()
        self.predictions.set_top(result.top)
        self.top_title.setText(f"Top-{len(result.top)} predictions" if result.top else "Predictions")
        if not result.top:
            self.caveat.setText("This model has no classifier head (features only), so there are no predictions.")
        elif cfg.source == "bundled":
            self.caveat.setText(
                "The bundled model was trained only on generated scenes of a red and a blue shape, to say where "
                "red is relative to blue. On a photo its answer means nothing: use “Sample scene”, or open a "
                "real ViT (timm, torchvision or Hugging Face weights)."
            )
        else:
            self.caveat.setText(f"{result.model.name}: softmax over {cfg.num_classes} classes.")
        self._draw()

    def _draw_distances(self) -> None:
        result = self.result
        dist = result.distances  # (depth, heads)
        depth, heads = dist.shape
        spots = []
        colour = QColor(theme.colors().accent)
        for layer in range(depth):
            for head in range(heads):
                spots.append({
                    "pos": (layer + 1 + (head - (heads - 1) / 2) * min(0.5 / max(heads, 1), 0.08), float(dist[layer, head])),
                    "data": (layer, head), "brush": colour, "pen": None,
                })
        self.scatter.setData(spots)
        self.distance_plot.getAxis("bottom").setTicks([[(i + 1, str(i + 1)) for i in range(depth)]])
        gh, gw = result.trace.grid
        self.distance_plot.setYRange(0, float(np.hypot(gh, gw)) * result.trace.patch_size * 0.55, padding=0.02)
        self.distance_plot.setXRange(0.5, depth + 0.5, padding=0)

    def _draw(self) -> None:
        result = self.result
        t = result.trace
        gh, gw = t.grid
        rollout = self.mode.currentIndex() == 1
        for widget in (self.layer, self.head):
            widget.setVisible(not rollout)
        for widget in (self.fusion, self.discard):
            widget.setVisible(rollout)
        query = 0 if self.query.currentIndex() == 0 else self.selected + 1
        who = "[CLS]" if query == 0 else f"patch {self.selected}"
        if rollout:
            joint = va.rollout(t.attentions, self.fusion.currentText(), self.discard.value())
            values = joint[query, 1:].reshape(gh, gw)
            what = (f"Rollout from {who}: attention multiplied through all {len(t.attentions)} layers "
                    f"(heads fused by {self.fusion.currentText()}, weakest {self.discard.value():.0%} discarded, "
                    "identity added for the residual path).")
            self.current_dot.setData([])
        else:
            layer = self.layer.currentIndex()
            head = self.head.currentIndex() - 1
            values = va.attention_map(t.attentions[layer], t.grid, query, None if head < 0 else head)
            head_text = "the mean of the heads" if head < 0 else f"head {head + 1}"
            cls_share = float(t.attentions[layer][:, query, 0].mean() if head < 0 else t.attentions[layer][head, query, 0])
            what = (f"Layer {layer + 1}, {head_text}: where {who} looks; rows of softmax(Q·Kᵀ/√d) — "
                    f"{cls_share:.0%} of it goes to [CLS] itself (not drawn).")
            if head >= 0:
                self.current_dot.setData([{
                    "pos": self.scatter.points()[layer * t.attentions[0].shape[0] + head].pos(), "pen": pg.mkPen(theme.colors().highlight, width=2.5),
                    "brush": None, "size": 15,
                }])
            else:
                self.current_dot.setData([])
        self.map = values.numpy()
        self._what = "rollout" if rollout else f"layer {self.layer.currentIndex() + 1}, {self.head.currentText()}"
        h, w = result.seen.shape[:2]
        up = va.upsample(self.map, (gh * t.patch_size, gw * t.patch_size))
        full = np.full((h, w), np.nan, dtype=np.float32)
        full[: up.shape[0], : up.shape[1]] = up
        self.view.set_overlay(np.nan_to_num(full, nan=float(up.min())), self.cmap.currentText(), self.opacity.value() / 100,
                              levels=(0.0, float(self.map.max()) or 1.0))
        self.view.set_selected(self.selected if query else None)
        self.note.setText(
            f"<b>Step 6.</b> {len(t.attentions)} pre-norm blocks of {result.model.config.heads}-head self-attention "
            f"and an MLP run over the {t.num_patches + 1} tokens. {what} Click the image to pick a patch; "
            "click a dot to show that layer and head."
        )
