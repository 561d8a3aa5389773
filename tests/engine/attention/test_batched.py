"""The models' attention path is the panel's attention: the same numbers, batched and in float32."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from explorer.engine.attention import attend, scaled_dot_product
from explorer.engine.video.models import CausalSelfAttention

SEEDS = range(12)


def random_case(seed: int):
    g = torch.Generator().manual_seed(seed)
    b, h = int(torch.randint(1, 3, (1,), generator=g)), int(torch.randint(1, 5, (1,), generator=g))
    n_q, n_k = (int(v) for v in torch.randint(1, 20, (2,), generator=g))
    d, d_v = (int(v) for v in torch.randint(1, 33, (2,), generator=g))
    q = torch.randn(b, h, n_q, d, generator=g)
    k = torch.randn(b, h, n_k, d, generator=g)
    v = torch.randn(b, h, n_k, d_v, generator=g)
    allowed = torch.rand(n_q, n_k, generator=g) > 0.3
    allowed[:, 0] = True  # every query keeps one key: SDPA gives NaN for an empty row
    return q, k, v, allowed


@pytest.mark.parametrize("seed", SEEDS)
def test_both_paths_equal_sdpa(seed):
    q, k, v, allowed = random_case(seed)
    for mask in (None, allowed, torch.where(allowed, 0.0, -torch.inf)):
        reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        fused, none = scaled_dot_product(q, k, v, mask=mask)
        written, weights = scaled_dot_product(q, k, v, mask=mask, need_weights=True)
        assert none is None and weights.shape == (*q.shape[:-1], k.shape[-2])
        assert torch.allclose(fused, reference, atol=1e-5), f"seed {seed}"
        assert torch.allclose(written, reference, atol=1e-5), f"seed {seed}"
        assert torch.allclose(weights.sum(-1), torch.ones(()), atol=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_weights_equal_the_panels_float64_attention(seed):
    q, k, v, allowed = random_case(seed)
    _, weights = scaled_dot_product(q, k, v, mask=allowed, need_weights=True, scale=0.3)
    panel = attend(q, k, v, mask=allowed, scale=0.3)
    assert torch.allclose(weights.double(), panel.weights, atol=1e-6), f"seed {seed}"


@pytest.mark.parametrize("seed", range(6))
def test_video_attention_equals_torch_multihead_attention(seed):
    torch.manual_seed(seed)
    dim, heads, T = 16, 4, 9
    reference = torch.nn.MultiheadAttention(dim, heads, batch_first=True).eval()
    ours = CausalSelfAttention(dim, heads).eval()
    ours.load_state_dict(reference.state_dict())  # the same names and layout
    x = torch.randn(2, T, dim)
    blocked = torch.ones(T, T, dtype=torch.bool).triu(1)  # nn.MultiheadAttention: True = may not attend
    with torch.no_grad():
        expected, expected_weights = reference(x, x, x, attn_mask=blocked, average_attn_weights=False)
        out, weights = ours(x, need_weights=True)
        fused, _ = ours(x)
    assert torch.allclose(out, expected, atol=1e-6) and torch.allclose(fused, expected, atol=1e-6)
    assert torch.allclose(weights, expected_weights, atol=1e-6)
    assert torch.all(weights.triu(1) == 0), "frame t attends to frames 0…t only"
