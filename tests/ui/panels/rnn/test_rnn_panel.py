"""RNN panel with qtbot: stepping updates every view, editing weights re-runs, bad input keeps the state."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PyQt6.QtCore import Qt

from explorer.ui import errors


@pytest.fixture
def panel(qtbot, context, sample_image, wait_for_tasks):
    from explorer.ui.panels.rnn.panel import RNNPanel

    context.set_image(sample_image, "sample")
    widget = RNNPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1050, 640)
    widget.show()
    widget.start()
    wait_for_tasks(60_000)
    assert widget.state.trace is not None, errors.MESSAGES
    return widget


def _choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def _check_step(panel, t: int) -> None:
    trace = panel.state.trace
    assert panel.state.step == t and panel.slider.value() == t
    assert panel.step_label.text().startswith(f"t = {t + 1} / {trace.length}")
    np.testing.assert_allclose(panel.rule_view.value("x"), trace.x[t])
    np.testing.assert_allclose(panel.rule_view.value("h"), trace.hidden[t])
    np.testing.assert_allclose(panel.rule_view.value("uh"), trace.uh[t])
    np.testing.assert_allclose(panel.rule_view.value("h_prev"), trace.h_prev[t])
    outlined = [item.rect() for item in panel.hidden_map._highlights]
    assert any(rect.x() == t and rect.width() == 1 for rect in outlined)  # the current column
    assert panel.trajectory.cursor.value() == t + 1
    assert panel.norms.cursor.value() == t + 1


def test_default_is_the_trained_lstm_on_the_memory_task(panel):
    assert panel.model_combo.currentData() == "rnn_memory_lstm"
    assert panel.state.cell.kind == "lstm" and panel.state.sequence.source == "memory"
    assert panel.prediction_view.isVisible()
    final = panel.prediction_view.probs[-1]
    assert final.argmax() == panel.state.sequence.target  # the LSTM remembers the first symbol
    assert set(panel.gates_page.maps) == {"i", "f", "g", "o", "c"}


def test_stepping_updates_every_view(panel, qtbot):
    T = panel.state.trace.length
    _check_step(panel, 0)
    qtbot.keyClick(panel, Qt.Key.Key_Right)
    _check_step(panel, 1)
    panel.forward_button.click()
    _check_step(panel, 2)
    qtbot.keyClick(panel, Qt.Key.Key_Left)
    _check_step(panel, 1)
    qtbot.keyClick(panel, Qt.Key.Key_End)
    _check_step(panel, T - 1)
    for t in np.random.default_rng(5).permutation(T)[:5]:
        panel.slider.setValue(int(t))
        _check_step(panel, int(t))
    panel.set_step(0)
    panel.speed_combo.setCurrentIndex(panel.speed_combo.count() - 1)
    panel.toggle_play()
    qtbot.waitUntil(lambda: panel.state.step >= 3, timeout=5000)
    panel.toggle_play()
    assert not panel.timer.isActive()


def test_weights_do_not_change_while_stepping(panel):
    before = (panel.state.cell.weight_ih.copy(), panel.state.cell.weight_hh.copy())
    bias = panel.rule_view.value("b").copy()
    for t in range(panel.state.trace.length):
        panel.set_step(t)
        np.testing.assert_array_equal(panel.rule_view.value("b"), bias)
    np.testing.assert_array_equal(panel.state.cell.weight_ih, before[0])
    np.testing.assert_array_equal(panel.state.cell.weight_hh, before[1])
    w_norm = panel.norms.curves["‖W‖"].getData()[1]
    h_norm = panel.norms.curves["‖hₜ‖"].getData()[1]
    assert np.ptp(w_norm) == 0 and np.ptp(h_norm) > 0


def test_switching_cells_reuses_the_gate_maps(panel, qtbot):
    """Each map carries pyqtgraph's menus (about 100 widgets): they are reused, never rebuilt per switch."""
    from PyQt6.QtCore import QEvent
    from PyQt6.QtWidgets import QApplication

    from explorer.ui.widgets.heatmap import Heatmap

    _choose(panel.model_combo, "custom")
    counts = []
    for _round in range(3):
        for kind in ("lstm", "rnn_relu", "gru", "rnn_tanh"):
            _choose(panel.kind_combo, kind)
            QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
            counts.append((len(QApplication.allWidgets()), len(panel.gates_page.findChildren(Heatmap))))
    assert len(set(counts[4:])) == 1, counts  # after the first round, nothing is made or lost
    assert counts[-1][1] == 5 and set(panel.gates_page.maps) == {"pre", "h"}
    shown = [m for m in panel.gates_page.findChildren(Heatmap) if not m.isHidden()]
    assert sorted(id(m) for m in shown) == sorted(id(m) for m in panel.gates_page.maps.values())


def test_custom_cells_and_image_rows(panel):
    _choose(panel.model_combo, "custom")
    for kind, gates in (("gru", {"r", "z", "n"}), ("rnn_relu", {"pre", "h"}), ("lstm", {"i", "f", "g", "o", "c"})):
        _choose(panel.kind_combo, kind)
        assert panel.state.cell.kind == kind and set(panel.gates_page.maps) == gates
    panel.hidden_spin.setValue(12)
    assert panel.state.cell.hidden_size == 12 and panel.state.trace.hidden.shape[1] == 12
    _choose(panel.input_combo, "image_rows")
    sequence = panel.state.sequence
    assert sequence.picture is not None and sequence.input_size == 32 and panel.state.cell.input_size == 32
    panel.set_step(5)
    rect = panel.sequence_view.marker.rect()
    assert (rect.y(), rect.height(), rect.width()) == (5, 1, 32)  # row 6 of the picture is outlined
    _choose(panel.input_combo, "image_patches")
    assert panel.state.sequence.length == 64 and panel.state.cell.input_size == 36
    _choose(panel.input_combo, "text")
    panel.text_edit.setText("abcab")
    panel.text_edit.editingFinished.emit()
    assert panel.state.trace.length == 5 and panel.state.cell.input_size == 3


def test_shapes_model_reads_image_rows(panel, wait_for_tasks):
    _choose(panel.model_combo, "rnn_shapes_gru")
    wait_for_tasks()  # the model loads in a worker
    assert panel.state.cell.kind == "gru" and panel.state.sequence.source == "shape"
    probs = panel.prediction_view.probs
    assert probs.shape == (24, 4)
    assert probs[-1].argmax() == panel.state.sequence.target  # the generated shape is named correctly
    _choose(panel.input_combo, "image_rows")
    assert panel.state.sequence.input_size == 24 and panel.state.cell.input_size == 24  # the user's image, 24 px wide


def test_empty_text_is_refused_and_state_kept(panel):
    _choose(panel.model_combo, "custom")
    _choose(panel.input_combo, "text")
    trace = panel.state.trace
    panel.text_edit.setText("")
    panel.text_edit.editingFinished.emit()
    assert errors.MESSAGES and "empty" in errors.MESSAGES[-1].text
    assert panel.state.trace is trace


def test_loading_state_dicts(panel, tmp_path, wait_for_tasks):
    gru = torch.nn.GRU(16, 8)
    good = tmp_path / "gru.pt"
    torch.save(gru.state_dict(), good)
    panel.load_file(good)
    wait_for_tasks()
    assert not errors.MESSAGES, errors.MESSAGES
    assert panel.state.cell.kind == "gru" and panel.state.cell.hidden_size == 8
    np.testing.assert_allclose(panel.state.cell.weight_hh, gru.weight_hh_l0.detach().double().numpy())
    assert "gru.pt" in panel.model_combo.currentText()
    # choosing a cell type the tensors do not fit names the tensors and keeps the GRU
    _choose(panel.kind_combo, "lstm")
    assert "weight_hh_l0" in errors.MESSAGES[-1].text and panel.state.cell.kind == "gru"
    assert panel.kind_combo.currentData() == "gru"
    errors.MESSAGES.clear()
    cell = panel.state.cell
    bad = tmp_path / "linear.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), bad)
    panel.load_file(bad)
    wait_for_tasks()
    assert errors.MESSAGES and "weight_ih_l0" in errors.MESSAGES[-1].text
    assert panel.state.cell is cell


def test_editing_weights_reruns_the_sequence(panel):
    from explorer.ui.widgets.matrix_editor import MatrixEditor

    _choose(panel.model_combo, "custom")
    _choose(panel.kind_combo, "rnn_tanh")
    base = panel.state.base_cell
    editor: MatrixEditor = panel.weights_page.u_editor
    assert editor.shape() == (16, 16)
    doubled = editor.matrix() * 2
    editor.set_matrix(doubled, emit=True)
    assert panel.state.edited
    np.testing.assert_allclose(panel.state.cell.weight_hh, doubled)
    expected = panel.state.cell.trace(panel.state.sequence.values).hidden
    np.testing.assert_allclose(panel.state.trace.hidden, expected)
    assert not np.allclose(panel.state.trace.hidden, base.trace(panel.state.sequence.values).hidden)
    # scrubbing one cell (what a drag or wheel turn does) re-runs at every step of the drag
    for value in (0.5, 0.75, 1.0):
        assert editor.apply_value(2, 3, value)
        assert panel.state.cell.weight_hh[2, 3] == value and editor.matrix()[2, 3] == value
    np.testing.assert_allclose(panel.state.trace.hidden, panel.state.cell.trace(panel.state.sequence.values).hidden)
    panel.weights_page.reset.click()
    assert panel.state.cell is base and not panel.state.edited
    np.testing.assert_allclose(editor.matrix(), base.weight_hh)


def test_long_range_plot_compares_rnn_lstm_gru(panel, qtbot, wait_for_tasks):
    panel.tabs.setCurrentWidget(panel.long_page)
    wait_for_tasks(120_000)
    qtbot.waitUntil(lambda: len(panel.long_page.curves) >= 3, timeout=120_000)
    curves = panel.long_page.curves
    assert {"rnn_memory_rnn", "rnn_memory_lstm", "rnn_memory_gru"} <= set(curves)
    first = {key: values[0] / values[-1] for key, values in curves.items()}  # influence of x_1 relative to x_T
    assert first["rnn_memory_lstm"] > 100 * first["rnn_memory_rnn"]
    assert first["rnn_memory_gru"] > 100 * first["rnn_memory_rnn"]
    assert "%" in panel.long_page.table.text()
    # your own cell is added as a fourth curve, on its own input
    _choose(panel.model_combo, "custom")
    wait_for_tasks(120_000)
    assert "current" in panel.long_page.curves
    assert len(panel.long_page.curves["current"]) == panel.state.trace.length


def test_exports(panel, tmp_path):
    png = panel.export_heatmap(tmp_path / "h.png")
    assert png.stat().st_size > 1000
    csv_path = panel.export_trace(tmp_path / "t.csv")
    assert len(csv_path.read_text().splitlines()) == panel.state.trace.length + 1
    np.testing.assert_allclose(np.load(panel.export_trace(tmp_path / "h.npy")), panel.state.trace.hidden)
    with pytest.raises(ValueError, match="could not"):
        panel.export_trace(tmp_path / "missing" / "t.csv")


def test_large_traces_run_in_a_worker_and_only_the_latest_is_shown(panel, wait_for_tasks):
    from explorer.ui.panels.rnn.state import SYNC_WORK

    _choose(panel.model_combo, "custom")
    _choose(panel.input_combo, "sine")
    _choose(panel.kind_combo, "lstm")
    panel.steps_spin.setValue(1000)
    wait_for_tasks()
    assert 1000 * 4 * 100 * 100 > SYNC_WORK  # each request below is big enough for a worker
    for hidden in (100, 256, 200):  # typed quickly: three requests
        panel.hidden_spin.setValue(hidden)
    wait_for_tasks()
    assert panel.state.trace.hidden.shape == (1000, 200) and panel.state.cell.hidden_size == 200
    assert panel.slider.maximum() == 999 and not errors.MESSAGES


def test_a_model_retrained_in_the_training_panel_is_shown(panel, tmp_path, wait_for_tasks):
    import shutil

    from explorer.engine.rnn.models import bundled_path

    path = tmp_path / "retrained.safetensors"
    shutil.copy(bundled_path("rnn_memory_gru"), path)
    panel.context.modelTrained.emit("rnn_memory_gru", "rnn", str(path))
    wait_for_tasks()
    assert not errors.MESSAGES, errors.MESSAGES
    assert panel.model_combo.currentText().startswith("Retrained") and panel.state.cell.kind == "gru"
    assert panel.state.sequence.source == "memory" and panel.prediction_view.isVisible()


def test_zoom_scales_plot_labels(panel, qapp):
    from PyQt6.QtGui import QFont

    base = qapp.font()
    try:
        bigger = QFont(base)
        bigger.setPointSizeF(base.pointSizeF() * 1.5)
        qapp.setFont(bigger)
        panel.context.set_zoom(1.5)
        assert panel.rule_view.plot.getPlotItem().getAxis("left").style["tickFont"].pointSizeF() == bigger.pointSizeF()
    finally:
        qapp.setFont(base)
