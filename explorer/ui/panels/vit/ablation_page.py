"""Step 9: switch heads off, see the prediction change, and measure every head's importance.

Left, a layers × heads grid of switches: a click switches a head off (its
output zeroed before the projection) or on again, and the model runs again, so
every step's maps are then of the switched model. Right, the head-importance
map: what the chosen class's logit loses when each head alone is switched off
too (a worker, with progress and cancel). Below, the prediction with every head
on beside the prediction now.
"""

from __future__ import annotations

import html

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from explorer.ui.panels.vit.explain_views import ClassBox, export_button, fill
from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.widgets.control_row import ControlRow
from explorer.ui.widgets.heatmap import Heatmap


class AblationPage(Page):
    title = "9 · Head ablation"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        controls = ControlRow()
        self.classes = ClassBox(state)
        self.compute = QPushButton("Compute importance")
        self.compute.setToolTip("Switch each head off on its own and measure the drop (runs in the background)")
        self.compute.clicked.connect(state.compute_importance)
        self.all_on = QPushButton("All heads on")
        self.all_on.clicked.connect(lambda: state.set_heads_off(()))
        self.layer = QComboBox()
        self.layer_off = QPushButton("off")
        self.layer_off.setMaximumWidth(50)
        self.layer_off.clicked.connect(lambda: state.set_layer_heads(self.layer.currentIndex(), False))
        self.layer_on = QPushButton("on")
        self.layer_on.setMaximumWidth(50)
        self.layer_on.clicked.connect(lambda: state.set_layer_heads(self.layer.currentIndex(), True))
        for widget in (QLabel("class"), self.classes, self.compute):
            controls.addWidget(widget)
        controls.addWidget(export_button(self, "vit_head_importance", state.export_importance))
        layout.addLayout(controls)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.switches = Heatmap("Switches: click a head to turn it off or on", kind="sequential", annotate=False)
        self.switches.title_label.setWordWrap(True)
        self.switches.clicked.connect(state.toggle_head)
        row = QHBoxLayout()
        for widget in (self.all_on, QLabel("whole"), self.layer, self.layer_off, self.layer_on):
            row.addWidget(widget)
        row.addStretch(1)
        left_layout.addWidget(self.switches, 1)
        left_layout.addLayout(row)
        self.importance = Heatmap("Head importance", kind="diverging", fmt="{:.2f}", colorbar=True)
        self.importance.title_label.setWordWrap(True)
        split.addWidget(left)
        split.addWidget(self.importance)
        split.setSizes([420, 560])
        layout.addWidget(split, 1)
        self.prediction = QLabel(" ")
        self.prediction.setTextFormat(Qt.TextFormat.RichText)
        self.prediction.setWordWrap(True)
        layout.addWidget(self.prediction)
        for name in ("importance", "intact_logits", "explain_class"):
            getattr(state.events, name).connect(self.redraw)

    @property
    def on(self) -> np.ndarray | None:
        """(depth, heads): 1 for a head that ran, 0 for one switched off."""
        return self.switches.values

    def show(self, result: ViTResult, selected: int) -> None:
        state, layout = self.state, result.trace.layout
        self.classes.sync()
        fill(self.layer, [f"layer {i + 1}" for i in range(layout.depth)], min(self.layer.currentIndex(), layout.depth - 1)
             if self.layer.currentIndex() >= 0 else 0)
        mask = result.trace.head_mask
        on = np.ones((layout.depth, layout.heads)) if mask is None else mask.numpy().astype(np.float64)
        rows = [f"L{i + 1}" for i in range(layout.depth)]
        cols = [f"H{h + 1}" for h in range(layout.heads)]
        self.switches.set_data(on, row_labels=rows, col_labels=cols, levels=(-0.15, 1.15))  # off dark, on bright
        off = state.switched_off
        self.switches.set_title(f"Switches: click a head to turn it off or on ({len(off)} of "
                                f"{layout.depth * layout.heads} off)")
        self._draw_importance(rows, cols)
        self._draw_prediction(result)
        target = state.explain_target
        measure = (f"the drop in the logit of “{html.escape(state.class_name(target))}”" if target is not None else
                   "1 − cos(pooled output, pooled output with the head off) — this model has no classifier, so "
                   "the measure is how far its output turns")
        self.note.setText(
            "<b>Step 9.</b> Switching a head off zeroes its output before the layer's output projection (zero "
            "ablation); the model runs again and every step shows the switched model. <i>Head importance</i> is "
            f"{measure}, when each head alone is switched off as well, from the model as switched now. A head "
            "can matter without drawing a striking map, and one that looks striking can be dispensable: "
            "other heads and the residual path take over, so single-head drops underestimate what heads do together."
        )

    def _draw_importance(self, rows: list[str], cols: list[str]) -> None:
        result = self.state.importance
        if result is None:
            self.importance.set_data(np.full((len(rows), len(cols)), np.nan), row_labels=rows, col_labels=cols,
                                     levels=(-1.0, 1.0))
            self.importance.set_title("Head importance: press “Compute importance” (a forward per head, "
                                      "in the background)")
            return
        self.importance.set_data(result.drop, row_labels=rows, col_labels=cols)
        what = "logit drop" if result.measure == "logit" else "1 − cos of the pooled output"
        low, high = float(result.drop.min()), float(result.drop.max())
        layer, head = np.unravel_index(int(np.argmax(result.drop)), result.drop.shape)
        self.importance.set_title(f"Head importance ({what}; baseline {result.baseline:.3g}): range {low:.3g} … "
                                  f"{high:.3g}, largest L{layer + 1} H{head + 1}")

    def _draw_prediction(self, result: ViTResult) -> None:
        state = self.state
        if not state.has_classifier:
            self.prediction.setText("No classifier head: no prediction to compare.")
            return
        now = result.trace.probabilities[0]
        intact = state.intact_logits
        before = intact.softmax(-1)[0] if intact is not None else None
        target = state.explain_target
        cells = []
        for name, _p, index in state.class_choices():
            was = f"{float(before[index]):.1%} → " if before is not None and state.switched_off else ""
            mark = "<b>" if index == target else ""
            cells.append(f"{mark}{html.escape(name)}: {was}{float(now[index]):.1%}{'</b>' if mark else ''}")
        logit = float(result.trace.logits[0, target])
        if state.switched_off and intact is not None:
            head = (f"With {len(state.switched_off)} heads off, the logit of the chosen class went from "
                    f"{float(intact[0, target]):.4g} to {logit:.4g}. ")
        elif state.switched_off:
            head = "Computing the prediction with every head on… "
        else:
            head = f"Every head on; the chosen class's logit is {logit:.4g}. "
        self.prediction.setText(head + " · ".join(cells))
