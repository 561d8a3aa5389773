"""From input on the user's image: X from a ViT's tokens, the W's from its layer. State without Qt, then the tab."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PyQt6.QtCore import Qt

from explorer.engine.vit.heads import ViTInput, layer_qkv
from explorer.engine.vit.loading import LoadedViT
from explorer.engine.vit.model import VisionTransformer, ViTConfig
from explorer.ui.panels.attention.state import AttentionState


@pytest.fixture
def vit_input() -> ViTInput:
    torch.manual_seed(2)
    config = ViTConfig(image_size=32, patch_size=8, dim=48, depth=3, heads=4, mlp_dim=96, num_classes=3)
    net = VisionTransformer(config).eval()
    trace = net.trace(torch.randn(1, 3, 32, 32))
    picture = np.zeros((32, 32, 3), dtype=np.uint8)
    return ViTInput(LoadedViT(net, config, "random"), trace, picture, "random ViT", "noise.png")


def test_a_layer_of_the_image_becomes_x_and_the_ws(vit_input):
    state = AttentionState()
    source = state.from_input
    source.set_vit(vit_input)
    source.load_layer(1)
    assert source.real is not None and source.tokens == 17 and source.d_model == 48 and source.heads == 4
    q, _k, _v, _scale = layer_qkv(vit_input.model, vit_input.trace, 1)
    np.testing.assert_allclose(source.trace.q.numpy(), q.double().numpy(), atol=5e-6)  # the model's Q, per head
    model = vit_input.trace.attentions[1].double().numpy()
    assert np.abs(source.trace.weights.numpy() - model).max() < 1e-6
    assert "equal the model's own" in source.note and "LayerNorm₁" in source.note
    # X is the input: editing it moves the weights, the layer's parameters stay
    params = [p.copy() for p in source.params]
    x = source.x.copy()
    x[5] += 1.0
    source.edit("x", x)
    assert np.abs(source.trace.weights.numpy() - model).max() > 1e-3
    for before, after in zip(params, source.params):
        np.testing.assert_array_equal(before, after)
    # a head of it goes to the Q·K·V tab as a real head, with its tokens' names and the model's weights
    source.send_head = 2
    state.send_head_to_qkv()
    qkv = state.qkv
    assert state.tab == "qkv" and qkv.real is not None and qkv.labels[0] == "[CLS]" and qkv.real.head == 2
    np.testing.assert_allclose(qkv.q, source.trace.q[2].numpy())
    assert qkv.model_error > 1e-3  # X was edited: no longer the model's numbers, and the banner's figure says so
    source.load_layer(0, "embeddings", normalise=False)
    assert source.tokens == 16 and source.labels[0] == "(0, 0)" and source.real.model_weights is None
    source.set_tokens(5)  # your own numbers again, from the real ones that fit
    assert source.real is None and source.x.shape == (5, 16)


def test_without_a_vit_there_is_a_message_and_the_numbers_stay():
    errors = []
    state = AttentionState(on_error=lambda title, exc: errors.append(str(exc)))
    before = state.from_input.x.copy()
    state.from_input.load_layer(0)
    assert errors and "no ViT has run on the image yet" in errors[0]
    np.testing.assert_array_equal(state.from_input.x, before)


def test_the_tab_reads_a_vit_from_a_received_head(qtbot, context, vit_input):
    from explorer.engine.vit.heads import vit_head
    from explorer.ui.panels.attention.panel import AttentionPanel

    panel = AttentionPanel(context)
    qtbot.addWidget(panel)
    panel.resize(1100, 640)
    panel.show()
    panel.receive(vit_head(vit_input.model, vit_input.trace, 2, 1, query=3, picture=vit_input.picture,
                           model_name="random ViT", input_name="noise.png"))
    panel.tabs.setCurrentWidget(panel.input_page)
    view = panel.from_input
    assert view.source_combo.isEnabled() and "random ViT" in view.vit_label.text()
    view.layer_spin.setValue(3)
    view.source_combo.setCurrentIndex(1)  # tokens entering layer 3
    state = panel.state.from_input
    qtbot.waitUntil(lambda: not state.busy and state.trace.num_heads == 4, timeout=20_000)  # a real layer: in a worker
    assert state.real is not None and state.real.layer == 2 and view.x_editor.model.rowCount() == 17
    assert view.x_editor.model.headerData(0, Qt.Orientation.Vertical) == "[CLS]"
    assert not view.tokens_spin.isEnabled() and view.tokens_spin.value() == 17
    assert sum(h.isVisible() for h in view.head_maps) == 4
    np.testing.assert_allclose(view.head_maps[1].values, vit_input.trace.attentions[2][1].double().numpy(), atol=1e-6)
