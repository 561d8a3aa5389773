"""Step 10: every head at a glance — one small map per layer and head for the same query; click one to open it.

Layers run across, heads down (a wide screen holds 12 × 12 at a readable size).
A second ordering puts similar heads next to each other: Jensen–Shannon distance
between their maps, clustered (the engine's :mod:`~explorer.engine.vit.heads_overview`);
then each tile carries its layer and head. One colour scale for every tile
shows how strong each head really is; scaling each to its own maximum shows
its pattern, and says so.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QComboBox, QLabel, QSplitter, QVBoxLayout, QWidget

from explorer.engine.vit import heads_overview as ho
from explorer.ui import theme
from explorer.ui.panels.vit.explain_views import QueryBox, export_button, fill
from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.panels.vit.views import _Canvas
from explorer.ui.widgets.control_row import ControlRow
from explorer.ui.widgets.heatmap import Heatmap

ORDER_LABELS = {"layers": "by layer", "similar": "similar heads together"}
SCALES = ("shared", "per head")
SCALE_LABELS = {"shared": "one colour scale", "per head": "each head its own scale"}


class HeadsGridView(_Canvas):
    """Tiles (one per head) in one image; a click emits the (layer, head) of the tile."""

    headClicked = pyqtSignal(int, int)
    headHovered = pyqtSignal(int, int)  # (−1, −1) outside the tiles

    def __init__(self) -> None:
        super().__init__()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        self.labels: list[pg.TextItem] = []
        self.slots = np.zeros(0, dtype=np.int64)  # slot → flat head index
        self.tile = (1, 1)
        self.columns, self.heads = 1, 1
        self._hovered = (-1, -1)

    def set_tiles(self, tiled: np.ndarray, slots: np.ndarray, tile: tuple[int, int], columns: int, heads: int,
                  levels: tuple[float, float], labelled: bool) -> None:
        self.slots, self.tile, self.columns, self.heads = slots, tile, columns, heads
        lut = theme.sequential_cmap().getLookupTable(nPts=256, alpha=True)
        low, high = levels
        scaled = np.clip((np.nan_to_num(tiled, nan=low) - low) / (high - low if high > low else 1.0), 0, 1)
        rgba = lut[(scaled * 255).astype(np.int32)].astype(np.uint8)  # (H, W, 4)
        rgba[np.isnan(tiled)] = 0
        self.image.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.image.setRect(QRectF(0, 0, tiled.shape[1], tiled.shape[0]))
        for item in self.labels:
            self.box.removeItem(item)
        self.labels.clear()
        gh, gw = tile
        font = QFont()
        font.setPointSizeF(max(6.5, font.pointSizeF() - 2.5))
        fg = theme.colors().plot_fg
        if labelled:  # similar order: each tile says which head it is
            for slot, index in enumerate(slots):
                r, c = divmod(slot, columns)
                layer, head = divmod(int(index), heads)
                self._label(f"{layer + 1}·{head + 1}", c * (gw + 1), r * (gh + 1), (0, 0), font, "#ffffff")
            margin = 0.0
        else:  # layers across, heads down: the axes say so
            rows = (len(slots) + columns - 1) // columns
            for c in range(columns):
                self._label(f"L{c + 1}", c * (gw + 1) + gw / 2, -0.2, (0.5, 1), font, fg)
            for r in range(rows):
                self._label(f"H{r + 1}", -0.3, r * (gh + 1) + gh / 2, (1, 0.5), font, fg)
            margin = max(gh, gw) * 0.6
        self.box.setRange(QRectF(-margin, -margin, tiled.shape[1] + margin, tiled.shape[0] + margin), padding=0.01)

    def _label(self, text: str, x: float, y: float, anchor: tuple[float, float], font: QFont, colour: str) -> None:
        label = pg.TextItem(text, color=colour, anchor=anchor)
        label.setFont(font)
        label.setPos(x, y)
        label.setZValue(3)
        self.box.addItem(label)
        self.labels.append(label)

    def head_at(self, x: float, y: float) -> tuple[int, int]:
        gh, gw = self.tile
        r, c = int(y // (gh + 1)), int(x // (gw + 1))
        slot = r * self.columns + c
        if x < 0 or y < 0 or c >= self.columns or not 0 <= slot < len(self.slots):
            return -1, -1
        if y - r * (gh + 1) >= gh or x - c * (gw + 1) >= gw:  # in a gap
            return -1, -1
        return tuple(int(v) for v in divmod(int(self.slots[slot]), self.heads))

    def on_click(self, x: float, y: float) -> None:
        layer, head = self.head_at(x, y)
        if layer >= 0:
            self.headClicked.emit(layer, head)

    def on_hover(self, x: float, y: float) -> None:
        found = self.head_at(x, y)
        if found != self._hovered:
            self._hovered = found
            self.headHovered.emit(*found)


class HeadsPage(Page):
    title = "10 · All heads at a glance"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        self.scale_choice = "shared"
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        controls = ControlRow()
        self.query = QueryBox(state, probe=False)
        self.order = QComboBox()
        self.order.addItems([ORDER_LABELS[o] for o in ho.ORDERS])
        self.order.currentIndexChanged.connect(lambda i: setattr(state, "heads_order", ho.ORDERS[i]))
        self.scale = QComboBox()
        self.scale.addItems([SCALE_LABELS[s] for s in SCALES])
        self.scale.currentIndexChanged.connect(self._scale_chosen)
        for widget in (self.query, self.order, self.scale):
            controls.addWidget(widget)
        controls.addWidget(export_button(self, "vit_all_heads", state.export_overview))
        layout.addLayout(controls)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel(" ")
        self.caption.setStyleSheet("font-weight: 600;")
        self.caption.setWordWrap(True)
        self.grid = HeadsGridView()
        self.grid.headClicked.connect(state.open_head)
        self.grid.headHovered.connect(self._hovered)
        self.readout = QLabel("Point at a head to read it; click it to open it in step 6.")
        self.readout.setProperty("role", "muted")
        self.readout.setWordWrap(True)
        for widget, stretch in ((self.caption, 0), (self.grid, 1), (self.readout, 0)):
            left_layout.addWidget(widget, stretch)
        self.distances = Heatmap("Jensen–Shannon distance between heads (order shown)", kind="sequential",
                                 annotate=False, colorbar=True)
        self.distances.title_label.setWordWrap(True)
        split.addWidget(left)
        split.addWidget(self.distances)
        split.setSizes([700, 300])
        layout.addWidget(split, 1)
        for name in ("overview", "heads_order"):
            getattr(state.events, name).connect(self.redraw)

    def _scale_chosen(self, index: int) -> None:
        self.scale_choice = SCALES[index]
        self.redraw()

    @property
    def shown(self) -> np.ndarray | None:
        """(depth, heads, gh, gw): the maps drawn now."""
        return None if self.state.overview is None else self.state.overview.maps

    def _slots(self, overview: ho.HeadsOverview) -> np.ndarray:
        depth, heads = overview.shape
        if self.state.heads_order == "layers":  # layers across, heads down
            return np.arange(depth * heads).reshape(depth, heads).T.reshape(-1)
        return overview.ordered("similar")

    def _hovered(self, layer: int, head: int) -> None:
        overview = self.state.overview
        if overview is None or layer < 0:
            self.readout.setText("Point at a head to read it; click it to open it in step 6.")
            return
        values = overview.maps[layer, head]
        self.readout.setText(f"layer {layer + 1}, head {head + 1}: weights {values.min():.3g} … {values.max():.3g} "
                             f"on the patches, {overview.special[layer, head]:.1%} on the special tokens — click to open")

    def show(self, result: ViTResult, selected: int) -> None:
        state, overview = self.state, self.state.overview
        self.query.sync()
        fill(self.order, [ORDER_LABELS[o] for o in ho.ORDERS], ho.ORDERS.index(state.heads_order))
        if overview is None:
            self.caption.setText("Every head's map: being made…" if state.step == 10 else " ")
            return
        depth, heads = overview.shape
        slots = self._slots(overview)
        flat = overview.maps.reshape(depth * heads, *overview.maps.shape[2:])
        per_head = self.scale_choice == "per head"
        tiled = ho.tile_maps(flat, slots, depth, per_head)
        high = 1.0 if per_head else float(flat.max()) or 1.0
        self.grid.set_tiles(tiled, slots, flat.shape[1:], depth, heads, (0.0, high), state.heads_order == "similar")
        labels = [f"{i // heads + 1}·{i % heads + 1}" for i in slots]
        self.distances.set_data(overview.distances[np.ix_(slots, slots)], row_labels=labels, col_labels=labels,
                                levels=(0.0, 1.0))
        name = state.layout.name_of(overview.query)
        order = ("layers across (1 … {0}), heads down (1 … {1})".format(depth, heads) if state.heads_order == "layers"
                 else "similar heads together; each tile says layer·head")
        scale = "each head to its own maximum (strength hidden)" if per_head else f"one scale, 0 … {high:.3g}"
        self.caption.setText(f"Attention from {name} in all {depth * heads} heads: {order}; {scale}")
        self.note.setText(
            "<b>Step 10.</b> One query's attention in every layer and head, small. Look for families: heads that "
            "attend locally (a bright spot at the query), to rows or columns, to the whole object, or to one "
            "background patch. <i>Similar heads together</i> orders them by the Jensen–Shannon distance between "
            "their maps over the image (clustered), as AttentionViz groups heads; the matrix on the right shows "
            "the distances in that order (dark = alike). Similar maps for one query need not mean similar heads "
            "for other queries — try a few patches."
        )
