"""Step 7: the norm of every token after each block, beside that block's attention from [CLS].

Darcet et al., "Vision Transformers Need Registers" (2024): large, long-trained
ViTs (DINOv2, OpenCLIP, DeiT-III) reuse a few background patches as scratch
space from the middle layers on. Those tokens' norms are many times the others';
they soak up the class token's attention and are the bright specks of plain
DINOv2's maps. Models with registers give that work to the registers, and the
specks go. This page shows the norms on the image with the outliers outlined,
the attention map of the same block beside it, and every layer's norms in one plot.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from explorer.engine.vit import analysis as va
from explorer.ui import theme
from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.panels.vit.views import PatchImageView
from explorer.ui.widgets.plots import still_plot


def _captioned(view: QWidget, caption: QLabel) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    caption.setStyleSheet("font-weight: 600;")
    caption.setWordWrap(True)
    layout.addWidget(caption)
    layout.addWidget(view, 1)
    return box


class NormsPage(Page):
    title = "7 · Token norms (artefacts)"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        controls = QHBoxLayout()
        self.layer = QComboBox()
        self.layer.currentIndexChanged.connect(state.set_layer)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        controls.addWidget(QLabel("after block"))
        controls.addWidget(self.layer)
        controls.addWidget(self.summary, 1)
        layout.addLayout(controls)
        maps = QSplitter(Qt.Orientation.Horizontal)
        self.norm_view = PatchImageView()
        self.norm_view.show_grid(False)
        self.norm_view.patchClicked.connect(state.select_patch)
        self.attention_view = PatchImageView()
        self.attention_view.show_grid(False)
        self.attention_view.patchClicked.connect(state.select_patch)
        self.norm_caption, self.attention_caption = QLabel(), QLabel()
        maps.addWidget(_captioned(self.norm_view, self.norm_caption))
        maps.addWidget(_captioned(self.attention_view, self.attention_caption))
        self.plot = still_plot()
        self.plot.setLabel("bottom", "after block")
        self.plot.setLabel("left", "token norm ‖x‖₂")
        self.plot.addLegend(offset=(-10, 5), brush=pg.mkBrush(128, 128, 128, 70))
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(maps)
        split.addWidget(self.plot)
        split.setSizes([420, 200])
        layout.addWidget(split, 1)
        state.events.selection.connect(self._layer_changed)

    def _layer_changed(self, new, old) -> None:
        if self.state.result is not None and new.layer != old.layer:
            self.show(self.state.result, new.patch)

    def _plot_clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.state.set_layer(int(round(point.x())) - 1)

    @property
    def values(self) -> np.ndarray | None:
        """The (gh, gw) patch-token norms drawn now."""
        return getattr(self, "_values", None)

    def show(self, result: ViTResult, selected: int) -> None:
        t, layout = result.trace, result.trace.layout
        layer = self.state.selection.layer
        depth = len(t.attentions)
        items = [str(i + 1) for i in range(depth)]
        if [self.layer.itemText(i) for i in range(self.layer.count())] != items:
            self.layer.blockSignals(True)
            self.layer.clear()
            self.layer.addItems(items)
            self.layer.blockSignals(False)
        self.layer.blockSignals(True)
        self.layer.setCurrentIndex(layer)
        self.layer.blockSignals(False)
        norms = result.norms[layer + 1]  # (T,) after block `layer`
        patch_norms = norms[layout.leading:].reshape(t.grid)
        self._values = patch_norms
        flagged = np.flatnonzero(result.high_norm[layer + 1])
        gh, gw = t.grid
        p = t.patch_size
        for view in (self.norm_view, self.attention_view):
            view.set_image(result.seen, t.grid, p)
            view.set_selected(selected)
        self._overlay(self.norm_view, patch_norms, "inferno")
        self.norm_view.set_marked(flagged, "#00e5ff")
        attention, source = self._attention(result, layer)
        self._overlay(self.attention_view, attention, "viridis")
        self.attention_view.set_marked(flagged, "#00e5ff")
        median = float(np.median(norms[layout.leading:]))
        self.norm_caption.setText(f"Patch-token norms after block {layer + 1} (outlined: outliers)")
        self.attention_caption.setText(f"Block {layer + 1}'s attention {source} (mean of heads)")
        registers = [i for i, name in enumerate(layout.special) if name.startswith("[REG")]
        special = ", ".join(f"{name} {norms[i]:.3g}" for i, name in enumerate(layout.special) if i not in registers)
        if registers:
            special += f"{', ' if special else ''}registers {float(norms[registers].mean()):.3g} (mean)"
        self.summary.setText(
            f"{len(flagged)} of {layout.patches} patch tokens are outliers (median norm {median:.3g}, "
            f"largest {float(patch_norms.max()):.3g})" + (f"; {special}" if special else ""))
        self._plot(result, layer)
        registers = result.model.config.registers
        self.note.setText(
            "<b>Step 7.</b> The length of every token after each block. Large, long-trained ViTs (DINOv2, OpenCLIP, "
            "DeiT-III) turn a few background patches into scratch space from the middle layers on: their norms are "
            "many times the rest, they draw [CLS]'s attention, and they are the bright specks of plain DINOv2 maps "
            "(Darcet et al., “Vision Transformers Need Registers”, 2024). "
            + (f"This model has {registers} registers to hold that work instead." if registers else
               "This model has no registers.")
            + " Outlier (outlined): above the median by six robust standard deviations and above twice the median."
        )

    def _attention(self, result: ViTResult, layer: int) -> tuple[np.ndarray, str]:
        t = result.trace
        if t.leading:
            rows = t.attentions.rows(layer, 0)  # (heads, T)
            return va.attention_map(rows, t.grid).numpy(), f"from {t.layout.special[0]}"
        if t.pool_attention is not None:
            weights = t.pool_attention[:, 0].mean(dim=0)
            return weights.reshape(t.grid).numpy(), "of the pooling probe (after the last block)"
        rows = t.attentions.rows(layer, self.state.selection.patch)
        return va.attention_map(rows, t.grid).numpy(), f"from patch {self.state.selection.patch}"

    def _overlay(self, view: PatchImageView, values: np.ndarray, cmap: str) -> None:
        t = self.state.result.trace
        h, w = self.state.result.seen.shape[:2]
        gh, gw = t.grid
        up = va.upsample(values, (gh * t.patch_size, gw * t.patch_size))
        full = np.full((h, w), float(up.min()), dtype=np.float32)
        full[: up.shape[0], : up.shape[1]] = up
        view.set_overlay(full, cmap, 0.65, levels=(float(values.min()), float(values.max()) or 1.0))

    def _plot(self, result: ViTResult, layer: int) -> None:
        plot = self.plot.getPlotItem()
        for item in list(plot.listDataItems()):
            plot.removeItem(item)
        plot.legend.clear()
        layout = result.trace.layout
        x = np.arange(1, result.norms.shape[0])
        patches = result.norms[1:, layout.leading:]  # (depth, N)
        colours = theme.colors()
        plot.plot(x, np.median(patches, axis=1), pen=pg.mkPen(colours.plot_fg, width=2), name="median patch")
        plot.plot(x, patches.max(axis=1), pen=pg.mkPen("#e4572e", width=2), name="largest patch")
        if layout.leading:
            plot.plot(x, result.norms[1:, 0], pen=pg.mkPen(colours.accent, width=2, style=Qt.PenStyle.DashLine),
                      name=layout.special[0])
        registers = [i for i, name in enumerate(layout.special) if name.startswith("[REG")]
        if registers:
            plot.plot(x, result.norms[1:, registers].mean(axis=1),
                      pen=pg.mkPen(QColor(colours.muted), width=2, style=Qt.PenStyle.DotLine), name="registers (mean)")
        self.cursor.setPos(layer + 1)
        self.cursor.setPen(pg.mkPen(colours.highlight, width=1.5))
        plot.getAxis("bottom").setTicks([[(int(i), str(int(i))) for i in x]])
