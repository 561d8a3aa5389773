"""“Why scale?”: what happens to the scores and the softmax as d_k grows, with and without ÷√d_k.

The statistics for every slider position are measured once (about half a
second, in a worker: :meth:`WhyScaleState.ensure_measured`); moving the
slider then only looks them up, and draws one random query's weights at that
d_k with and without scaling. This view draws a :class:`WhyScaleState`.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.attention.why_scale import WhyScaleStats
from explorer.ui import theme
from explorer.ui.panels.attention.notation import rich
from explorer.ui.panels.attention.state import N_KEYS, SLIDER_STEPS, WhyScaleState
from explorer.ui.panels.attention.text import num
from explorer.ui.panels.attention.views import follow
from explorer.ui.widgets.plots import still_plot

RAW_COLOUR = "#d6604d"  # without scaling
SCALED_COLOUR = "#2f6fde"  # with ÷√d_k


def _plot(title: str, *, log_x: bool = True, legend: tuple[int, int] | None = (-5, 5)) -> pg.PlotWidget:
    widget = still_plot()
    widget.setTitle(title)
    widget.showGrid(x=True, y=True, alpha=0.2)
    widget.setLogMode(x=log_x, y=False)
    if legend is not None:
        widget.addLegend(offset=legend)
    widget.setMinimumHeight(160)
    return widget


class WhyScaleView(QWidget):
    """Slider over d_k, two curves (spread, entropy) and one example row of weights."""

    def __init__(self, state: WhyScaleState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        intro = QLabel(
            "Random q and k with unit-variance entries: q·k is a sum of d<sub>k</sub> products, so its spread grows "
            "like √d<sub>k</sub>. Without scaling, large d<sub>k</sub> makes the softmax nearly one-hot (low entropy, "
            "tiny gradients); dividing by √d<sub>k</sub> keeps the spread near 1 at every size."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "note")
        layout.addWidget(intro)

        row = QHBoxLayout()
        row.addWidget(QLabel("d<sub>k</sub>"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)  # even steps in log d_k, as the plots' x axes
        self.slider.setValue(state.position)
        self.slider.valueChanged.connect(state.set_position)
        row.addWidget(self.slider, 1)
        self.d_label = QLabel()
        self.d_label.setMinimumWidth(90)
        self.d_label.setStyleSheet("font-weight: 600;")
        row.addWidget(self.d_label)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("measuring… %p%")
        self.progress.setVisible(state.measuring)
        row.addWidget(self.progress)
        layout.addLayout(row)

        self.summary = QLabel(" ")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.summary)

        plots = QHBoxLayout()
        self.spread_plot = _plot("Spread of the scores (std)")
        self.spread_plot.setLabel("bottom", rich("d_k"))
        self.entropy_plot = _plot(f"Mean softmax entropy over {N_KEYS} keys (nats)", legend=(5, -30))
        self.entropy_plot.setLabel("bottom", rich("d_k"))
        self.example_plot = _plot("One query's weights", log_x=False, legend=None)
        self.example_plot.setLabel("bottom", rich("key (red: without scaling, blue: with ÷√d_k)"))
        self.example_plot.setYRange(0, 1, padding=0.02)
        self.example_plot.setXRange(0.4, N_KEYS + 0.6, padding=0)
        for widget in (self.spread_plot, self.entropy_plot, self.example_plot):
            plots.addWidget(widget, 1)
        layout.addLayout(plots, 1)

        raw_pen = pg.mkPen(RAW_COLOUR, width=2)
        scaled_pen = pg.mkPen(SCALED_COLOUR, width=2)
        self.spread_raw = self.spread_plot.plot(pen=raw_pen, name="q·k")
        self.spread_scaled = self.spread_plot.plot(pen=scaled_pen, name=rich("q·k / √d_k"))
        self.entropy_raw = self.entropy_plot.plot(pen=raw_pen, name="without scaling")
        self.entropy_scaled = self.entropy_plot.plot(pen=scaled_pen, name=rich("with ÷√d_k"))
        self.entropy_max = pg.InfiniteLine(
            pos=math.log(N_KEYS), angle=0, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine),
            label=f"uniform: ln {N_KEYS}", labelOpts={"position": 0.5, "anchors": [(0.5, 1), (0.5, 1)]},
        )
        self.entropy_plot.addItem(self.entropy_max)
        self.markers = []
        for plot in (self.spread_plot, self.entropy_plot):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen(theme.colors().highlight, width=2))
            plot.addItem(line)
            self.markers.append(line)
        x = np.arange(1, N_KEYS + 1)
        self.bars_raw = pg.BarGraphItem(x=x - 0.2, height=np.zeros(N_KEYS), width=0.4, brush=RAW_COLOUR, pen=None)
        self.bars_scaled = pg.BarGraphItem(x=x + 0.2, height=np.zeros(N_KEYS), width=0.4, brush=SCALED_COLOUR, pen=None)
        self.example_plot.addItem(self.bars_raw)
        self.example_plot.addItem(self.bars_scaled)
        self.apply_theme()
        self.progress.setValue(int(100 * state.progress))
        follow(self, state.events.d_k, self._on_d_k)
        follow(self, state.events.stats, self._on_stats)
        follow(self, state.events.measuring, lambda on: self.progress.setVisible(on))
        follow(self, state.events.progress, lambda fraction: self.progress.setValue(int(100 * fraction)))
        self._on_stats(state.stats)

    # -- drawn from the state --------------------------------------------------------------
    def _on_stats(self, stats: WhyScaleStats | None) -> None:
        if stats is not None:
            self.spread_raw.setData(stats.d_k, stats.std_raw)
            self.spread_scaled.setData(stats.d_k, stats.std_scaled)
            self.entropy_raw.setData(stats.d_k, stats.entropy_raw)
            self.entropy_scaled.setData(stats.d_k, stats.entropy_scaled)
        self._on_d_k(self.state.d_k)

    def _on_d_k(self, d: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self.state.position)
        self.slider.blockSignals(False)
        self.d_label.setText(rich(f"d_k = {d}"))
        for line in self.markers:
            line.setPos(math.log10(d))
        raw, scaled = self.state.example
        x = np.arange(1, N_KEYS + 1)
        self.bars_raw.setOpts(x=x - 0.2, height=raw)
        self.bars_scaled.setOpts(x=x + 0.2, height=scaled)
        self.example_plot.setTitle(rich(f"One random query's weights, d_k = {d}"))
        s, i = self.state.stats, self.state.stats_index
        if s is None:
            self.summary.setText(f"d<sub>k</sub> = {d}: this query's largest weight is {num(100 * raw.max(), 1)}% "
                                 f"without scaling, {num(100 * scaled.max(), 1)}% with ÷√{d}. Measuring the curves…")
            return
        self.summary.setText(
            f"At d<sub>k</sub> = {d} (averaged over {s.samples} queries × {s.n_keys} keys): "
            f"<span style='color:{RAW_COLOUR}'><b>without scaling</b> the scores spread with std {num(s.std_raw[i], 2)}, "
            f"the top key takes {num(100 * s.max_weight_raw[i], 1)}% of the weight, entropy {num(s.entropy_raw[i], 2)} nats</span>; "
            f"<span style='color:{SCALED_COLOUR}'><b>with ÷√{d}</b> std {num(s.std_scaled[i], 2)}, top key "
            f"{num(100 * s.max_weight_scaled[i], 1)}%, entropy {num(s.entropy_scaled[i], 2)}</span> "
            f"(uniform would be ln {s.n_keys} = {num(s.max_entropy, 2)})."
        )

    def apply_theme(self) -> None:
        c = theme.colors()
        for plot in (self.spread_plot, self.entropy_plot, self.example_plot):
            theme.style_plot(plot)
            plot.getPlotItem().titleLabel.setText(plot.getPlotItem().titleLabel.text, color=c.plot_fg)
        for line in self.markers:
            line.setPen(pg.mkPen(c.highlight, width=2))
