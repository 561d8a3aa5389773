"""torchvision-layout checkpoints against the real torchvision ``VisionTransformer``.

At other sizes torchvision itself resamples the state dict with
``interpolate_embeddings`` (bicubic, align_corners=True) and builds a model for
that size; ours must match that model. Skipped without torchvision.
"""

from __future__ import annotations

import pytest
import torch
from vit_parity import SEEDS, close, perturb, pixels

from explorer.engine import vit

tv = pytest.importorskip("torchvision.models.vision_transformer")


def _torchvision(seed: int, image_size: int = 32, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    args = dict(image_size=image_size, patch_size=8, num_layers=2, num_heads=3, hidden_dim=192, mlp_dim=64, num_classes=7)
    return perturb(tv.VisionTransformer(**{**args, **kw}), seed)


def _attention(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """torchvision's own nn.MultiheadAttention, asked for its per-head weights on each block's input."""
    weights = []

    def grab(block, inputs, _output):
        y = block.ln_1(inputs[0])
        weights.append(block.self_attention(y, y, y, need_weights=True, average_attn_weights=False)[1][0])

    handles = [layer.register_forward_hook(grab) for layer in model.encoder.layers]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return weights


@pytest.mark.parametrize("seed", SEEDS)
def test_torchvision_layout_matches_torchvision(tmp_path, seed):
    reference = _torchvision(seed)
    torch.save(reference.state_dict(), tmp_path / "tv.pth")
    model = vit.load(tmp_path / "tv.pth")
    assert model.config.source == "torchvision" and model.config.pos_interpolation == "bicubic-corners"
    assert (model.config.dim, model.config.depth, model.config.heads, model.config.num_classes) == (192, 2, 3, 7)
    x = pixels(seed, 32, 32)
    trace = model.trace(x)
    with torch.no_grad():
        close(trace.logits, reference(x), "torchvision logits", seed)
    for layer, theirs in enumerate(_attention(reference, x)):
        close(trace.attentions[layer], theirs, f"torchvision attention {layer}", seed)


@pytest.mark.parametrize("side", [24, 56])
def test_other_sizes_resample_as_torchvisions_interpolate_embeddings(tmp_path, side):
    seed = side
    reference = _torchvision(seed)
    torch.save(reference.state_dict(), tmp_path / "tv.pth")
    model = vit.load(tmp_path / "tv.pth")
    resized = tv.interpolate_embeddings(side, 8, reference.state_dict())
    at_size = _torchvision(seed, image_size=side)
    at_size.load_state_dict(resized)
    x = pixels(seed, side, side)
    with torch.no_grad():
        close(model.trace(x).logits, at_size.eval()(x), f"torchvision at {side} px", seed)


def test_torchvision_vit_b_16_builder(tmp_path):
    """The library's own builder (the full ViT-B/16 shape) at a small input."""
    models = pytest.importorskip("torchvision.models")
    torch.manual_seed(3)
    reference = perturb(models.vit_b_16(weights=None, image_size=64), 3, scale=0.02)
    torch.save(reference.state_dict(), tmp_path / "vit_b_16.pth")
    model = vit.load(tmp_path / "vit_b_16.pth")
    assert (model.config.dim, model.config.depth, model.config.heads, model.config.patch_size) == (768, 12, 12, 16)
    x = pixels(3, 64, 64)
    with torch.no_grad():
        close(model.trace(x).logits, reference(x), "vit_b_16 logits", 3)
