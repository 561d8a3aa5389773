"""The ViT panel driven with qtbot: clicks select patches everywhere, controls redraw, bad files are explained."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PyQt6.QtCore import QPointF, Qt

from explorer.engine.vit import analysis as va
from explorer.ui import errors


@pytest.fixture
def panel(qtbot, context, sample_image, wait_for_tasks):
    from explorer.ui.panels.vit.panel import ViTPanel

    context.set_image(sample_image, "sample")
    widget = ViTPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    widget.start()
    wait_for_tasks(60_000)
    qtbot.waitUntil(lambda: widget.state.result is not None, timeout=10_000)
    return widget


def _click_view(qtbot, graphics, view_box, x: float, y: float) -> None:
    """Left-click the point (x, y) of a pyqtgraph view box, as a user would."""
    scene_point = view_box.mapViewToScene(QPointF(x, y))
    widget_point = graphics.mapFromScene(scene_point)
    qtbot.mouseClick(graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)


def test_clicking_a_patch_updates_the_similarity_map(qtbot, panel):
    page = panel.pages[3]
    panel.steps.setCurrentRow(3)
    qtbot.wait(50)
    gh, gw = panel.state.result.trace.grid
    row, col = 2, 5
    _click_view(qtbot, page.map.graphics, page.map.plot.getViewBox(), col + 0.5, row + 0.5)
    qtbot.waitUntil(lambda: panel.state.selection.patch == row * gw + col, timeout=3000)
    expected = va.position_similarity(panel.state.result.trace.pos_embed)[row * gw + col].reshape(gh, gw).numpy()
    np.testing.assert_allclose(page.map.values, expected, atol=1e-6)
    assert page.map.values[row, col] == pytest.approx(1.0, abs=1e-5)
    # A tile of the grid of grids selects its patch too.
    _click_view(qtbot, page.grids, page.grids.box, 1 * (gw + 1) + 0.5, 3 * (gh + 1) + 0.5)
    qtbot.waitUntil(lambda: panel.state.selection.patch == 3 * gw + 1, timeout=3000)
    np.testing.assert_allclose(page.map.values, va.position_similarity(panel.state.result.trace.pos_embed)[3 * gw + 1].reshape(gh, gw).numpy(), atol=1e-6)


def test_clicking_the_image_selects_the_patch_in_every_step(qtbot, panel):
    page = panel.pages[0]
    p = panel.state.result.trace.patch_size
    gw = panel.state.result.trace.grid[1]
    _click_view(qtbot, page.view, page.view.box, 3.5 * p, 1.5 * p)
    qtbot.waitUntil(lambda: panel.state.selection.patch == 1 * gw + 3, timeout=3000)
    embedding = panel.pages[2].embedding.values.reshape(-1)
    expected = panel.state.result.trace.patch_embeddings[panel.state.selection.patch].numpy()
    np.testing.assert_allclose(embedding[: expected.size], expected, atol=1e-6)
    assert panel.pages[1].strip.selection.isVisible()


def test_encoder_controls_pick_layer_head_query_and_rollout(qtbot, panel):
    page = panel.pages[5]
    trace = panel.state.result.trace
    page.layer.setCurrentIndex(0)
    page.head.setCurrentIndex(2)  # head 2
    np.testing.assert_allclose(page.map, va.attention_map(trace.attentions[0], trace.grid, 0, 1).numpy(), atol=1e-6)
    panel.select_patch(5)
    page.query.setCurrentIndex(1)
    np.testing.assert_allclose(page.map, va.attention_map(trace.attentions[0], trace.grid, 6, 1).numpy(), atol=1e-6)
    page.mode.setCurrentIndex(1)
    page.fusion.setCurrentText("max")
    page.discard.setValue(0.5)
    expected = va.rollout(trace.attentions, "max", 0.5)[6, 1:].reshape(trace.grid).numpy()
    np.testing.assert_allclose(page.map, expected, atol=1e-6)
    assert page.view.overlay.isVisible()
    page.opacity.setValue(20)
    assert page.view.overlay.opacity() == pytest.approx(0.2)
    shown = [name.text() for name, _bar in page.predictions.rows if not name.isHidden()]
    assert shown == [name for name, _p, _i in panel.state.model.top_k(trace, 5)]
    assert len(shown) == min(5, panel.state.model.config.num_classes)


def test_a_bad_model_file_is_explained_and_the_model_kept(qtbot, panel, tmp_path, wait_for_tasks):
    before = panel.state.model
    bad = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3)}, bad)
    panel.load_model(bad)
    wait_for_tasks()
    assert panel.state.model is before
    assert errors.MESSAGES and "conv1.weight" in errors.MESSAGES[-1].text


def test_other_input_sizes_resample_position_embeddings(qtbot, panel, wait_for_tasks):
    p = panel.state.model.config.patch_size
    panel.size_spin.setValue(panel.state.model.config.image_size + 2 * p)
    wait_for_tasks()
    grid = panel.state.model.config.grid + 2
    qtbot.waitUntil(lambda: panel.state.result.trace.grid == (grid, grid), timeout=10_000)
    assert "resampled bicubically" in panel.pages[3].note.text() and "grid" in panel.pages[3].note.text()


def test_exports(qtbot, panel, tmp_path):
    array = np.load(panel.export_attention(tmp_path / "att.npy"))
    cfg = panel.state.model.config
    n = panel.state.result.trace.num_patches + 1
    assert array.shape == (cfg.depth, cfg.heads, n, n) and array.dtype == np.float32
    np.testing.assert_allclose(array.sum(-1), 1.0, atol=1e-5)
    for index in range(len(panel.pages)):
        path = panel.export_page_png(tmp_path / f"step{index}.png", index)
        assert path.stat().st_size > 1000


def test_sample_scene_becomes_the_current_image(qtbot, panel, wait_for_tasks):
    panel.load_sample_scene()
    wait_for_tasks()
    assert panel.context.image.name.startswith("generated scene")
    qtbot.waitUntil(lambda: panel.state.result.source is panel.context.image.image, timeout=10_000)


def test_hovering_a_patch_reads_its_attention_weight(qtbot, panel):
    page = panel.pages[5]
    p = panel.state.result.trace.patch_size
    page.view.on_hover(2.5 * p, 0.5 * p)  # row 0, column 2
    assert f"weight {page.map[0, 2]:.4f}" in page.hover_label.text()
    page.view.on_hover(-1, -1)
    assert "Point at a patch" in page.hover_label.text()


def test_model_trained_in_training_panel_is_loaded(qtbot, context, tmp_path, wait_for_tasks):
    """The Training panel's saved ViT opens in the ViT panel (the loop's output is the panel's input)."""
    from explorer.engine.training.loop import save_trained, train
    from explorer.engine.training.registry import available_tasks
    from explorer.ui.panels.vit.panel import ViTPanel

    entry = available_tasks()["vit-shapes"]
    task = entry.make()
    result = train(task, entry.default_config(steps=2, batch_size=4, warmup_steps=0))
    path = save_trained(tmp_path / "retrained.safetensors", task, result)
    panel = ViTPanel(context)
    qtbot.addWidget(panel)
    panel.start()
    wait_for_tasks(60_000)
    context.modelTrained.emit("vit-shapes", "vit", str(path))
    wait_for_tasks(60_000)
    assert panel.state.model is not None
    assert panel.state.model.name == "retrained.safetensors" or "retrained" in panel.state.model_label.text()


def test_clicking_the_encoder_image_attends_from_that_patch(qtbot, panel):
    """While 'from [CLS]' is chosen, a click on the map selects the patch and reads attention from it."""
    page = panel.pages[5]
    panel.steps.setCurrentRow(5)
    qtbot.wait(50)
    trace = panel.state.result.trace
    p, gw = trace.patch_size, trace.grid[1]
    assert page.query.currentIndex() == 0
    _click_view(qtbot, page.view, page.view.box, 3.5 * p, 1.5 * p)
    qtbot.waitUntil(lambda: panel.state.selection.patch == 1 * gw + 3, timeout=3000)
    assert page.query.currentText() == "from the selected patch"
    expected = va.attention_map(trace.attentions[-1], trace.grid, 1 * gw + 3 + 1, None).numpy()
    np.testing.assert_allclose(page.map, expected, atol=1e-6)
    assert page.view.selection.isVisible()


def test_the_readout_follows_a_switch_to_rollout(qtbot, panel):
    page = panel.pages[5]
    p = panel.state.result.trace.patch_size
    page.view.on_hover(2.5 * p, 0.5 * p)
    assert "mean of heads" in page.hover_label.text()
    page.mode.setCurrentIndex(1)
    assert f"weight {page.map[0, 2]:.4f} — rollout" in page.hover_label.text()


def test_settings_come_back_in_a_new_panel(qtbot, panel, context, wait_for_tasks):
    from explorer.ui.panels.vit.panel import ViTPanel

    page = panel.pages[5]
    panel.steps.setCurrentRow(5)
    page.mode.setCurrentIndex(1)
    page.fusion.setCurrentText("max")
    page.discard.setValue(0.3)
    panel.pages[0].grid_box.setChecked(False)
    panel.size_spin.setValue(96)
    wait_for_tasks()
    again = ViTPanel(context)
    qtbot.addWidget(again)
    again.start()
    wait_for_tasks(60_000)
    assert again.stack.currentIndex() == 5 and again.steps.currentRow() == 5
    encoder = again.pages[5]
    assert encoder.mode.currentIndex() == 1 and encoder.fusion.currentText() == "max"
    assert encoder.discard.value() == pytest.approx(0.3)
    assert not again.pages[0].grid_box.isChecked() and not again.pages[0].view.grid_visible
    assert again.size_spin.value() == 96 and again.state.result.trace.grid == (12, 12)


def test_token_norm_page_shows_the_engines_norms_beside_the_attention(qtbot, panel):
    page = panel.pages[6]
    panel.steps.setCurrentRow(6)
    page.layer.setCurrentIndex(1)
    result = panel.state.result
    assert panel.state.selection.layer == 1
    expected = va.token_norms(result.trace.tokens)[2, 1:].reshape(result.trace.grid).numpy()
    np.testing.assert_allclose(page.values, expected, atol=1e-5)
    assert page.norm_view.overlay.isVisible() and page.attention_view.overlay.isVisible()
    assert f"of {result.trace.num_patches} patch tokens are outliers" in page.summary.text()
    assert "[CLS]" in page.attention_caption.text()


def test_registers_and_the_preprocessing_box_in_the_panel(qtbot, panel, tmp_path, wait_for_tasks):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.Dinov2WithRegistersConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                                                    image_size=56, patch_size=14, num_register_tokens=2)
    folder = tmp_path / "a-long-folder-name-of-a-dinov2-model-with-registers_20250101-071448"
    transformers.Dinov2WithRegistersModel(config).save_pretrained(folder)
    panel.load_model(folder)
    wait_for_tasks(60_000)
    qtbot.waitUntil(lambda: panel.state.result is not None and panel.state.layout.leading == 3, timeout=10_000)
    encoder = panel.pages[5]
    items = [encoder.query.itemText(i) for i in range(encoder.query.count())]
    assert items == ["from [CLS]", "from [REG1]", "from [REG2]", "from the selected patch"]
    encoder.query.setCurrentIndex(2)
    assert panel.state.selection.query == 2 and "[REG2]" in encoder.note.text()
    label = panel.model_label.text()
    first = label.split("<br>")[0]
    assert "…" in first and first.endswith("071448</b>") and first.startswith("<b>a-long")  # elided in the middle
    assert str(folder.resolve()) in panel.model_label.toolTip()
    assert "DINOv2 with registers" in label and "[REG1] [REG2]" in label
    box = panel.pages[0].preprocessing
    assert box.crop.isEnabled() and "assumed" in box.where.text()
    box.crop.setValue(1.0)
    wait_for_tasks(60_000)
    qtbot.waitUntil(lambda: panel.state.model.config.crop_pct == 1.0 and panel.state.result.model is panel.state.model,
                    timeout=10_000)
    assert panel.state.model.config.preprocessing_from == "set by you"
    assert "running on cpu" in panel.device_label.text() or "running on cuda" in panel.device_label.text()
