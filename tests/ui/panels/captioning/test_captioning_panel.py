"""The Captioning panel driven with qtbot: words change the overlay, stepping, beams, models, export."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PyQt6.QtCore import Qt

from explorer.ui import errors
from explorer.ui.panels.captioning.panel import CaptioningPanel


@pytest.fixture
def panel(qtbot, context, wait_for_tasks):
    widget = CaptioningPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1050, 640)
    widget.show()
    qtbot.waitExposed(widget)
    widget.start()
    wait_for_tasks()
    qtbot.waitUntil(lambda: widget.state.trace is not None, timeout=30_000)
    return widget


def test_starts_on_a_generated_scene_and_captions_it_with_both_decoders(panel):
    assert panel.context.image is not None and panel.context.image.name.startswith("generated scene")
    assert panel.state.trace.words and panel.state.trace.alphas is not None
    assert [b.text() for b in panel.chips.buttons] == panel.state.trace.words
    assert panel.classic_caption.text() == panel.state.classic_trace.caption
    assert panel.beams.rowCount() == len(panel.state.trace.alternatives) >= 1
    assert "pointing" in panel.attention_note.text()


def test_clicking_a_word_changes_the_overlay(panel, qtbot):
    first = panel.current_overlay().copy()
    shown = panel.view.pixmap().toImage()
    changed = False
    for index in range(1, len(panel.chips.buttons)):
        qtbot.mouseClick(panel.chips.buttons[index], Qt.MouseButton.LeftButton)
        assert panel.state.selected == index and panel.chips.buttons[index].isChecked()
        if not np.array_equal(panel.current_overlay(), first):
            changed = True
            break
    assert changed, "no word changed the overlay"
    assert panel.view.pixmap().toImage() != shown
    assert f"“{panel.state.trace.words[index]}”" in panel.word_info.text()


def test_clicking_the_selected_word_again_keeps_it_marked(panel, qtbot):
    index = panel.state.selected
    assert panel.chips.buttons[index].isChecked()
    qtbot.mouseClick(panel.chips.buttons[index], Qt.MouseButton.LeftButton)
    assert panel.state.selected == index and panel.chips.buttons[index].isChecked()


def test_stepping_reveals_words_and_shows_candidates(panel, qtbot):
    n = len(panel.state.trace.words)
    panel.state.step_to(0)
    assert not any(b.isEnabled() for b in panel.chips.buttons)
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert panel.state.shown == 1 and panel.chips.buttons[0].isEnabled() and not panel.chips.buttons[1].isEnabled()
    words = [panel.candidates.item(r, 0).text() for r in range(panel.candidates.rowCount())]
    assert panel.state.trace.words[0] in words
    qtbot.mouseClick(panel.all_button, Qt.MouseButton.LeftButton)
    assert panel.state.shown == n and f"word {n} of {n}" in panel.step_label.text()


def test_beam_size_reruns_and_a_photo_still_captions(panel, qtbot, wait_for_tasks, sample_image):
    panel.beam_spin.setValue(5)
    wait_for_tasks()
    assert panel.state.trace.beam_size == 5
    panel.context.set_image(sample_image.convert("L"), "grey photo")
    wait_for_tasks()
    assert panel.state.trace.beam_size == 5 and panel.state.scene is None
    assert np.allclose(panel.state.trace.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5)
    panel.context.set_image(Image.new("RGB", (3, 500), (0, 0, 0)), "thin")
    wait_for_tasks()
    assert not errors.MESSAGES


def test_a_wrong_model_file_gives_a_message_and_keeps_the_model(panel, tmp_path, wait_for_tasks):
    before = panel.state.main
    bad = tmp_path / "notes.safetensors"
    bad.write_bytes(b"definitely not weights")
    panel.state.load_model(bad)
    wait_for_tasks()
    assert panel.state.main is before
    assert errors.MESSAGES and "notes.safetensors" in errors.MESSAGES[-1].text


def test_export_figure_writes_a_png_with_a_tile_per_word(panel, tmp_path):
    path = panel.export_figure(tmp_path / "figure.png")
    image = Image.open(path)
    assert image.width > 300 and image.height > 150
    panel.tabs.setCurrentIndex(1)
    assert panel.figure_label.pixmap() is not None and not panel.figure_label.pixmap().isNull()


def test_a_model_retrained_in_the_training_panel_is_shown(panel, tmp_path, wait_for_tasks):
    from explorer.engine.captioning.loading import bundled_path

    path = tmp_path / "retrained.safetensors"
    path.write_bytes(bundled_path("attention_boxes").read_bytes())
    panel.context.modelTrained.emit("caption_attention_boxes", "captioning", str(path))
    wait_for_tasks()
    assert panel.state.main.name == "retrained" and "Opened · retrained" in panel.model_combo.currentText()
    assert "TAUGHT" in panel.attention_note.text()


def test_the_settings_come_back_in_the_next_panel(qtbot, context):
    first = CaptioningPanel(context)
    qtbot.addWidget(first)
    first.beam_spin.setValue(1)
    first.page.opacity.setValue(30)
    first.page.cmap_combo.setCurrentText("magma")
    first.page.boxes_check.setChecked(False)
    first.tabs.setCurrentIndex(1)
    second = CaptioningPanel(context)
    qtbot.addWidget(second)
    assert second.beam_spin.value() == 1 and second.page.opacity.value() == 30
    assert second.page.cmap_combo.currentText() == "magma" and not second.page.boxes_check.isChecked()
    assert second.tabs.currentIndex() == 1
    assert (second.state.beam_size, second.state.opacity, second.state.cmap, second.state.tab) == (1, 30, "magma", 1)


def test_the_state_offers_the_theme_s_colour_maps():
    from explorer.ui import theme
    from explorer.ui.panels.captioning.state import COLOUR_MAPS

    assert COLOUR_MAPS == theme.SEQUENTIAL_NAMES  # the state cannot import the (Qt) theme; they must agree


def test_a_hugging_face_folder_shows_its_cross_attention_per_word(panel, hf_folder, wait_for_tasks, qtbot):
    """VisionEncoderDecoder and BLIP alike: the head box appears, each word has its map, a head changes it."""
    from hf_captioners import images  # the shared tiny models' pictures (see conftest.py)

    from explorer.engine.captioning.loading import load

    engine = load(hf_folder)
    picture = next(im for im in images() if len(engine.caption(im, beam_size=3).words) >= 2)
    panel.context.set_image(picture.resize((256, 256)), "square")
    wait_for_tasks()
    panel.state.load_model(hf_folder)
    wait_for_tasks()
    state = panel.state
    assert state.main.kind == "transformer" and not errors.MESSAGES
    assert panel.head_combo.isVisible() and panel.head_combo.count() == 1 + 2 * 3
    assert panel.beam_spin.value() == 3 == state.trace.beam_size  # the model's own beam
    assert "generation config" in panel.attention_note.text() and "score" in panel.beams.horizontalHeaderItem(1).text()
    assert [b.text() for b in panel.chips.buttons] == state.trace.words and state.trace.words
    assert state.trace.alphas.shape[1:] == (4, 4)
    mean = panel.current_overlay().copy()
    index = panel.head_index(1, 0)
    assert panel.head_combo.itemText(index) == "layer 2, head 1"
    panel.head_combo.setCurrentIndex(index)
    wait_for_tasks()
    assert (state.layer, state.head) == (1, 0) and panel.head_combo.currentIndex() == index  # the box stays on it
    assert not np.array_equal(panel.current_overlay(), mean)
