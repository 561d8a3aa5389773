"""The RNN panel with real models, with qtbot: Captioning → RNN → back at the same word, Video → RNN → back at
the same frame, hundreds of inputs kept legible; and the RNN panel's regressions (focus, legend, notation,
overflowing weights)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QLabel

from explorer.ui import errors
from explorer.ui.panels.rnn.real import REAL


def activate(window, qtbot) -> None:
    if not window.isActiveWindow():
        with qtbot.waitActive(window):
            window.activateWindow()


def captioner_states(captioner, image, tokens) -> np.ndarray:
    """h_t of the captioner's own float32 decoder fed ``tokens`` (its caption), step by step."""
    from explorer.engine.captioning.networks import START

    model, states = captioner.model, []
    with torch.no_grad():
        state = model.start(captioner.pixels(image))
        for prev in [START, *tokens]:
            _, state, _, _ = model.step(torch.tensor([prev]), state)
            states.append(state["h"][0].double().numpy())
    return np.stack(states)


def test_captioning_decoder_opens_in_the_rnn_panel_at_its_word_and_goes_back(window, qtbot, wait_for_tasks):
    from explorer.engine.infra import scenes

    two_objects = scenes.generate(scenes.split_seed("val", 900123), size=256).image  # "a red cross below a …"
    window.context.set_image(two_objects, "scene 900123")
    window.set_panel("captioning")
    wait_for_tasks(60_000)
    capt = window.current_page().panel
    capt.state.choose_model("attention_boxes")  # x_t = [word embedding | attention context]
    wait_for_tasks(60_000)
    trace = capt.state.trace
    assert trace is not None and len(trace.words) >= 4, errors.MESSAGES
    capt.state.select_word(2)
    capt.rnn_button.click()
    wait_for_tasks(60_000)
    assert window.current_key() == "rnn", errors.MESSAGES
    rnn = window.current_page().panel
    state = rnn.state
    assert state.source == REAL and state.step == 2 and rnn.slider.value() == 2
    own = captioner_states(capt.state.main, capt.state.image, trace.tokens)  # float32, word by word
    for t in range(len(trace.words)):
        rnn.slider.setValue(t)
        np.testing.assert_allclose(rnn.rule_view.value("h"), own[t], atol=1e-5, err_msg=f"word {t + 1}")
    assert rnn.real_note.isVisible() and "attention context" in rnn.real_note.text()
    assert capt.state.main.title in rnn.real_note.text()
    assert not rnn.input_combo.isVisible() and not rnn.kind_combo.isEnabled()
    assert rnn.model_combo.currentData() == REAL and "Captioning:" in rnn.model_combo.currentText()
    assert window.minimumSizeHint().width() <= 1280  # the long titles and 'Back to …' fit a projector's 1280 px
    rnn.slider.setValue(3)  # stepping here is carried back
    assert rnn.back_link_button.isVisible() and rnn.back_link_button.text().startswith("◀ Back to Captioning · word 4 '")
    rnn.back_link_button.click()
    assert window.current_key() == "captioning" and capt.state.selected == 3
    capt.state.select_word(1)
    capt.rnn_button.click()
    wait_for_tasks(60_000)
    assert window.current_key() == "rnn" and rnn.state.step == 1  # the source's word becomes the step
    assert not errors.MESSAGES, errors.MESSAGES


def test_video_gru_opens_in_the_rnn_panel_at_its_frame_and_goes_back(window, wait_for_tasks):
    window.set_panel("video")
    wait_for_tasks(60_000)
    video = window.current_page().panel
    assert video.state.trace is not None and video.rnn_button.isEnabled(), errors.MESSAGES
    video.state.set_frame(5)
    video.rnn_button.click()
    assert window.current_key() == "rnn"
    rnn = window.current_page().panel
    wait_for_tasks(60_000)
    assert rnn.state.step == 5 and rnn.state.cell.kind == "gru"
    np.testing.assert_allclose(rnn.state.trace.hidden, video.state.trace.hidden.double().numpy(), atol=1e-5)
    assert "frame features" in rnn.real_note.text() and video.state.clip.name in rnn.real_note.text()
    rnn.slider.setValue(11)
    rnn.back_link_button.click()
    assert window.current_key() == "video" and video.state.current == 11 and video.slider.value() == 11
    video.state.select_model("video_transformer")
    wait_for_tasks(60_000)
    assert not video.rnn_button.isEnabled()
    assert not errors.MESSAGES, errors.MESSAGES


@pytest.fixture
def panel(qtbot, context, wait_for_tasks):
    from explorer.ui.panels.rnn.panel import RNNPanel

    context.set_image(Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)), "noise")
    widget = RNNPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1280, 660)
    widget.show()
    widget.start()
    wait_for_tasks(60_000)
    return widget


def test_hundreds_of_inputs_are_shown_by_named_part(panel, qtbot):
    """A decoder with x_t = [word embedding (64) | attention context (512)]: each part its own strip, labelled."""
    from explorer.engine import captioning
    from explorer.engine.captioning.loading import SceneCaptioner
    from explorer.engine.captioning.networks import ModelConfig, build
    from explorer.engine.captioning.recurrence import decoder_recurrence

    vocab = captioning.load("attention").vocab
    torch.manual_seed(3)
    model = build(ModelConfig(vocab_size=len(vocab), channels=512, embed=64, hidden=128, feed="context")).eval()
    captioner = SceneCaptioner(model, vocab, {}, "wide")
    image = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    rec = decoder_recurrence(captioner, image, captioner.caption(image), step=3, image_name="noise.png")
    panel.receive(rec)
    assert panel.state.step == 3 and panel.state.cell.input_size == 576
    keys = [key for key, *_ in panel.rule_view.terms]
    assert keys[:2] == ["x:0", "x:64"] and panel.rule_view.value("x").shape == (576,)
    assert "I = 576 (64 + 512)" in panel.rule_view.title.text()
    ticks = [text for _pos, text in panel.sequence_view.plot.getAxis("left")._tickLevels[0]]
    assert ticks == ["emb (64)", "ctx (512)"] and len(panel.sequence_view.dividers) == 1
    assert "[word embedding (64) | attention context (512)]" in panel.sequence_view.note.text()  # spelt out
    np.testing.assert_array_equal(panel.rule_view.value("x:64"), rec.x[3, 64:])
    panel.tabs.setCurrentWidget(panel.weights_page)
    assert panel.weights_page.w_map.isVisible() and panel.weights_page.w_map.col_labels[64] == "ctx 1"
    panel.tabs.setCurrentIndex(0)
    for t in range(rec.length):
        panel.slider.setValue(t)
        np.testing.assert_array_equal(panel.rule_view.value("x"), rec.x[t])
    assert not errors.MESSAGES, errors.MESSAGES


def test_space_plays_after_switching_into_the_panel(window, qtbot, wait_for_tasks):
    """Regression: after Ctrl+PgUp into RNN, Space opened the Input box (the control last used there)."""
    for key in ("rnn", "vit", "rnn"):
        window.set_panel(key)
        wait_for_tasks(60_000)
    activate(window, qtbot)
    rnn = window.current_page().panel
    rnn.input_combo.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is rnn.input_combo)
    window.next_panel()  # to the ViT panel, then back as Ctrl+PgUp does
    assert window.current_key() == "vit"
    window.previous_panel()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is rnn, timeout=2000)
    rnn.state.set_step(0)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert rnn.state.playing and not rnn.input_combo.view().isVisible()
    rnn.toggle_play()


def test_the_long_range_legends_sit_outside_the_plots(panel, wait_for_tasks):
    """Regression: the legend inside the plot covered the gated cells' curves."""
    panel.tabs.setCurrentWidget(panel.long_page)
    wait_for_tasks(120_000)
    page = panel.long_page
    assert len(page.curves) == 3, errors.MESSAGES
    for plot in (page.plot, page.accuracy):
        assert plot.getPlotItem().legend is None  # nothing drawn over the curves
    for name in ("RNN", "LSTM", "GRU"):
        assert name in page.legend.text() and name in page.accuracy_legend.text()
    assert page.legend.isVisible() and page.legend.geometry().bottom() <= page.plot.geometry().top()


RAW = re.compile(r"_\{|\b[xhc]_[tT]\b|\bh_0\b|\bb_(ih|hh)\b")


def shown_texts(panel) -> list[str]:
    texts = [w.text() for w in panel.findChildren(QLabel)]
    texts += [label for _key, label, *_ in panel.rule_view.terms]
    texts += [heat.title_label.text() for heat in panel.findChildren(type(panel.hidden_map))]
    for combo in (panel.model_combo, panel.weights_page.block):
        texts += [combo.itemText(i) for i in range(combo.count())]
    return texts


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_notation_is_rendered_not_typed(panel, kind, wait_for_tasks):
    """Regression: the panel showed h_{t-1} and c_{t-1} as typed."""
    panel.state.choose_model("custom")
    panel.state.set_cell_settings(kind=kind)
    for page in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(page)
        wait_for_tasks(120_000)  # the long-range curves and their legend
        raw = [text for text in shown_texts(panel) if RAW.search(text)]
        assert not raw, raw
    assert any("hₜ₋₁" in text for text in shown_texts(panel))


def test_overflowing_weights_get_a_message_and_the_old_values_stay(panel, qtbot):
    """Regression: 1e308 in a weight made the strips index their colours at −9.2e18."""
    panel.state.choose_model("custom")
    panel.state.set_cell_settings(kind="rnn_relu", hidden_size=8)
    panel.state.set_input(input_kind="image_rows")  # 32 inputs per step
    page = panel.weights_page
    panel.tabs.setCurrentWidget(page)
    for editor, row, value, says in (
        (page.w_editor, 0, 1e308, "1e+308 is too large: its norm"),  # ‖W‖ = √Σw² would be infinite
        (page.u_editor, 1, 1e100, "U·hₜ₋₁ overflows at step"),  # a ReLU state that grows 1e100-fold per step
    ):
        errors.MESSAGES.clear()
        cell, shown = panel.state.cell, editor.matrix().copy()
        edit = shown.copy()
        edit[row] = value
        editor.set_matrix(edit, emit=True)
        assert errors.MESSAGES and says in errors.MESSAGES[-1].text, (value, errors.MESSAGES)
        assert panel.state.cell is cell and not panel.state.edited
        qtbot.waitUntil(lambda editor=editor, shown=shown: np.array_equal(editor.matrix(), shown), timeout=2000)
    big = page.w_editor.matrix().copy()
    big[0, 0] = 1e150  # large but representable: it runs, and every strip still colours
    page.w_editor.set_matrix(big, emit=True)
    assert panel.state.edited and panel.state.cell.weight_ih[0, 0] == 1e150
    for row in range(len(panel.rule_view.terms)):
        index_colours = panel.rule_view._colours(row, panel.state.step)
        assert index_colours.shape[-1] == 3
