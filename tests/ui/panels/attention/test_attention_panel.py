"""The Attention panel driven with qtbot: what it shows follows the edits, presets load, bad input is refused."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from explorer.engine.attention.core import attend
from explorer.ui.panels.attention.panel import AttentionPanel
from tests.ui.panels.attention.editing import choose_preset, type_into


def shown_texts(heatmap) -> list[str]:
    return [item.textItem.toPlainText() for item in heatmap._texts if item.isVisible()]


def test_opens_on_the_worked_example(panel):
    qkv = panel.qkv
    assert panel.title == "Attention"
    assert panel.preset_combo.currentText().startswith("Worked example")
    np.testing.assert_allclose(qkv.scores_map.values, [[1, 0, 1]])
    np.testing.assert_allclose(qkv.scaled_map.values, [[0.707, 0, 0.707]], atol=5e-4)
    np.testing.assert_allclose(qkv.weights_map.values, [[0.401, 0.198, 0.401]], atol=5e-4)
    np.testing.assert_allclose(qkv.output_map.values, [[0.802, 0.599]], atol=5e-4)
    assert shown_texts(qkv.weights_map) == ["0.401", "0.198", "0.401"]
    assert shown_texts(qkv.output_map) == ["0.802", "0.599"]
    formula = qkv.formula.text()
    for number in ("0.707", "2.493", "0.401", "0.198", "[0.802, 0.599]", "÷√2"):
        assert number in formula
    np.testing.assert_allclose(qkv.bars._heights, [0.401, 0.198, 0.401], atol=5e-4)
    notes = qkv.notes.text()
    assert "40.1%" in notes and "Common mistake" in notes and "fixed until training" in notes


def test_typing_a_cell_changes_the_weights_shown(qtbot, panel):
    qkv = panel.qkv
    before = qkv.weights_map.values.copy()
    with qtbot.waitSignal(panel.state.qkv.events.view):
        type_into(qtbot, qkv.k_editor, 1, 0, "-2")  # k2 = [-2, 1]
    assert qkv.k_editor.matrix()[1, 0] == -2
    expected = attend(qkv.q_editor.matrix(), qkv.k_editor.matrix(), qkv.v_editor.matrix()).weights.numpy()
    np.testing.assert_allclose(qkv.weights_map.values, expected)
    assert not np.allclose(qkv.weights_map.values, before)
    assert qkv.weights_map.values[0, 1] < 0.1
    type_into(qtbot, qkv.q_editor, 0, 1, "1.5")  # q1 = [1, 1.5]
    np.testing.assert_allclose(qkv.scores_map.values, [[1, -0.5, 2.5]])
    assert shown_texts(qkv.scores_map) == ["1.000", "-0.500", "2.500"]


@pytest.mark.parametrize("text", ["abc", "nan", "-inf"])
def test_bad_text_is_refused_with_a_visible_message(qtbot, panel, text):
    qkv = panel.qkv
    before = qkv.weights_map.values.copy()
    with qtbot.waitSignal(qkv.q_editor.rejected):
        type_into(qtbot, qkv.q_editor, 0, 0, text)
    assert qkv.q_editor.matrix()[0, 0] == 1.0
    assert qkv.q_editor.message_label.isVisible()
    assert "old value was kept" in qkv.q_editor.message_label.text()
    np.testing.assert_array_equal(qkv.weights_map.values, before)


def test_presets_load_and_reset(qtbot, panel):
    qkv = panel.qkv
    choose_preset(panel, "Causal self-attention (5 tokens)")
    assert panel.state.qkv.sizes() == {"n_q": 5, "n_k": 5, "d_k": 4, "d_v": 4}
    assert qkv.mask_check.isChecked()
    weights = qkv.weights_map.values
    assert np.all(np.triu(weights, 1) == 0)
    np.testing.assert_allclose(weights.sum(1), 1)
    assert qkv.bars._heights.shape == (5,)  # selected query: the last token
    choose_preset(panel, "d_k = 64 without scaling")
    assert not qkv.scale_check.isChecked()
    assert qkv.weights_map.values.max(axis=1).mean() > 0.8  # saturated
    qkv.scale_check.setChecked(True)
    assert qkv.weights_map.values.max(axis=1).mean() < 0.8
    qkv.reset_button.click()
    assert not qkv.scale_check.isChecked()
    choose_preset(panel, "Worked example (cheatsheet)")
    np.testing.assert_allclose(qkv.weights_map.values, [[0.401, 0.198, 0.401]], atol=5e-4)


def test_random_zeros_identity(panel):
    qkv = panel.qkv
    panel.state.qkv.set_sizes(n_q=4, n_k=5, d_k=3, d_v=2)
    qkv.seed_spin.setValue(7)
    qkv.random_button.click()
    first = qkv.q_editor.matrix()
    assert first.shape == (4, 3) and np.abs(first).sum() > 0
    qkv.seed_spin.setValue(7)
    qkv.random_button.click()
    np.testing.assert_array_equal(qkv.q_editor.matrix(), first)  # seeded
    assert "Your own numbers" in panel.preset_note.text()
    qkv.zeros_button.click()
    np.testing.assert_allclose(qkv.weights_map.values, 0.2)  # equal scores → uniform over 5 keys
    qkv.identity_button.click()
    np.testing.assert_array_equal(qkv.k_editor.matrix(), np.eye(5, 3))


def test_sizes_out_of_range_are_clamped_and_said(panel):
    qkv = panel.qkv
    qkv.size_spins["n_k"].setValue(100)
    assert panel.state.qkv.sizes()["n_k"] == 64
    assert qkv.size_spins["n_k"].value() == 64
    assert qkv.size_note.isVisible() and "100" in qkv.size_note.text() and "64" in qkv.size_note.text()
    assert qkv.weights_map.values.shape == (1, 64)
    qkv.size_spins["d_k"].setValue(0)
    assert panel.state.qkv.sizes()["d_k"] == 1 and "set to 1" in qkv.size_note.text()
    qkv.size_spins["d_v"].setValue(3)
    assert not qkv.size_note.isVisible()


def test_hover_lights_up_query_key_and_value(panel):
    qkv = panel.qkv
    qkv._on_hover(0, 2)
    assert qkv.q_editor.model.highlight_rows == {0}
    assert qkv.k_editor.model.highlight_rows == {2}
    assert qkv.v_editor.model.highlight_rows == {2}
    assert len(qkv.weights_map._highlights) == 3  # row, column, cell
    assert qkv.bars._highlight == 2
    assert qkv.weights_map.info_label.text() == "q1 → k3: e^(0) / 2.493 = 0.401"
    assert qkv.scaled_map.info_label.text() == "1 × 0.707 = 0.707"
    qkv._on_hover(-1, -1)
    assert qkv.k_editor.model.highlight_rows == frozenset()


def test_mask_cells_toggle_and_full_masking_is_reported(qtbot, panel):
    qkv = panel.qkv
    panel.state.qkv.toggle_mask_cell(0, 1)
    assert qkv.mask_check.isChecked()
    weights = qkv.weights_map.values
    assert weights[0, 1] == 0 and weights[0].sum() == pytest.approx(1)
    panel.state.qkv.toggle_mask_cell(0, 0)
    panel.state.qkv.toggle_mask_cell(0, 2)
    assert np.all(qkv.weights_map.values == 0) and np.all(qkv.output_map.values == 0)
    assert "every key is masked" in qkv.formula.text()
    qtbot.waitUntil(lambda: "Masked rows" in qkv.notes.text())  # notes follow the last edit
    panel.state.qkv.allow_all()
    np.testing.assert_allclose(qkv.weights_map.values, [[0.401, 0.198, 0.401]], atol=5e-4)


def test_temperature_flattens(panel):
    qkv = panel.qkv
    qkv.temperature_spin.setValue(10.0)
    assert np.ptp(qkv.weights_map.values) < 0.05
    assert "temperature" in qkv.formula.text()


def test_exports(panel, tmp_path):
    panel.state.qkv.set_sizes(n_q=2)
    path = panel.export_csv(tmp_path / "w.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 2 * 3
    weights = np.array([float(r["weight"]) for r in rows]).reshape(2, 3)
    np.testing.assert_allclose(weights, panel.state.qkv.view.weights)
    assert rows[0]["query"] == "q1" and rows[2]["key"] == "k3"
    png = panel.export_png(tmp_path / "view.png")
    assert png.stat().st_size > 10_000
    with pytest.raises(ValueError, match="could not write"):
        panel.export_csv(tmp_path / "missing" / "w.csv")


def test_why_scale_tab_measures_in_background(qtbot, panel, wait_for_tasks):
    panel.tabs.setCurrentWidget(panel.why_page)
    wait_for_tasks()
    stats = panel.state.why.stats
    assert stats is not None and stats.d_k[-1] == 1024
    panel.state.why.set_d_k(1024)
    text = panel.why.summary.text()
    assert "d<sub>k</sub> = 1024" in text and "without scaling" in text
    assert stats.entropy_raw[-1] < 0.5 * stats.entropy_scaled[-1]
    raw = panel.why.bars_raw.opts["height"]
    assert raw.max() > 0.9


def test_from_input_weights_follow_x_not_parameters(qtbot, panel):
    assert panel._from_input is None  # built on first show
    panel.tabs.setCurrentWidget(panel.input_page)
    view = panel.from_input
    assert view.isVisible()
    heads = panel.state.from_input.heads
    assert sum(h.isVisible() for h in view.head_maps) == heads == 2
    assert view.head_maps[1].isVisible()
    params = [p.copy() for p in panel.state.from_input.params]
    before = panel.state.from_input.trace.weights.numpy().copy()
    type_into(qtbot, view.x_editor, 0, 0, "3")
    after = panel.state.from_input.trace.weights.numpy()
    assert not np.allclose(before, after)
    for a, b in zip(params, panel.state.from_input.params):
        np.testing.assert_array_equal(a, b)
    assert "the input X" in view.note.text() and "unchanged" in view.note.text()
    np.testing.assert_allclose(view.head_maps[0].values, after[0])
    view.cross_check.setChecked(True)
    assert panel.state.from_input.trace.weights.shape[-1] == view.xkv_editor.shape()[0]
    view.send_button.click()
    assert panel.tabs.currentWidget() is panel.qkv
    np.testing.assert_allclose(panel.qkv.q_editor.matrix(), panel.state.from_input.trace.q[0].numpy())


def test_dark_theme(panel, context):
    context.set_theme("dark")
    np.testing.assert_allclose(panel.qkv.weights_map.values, [[0.401, 0.198, 0.401]], atol=5e-4)



def test_settings_come_back_next_launch(qtbot, panel, context):
    choose_preset(panel, "d_k = 64 without scaling")
    panel.qkv.scale_check.setChecked(True)
    panel.qkv.temperature_spin.setValue(2.5)
    panel.qkv.size_spins["n_q"].setValue(3)
    panel.tabs.setCurrentWidget(panel.input_page)
    panel.from_input.cross_check.setChecked(True)
    panel.from_input.heads_combo.setCurrentIndex(panel.from_input.heads_combo.findData(4))
    again = AttentionPanel(context)  # the next launch: same settings file
    qtbot.addWidget(again)
    assert again.preset_combo.currentData() == "d_k = 64 without scaling"
    assert again.preset_combo.currentText() == "dₖ = 64 without scaling"  # shown with its subscript
    assert again.qkv.scale_check.isChecked() and again.qkv.temperature_spin.value() == 2.5
    assert again.qkv.size_spins["n_q"].value() == 3 and again.qkv.weights_map.values.shape == (3, 6)
    assert "Your own numbers" in again.preset_note.text()
    assert again.tabs.currentWidget() is again.input_page
    assert again.from_input.heads_combo.currentData() == 4 and again.from_input.cross_check.isChecked()
    assert again.state.from_input.trace.weights.shape == (4, 5, 6)  # cross: keys from X₂ (6 tokens)

# -- the heatmap widget (shared by every panel) ---------------------------------------------------
def test_heatmap_colours_follow_the_colour_map(qtbot):
    from explorer.ui import theme
    from explorer.ui.widgets.heatmap import Heatmap

    heatmap = Heatmap("t", kind="diverging", colorbar=True)
    qtbot.addWidget(heatmap)
    values = np.array([[-2.0, 0.0, 2.0], [1.0, np.nan, -1.0]])
    heatmap.set_data(values)
    assert heatmap._levels == (-2.0, 2.0)
    image = heatmap.image._qimage
    lut = theme.diverging_cmap().getLookupTable(nPts=256)
    for (r, c), index in (((0, 0), 0), ((0, 2), 255), ((0, 1), 127), ((1, 1), 127)):
        colour = image.pixelColor(c, r)
        assert (colour.red(), colour.green(), colour.blue()) == tuple(int(x) for x in lut[index][:3])
    assert tuple(heatmap.colorbar.levels()) == (-2.0, 2.0)
    heatmap.set_kind("sequential")
    assert heatmap._levels == (0.0, 2.0)


def test_heatmap_labels_highlight_and_hover_info(qtbot):
    from explorer.ui.widgets.heatmap import Heatmap

    heatmap = Heatmap("t", kind="sequential")
    qtbot.addWidget(heatmap)
    heatmap.resize(400, 300)
    heatmap.show()
    qtbot.waitExposed(heatmap)
    heatmap.set_data(np.eye(3), row_labels=["a", "b", "c"], col_labels=["x", "y", "z"])
    ticks = heatmap.plot.getAxis("top")._tickLevels[0]
    assert [label for _pos, label in ticks] == ["x", "y", "z"]
    heatmap.set_data(np.eye(3), row_labels=["a", "b", "c"], col_labels=["u", "v", "w"])  # same shape, new labels
    assert [label for _pos, label in heatmap.plot.getAxis("top")._tickLevels[0]] == ["u", "v", "w"]
    heatmap.set_highlight(rows=[0], cols=[2], cells=[(1, 1), (9, 9)])
    assert len(heatmap._highlights) == 3
    heatmap._show_info(1, 2)
    assert heatmap.info_label.text().startswith("b, w:")
    big = np.random.default_rng(0).random((64, 64))
    heatmap.set_data(big)
    assert len(heatmap.plot.getAxis("top")._tickLevels[0]) < 64  # thinned to fit
    assert not any(item.isVisible() for item in heatmap._texts)  # too many cells to print


def test_heatmap_keeps_ticks_a_panel_set_itself(qtbot):
    from explorer.ui.widgets.heatmap import Heatmap

    heatmap = Heatmap("t")
    qtbot.addWidget(heatmap)
    heatmap.resize(400, 300)
    heatmap.show()
    heatmap.set_data(np.zeros((40, 40)))
    custom = [(0.5, "first"), (39.5, "last")]
    heatmap.plot.getAxis("top").setTicks([custom, []])
    heatmap.resize(250, 200)
    qtbot.wait(50)
    assert heatmap.plot.getAxis("top")._tickLevels[0] == custom
    heatmap.set_data(np.zeros((40, 40)), col_labels=[f"c{j}" for j in range(40)])  # new labels: ours again
    assert heatmap.plot.getAxis("top")._tickLevels[0][0][1] == "c0"


def test_from_input_shows_the_projected_q_k_v(panel):
    panel.tabs.setCurrentWidget(panel.input_page)
    view = panel.from_input
    x = view.x_editor.matrix()
    np.testing.assert_allclose(view.q_map.values, x @ view.wq_editor.matrix())
    np.testing.assert_allclose(view.k_map.values, x @ view.wk_editor.matrix())
    np.testing.assert_allclose(view.v_map.values, x @ view.wv_editor.matrix())
    assert view.q_map.col_labels[:3] == ["h1·1", "h1·2", "h2·1"]
