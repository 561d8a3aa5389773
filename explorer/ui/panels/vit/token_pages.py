"""Steps 3 to 5 of the ViT walk: each patch becomes a token — linear embedding, position, class token."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from explorer.engine.vit.resample import RULES
from explorer.ui.panels.vit.page import Page, note
from explorer.ui.panels.vit.result import ViTResult
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.panels.vit.views import (
    GridOfGridsView,
    PatchImageView,
    PatchStripView,
    TileGridView,
)
from explorer.ui.widgets.heatmap import Heatmap


class EmbeddingPage(Page):
    title = "3 · Linear embedding"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
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

    def show(self, result: ViTResult, selected: int) -> None:
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


class PositionPage(Page):
    title = "4 · Position embeddings"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
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
        self.grids.patchClicked.connect(state.select_patch)
        right_layout.addWidget(caption)
        right_layout.addWidget(self.grids, 1)
        row.addWidget(self.map)
        row.addWidget(right)
        row.setSizes([480, 480])
        layout.addWidget(row, 1)
        self._grid = (1, 1)
        self._shown: int | None = None

    def _cell_clicked(self, row: int, col: int) -> None:
        self.state.select_patch(row * self._grid[1] + col)

    def show(self, result: ViTResult, selected: int) -> None:
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
        rule = RULES[result.model.config.pos_interpolation].whose
        resampled = "" if t.grid == (trained, trained) else (
            f" The model learned a {trained}×{trained} table; it is resampled {rule} to this {gh}×{gw} grid."
        )
        rho = "" if not np.isfinite(result.locality) else (
            f" Spearman ρ between similarity and grid distance: <b>{result.locality:+.2f}</b> "
            "(−1: similarity falls steadily with distance; 0: no 2-D order)."
        )
        self.note.setText(
            "<b>Step 4.</b> A learned vector per position is added to each token, so the model knows where "
            f"each patch sat; near positions learn similar vectors.{rho}{resampled}"
        )


#: What each pooling reads, in a sentence (step 5).
READS = {
    "cls": "the final [CLS]",
    "avg": "the mean of the final patch tokens",
    "map": "an attention-pooling head: a learned probe query attends over all final tokens (step 6 shows where)",
    "cls_avg": "the final [CLS] beside the mean of the final patch tokens",
}


def short_name(token: str) -> str:
    """'[CLS]' → 'CLS', '[REG3]' → 'R3': the label of a tile in the strip."""
    inner = token.strip("[]")
    return "R" + inner[3:] if inner.startswith("REG") else inner


def special_sentence(result: ViTResult) -> str:
    """Step 5's account of the tokens in front of the patches."""
    cfg, layout = result.model.config, result.trace.layout
    if not layout.leading:
        return (f"{cfg.family} puts <b>no token</b> in front of the patches: the sequence is the "
                f"<b>{layout.patches} patch tokens</b> alone.")
    kinds = "; ".join(f"<b>{name}</b> (position {i}): {layout.kind_of(i)}" for i, name in enumerate(layout.special)
                      if not name.startswith("[REG") or name == "[REG1]")
    if cfg.registers > 1:
        kinds += f" — {cfg.registers} registers in all, positions {layout.leading - cfg.registers}–{layout.leading - 1}"
    with_pos = ", ".join(layout.special[: cfg.pos_prefix]) or "none of them"
    return (f"{layout.leading} learned token{'s' if layout.leading > 1 else ''} go in front: {kinds}. "
            f"The sequence is now <b>{layout.total} tokens</b> of {cfg.dim} numbers, patch i at position "
            f"{layout.leading} + i. Position embeddings are added to {with_pos} and to every patch.")


class ClassTokenPage(Page):
    title = "5 · Class and special tokens"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        self.strip = PatchStripView(leading=("CLS",), follow=False)
        self.strip.patchClicked.connect(state.select_patch)
        self.strip.setMinimumHeight(90)
        self.strip.setMaximumHeight(150)
        self.tokens = Heatmap("Encoder input z₀ = [special tokens; patch embeddings] + position embeddings",
                              kind="diverging", annotate=False, colorbar=True)
        self.tokens.clicked.connect(self._row_clicked)
        layout.addWidget(self.strip, 2)
        layout.addWidget(self.tokens, 5)
        self._shown: int | None = None
        self._leading = 1

    def _row_clicked(self, row: int, _col: int) -> None:
        if row >= self._leading:
            self.state.select_patch(row - self._leading)

    def show(self, result: ViTResult, selected: int) -> None:
        t, cfg = result.trace, result.model.config
        layout = t.layout
        self._leading = layout.leading
        if self._shown != id(result):
            self.strip.set_patches(result.patches_rgb, visible=20, leading=tuple(short_name(n) for n in layout.special))
            z0 = t.sequence.numpy()  # (T, D), before CLIP's ln_pre
            rows = list(layout.special) + [str(i) for i in range(layout.patches)]
            self.tokens.set_data(z0, row_labels=rows, col_labels=[str(j) for j in range(cfg.dim)])
            self._shown = id(result)
        self.strip.set_selected(selected)
        self.tokens.set_highlight(rows=list(range(layout.leading)) + [layout.leading + selected])
        read = READS[cfg.pool] + (" and the final [DIST] by its own head; the logits are the mean of the two"
                                  if cfg.distillation_token and cfg.num_classes else "")
        pre = (" CLIP then normalises the whole sequence (ln_pre) before the first block." if cfg.norm_pre else "")
        self.note.setText(f"<b>Step 5.</b> {special_sentence(result)}{pre} After the last block the model reads {read}.")
