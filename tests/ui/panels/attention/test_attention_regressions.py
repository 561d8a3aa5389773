"""The Attention panel's robustness bugs, each pinned by a test that failed before its fix; and a real-size head."""

from __future__ import annotations

import numpy as np
import torch
from PyQt6.QtWidgets import QAbstractButton, QLabel, QTabBar, QWidget

from explorer.engine.attention.core import attend
from explorer.engine.attention.heads import RealHead
from explorer.ui import errors
from explorer.ui.panels.attention.notation import RAW_NOTATION
from explorer.ui.widgets.cell_image import MASKED_ARGB
from tests.ui.panels.attention.editing import choose_preset, type_into


def test_an_overflowing_value_is_refused_beside_the_cell_and_the_old_one_kept(qtbot, panel):
    """Regression: 1e308 was accepted; its products overflowed and the heatmap failed on NaN."""
    qkv = panel.qkv
    type_into(qtbot, qkv.k_editor, 0, 0, "1e308")  # q·k₁ = 1 · 1e308: finite, shown, annotated
    assert qkv.k_editor.message() == "" and qkv.scores_map.values[0, 0] == 1e308
    before = qkv.weights_map.values.copy()
    with qtbot.waitSignal(qkv.q_editor.rejected) as blocker:
        type_into(qtbot, qkv.q_editor, 0, 0, "1e308")  # q·k₁ = 1e308 · 1e308 does not fit a float64
    assert "Q·Kᵀ overflows" in blocker.args[0] and "old value was kept" in qkv.q_editor.message()
    assert qkv.q_editor.matrix()[0, 0] == 1.0 and panel.state.qkv.q[0, 0] == 1.0
    np.testing.assert_array_equal(qkv.weights_map.values, before)
    assert np.isfinite(qkv.scores_map.values).all()
    assert errors.MESSAGES == []  # said beside the cell, as for NaN: no message box
    type_into(qtbot, qkv.q_editor, 0, 0, "0.5")  # the next good value clears it and is used
    assert qkv.q_editor.message() == "" and panel.state.qkv.q[0, 0] == 0.5


def test_toggling_the_scaling_does_not_move_the_columns(qtbot, panel):
    """Regression: the scaled map's title is longer when scaling is off, and its width moved the columns."""
    qkv = panel.qkv
    maps = (qkv.scores_map, qkv.scaled_map, qkv.weights_map, qkv.output_map)
    qtbot.wait(50)
    before = [m.geometry() for m in maps]
    for on in (False, True, False):
        qkv.scale_check.setChecked(on)
        qtbot.wait(30)
        assert [m.geometry() for m in maps] == before, f"scaling {'on' if on else 'off'}"
    assert qkv.scaled_map.title_label.text().startswith("② Scaled: scaling off")


def test_the_mask_keeps_its_room_at_720_pixels(qtbot, window):
    """Regression: at 1280 × 720 the mask editor was squeezed to about 25 px."""
    window.resize(1280, 720)
    window.set_panel("attention")
    panel = window.current_page().panel
    qtbot.wait(100)
    assert panel.qkv.mask_map.graphics.height() >= 80
    for editor in panel.qkv.editors.values():
        assert editor.height() >= 70


def test_masked_cells_show_no_score(panel):
    """Regression: a masked cell of the scores map still showed its score in colour."""
    choose_preset(panel, "Causal self-attention (5 tokens)")
    qkv = panel.qkv
    for heatmap in (qkv.scores_map, qkv.scaled_map, qkv.weights_map):
        buffer = heatmap.image._buffer
        assert buffer[0, 4] == MASKED_ARGB and buffer[4, 0] != MASKED_ARGB  # later keys blocked, earlier not
        assert np.all(buffer[np.triu_indices(5, 1)] == MASKED_ARGB)
    qkv.mask_check.setChecked(False)  # no mask: every score in colour again
    assert not np.any(qkv.scores_map.image._buffer == MASKED_ARGB)


def test_no_raw_subscripts_anywhere_on_the_panel(qtbot, panel):
    """Regression: 'Q = X·W_Q' read 'Q = X·W Q': an underscore is no subscript."""
    for page in (panel.why_page, panel.input_page, panel.qkv):
        panel.tabs.setCurrentWidget(page)
        qtbot.wait(20)
    texts = []
    for widget in panel.findChildren(QWidget):
        if isinstance(widget, (QLabel, QAbstractButton)):
            texts.append(widget.text())
        if isinstance(widget, QTabBar):
            texts += [widget.tabText(i) for i in range(widget.count())]
    texts += [panel.preset_combo.itemText(i) for i in range(panel.preset_combo.count())]
    raw = [text for text in texts if RAW_NOTATION.search(text)]
    assert not raw, f"raw notation shown: {raw}"
    assert any("W<sub>Q</sub>" in text for text in texts)  # the projections are named, with subscripts


def test_a_1370_token_head_opens_scrolls_and_edits(qtbot, panel):
    """DINOv2 at 518 px: 1 + 37 × 37 tokens × 64 dims, in virtualised editors and image maps."""
    rng = np.random.default_rng(0)
    n, d = 1370, 64
    q, k, v = (torch.from_numpy(rng.normal(size=(n, d)).astype(np.float32)) for _ in range(3))
    weights = attend(q, k, v).weights.float()
    labels = ("[CLS]", *(f"({r}, {c})" for r in range(37) for c in range(37)))
    head = RealHead(q=q, k=k, v=v, weights=weights, token_labels=labels, scale=d**-0.5, query=700, grid=(37, 37),
                    first_patch=1, image=np.zeros((518, 518, 3), dtype=np.uint8), model="test", layer=5, head=2)
    panel.receive(head)
    qkv, state = panel.qkv, panel.state.qkv
    assert qkv.weights_map.values.shape == (n, n) and qkv.weights_map.image.boundingRect().width() == n
    assert qkv.weights_map.image.pixels[1] < n  # coloured only where the screen shows a cell
    assert qkv.q_editor.model.rowCount() == n and qkv.q_editor.model.columnCount() == d
    assert len(qkv.q_editor.findChildren(QWidget)) < 40  # one table, not a widget per cell
    assert state.model_error < 1e-6
    # scroll: the selected query's row comes into view, and a scroll bar moves
    bar = qkv.q_editor.view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() > 0  # row 700 was scrolled to
    state.select_query(1300)
    qtbot.wait(20)
    top, bottom = qkv.q_editor.view.rowAt(0), qkv.q_editor.view.rowAt(qkv.q_editor.view.viewport().height() - 1)
    assert top <= 1300 <= (bottom if bottom >= 0 else n - 1)
    # edit a Q cell of that row, then a K cell: every view follows, equal to a fresh attend
    type_into(qtbot, qkv.q_editor, 1300, 5, "2.5")
    qkv.k_editor.apply_value(12, 63, -3.0)
    q_now, k_now = qkv.q_editor.matrix(), qkv.k_editor.matrix()
    assert q_now[1300, 5] == 2.5 and k_now[12, 63] == -3.0
    expected = attend(q_now, k_now, qkv.v_editor.matrix())
    for heatmap, name in ((qkv.scores_map, "scores"), (qkv.weights_map, "weights"), (qkv.output_map, "output")):
        np.testing.assert_allclose(heatmap.values, getattr(expected, name).numpy(), atol=1e-10, err_msg=name)
    np.testing.assert_allclose(qkv.bars._heights, expected.weights.numpy()[1300], atol=1e-12)
    assert qkv.formula.text().count("more keys") >= 1  # the formula writes out the largest weights only
