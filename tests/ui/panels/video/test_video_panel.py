"""Video panel with qtbot: a generated clip is analysed, scrubbing updates every view, bad files keep the clip."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtWidgets import QStyle

from explorer.ui import errors


@pytest.fixture
def panel(qtbot, context, wait_for_tasks):
    from explorer.ui.panels.video.panel import VideoPanel

    widget = VideoPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1100, 680)
    widget.show()
    widget.start()
    wait_for_tasks(60_000)
    assert widget.state.trace is not None, errors.MESSAGES
    return widget


def test_scrubbing_updates_every_view(panel, qtbot):
    T = panel.state.clip.count
    assert T == 16 and panel.slider.maximum() == T - 1
    for index in (7, 0, T - 1, 3, 11):  # both ends, and back and forth
        panel.slider.setValue(index)
        assert panel.state.current == index
        assert panel.frame_label.text().startswith(f"frame {index + 1} / {T}")
        assert panel.strip.currentRow() == index
        assert np.allclose(panel.feature_map.values[0], panel.state.trace.features[index].numpy())
        assert panel.belief.cursor.value() == index + 1
        assert f"after frame {index + 1}" in panel.belief.readout.text()
        assert panel.importance.current == index
        rect = panel.hidden_map._highlights[0].rect()
        assert (rect.x(), rect.width()) == (index, 1)  # the current frame's column is outlined
        assert panel.importance.readout.text().startswith(f"frame {index + 1}: ")
    # clicking a thumbnail or a column of the hidden-state map moves the scrubber too
    panel.strip.setCurrentRow(3)
    assert panel.slider.value() == 3 and panel.state.current == 3
    panel.hidden_map.clicked.emit(0, 7)
    assert panel.state.current == 7 and panel.strip.currentRow() == 7


def test_views_show_the_trace(panel):
    trace = panel.state.trace
    assert np.allclose(panel.hidden_map.values, trace.hidden.numpy().T)
    assert np.allclose(panel.belief.probs, trace.probs.numpy())
    assert np.allclose(panel.importance.values, trace.importance.numpy())
    assert "Final answer" in panel.status.text()


def test_transformer_shows_attention(panel, wait_for_tasks):
    panel.model_combo.setCurrentIndex(1)
    wait_for_tasks(60_000)
    assert panel.state.trace.arch == "transformer" and not errors.MESSAGES
    assert panel.attention_map.isVisible()
    attention = panel.attention_map.values
    assert attention.shape == (16, 16) and np.allclose(attention.sum(1), 1, atol=1e-5)
    assert np.allclose(np.triu(attention, 1), 0)  # causal
    panel.slider.setValue(5)
    rect = panel.attention_map._highlights[0].rect()
    assert (rect.y(), rect.height()) == (5, 1)


def test_playback_advances(panel, qtbot):
    panel.slider.setValue(0)
    panel.play_button.setChecked(True)
    qtbot.waitUntil(lambda: panel.state.current >= 2, timeout=5_000)
    assert shows_icon(panel.play_button, QStyle.StandardPixmap.SP_MediaPause)
    panel.play_button.setChecked(False)
    assert not panel.timer.isActive()
    assert shows_icon(panel.play_button, QStyle.StandardPixmap.SP_MediaPlay)


def shows_icon(button, standard) -> bool:
    """The button draws the style's own icon (a font may lack the ⏸ glyph), and no text in its place."""
    drawn = button.icon().pixmap(16, 16).toImage()
    wanted = button.style().standardIcon(standard).pixmap(16, 16).toImage()
    return not drawn.isNull() and drawn == wanted and button.text() == ""


def test_open_file_and_bad_file_keeps_clip(panel, tmp_path, wait_for_tasks):
    from explorer.engine.video.generated import example
    from explorer.engine.video.writing import write_gif

    frames, _ = example(0, seed=77)
    frames = np.concatenate([frames, frames])  # 32 frames: the cap samples 16
    write_gif(tmp_path / "right.gif", frames)
    panel.open_path(tmp_path / "right.gif")
    wait_for_tasks(60_000)
    assert panel.state.clip.name == "right.gif" and panel.state.clip.count == 16 and not errors.MESSAGES
    panel.cap_spin.setValue(24)
    panel.cap_spin.editingFinished.emit()  # a new frame cap re-reads the file
    wait_for_tasks(60_000)
    assert panel.state.clip.name == "right.gif" and panel.state.clip.count == 24 and panel.slider.maximum() == 23
    before = panel.state.clip
    (tmp_path / "broken.mp4").write_text("not a video")
    panel.open_path(tmp_path / "broken.mp4")
    wait_for_tasks(60_000)
    assert panel.state.clip is before
    assert any("broken.mp4" in m.text for m in errors.MESSAGES), errors.MESSAGES
    assert "Kept the previous clip" in panel.status.text()


def test_generate_and_export(panel, tmp_path, wait_for_tasks):
    panel.example_combo.setCurrentIndex(2)
    panel.generate_button.click()
    wait_for_tasks(60_000)
    assert panel.state.clip.label == 2 and "moves down" in panel.state.clip.name
    out = panel.export_png(tmp_path / "video.png")
    assert out.stat().st_size > 10_000


def test_a_model_trained_in_the_app_is_offered(panel, tmp_path, wait_for_tasks):
    import shutil

    from explorer.assets import resource_path

    path = shutil.copy(resource_path("models", "video_gru.safetensors"), tmp_path / "video_gru-retrained.safetensors")
    panel.context.modelTrained.emit("video_gru", "video", str(path))
    wait_for_tasks(60_000)
    assert panel.model_combo.currentText() == "trained: video_gru-retrained"
    assert panel.state.models[str(path)].name == "video_gru-retrained" and not errors.MESSAGES
    panel.context.modelTrained.emit("rnn_memory", "rnn", str(path))  # another panel's model: ignored
    assert panel.model_combo.count() == 3


def test_cancel_keeps_the_previous_clip(panel, tmp_path, qtbot, wait_for_tasks):
    from explorer.engine.video.generated import example
    from explorer.engine.video.writing import write_gif

    frames, _ = example(3, seed=5, size=96)
    path = write_gif(tmp_path / "long.gif", np.concatenate([frames] * 8), fps=30)
    before = panel.state.clip
    task = panel.open_path(path)
    task.cancel()
    wait_for_tasks(60_000)
    assert panel.state.clip is before and not errors.MESSAGES
    assert not panel.progress.isVisible() and not panel.cancel_button.isVisible()


def test_theme_switch_restyles_the_marks(panel, qapp):
    from explorer.ui import theme

    theme.apply_theme(qapp, "dark")
    try:
        panel.context.themeChanged.emit("dark")
        dark = theme.colors("dark").highlight.lower()
        assert panel.hidden_map._highlights[0].pen().color().name() == dark
        assert panel.belief.cursor.pen.color().name() == dark
    finally:
        theme.apply_theme(qapp, "light")


def test_settings_come_back_next_launch(panel, context, qtbot, wait_for_tasks):
    from explorer.ui.panels.video.panel import VideoPanel

    panel.model_combo.setCurrentIndex(1)
    panel.cap_spin.setValue(24)
    panel.example_combo.setCurrentIndex(2)
    wait_for_tasks(60_000)
    assert context.settings.value("panels/video/model_name") == "video_transformer"
    again = VideoPanel(context)
    qtbot.addWidget(again)
    assert again.model_combo.currentData() == "video_transformer"
    assert again.cap_spin.value() == 24 and again.example_combo.currentIndex() == 2
