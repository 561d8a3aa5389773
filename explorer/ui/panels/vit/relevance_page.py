"""Step 8: raw attention, rollout and gradient-weighted relevance of the same query, side by side.

Three maps over the same image with one colour map; the scale is chosen
explicitly (one for all, or each map its own) and each map's raw range is
written under it, so a faint map is never stretched into looking strong
without saying so. The maps are the state's ``comparison``; this page draws them.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout

from explorer.engine.vit import relevance as rl
from explorer.ui.panels.vit.explain_maps import MAP_SCALES, METHOD_NAMES, levels
from explorer.ui.panels.vit.explain_views import ClassBox, MapCard, QueryBox, export_button, fill
from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.widgets.control_row import ControlRow

SCALE_LABELS = {"shared": "one colour scale", "per map": "each map its own scale"}


class RelevancePage(Page):
    title = "8 · Relevance vs attention"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        first = ControlRow()
        self.classes = ClassBox(state)
        self.method = QComboBox()
        self.method.addItems([METHOD_NAMES[m] for m in rl.METHODS])
        self.method.currentIndexChanged.connect(lambda i: setattr(state, "relevance_method", rl.METHODS[i]))
        self.scale = QComboBox()
        self.scale.addItems([SCALE_LABELS[s] for s in MAP_SCALES])
        self.scale.currentIndexChanged.connect(lambda i: setattr(state, "map_scale", MAP_SCALES[i]))
        first.addWidget(QLabel("explain"))
        first.addWidget(self.classes)
        first.addWidget(self.method)
        first.addWidget(self.scale)
        first.addWidget(export_button(self, "vit_relevance", state.export_comparison))
        layout.addLayout(first)
        second = ControlRow()
        self.query = QueryBox(state)
        self.layer = QComboBox()
        self.layer.currentIndexChanged.connect(state.set_layer)
        self.head = QComboBox()
        self.head.currentIndexChanged.connect(lambda i: state.set_head(i - 1 if i > 0 else None))
        second.addWidget(self.query)
        second.addWidget(QLabel("raw attention of"))
        second.addWidget(self.layer)
        second.addWidget(self.head)
        layout.addLayout(second)
        maps = QHBoxLayout()
        self.cards = [MapCard(state.attend_from_patch) for _ in range(3)]
        for card in self.cards:
            card.view.patchHovered.connect(self._hovered)
            maps.addWidget(card, 1)
        layout.addLayout(maps, 1)
        self.readout = QLabel(" ")
        self.readout.setProperty("role", "muted")
        layout.addWidget(self.readout)
        for name in ("comparison", "map_scale", "relevance_method"):
            getattr(state.events, name).connect(self.redraw)

    @property
    def maps(self) -> list:
        """The (gh, gw) arrays drawn now (None where a map is not made yet)."""
        return [card.values for card in self.cards]

    def _hovered(self, index: int) -> None:
        made = self.state.comparison
        if made is None or index < 0:
            self.readout.setText(" ")
            return
        gw = self.state.result.trace.grid[1]
        r, c = divmod(index, gw)
        parts = [f"{m.title.split(' · ')[0].lower()} {float(m.values.reshape(-1)[index]):.4g}" for m in made if m is not None]
        self.readout.setText(f"patch {index} (row {r}, col {c}): " + " · ".join(parts))

    def show(self, result: ViTResult, selected: int) -> None:
        state, layout = self.state, self.state.layout
        sel = state.selection
        fill(self.layer, [f"layer {i + 1}" for i in range(layout.depth)], sel.layer)
        fill(self.head, ["mean of heads"] + [f"head {h + 1}" for h in range(layout.heads)],
             0 if sel.head is None else sel.head + 1)
        fill(self.method, [METHOD_NAMES[m] for m in rl.METHODS], rl.METHODS.index(state.relevance_method))
        fill(self.scale, [SCALE_LABELS[s] for s in MAP_SCALES], MAP_SCALES.index(state.map_scale))
        self.classes.sync()
        self.query.sync()
        made = list(state.comparison) if state.comparison is not None else [None, None, None]
        scales = levels(made, state.map_scale)
        waiting = ["", "Rollout: being made…",
                   rl.NO_CLASSIFIER if not state.has_classifier else "Relevance: one forward and one backward pass…"]
        for card, m, lv, wait in zip(self.cards, made, scales, waiting):
            card.set_map(result, m, lv, wait)
            card.view.set_selected(selected if state.selection.query is None else None)
        self.note.setText(
            "<b>Step 8.</b> The same query three ways. <i>Raw attention</i> is one layer's weights: where the query "
            "looked. <i>Rollout</i> multiplies every layer's attention (plus the residual path): where information "
            "could have come from, the same for every class. <i>Relevance</i> (Chefer, Gur &amp; Wolf 2021) weighs "
            "each head's attention by the gradient of the chosen class's logit and keeps the positive part: what "
            "the <i>answer</i> depends on. Where they disagree, attention was spent on patches the class does not "
            "use. Special tokens ([DIST], registers) are left out of the maps and given in numbers."
            + (" <b>This model has no classifier head, so relevance cannot be made.</b>" if not state.has_classifier else "")
        )
