"""Steps 3 to 5 of the ViT walk: each patch becomes a token — linear embedding, position, class token."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

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


class ClassTokenPage(Page):
    title = "5 · Class token"

    def __init__(self, state: ViTState) -> None:
        super().__init__(state)
        layout = QVBoxLayout(self)
        self.note = note()
        layout.addWidget(self.note)
        self.strip = PatchStripView(leading=("CLS",), follow=False)
        self.strip.patchClicked.connect(state.select_patch)
        self.strip.setMinimumHeight(90)
        self.strip.setMaximumHeight(150)
        self.tokens = Heatmap("Encoder input z₀ = [CLS; patch embeddings] + position embeddings", kind="diverging", annotate=False, colorbar=True)
        self.tokens.clicked.connect(lambda row, _col: state.select_patch(row - 1) if row > 0 else None)
        layout.addWidget(self.strip, 2)
        layout.addWidget(self.tokens, 5)
        self._shown: int | None = None

    def show(self, result: ViTResult, selected: int) -> None:
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
