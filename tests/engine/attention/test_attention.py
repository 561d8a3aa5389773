"""explorer.engine.attention against torch's SDPA and MultiheadAttention, on random shapes and masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.engine.attention.core import (
    attend,
    causal_mask,
    entropy,
    mha_mask_to_allowed,
    stable_softmax,
)
from explorer.engine.attention.multi_head import (
    multi_head_attention,
    weights_from_torch,
)
from explorer.engine.attention.why_scale import why_scale, why_scale_example


def sdpa_weights(q, k, mask=None, scale=None):
    """SDPA's attention weights: its output with V = identity (one row per key)."""
    n_k = k.shape[-2]
    eye = torch.eye(n_k, dtype=q.dtype).expand(*k.shape[:-2], n_k, n_k)
    return F.scaled_dot_product_attention(q, k, eye, attn_mask=mask, scale=scale)


def random_case(rng: np.random.Generator):
    lead = tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(0, 3)))  # () .. (b, h)
    n_q, n_k, d_k, d_v = (int(n) for n in rng.integers(1, 9, size=4))
    gen = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    q = torch.randn(*lead, n_q, d_k, generator=gen, dtype=torch.float64) * 2
    k = torch.randn(*lead, n_k, d_k, generator=gen, dtype=torch.float64) * 2
    v = torch.randn(*lead, n_k, d_v, generator=gen, dtype=torch.float64)
    return q, k, v


def test_worked_example_to_three_decimals():
    trace = attend([[1, 0]], [[1, 0], [0, 1], [1, 1]], [[1, 0], [0, 1], [1, 1]])
    np.testing.assert_allclose(trace.scores.numpy(), [[1, 0, 1]], atol=5e-4)
    np.testing.assert_allclose(trace.scaled.numpy(), [[0.707, 0, 0.707]], atol=5e-4)
    np.testing.assert_allclose(trace.weights.numpy(), [[0.401, 0.198, 0.401]], atol=5e-4)
    np.testing.assert_allclose(trace.output.numpy(), [[0.802, 0.599]], atol=5e-4)
    assert trace.scale == pytest.approx(1 / math.sqrt(2))
    assert not trace.any_masked_rows and trace.notes == ()


@pytest.mark.parametrize("seed", range(12))
def test_matches_sdpa_without_mask(seed):
    rng = np.random.default_rng(seed)
    q, k, v = random_case(rng)
    trace = attend(q, k, v)
    torch.testing.assert_close(trace.output, F.scaled_dot_product_attention(q, k, v), rtol=0, atol=1e-6)
    torch.testing.assert_close(trace.weights, sdpa_weights(q, k), rtol=0, atol=1e-6)
    torch.testing.assert_close(trace.weights.sum(-1), torch.ones(trace.weights.shape[:-1], dtype=torch.float64))
    torch.testing.assert_close(trace.scores, q @ k.transpose(-2, -1))


@pytest.mark.parametrize("seed", range(12))
def test_matches_sdpa_with_masks(seed):
    rng = np.random.default_rng(100 + seed)
    q, k, v = random_case(rng)
    n_q, n_k = q.shape[-2], k.shape[-2]
    allowed = torch.as_tensor(rng.random((n_q, n_k)) < 0.6)
    allowed[:, int(rng.integers(n_k))] = True  # every row keeps a key (SDPA gives NaN otherwise)
    trace = attend(q, k, v, mask=allowed)
    torch.testing.assert_close(trace.output, F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), rtol=0, atol=1e-6)
    torch.testing.assert_close(trace.weights, sdpa_weights(q, k, allowed), rtol=0, atol=1e-6)
    assert (trace.weights[..., ~allowed] == 0).all()
    # additive float mask, with -inf blocks and finite biases
    additive = torch.as_tensor(rng.normal(size=(n_q, n_k)))
    additive[~allowed] = -math.inf
    trace = attend(q, k, v, mask=additive)
    torch.testing.assert_close(trace.output, F.scaled_dot_product_attention(q, k, v, attn_mask=additive), rtol=0, atol=1e-6)
    torch.testing.assert_close(trace.weights, sdpa_weights(q, k, additive), rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_scale_options_and_temperature_match_sdpa(seed):
    q, k, v = random_case(np.random.default_rng(200 + seed))
    d = q.shape[-1]
    torch.testing.assert_close(attend(q, k, v, scale=False).output, F.scaled_dot_product_attention(q, k, v, scale=1.0), rtol=0, atol=1e-6)
    torch.testing.assert_close(attend(q, k, v, scale=0.3).output, F.scaled_dot_product_attention(q, k, v, scale=0.3), rtol=0, atol=1e-6)
    hot = attend(q, k, v, temperature=2.5)
    torch.testing.assert_close(hot.output, F.scaled_dot_product_attention(q, k, v, scale=1 / (math.sqrt(d) * 2.5)), rtol=0, atol=1e-6)
    torch.testing.assert_close(hot.scaled, q @ k.transpose(-2, -1) / math.sqrt(d))  # temperature acts after scaling
    assert attend(q, k, v, scale=False).scale == 1.0


def test_causal_mask_matches_is_causal():
    rng = np.random.default_rng(7)
    for n_q, n_k in ((5, 5), (3, 6), (6, 3)):
        q = torch.as_tensor(rng.normal(size=(2, n_q, 4)))
        k = torch.as_tensor(rng.normal(size=(2, n_k, 4)))
        v = torch.as_tensor(rng.normal(size=(2, n_k, 3)))
        mask = causal_mask(n_q, n_k)
        assert mask.shape == (n_q, n_k)
        assert torch.equal(mask, torch.ones(n_q, n_k, dtype=torch.bool).tril())
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        torch.testing.assert_close(attend(q, k, v, mask=mask).output, ref, rtol=0, atol=1e-6)


def test_fully_masked_rows_are_flagged_never_nan():
    rng = np.random.default_rng(3)
    q, k, v = (rng.normal(size=s) for s in ((4, 3), (5, 3), (5, 2)))
    allowed = rng.random((4, 5)) < 0.5
    allowed[1] = False
    allowed[3] = False
    allowed[0, 0] = allowed[2, 0] = True
    trace = attend(q, k, v, mask=allowed)
    assert trace.masked_rows.tolist() == [False, True, False, True]
    assert trace.any_masked_rows and "2 queries" in trace.notes[0]
    assert torch.isfinite(trace.weights).all() and torch.isfinite(trace.output).all()
    assert (trace.weights[[1, 3]] == 0).all() and (trace.output[[1, 3]] == 0).all()
    torch.testing.assert_close(trace.weights[[0, 2]].sum(-1), torch.ones(2, dtype=torch.float64))
    # the other rows agree with SDPA
    ref = F.scaled_dot_product_attention(*(torch.as_tensor(a) for a in (q, k, v)), attn_mask=torch.as_tensor(allowed))
    torch.testing.assert_close(trace.output[[0, 2]], ref[[0, 2]], rtol=0, atol=1e-6)
    # additive mask that is all -inf in a row
    additive = np.where(allowed, 0.0, -np.inf)
    assert attend(q, k, v, mask=additive).masked_rows.tolist() == [False, True, False, True]


@pytest.mark.parametrize("magnitude", [1e10, 1e20, 1e30])
def test_stable_for_huge_finite_inputs(magnitude):
    rng = np.random.default_rng(int(math.log10(magnitude)))
    for dtype in (np.float64, np.float32):
        q = (rng.normal(size=(2, 6, 8)) * magnitude).astype(dtype)
        k = (rng.normal(size=(2, 7, 8)) * magnitude).astype(dtype)
        v = rng.normal(size=(2, 7, 3)).astype(dtype)
        trace = attend(torch.as_tensor(q), torch.as_tensor(k), torch.as_tensor(v))
        assert torch.isfinite(trace.scores).all()
        assert torch.isfinite(trace.weights).all() and torch.isfinite(trace.output).all()
        torch.testing.assert_close(trace.weights.sum(-1), torch.ones(2, 6, dtype=torch.float64))
        # so large a spread puts all the weight on the largest score
        best = trace.scores.argmax(-1)
        assert (trace.weights.gather(-1, best[..., None]) > 0.999).all()
    # ±1e30 entered directly as scores (q = identity): still finite
    scores = np.array([[1e30, -1e30, 0.0], [-1e30, -1e30, -1e30]])
    trace = attend(np.eye(2), scores.T, np.eye(3), scale=False)
    np.testing.assert_allclose(trace.weights.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])


def test_softmax_handles_infinite_logits():
    """+inf splits the weight among its keys; in the same call a row whose exp would overflow
    without the max subtracted, and a row with every key masked (weights 0, flagged)."""
    logits = torch.tensor(
        [[math.inf, 1.0, math.inf], [800.0, -math.inf, 799.0], [0.0, 5.0, 1.0]], dtype=torch.float64
    )
    allowed = torch.tensor([[True, True, True], [True, True, True], [False, False, False]])
    weights, masked = stable_softmax(logits, allowed)
    near = 1.0 / (1.0 + math.exp(-1.0))  # 800 against 799
    expected = torch.tensor([[0.5, 0, 0.5], [near, 0, 1 - near], [0, 0, 0]], dtype=torch.float64)
    torch.testing.assert_close(weights, expected)
    assert masked.tolist() == [False, False, True]


def test_inputs_lists_numpy_tensors_agree_and_bad_input_is_refused():
    rng = np.random.default_rng(11)
    q, k, v = rng.normal(size=(3, 2)), rng.normal(size=(4, 2)), rng.normal(size=(4, 5))
    a = attend(q.tolist(), k.tolist(), v.tolist())
    b = attend(q, k, v)
    c = attend(torch.as_tensor(q, dtype=torch.float32), torch.as_tensor(k), torch.as_tensor(v))
    torch.testing.assert_close(a.output, b.output)
    torch.testing.assert_close(c.output, b.output, rtol=0, atol=1e-6)
    assert attend([1.0, 0.0], k, v).output.shape == (1, 5)  # a 1-D query is one row
    with pytest.raises(ValueError, match="Q contains NaN"):
        attend(np.array([[np.nan, 0]]), k, v)
    with pytest.raises(ValueError, match="K contains NaN or infinity"):
        attend(q, np.full((4, 2), np.inf), v)
    with pytest.raises(ValueError, match="same number of columns"):
        attend(q, rng.normal(size=(4, 3)), v)
    with pytest.raises(ValueError, match="one row per key"):
        attend(q, k, v[:3])
    with pytest.raises(ValueError, match="mask"):
        attend(q, k, v, mask=np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="temperature"):
        attend(q, k, v, temperature=0)
    with pytest.raises(ValueError, match="matrix of numbers"):
        attend([["a", 1]], k, v)


def build_mha(embed: int, heads: int, seed: int) -> torch.nn.MultiheadAttention:
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(embed, heads, batch_first=True, bias=True)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    return mha.eval()


@pytest.mark.parametrize("seed", range(6))
def test_matches_torch_multihead_attention(seed):
    rng = np.random.default_rng(300 + seed)
    heads = int(rng.choice([1, 2, 4]))
    embed = heads * int(rng.integers(1, 5))
    batch, n_q, n_k = (int(n) for n in rng.integers(1, 7, size=3))
    mha = build_mha(embed, heads, seed)
    x = torch.randn(batch, n_q, embed)
    kv = torch.randn(batch, n_k, embed)
    params = weights_from_torch(mha.in_proj_weight, mha.out_proj.weight, mha.in_proj_bias, mha.out_proj.bias)
    with torch.no_grad():
        # self-attention
        ref_out, ref_w = mha(x, x, x, need_weights=True, average_attn_weights=False)
        trace = multi_head_attention(x, num_heads=heads, **params)
        assert trace.num_heads == heads and trace.q.shape == (batch, heads, n_q, embed // heads)
        torch.testing.assert_close(trace.output.float(), ref_out, rtol=0, atol=1e-5)
        torch.testing.assert_close(trace.weights.float(), ref_w, rtol=0, atol=1e-5)
        # cross-attention with a mask (torch's True = blocked)
        blocked = torch.as_tensor(rng.random((n_q, n_k)) < 0.4)
        blocked[:, 0] = False
        ref_out, ref_w = mha(x, kv, kv, attn_mask=blocked, need_weights=True, average_attn_weights=False)
        trace = multi_head_attention(x, x_kv=kv, num_heads=heads, mask=mha_mask_to_allowed(blocked), **params)
        torch.testing.assert_close(trace.output.float(), ref_out, rtol=0, atol=1e-5)
        torch.testing.assert_close(trace.weights.float(), ref_w, rtol=0, atol=1e-5)
        assert trace.weights.shape == (batch, heads, n_q, n_k)


def test_multi_head_trace_pieces_fit_together():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 6))
    w_q, w_k, w_v = (rng.normal(size=(6, 6)) for _ in range(3))
    w_o = rng.normal(size=(6, 3))
    trace = multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads=3, mask=causal_mask(4))
    # head 2 equals single-head attention on its slice of the projections
    q, k, v = x @ w_q[:, 4:6], x @ w_k[:, 4:6], x @ w_v[:, 4:6]
    single = attend(q, k, v, mask=causal_mask(4))
    torch.testing.assert_close(trace.heads.weights[2], single.weights)
    torch.testing.assert_close(trace.concat[:, 4:6], single.output)
    torch.testing.assert_close(trace.output, trace.concat @ torch.as_tensor(w_o))
    with pytest.raises(ValueError, match="divisible"):
        multi_head_attention(x, w_q, w_k, w_v, w_o, num_heads=4)


def test_why_scale_statistics():
    stats = why_scale([1, 4, 64, 1024], samples=400, seed=1)
    np.testing.assert_allclose(stats.std_raw, np.sqrt(stats.d_k), rtol=0.15)
    np.testing.assert_allclose(stats.std_scaled, 1.0, rtol=0.15)
    assert stats.entropy_raw[-1] < 0.25 < 1.5 < stats.entropy_scaled[-1] <= stats.max_entropy
    assert np.all(np.diff(stats.entropy_raw) < 0)
    assert stats.max_weight_raw[-1] > 0.9 > 0.5 > stats.max_weight_scaled[-1]
    again = why_scale([1, 4, 64, 1024], samples=400, seed=1)
    np.testing.assert_array_equal(stats.entropy_raw, again.entropy_raw)
    assert not np.array_equal(why_scale([64], samples=400, seed=2).std_raw, stats.std_raw[2:3])
    raw, scaled = why_scale_example(512)
    assert raw.max() > 0.9 and scaled.max() < raw.max()
    assert entropy(torch.tensor([0.5, 0.5, 0.0])).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="d_k must lie between 1 and 4096"):
        why_scale([0])


def test_multi_head_with_a_mask_per_batch_element():
    rng = np.random.default_rng(9)
    mha = build_mha(6, 3, seed=9)
    x = torch.randn(2, 4, 6)
    blocked = torch.as_tensor(rng.random((2, 4, 4)) < 0.5)
    blocked[..., 0] = False
    params = weights_from_torch(mha.in_proj_weight, mha.out_proj.weight, mha.in_proj_bias, mha.out_proj.bias)
    trace = multi_head_attention(x, num_heads=3, mask=mha_mask_to_allowed(blocked), **params)
    with torch.no_grad():
        for b in range(2):
            ref_out, ref_w = mha(x[b : b + 1], x[b : b + 1], x[b : b + 1], attn_mask=blocked[b],
                                 need_weights=True, average_attn_weights=False)
            torch.testing.assert_close(trace.output[b : b + 1].float(), ref_out, rtol=0, atol=1e-5)
            torch.testing.assert_close(trace.weights[b : b + 1].float(), ref_w, rtol=0, atol=1e-5)
