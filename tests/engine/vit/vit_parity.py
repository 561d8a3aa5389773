"""Shared by the ViT parity tests: perturb a reference model, save it, compare a trace with its outputs.

Every weight is perturbed (LayerNorm scales and biases, layer scale, tokens), so
no term of the forward can hide behind an initial value of 0 or 1.
"""

from __future__ import annotations

import torch

TOL = 1e-4
SEEDS = (0, 1, 2)


def perturb(module: torch.nn.Module, seed: int, scale: float = 0.1) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * scale)
    return module.eval()


def pixels(seed: int, height: int, width: int) -> torch.Tensor:
    return torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(1000 + seed))


def close(ours: torch.Tensor, theirs: torch.Tensor, what: str, seed: int, tol: float = TOL) -> float:
    """Assert |ours − theirs| ≤ tol everywhere; the message names what, the seed and the error."""
    assert ours.shape == theirs.shape, f"{what} (seed {seed}): shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    error = (ours.float() - theirs.float()).abs().max().item()
    assert error <= tol, f"{what} (seed {seed}): max |Δ| {error:.2e} > {tol:.0e}"
    return error


def timm_model(name: str, seed: int, **kwargs):
    """A real timm model with random (perturbed) weights, accepting any input size."""
    import pytest

    timm = pytest.importorskip("timm")
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False, dynamic_img_size=True, **kwargs)
    return perturb(model, seed)


def timm_output(model, x: torch.Tensor) -> torch.Tensor:
    """Logits, or the pooled features of a model without classifier."""
    with torch.no_grad():
        if model.num_classes:
            return model(x)
        return model.forward_head(model.forward_features(x), pre_logits=True)


def timm_attention(model, x: torch.Tensor) -> list[torch.Tensor]:
    """Every block's attention weights, recomputed from its own qkv projection on its own input."""
    weights = []

    def grab(module, inputs, _output):
        (y,) = inputs
        b, n, d = y.shape
        h = module.num_heads
        q, k, _ = module.qkv(y).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = module.q_norm(q), module.k_norm(k)
        weights.append(((q * module.scale) @ k.transpose(-2, -1)).softmax(-1)[0])  # (h, T, T)

    handles = [block.attn.register_forward_hook(grab) for block in model.blocks]
    try:
        timm_output(model, x)
    finally:
        for handle in handles:
            handle.remove()
    return weights
