"""Steps 1 and 2 of the ViT walk: the image cut into patches, and the patches read as a sequence."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QLabel, QSplitter, QVBoxLayout, QWidget

from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.preprocessing_box import PreprocessingBox
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.panels.vit.views import PatchImageView, PatchStripView, SourceView


class GridPage(Page):
    title = "1 · Cut into patches"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.view = PatchImageView()
        self.view.patchClicked.connect(state.select_patch)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Your image; the outline is what the model sees")
        caption.setProperty("role", "muted")
        caption.setWordWrap(True)
        self.source = SourceView()
        self.grid_box = QCheckBox("Show the patch grid")
        self._show_grid(state.show_grid)
        self.grid_box.toggled.connect(lambda checked: setattr(state, "show_grid", checked))
        state.events.show_grid.connect(self._show_grid)
        self.preprocessing = PreprocessingBox(state)
        side_layout.addWidget(caption)
        side_layout.addWidget(self.source, 1)
        side_layout.addWidget(self.grid_box)
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([640, 300])
        layout.addWidget(splitter, 1)
        layout.addWidget(self.preprocessing)

    def _show_grid(self, visible: bool) -> None:
        self.grid_box.blockSignals(True)
        self.grid_box.setChecked(visible)
        self.grid_box.blockSignals(False)
        self.view.show_grid(visible)

    def show(self, result: ViTResult, selected: int) -> None:
        t, cfg = result.trace, result.model.config
        gh, gw = t.grid
        p = t.patch_size
        self.view.set_image(result.seen, t.grid, p)
        self.view.set_selected(selected)
        self.source.set_image(result.source, result.plan.source_box)
        assumed = " (assumed: the files store none)" if not cfg.preprocessing_from else ""
        self.note.setText(
            f"<b>Step 1.</b> {result.plan.describe()} px ({cfg.resample}), normalised with mean "
            f"{_triple(cfg.mean)} and std {_triple(cfg.std)}{assumed}. A {gh}×{gw} grid of {p}×{p}-pixel patches: "
            f"<b>{gh * gw} patches</b>, each {p}·{p}·{cfg.channels} = {p * p * cfg.channels} numbers. "
            "Click a patch to follow it through the steps."
        )


def _triple(values) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"


class SequencePage(Page):
    title = "2 · Patches as a sequence"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        self.strip = PatchStripView()
        self.strip.patchClicked.connect(state.select_patch)
        self.strip.setMinimumHeight(90)
        self.strip.setMaximumHeight(150)
        hint = QLabel("Drag the strip to scroll, wheel to zoom; click a patch to select it.")
        hint.setProperty("role", "muted")
        self.where = PatchImageView()
        self.where.patchClicked.connect(state.select_patch)
        layout.addWidget(self.strip, 2)
        layout.addWidget(hint)
        layout.addWidget(self.where, 3)
        self._shown: int | None = None

    def show(self, result: ViTResult, selected: int) -> None:
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
            + (f" Step 5 puts {t.layout.leading} learned token{'s' if t.layout.leading > 1 else ''} "
               f"({', '.join(t.layout.special)}) in front." if t.layout.leading else "")
        )
