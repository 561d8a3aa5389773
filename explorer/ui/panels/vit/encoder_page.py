"""Step 6 of the ViT walk: the encoder's attention over the image, head distances and the predictions.

The controls bind to the state both ways: a combo box sets the attention
view, layer, head or query; the state's events set the combo boxes and the
:class:`~explorer.ui.panels.vit.maps.AttentionMap` it keeps is what is drawn.
Colour map and opacity are only how the map looks, so they stay here.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.vit import analysis as va
from explorer.ui import theme
from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.selection import POOL_QUERY
from explorer.ui.panels.vit.state import ATTENTION_VIEWS, MAX_DISCARD, ViTState
from explorer.ui.panels.vit.views import PatchImageView
from explorer.ui.widgets.control_row import ControlRow
from explorer.ui.widgets.plots import still_plot

BUNDLED_CAVEAT = (
    "This model was trained only on generated scenes of a red and a blue shape, to say where "
    "red is relative to blue. On a photo its answer means nothing: use “Sample scene”, or open a "
    "real ViT (timm, torchvision, DINO, DINOv2, CLIP, SigLIP or transformers weights)."
)


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

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        controls = ControlRow()
        self.mode = QComboBox()
        self.mode.addItems(["Attention of one layer", "Rollout through all layers"])  # ATTENTION_VIEWS
        self.layer = QComboBox()
        self.head = QComboBox()
        self.query = QComboBox()
        self.query.addItems(["from [CLS]", "from the selected patch"])
        self.fusion = QComboBox()
        self.fusion.addItems(list(va.HEAD_FUSIONS))
        self.discard = QDoubleSpinBox()
        self.discard.setRange(0.0, MAX_DISCARD)
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
        # The panel connects it: this head's real Q, K, V on the image, in the Attention panel.
        self.open_attention_button = QPushButton("Open in Attention panel")
        controls.addWidget(self.open_attention_button)
        layout.addLayout(controls)
        look = QHBoxLayout()
        look.addWidget(QLabel("colour map"))
        look.addWidget(self.cmap)
        look.addWidget(QLabel("opacity"))
        look.addWidget(self.opacity)
        look.addStretch(1)

        row = QSplitter(Qt.Orientation.Horizontal)
        self.view = PatchImageView()
        self.view.show_grid(False)
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
        self.distance_plot = still_plot()
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

        # widgets → state
        self.mode.currentIndexChanged.connect(lambda i: setattr(state, "attention_view", ATTENTION_VIEWS[i]))
        self.layer.currentIndexChanged.connect(state.set_layer)
        self.head.currentIndexChanged.connect(lambda i: state.set_head(i - 1 if i > 0 else None))
        self.query.currentIndexChanged.connect(self._query_chosen)
        self.fusion.currentTextChanged.connect(lambda text: setattr(state, "head_fusion", text))
        self.discard.valueChanged.connect(lambda value: setattr(state, "discard_ratio", value))
        self.cmap.currentIndexChanged.connect(self._draw_overlay)
        self.opacity.valueChanged.connect(self._draw_overlay)
        self.view.patchClicked.connect(state.attend_from_patch)
        self.view.patchHovered.connect(state.hover)
        # state → widgets
        for name in ("attention_view", "head_fusion", "discard_ratio", "selection"):
            getattr(state.events, name).connect(self._sync_controls)
        state.events.attention.connect(self._draw_attention)
        state.events.hovered.connect(self._show_readout)
        self._sync_controls()

    @property
    def map(self) -> np.ndarray | None:
        """The (gh, gw) map drawn now."""
        return None if self.state.attention is None else self.state.attention.values

    # -- controls ---------------------------------------------------------------------------------
    def _queries(self) -> list[tuple[str, int | None]]:
        """(label, Selection.query) of every choice in the query box."""
        layout = self.state.layout
        items = [(f"from {name}", i) for i, name in enumerate(layout.special)] if layout else [("from [CLS]", 0)]
        if self.state.pooled:
            items.append(("from the pooling probe", POOL_QUERY))
        return items + [("from the selected patch", None)]

    def _query_chosen(self, index: int) -> None:
        items = self._queries()
        if 0 <= index < len(items):
            self.state.set_query(items[index][1])

    def _dot_clicked(self, _item, points, _event=None) -> None:
        if points:
            self.state.show_head(*points[0].data())

    def _fill(self, combo: QComboBox, items: list[str]) -> None:
        if [combo.itemText(i) for i in range(combo.count())] != items:
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)

    def _sync_controls(self) -> None:
        """Show the state's view, layer, head, query and rollout settings in the controls."""
        state, sel = self.state, self.state.selection
        rollout = state.attention_view == "rollout"
        combos = (self.mode, self.layer, self.head, self.query, self.fusion, self.discard)
        for widget in combos:
            widget.blockSignals(True)
        self.mode.setCurrentIndex(ATTENTION_VIEWS.index(state.attention_view))
        self.layer.setCurrentIndex(sel.layer)
        self.head.setCurrentIndex(0 if sel.head is None else sel.head + 1)
        values = [value for _label, value in self._queries()]
        self.query.setCurrentIndex(values.index(sel.query) if sel.query in values else len(values) - 1)
        self.fusion.setCurrentText(state.head_fusion)
        self.discard.setValue(state.discard_ratio)
        for widget in combos:
            widget.blockSignals(False)
        self.layer.setVisible(not rollout and sel.query != POOL_QUERY)  # the probe reads after the last layer
        self.head.setVisible(not rollout)
        for widget in (self.fusion, self.discard):
            widget.setVisible(rollout)
        one_head = not rollout and sel.head is not None
        self.open_attention_button.setEnabled(one_head)
        self.open_attention_button.setToolTip(
            "This head's Q, K and V on the image, every step editable" if one_head
            else "Choose one layer and one head (not the mean, not the rollout) to open it")

    # -- drawing ----------------------------------------------------------------------------------
    def show(self, result: ViTResult, selected: int) -> None:
        cfg = result.model.config
        self._fill(self.layer, [f"layer {i + 1}" for i in range(cfg.depth)])
        self._fill(self.head, ["mean of heads"] + [f"head {h + 1}" for h in range(cfg.heads)])
        self._fill(self.query, [label for label, _value in self._queries()])
        self.view.set_image(result.seen, result.trace.grid, result.trace.patch_size)
        self._draw_distances(result)
        self.predictions.set_top(result.top)
        self.top_title.setText(f"Top-{len(result.top)} predictions" if result.top else "Predictions")
        if not self.state.has_classifier:
            embedding = result.trace.embedding
            self.caveat.setText(
                f"This model has no classifier head: its output is an image embedding of {embedding.shape[-1]} numbers "
                "(CLIP's projection into the space it shares with text)" if embedding is not None else
                "This model has no classifier head (features only), so there are no predictions.")
        elif self.state.meaningless_on_photos:
            self.caveat.setText(BUNDLED_CAVEAT)
        else:
            self.caveat.setText(f"{result.model.name}: softmax over {cfg.num_classes} classes.")
        self._sync_controls()
        self._draw_attention()

    def show_selection(self, result: ViTResult, selected: int) -> None:
        """Nothing to do: a selected patch matters here only as the query, and that changes the map."""

    def _draw_distances(self, result: ViTResult) -> None:
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

    def _draw_attention(self) -> None:
        result, attention = self.state.result, self.state.attention
        if result is None or attention is None:
            return
        t = result.trace
        if attention.head is None:
            self.current_dot.setData([])
        else:
            heads = self.state.layout.heads
            self.current_dot.setData([{
                "pos": self.scatter.points()[attention.layer * heads + attention.head].pos(),
                "pen": pg.mkPen(theme.colors().highlight, width=2.5), "brush": None, "size": 15,
            }])
        self._draw_overlay()
        layout = self.state.layout
        on_patch = attention.query >= layout.leading
        self.view.set_selected(self.state.selection.patch if on_patch else None)
        special = f" ({', '.join(layout.special)} and {layout.patches} patches)" if layout.leading else ""
        self.note.setText(
            f"<b>Step 6.</b> {len(t.attentions)} pre-norm blocks of {layout.heads}-head self-attention "
            f"and an MLP run over the {layout.total} tokens{special}, on {t.device}. {attention.description} "
            "Click the image to pick a patch; click a dot to show that layer and head."
        )
        self._show_readout()

    def _draw_overlay(self) -> None:
        result, attention = self.state.result, self.state.attention
        if result is None or attention is None:
            return
        t = result.trace
        gh, gw = t.grid
        h, w = result.seen.shape[:2]
        up = va.upsample(attention.values, (gh * t.patch_size, gw * t.patch_size))
        full = np.full((h, w), np.nan, dtype=np.float32)
        full[: up.shape[0], : up.shape[1]] = up
        self.view.set_overlay(np.nan_to_num(full, nan=float(up.min())), self.cmap.currentText(), self.opacity.value() / 100,
                              levels=(0.0, float(attention.values.max()) or 1.0))

    def _show_readout(self) -> None:
        self.hover_label.setText(self.state.readout() or " ")
