"""The map of one query's weights over the picture: cells where the patches are, outlines, clicks, captions."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, QRectF, Qt

from explorer.ui.panels.attention.image_map import TokenImageMap

LABELS = ("[CLS]", "reg 1", *(f"({r}, {c})" for r in range(4) for c in range(6)))


@pytest.fixture
def view(qtbot):
    widget = TokenImageMap()
    qtbot.addWidget(widget)
    widget.resize(360, 320)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_picture(np.full((32, 48, 3), 128, dtype=np.uint8), (4, 6), 2, LABELS)
    return widget


def test_the_cells_cover_the_picture_one_per_patch(view):
    weights = np.concatenate([[0.3, 0.05], np.linspace(0.0, 0.4, 24)])
    view.set_weights(weights, query=3, key=25, title="q(0, 1) over the input")
    overlay = view.overlay
    assert overlay.image.shape[:2] == (4, 6)
    # after the image: the 4 × 6 cells are stretched over the whole 48 × 32 picture, not one cell over it
    assert overlay.mapRectToParent(overlay.boundingRect()) == QRectF(0, 0, 48, 32)
    red = overlay.image[..., :3].astype(int).sum(-1)
    assert red[0, 0] != red[3, 5]  # 0 and the largest weight get different colours
    assert view.query_box.rect() == QRectF(8, 0, 8, 8) and view.key_box.rect() == QRectF(40, 24, 8, 8)
    caption = view.caption.text()
    assert "(3, 5) 0.4" in caption and "[CLS] 0.3" in caption and "reg 1 0.05" in caption


def test_special_tokens_have_no_cell_and_a_click_names_the_patch(qtbot, view):
    view.set_weights(np.full(26, 1 / 26), query=0, key=1, title="q[CLS]")
    assert not view.query_box.isVisible() and not view.key_box.isVisible()  # [CLS] and a register: off the picture
    assert view.cell_of(0) is None and view.token_at(47.0, 31.0) == 25 and view.token_at(60.0, 5.0) == -1
    scene = view.box.mapViewToScene(QPointF(20.0, 12.0))  # column 2, row 1 → token 2 + 8
    with qtbot.waitSignal(view.tokenClicked) as blocker:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view.canvas.mapFromScene(scene))
    assert blocker.args == [2 + 1 * 6 + 2]
