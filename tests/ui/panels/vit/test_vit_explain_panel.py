"""Steps 8–11 of the ViT panel driven with qtbot: clicks on the switches and the thumbnails, the maps drawn, exports.

The bundled model (4 layers × 4 heads) on the sample image; every map on screen
is checked against the engine's own function on the trace the panel holds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PyQt6.QtCore import QPointF, Qt

from explorer.engine.vit import ablation as ab
from explorer.engine.vit import analysis as va
from explorer.engine.vit import heads_overview as ho
from explorer.engine.vit import relevance as rl
from explorer.ui.export import export_figure, figures_in
from explorer.ui.panels.vit.explain_rules import ABLATION_STEP, HEADS_STEP, LENS_STEP, RELEVANCE_STEP


@pytest.fixture
def panel(qtbot, context, sample_image, wait_for_tasks):
    from explorer.ui.panels.vit.panel import ViTPanel

    context.set_image(sample_image, "sample")
    widget = ViTPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1200, 720)
    widget.show()
    widget.start()
    wait_for_tasks(60_000)
    qtbot.waitUntil(lambda: widget.state.result is not None, timeout=10_000)
    return widget


def _click(qtbot, graphics, view_box, x: float, y: float) -> None:
    """Left-click the point (x, y) of a pyqtgraph view box, as a user would."""
    widget_point = graphics.mapFromScene(view_box.mapViewToScene(QPointF(x, y)))
    qtbot.mouseClick(graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)


def _show_step(qtbot, panel, step: int, wait_for_tasks) -> None:
    panel.steps.setCurrentRow(step - 1)
    wait_for_tasks(60_000)
    qtbot.wait(30)


def test_clicking_a_switch_turns_the_head_off_and_every_map_is_of_the_switched_model(qtbot, panel, wait_for_tasks):
    state = panel.state
    _show_step(qtbot, panel, ABLATION_STEP, wait_for_tasks)
    page = panel.pages[ABLATION_STEP - 1]
    before = state.result
    intact = before.trace.logits.clone()
    switches = page.switches
    _click(qtbot, switches.graphics, switches.plot.getViewBox(), 2 + 0.5, 1 + 0.5)  # column = head 3, row = layer 2
    wait_for_tasks(60_000)
    qtbot.waitUntil(lambda: state.result is not before, timeout=10_000)
    assert state.switched_off == [(1, 2)]
    assert page.on[1, 2] == 0 and page.on.sum() == 15
    expected = state.model.trace(state.result.trace.pixels, ab.head_mask(4, 4, [(1, 2)]))
    torch.testing.assert_close(state.result.trace.logits, expected.logits)
    assert not torch.allclose(state.result.trace.logits, intact)
    qtbot.waitUntil(lambda: state.intact_logits is not None, timeout=10_000)
    torch.testing.assert_close(state.intact_logits, intact)
    assert "went from" in page.prediction.text()
    # Step 8's maps are of the switched model: the relevance of its own forward, with the head masked.
    _show_step(qtbot, panel, RELEVANCE_STEP, wait_for_tasks)
    qtbot.waitUntil(lambda: state.comparison is not None and state.comparison[2] is not None, timeout=10_000)
    target = state.explain_target
    trace = state.result.trace
    want = rl.relevance(state.model.net, trace.pixels, target, trace.head_mask).chefer[0, 1:].reshape(trace.grid)
    cards = panel.pages[RELEVANCE_STEP - 1].cards
    np.testing.assert_allclose(cards[2].values, want.numpy(), atol=1e-6)
    np.testing.assert_allclose(cards[0].values, va.attention_map(expected.attentions[-1], expected.grid, 0).numpy(),
                               atol=1e-6)
    # Clicking the switch again turns the head back on: the intact model's numbers return.
    _show_step(qtbot, panel, ABLATION_STEP, wait_for_tasks)
    _click(qtbot, switches.graphics, switches.plot.getViewBox(), 2 + 0.5, 1 + 0.5)
    wait_for_tasks(60_000)
    qtbot.waitUntil(lambda: state.switched_off == [], timeout=10_000)
    torch.testing.assert_close(state.result.trace.logits, intact)


def test_head_importance_fills_the_grid_with_each_heads_drop(qtbot, panel, wait_for_tasks):
    state = panel.state
    _show_step(qtbot, panel, ABLATION_STEP, wait_for_tasks)
    page = panel.pages[ABLATION_STEP - 1]
    assert np.isnan(page.importance.values).all()
    qtbot.mouseClick(page.compute, Qt.MouseButton.LeftButton)
    wait_for_tasks(60_000)
    qtbot.waitUntil(lambda: state.importance is not None, timeout=20_000)
    expected = ab.head_importance(state.model.net, state.result.trace.pixels, state.explain_target)
    np.testing.assert_allclose(page.importance.values, expected.drop, atol=1e-5)
    assert "largest L" in page.importance.title_label.text()


def test_clicking_a_thumbnail_opens_that_layer_and_head_in_step_6(qtbot, panel, wait_for_tasks):
    state = panel.state
    state.select_patch(20)
    state.set_query(None)
    _show_step(qtbot, panel, HEADS_STEP, wait_for_tasks)
    qtbot.waitUntil(lambda: state.overview is not None, timeout=10_000)
    page = panel.pages[HEADS_STEP - 1]
    trace = state.result.trace
    expected = ho.heads_overview(trace.attentions, trace.grid, trace.leading, 21)
    np.testing.assert_allclose(page.shown, expected.maps, atol=1e-7)
    gh, gw = trace.grid
    # layers across, heads down: layer 3 (column 2), head 2 (row 1)
    _click(qtbot, page.grid, page.grid.box, 2 * (gw + 1) + gw / 2, 1 * (gh + 1) + gh / 2)
    qtbot.waitUntil(lambda: state.step == 6, timeout=3000)
    assert (state.selection.layer, state.selection.head, state.selection.patch) == (2, 1, 20)
    np.testing.assert_allclose(state.attention.values, expected.maps[2, 1], atol=1e-6)
    # In the similar-heads order the tile in the first slot is the first head of the clustering order.
    state.heads_order = "similar"
    _show_step(qtbot, panel, HEADS_STEP, wait_for_tasks)
    first = int(state.overview.ordered("similar")[0])
    _click(qtbot, page.grid, page.grid.box, gw / 2, gh / 2)
    qtbot.waitUntil(lambda: state.step == 6, timeout=3000)
    assert (state.selection.layer, state.selection.head) == divmod(first, 4)


def test_the_scale_choice_sets_the_colour_levels_and_the_raw_range_stays_written(qtbot, panel, wait_for_tasks):
    state = panel.state
    _show_step(qtbot, panel, RELEVANCE_STEP, wait_for_tasks)
    qtbot.waitUntil(lambda: state.comparison is not None and state.comparison[2] is not None, timeout=10_000)
    page = panel.pages[RELEVANCE_STEP - 1]
    top = max(m.high for m in state.comparison)
    for card, made in zip(page.cards, state.comparison):
        assert tuple(card.view.overlay.getLevels()) == pytest.approx((0.0, top))
        assert f"{made.high:.3g}" in card.range.text() and "raw range" in card.range.text()
    page.scale.setCurrentIndex(1)
    assert state.map_scale == "per map"
    for card, made in zip(page.cards, state.comparison):
        assert tuple(card.view.overlay.getLevels()) == pytest.approx((0.0, made.high))
        assert "raw range" in card.range.text()


def test_the_lens_slider_walks_the_layers_and_the_last_is_the_prediction(qtbot, panel, wait_for_tasks):
    state = panel.state
    _show_step(qtbot, panel, LENS_STEP, wait_for_tasks)
    qtbot.waitUntil(lambda: state.lens is not None, timeout=10_000)
    page = panel.pages[LENS_STEP - 1]
    lens, t = state.lens, state.result.trace
    target = state.explain_target
    assert page.layer.value() == t.layout.depth
    np.testing.assert_allclose(page.values, lens.class_map(t.layout.depth, target, t.leading, t.grid), atol=1e-7)
    page.layer.setValue(1)
    np.testing.assert_allclose(page.values, lens.class_map(1, target, t.leading, t.grid), atol=1e-7)
    np.testing.assert_allclose(lens.readout[-1], t.probabilities[0].numpy(), atol=1e-6)
    assert f"layer {lens.settled}" in page.summary.text()


@pytest.mark.parametrize("step", [RELEVANCE_STEP, ABLATION_STEP, HEADS_STEP, LENS_STEP])
def test_every_new_view_exports_as_png_and_svg(qtbot, panel, wait_for_tasks, tmp_path, step):
    _show_step(qtbot, panel, step, wait_for_tasks)
    if step == ABLATION_STEP:
        panel.state.compute_importance()
        wait_for_tasks(60_000)
    figures = figures_in(panel.pages[step - 1])
    assert len(figures) >= (3 if step == RELEVANCE_STEP else 2), [f.name for f in figures]
    for i, figure in enumerate(figures):
        png = export_figure(figure, tmp_path / f"f{i}.png", scale=1.0)
        svg = export_figure(figure, tmp_path / f"f{i}.svg")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in svg.read_bytes()[:2000]
