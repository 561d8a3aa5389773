"""A real head, end to end through the main window: open it from the ViT or Video panel, edit, reset, go back.

A random-weight ViT saved in timm's layout and a random-weight video transformer saved
as a trained model go through the panels' own loading; the head is chosen and the patch
clicked as a user does; the Attention panel's maps are compared row by row with the
model's trace.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PyQt6.QtCore import QPointF, Qt

from explorer.engine.attention.core import attend
from explorer.engine.infra.checkpoints import save_model
from explorer.engine.video.models import VideoClassifier
from explorer.engine.vit.heads import layer_qkv
from explorer.engine.vit.model import VisionTransformer, ViTConfig

TOL = 1e-6


@pytest.fixture
def vit_file(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(11)
    config = ViTConfig(image_size=64, patch_size=8, dim=256, depth=3, heads=4, mlp_dim=512, num_classes=10)
    path = tmp_path / "random_vit.safetensors"  # timm's names; 4 heads is the standard count for width 256
    save_file({k: v.contiguous() for k, v in VisionTransformer(config).state_dict().items()}, str(path))
    return path


def click_patch(qtbot, view, patch: int, grid: int, size: int) -> None:
    """A left click at the centre of ``patch`` on a PatchImageView."""
    r, c = divmod(patch, grid)
    scene = view.box.mapViewToScene(QPointF((c + 0.5) * size, (r + 0.5) * size))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(scene))


def assert_rows_equal(shown: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert shown.shape == expected.shape, what
    for row in range(expected.shape[0]):
        error = float(np.abs(shown[row] - expected[row]).max())
        assert error < TOL, f"{what}, row {row}: |Δ| {error:.2e}"


def test_a_vit_head_from_a_clicked_patch(qtbot, window, wait_for_tasks, vit_file, sample_image):
    window.context.set_image(sample_image, "sample.png")
    window.set_panel("vit")
    vit = window.current_page().panel
    wait_for_tasks(60_000)
    vit.load_model(str(vit_file))
    wait_for_tasks(60_000)
    assert vit.state.model.name == vit_file.name and vit.state.result is not None
    vit.state.step = 6
    page = next(p for p in vit.pages if hasattr(p, "open_attention_button"))
    page.layer.setCurrentIndex(1)  # layer 2
    page.head.setCurrentIndex(3)  # entry 0 is the mean of the heads: head 3
    click_patch(qtbot, page.view, 17, grid=8, size=8)
    assert vit.state.selection.patch == 17 and vit.state.selection.query is None
    assert page.open_attention_button.isEnabled()
    qtbot.mouseClick(page.open_attention_button, Qt.MouseButton.LeftButton)

    assert window.current_key() == "attention"
    panel = window.current_page().panel
    qkv, state = panel.qkv, panel.state.qkv
    trace = vit.state.result.trace
    assert state.real is not None and state.selected_query == 18  # [CLS] first: patch 17 is row 18
    assert qkv.q_editor.model.rowCount() == 65 and qkv.q_editor.model.columnCount() == 64
    assert qkv.q_editor.model.headerData(0, Qt.Orientation.Vertical) == "[CLS]"
    assert qkv.q_editor.model.headerData(18, Qt.Orientation.Vertical) == "(2, 1)"
    banner = qkv.banner_label.text()
    assert "random_vit.safetensors" in banner and "sample.png" in banner and "layer 2, head 3" in banner
    # the model's own numbers, every step
    model = trace.attentions[1][2].double().numpy()
    assert_rows_equal(qkv.weights_map.values, model, "weights vs the trace")
    q, k, v, scale = (t[2].double() if torch.is_tensor(t) else t for t in layer_qkv(vit.state.model, trace, 1))
    np.testing.assert_array_equal(qkv.q_editor.matrix(), q.numpy())  # exactly the model's Q
    scores = (q @ k.T).numpy()
    assert_rows_equal(qkv.scores_map.values, scores, "scores")
    assert_rows_equal(qkv.scaled_map.values, scores * scale, "scaled scores")
    sdpa = torch.nn.functional.scaled_dot_product_attention(q[None], k[None], v[None], scale=scale)[0].numpy()
    assert_rows_equal(qkv.output_map.values, sdpa, "output")
    # the selected query over the image and as bars; a clicked key outlines its patch
    assert qkv.image_map.isVisible()
    np.testing.assert_allclose(qkv.bars._heights, model[18], atol=TOL)
    np.testing.assert_allclose(qkv.image_map._weights, model[18], atol=TOL)
    qkv._on_click(18, 30)
    assert state.selected_key == 30 and qkv.image_map.key_box.isVisible()
    assert qkv.image_map.key_box.rect() == qkv.image_map.cell_of(30)

    # an edit recomputes; Reset to model restores
    qkv.k_editor.apply_value(30, 4, 5.0)
    edited_k = k.numpy().copy()
    edited_k[30, 4] = 5.0
    expected = attend(q.numpy(), edited_k, v.numpy(), scale=scale)
    assert_rows_equal(qkv.weights_map.values, expected.weights.numpy(), "weights after the edit")
    assert state.edited and "Edited" in qkv.banner_label.text()
    qkv.model_reset_button.click()
    assert_rows_equal(qkv.weights_map.values, model, "weights after Reset")
    np.testing.assert_array_equal(qkv.k_editor.matrix(), k.numpy())
    assert state.selected_query == 18 and not state.edited

    # back to the ViT panel at the same layer, head and query (now another patch)
    state.select_query(40)
    qkv.back_button.click()
    assert window.current_key() == "vit"
    selection = vit.state.selection
    assert (selection.layer, selection.head, selection.patch, selection.query) == (1, 2, 39, None)


def test_a_video_head_from_the_current_frame(qtbot, window, wait_for_tasks, tmp_path):
    torch.manual_seed(3)
    model = VideoClassifier(arch="transformer", heads=4, layers=2)
    path = save_model(tmp_path / "random_video.safetensors", model.state_dict(),
                      {"model": {"arch": "transformer", "heads": 4, "layers": 2}})
    window.set_panel("video")
    video = window.current_page().panel
    wait_for_tasks(60_000)
    video.state.add_trained_model(str(path))
    wait_for_tasks(60_000)
    assert video.state.model_name == str(path) and video.state.trace.attentions is not None
    video.state.set_frame(9)
    assert video.open_attention_button.isVisible()
    video.head_combo.setCurrentIndex(video.head_pairs.index((1, 2)))  # layer 2, head 3
    qtbot.mouseClick(video.open_attention_button, Qt.MouseButton.LeftButton)

    assert window.current_key() == "attention"
    panel = window.current_page().panel
    qkv, state = panel.qkv, panel.state.qkv
    trace = video.state.trace
    model_weights = trace.attentions[1][2].double().numpy()
    assert state.selected_query == 9 and state.mask_on  # causal: frame t sees frames 1…t
    assert_rows_equal(qkv.weights_map.values, model_weights, "video weights vs the trace")
    assert qkv.scores_map._masked is not None and qkv.scores_map._masked[0, 1]  # a later frame: greyed
    assert qkv.q_editor.model.headerData(9, Qt.Orientation.Vertical) == "frame 10"
    assert "layer 2, head 3" in qkv.banner_label.text()
    qkv.q_editor.apply_value(9, 0, 3.0)
    q = qkv.q_editor.matrix()
    expected = attend(q, qkv.k_editor.matrix(), qkv.v_editor.matrix(), mask=state.mask)
    assert_rows_equal(qkv.weights_map.values, expected.weights.numpy(), "video weights after the edit")
    qkv.model_reset_button.click()
    assert_rows_equal(qkv.weights_map.values, model_weights, "video weights after Reset")
    state.select_query(4)
    qkv.back_button.click()
    assert window.current_key() == "video" and video.state.current == 4
    assert video.chosen_head() == (1, 2)
