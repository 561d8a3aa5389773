"""Step 11: the logit lens — every layer's tokens read with the model's own final norm and head.

Left, the chosen class's probability for each patch read alone at one layer
(a slider walks the layers). Right, the model's read-out of every layer: the
chosen class's and the final top class's probability, and the layer where the
prediction settles. The numbers are the state's ``lens``
(:mod:`explorer.engine.vit.logit_lens`).
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QLabel, QSlider, QSplitter, QVBoxLayout, QWidget

from explorer.engine.vit import logit_lens as ll
from explorer.ui import theme
from explorer.ui.panels.vit.explain_views import ClassBox, MapCard, export_button
from explorer.ui.panels.vit.explain_maps import ExplainMap
from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.widgets.control_row import ControlRow
from explorer.ui.widgets.plots import still_plot

SCALES = ("all layers", "this layer")


def _short(name: str, room: int = 26) -> str:
    return name if len(name) <= room else name[: room - 1] + "…"


class LensPage(Page):
    title = "11 · Logit lens"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        controls = ControlRow()
        self.classes = ClassBox(state)
        self.layer = QSlider(Qt.Orientation.Horizontal)
        self.layer.setMinimumWidth(90)
        self.layer.valueChanged.connect(lambda _v: self.redraw())
        self.layer_label = QLabel()
        self.scale = QComboBox()
        self.scale.addItems([f"scale: {s}" for s in SCALES])
        self.scale.setToolTip("Colours from 0 to the largest value over all layers, or over this layer")
        self.scale.currentIndexChanged.connect(lambda _i: self.redraw())
        for widget in (QLabel("class"), self.classes, QLabel("layer"), self.layer, self.layer_label, self.scale):
            controls.addWidget(widget)
        controls.addWidget(export_button(self, "vit_logit_lens", state.export_lens))
        layout.addLayout(controls)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.card = MapCard(state.select_patch)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.plot = still_plot()
        self.plot.setLabel("bottom", "layer (0 = the encoder's input)")
        self.plot.setLabel("left", "probability")
        self.plot.addLegend(offset=(10, 5), brush=pg.mkBrush(128, 128, 128, 70))
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.settle_line = pg.InfiniteLine(angle=90, movable=False)
        self.summary = QLabel(" ")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        right_layout.addWidget(self.plot, 1)
        right_layout.addWidget(self.summary)
        split.addWidget(self.card)
        split.addWidget(right)
        split.setSizes([480, 500])
        layout.addWidget(split, 1)
        for name in ("lens", "explain_class"):
            getattr(state.events, name).connect(self.redraw)

    @property
    def values(self) -> np.ndarray | None:
        """The (gh, gw) map drawn now."""
        return self.card.values

    def _plot_clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.layer.setValue(int(round(point.x())))

    def show(self, result: ViTResult, selected: int) -> None:
        state, lens = self.state, self.state.lens
        depth = result.trace.layout.depth
        self.layer.blockSignals(True)
        if self.layer.maximum() != depth:
            self.layer.setRange(0, depth)
            self.layer.setValue(depth)
        self.layer.blockSignals(False)
        self.classes.sync()
        layer = self.layer.value()
        self.layer_label.setText(f"{layer} of {depth}" + (" (input)" if layer == 0 else ""))
        if not state.has_classifier:
            self.card.set_map(result, None, (0.0, 1.0), ll.NO_CLASSIFIER)
            self._clear_plot()
            self.summary.setText(html.escape(ll.NO_CLASSIFIER))
            self._write_note()
            return
        target = state.explain_target
        if lens is None or target not in lens.classes:
            self.card.set_map(result, None, (0.0, 1.0), "Logit lens: reading every layer…")
            self._write_note()
            return
        t = result.trace
        values = lens.class_map(layer, target, t.leading, t.grid)
        all_layers = np.stack([lens.class_map(i, target, t.leading, t.grid) for i in range(depth + 1)])
        high = float(all_layers.max() if self.scale.currentIndex() == 0 else values.max()) or 1.0
        name = state.class_name(target)
        after = "the encoder's input" if layer == 0 else f"block {layer}"
        made = ExplainMap(values, f"p(“{name}”) of each patch read alone, after {after}",
                          "Each patch token through the final norm and the head, as if it were the one read out.")
        self.card.set_map(result, made, (0.0, high), cmap="inferno")
        self.card.view.set_selected(selected)
        self._draw_plot(lens, target, layer, name)
        final = int(lens.top1[-1])
        self.summary.setText(
            f"The read-out's top class settles at <b>layer {lens.settled}</b>: from there on it is "
            f"“{html.escape(state.class_name(final))}”. Top class of the read-out, layer by layer: "
            + " → ".join(self._runs(lens)))
        self._write_note()

    def _runs(self, lens: ll.LogitLens) -> list[str]:
        """'0–2: tabby (3–41 %)' for each run of layers with the same top class."""
        runs, start = [], 0
        top1 = [int(c) for c in lens.top1]
        for i in range(1, len(top1) + 1):
            if i == len(top1) or top1[i] != top1[start]:
                p = lens.readout[start:i, top1[start]]
                layers = f"{start}" if i - start == 1 else f"{start}–{i - 1}"
                probs = f"{p.min():.1%}" if i - start == 1 else f"{p.min():.1%}–{p.max():.1%}"
                runs.append(f"{layers}: {html.escape(self.state.class_name(top1[start]))} ({probs})")
                start = i
        return runs

    def _clear_plot(self) -> None:
        plot = self.plot.getPlotItem()
        for item in list(plot.listDataItems()):
            plot.removeItem(item)
        plot.legend.clear()

    def _draw_plot(self, lens: ll.LogitLens, target: int, layer: int, name: str) -> None:
        self._clear_plot()
        plot = self.plot.getPlotItem()
        x = np.arange(len(lens.top1))
        colours = theme.colors()
        final = int(lens.top1[-1])
        t = self.state.result.trace
        mean_patch = lens.token_probs[:, t.leading:, lens.classes.index(target)].mean(axis=1)
        plot.plot(x, lens.readout[:, target], pen=pg.mkPen(colours.accent, width=2.5), symbol="o", symbolSize=6,
                  symbolBrush=colours.accent, name=f"read-out: p(“{_short(name)}”)")
        if final != target:
            plot.plot(x, lens.readout[:, final], pen=pg.mkPen("#e4572e", width=2),
                      name=f"read-out: p(“{_short(self.state.class_name(final))}”), the final top class")
        plot.plot(x, mean_patch, pen=pg.mkPen(colours.plot_fg, width=1.5, style=Qt.PenStyle.DashLine),
                  name="patches read alone (mean)")
        for line, pos, colour, style in ((self.cursor, layer, colours.highlight, Qt.PenStyle.SolidLine),
                                         (self.settle_line, lens.settled, colours.muted, Qt.PenStyle.DotLine)):
            line.setPos(pos)
            line.setPen(pg.mkPen(colour, width=1.5, style=style))
            if line not in plot.items:
                plot.addItem(line)
        shown = [lens.readout[:, target], lens.readout[:, final], mean_patch]
        # headroom above the curves for the legend in the top-left corner
        self.plot.setYRange(0, max(1e-3, max(float(v.max()) for v in shown)) * 1.3, padding=0)
        plot.getAxis("bottom").setTicks([[(int(i), str(int(i))) for i in x]])
        self.plot.setXRange(-0.3, len(x) - 0.7, padding=0)
        self.plot.setTitle(f"Prediction settles at layer {lens.settled} (dotted line)")

    def _write_note(self) -> None:
        self.note.setText(
            "<b>Step 11.</b> The logit lens reads every layer as if it were the last: the final norm, the pooling "
            "and the classifier head applied to that layer's tokens. The curve is the model's own read-out of "
            "each layer (at the last layer, its prediction); the map is each patch read alone. It shows when the "
            "answer becomes readable, not what a layer computes: early layers were never trained to be read by "
            "this head, so a low probability there can mean “not in this basis yet” rather than “not known”."
            + ("" if self.state.has_classifier else " <b>This model has no classifier head: nothing to read.</b>")
        )
