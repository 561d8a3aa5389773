"""The heatmap: regressions of its robustness bugs, and its partial redraw for large maps."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPointF

from explorer.ui.widgets.cell_image import MASKED_ARGB, colour_indices
from explorer.ui.widgets.heatmap import Heatmap


@pytest.fixture
def heatmap(qtbot):
    widget = Heatmap("a title", kind="diverging", fmt="{:.2f}")
    qtbot.addWidget(widget)
    widget.resize(420, 320)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def hover(heatmap: Heatmap, row: int, col: int) -> None:
    """Move the pointer over cell (row, col) as the scene reports it."""
    scene = heatmap.plot.getViewBox().mapViewToScene(QPointF(col + 0.5, row + 0.5))
    heatmap._on_mouse_moved(scene)


def pixel(heatmap: Heatmap, row: int, col: int) -> int:
    return int(heatmap.image._buffer[row, col])


def test_a_hovered_cell_is_forgotten_when_the_map_shrinks(qtbot, heatmap):
    """Regression: the hovered index outlived set_data and _show_info raised IndexError mid-redraw."""
    heatmap.set_data(np.arange(25.0).reshape(5, 5))
    hover(heatmap, 4, 3)
    assert heatmap._hover_cell == (4, 3) and heatmap.info_label.text().startswith("5, 4:")
    with qtbot.waitSignal(heatmap.hovered) as blocker:
        heatmap.set_data(np.ones((2, 2)))  # must not raise
    assert blocker.args == [-1, -1] and heatmap._hover_cell == (-1, -1)
    assert heatmap.info_label.text().strip() == ""
    assert heatmap.image.pixels == (2, 2) and heatmap.values.shape == (2, 2)  # drawn through to the end
    hover(heatmap, 1, 1)
    heatmap.set_data(np.zeros((3, 3)))  # still inside: kept, and its read-out follows the new values
    assert heatmap._hover_cell == (1, 1) and heatmap.info_label.text().endswith(":  0")
    heatmap._show_info(7, 7)  # an index from elsewhere never raises
    assert heatmap.info_label.text().strip() == ""


@pytest.mark.parametrize("values", [
    [[1e308, -1e308, 0.0]],  # finite, but the span of the levels is not
    [[np.inf, -np.inf, np.nan]],
])
def test_extreme_values_draw_and_annotate(heatmap, values):
    """Regression: 1e308 in a cell made _text_colour fail with 'cannot convert float NaN to integer'."""
    heatmap.set_data(np.array(values))
    texts = [item.textItem.toPlainText() for item in heatmap._texts if item.isVisible()]
    assert len(texts) == 3
    heatmap.set_data(np.array(values), levels=(0.0, np.inf))  # levels no mapping can span
    assert heatmap._text_colour(1e308).isValid()


def test_colour_indices_cover_every_case():
    index = colour_indices(np.array([-1.0, 0.0, 1.0, 2.0, np.nan, np.inf, -np.inf]), -1.0, 1.0, 256)
    assert index.tolist() == [0, 127, 255, 255, 127, 255, 0]
    assert colour_indices(np.array([5.0]), 0.0, np.inf, 256).tolist() == [127]
    assert colour_indices(np.array([5.0]), 1.0, 1.0, 256).tolist() == [127]


def test_the_title_never_sets_the_width(heatmap):
    """Regression: toggling ÷√d_k changed a title's length, and its minimum width moved the columns."""
    heatmap.set_title("② Scaled ÷√2")
    short = heatmap.minimumSizeHint().width()
    heatmap.set_title("② Scaled: scaling off (= scores), and a title much longer than the map is wide")
    assert heatmap.minimumSizeHint().width() == short
    heatmap.info_label.setText("q12 → k40: e^(−3.25) / 18.4 = 0.0021, a read-out that is long as well")
    assert heatmap.minimumSizeHint().width() == short
    assert heatmap.title_label.toolTip().startswith("② Scaled: scaling off")  # the whole title on hover


def test_masked_cells_are_grey_whatever_their_value(heatmap):
    values = np.array([[5.0, -5.0], [1.0, 2.0]])
    masked = np.array([[False, True], [False, False]])
    heatmap.set_data(values, masked=masked)
    assert pixel(heatmap, 0, 1) == MASKED_ARGB and pixel(heatmap, 0, 0) != MASKED_ARGB
    texts = [item.textItem.toPlainText() for item in heatmap._texts if item.isVisible()]
    assert texts[1] == "masked"
    hover(heatmap, 0, 1)
    assert "masked" in heatmap.info_label.text()
    heatmap.update_values(values * 2, rows=[0])  # a partial redraw keeps the mask
    assert pixel(heatmap, 0, 1) == MASKED_ARGB
    with pytest.raises(ValueError, match="mask's shape"):
        heatmap.set_data(values, masked=np.ones((3, 3), dtype=bool))


def test_a_partial_update_recolours_only_what_changed_and_equals_a_full_one(qtbot):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 300))
    partial, full = Heatmap(kind="diverging"), Heatmap(kind="diverging")
    for widget in (partial, full):
        qtbot.addWidget(widget)
        widget.set_data(values)
    changed = values.copy()
    changed[7] = rng.normal(size=300) * 0.5  # inside the levels: only row 7 and column 11 are recoloured
    changed[:, 11] = rng.normal(size=300) * 0.5
    before = partial.image._buffer.copy()
    partial.update_values(changed, rows=[7], cols=[11])
    full.set_data(changed, levels=partial._levels)
    np.testing.assert_array_equal(partial.image._buffer, full.image._buffer)
    untouched = np.ones((300, 300), dtype=bool)
    untouched[7] = untouched[:, 11] = False
    np.testing.assert_array_equal(partial.image._buffer[untouched], before[untouched])
    changed[3, 3] = 100.0  # outside the levels: they grow, and everything is recoloured
    partial.update_values(changed, rows=[3])
    assert partial._levels == (-100.0, 100.0)
    full.set_data(changed)
    np.testing.assert_array_equal(partial.image._buffer, full.image._buffer)


def test_a_map_larger_than_the_screen_colours_the_cells_nearest_scaling_shows(heatmap):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(1370, 1370))
    heatmap.set_data(values)
    image = heatmap.image
    rows, cols = image.pixels
    rect = heatmap.plot.getViewBox().sceneBoundingRect()
    assert rows <= rect.height() * heatmap.devicePixelRatioF() + 1 and cols <= rect.width() * heatmap.devicePixelRatioF() + 1
    assert image.boundingRect().width() == 1370 and image.boundingRect().height() == 1370  # still over every cell
    shown_rows, shown_cols = heatmap._shown
    full = heatmap._colours(values)  # what a full-size image would hold
    np.testing.assert_array_equal(image._buffer, full[np.ix_(shown_rows, shown_cols)])
    changed = values.copy()
    changed[shown_rows[10]] = 0.0  # a shown row: its image line follows
    heatmap.update_values(changed, rows=[shown_rows[10]])
    np.testing.assert_array_equal(image._buffer, heatmap._colours(changed)[np.ix_(shown_rows, shown_cols)])
    hover(heatmap, 700, 900)  # the pointer still finds the true cell
    assert heatmap._hover_cell == (700, 900)
    heatmap.resize(900, 700)  # more room: more cells shown, recoloured from the values
    heatmap.plot.getViewBox().sigResized.emit(heatmap.plot.getViewBox())
    assert image.pixels[1] > cols
