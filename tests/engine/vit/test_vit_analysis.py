"""Analyses of a ViT trace against plain re-implementations and hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.engine.vit import analysis as va


def _random_attentions(depth: int, heads: int, tokens: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.softmax(torch.randn(heads, tokens, tokens, generator=g) * 2, dim=-1) for _ in range(depth)]


def _plain_rollout(attentions, fusion, discard):
    """Loop-by-loop numpy version of Abnar & Zuidema with the same discard rule."""
    tokens = attentions[0].shape[-1]
    result = np.eye(tokens)
    for layer in attentions:
        a = layer.double().numpy()
        fused = {"mean": a.mean(0), "max": a.max(0), "min": a.min(0)}[fusion].copy()
        if discard:
            entries = sorted((fused[i, j], i, j) for i in range(tokens) for j in range(1, tokens))
            for _, i, j in entries[: int(len(entries) * discard)]:
                fused[i, j] = 0.0
        fused = fused + np.eye(tokens)
        for i in range(tokens):
            fused[i] /= fused[i].sum()
        result = fused @ result
    return result


@pytest.mark.parametrize("fusion", va.HEAD_FUSIONS)
@pytest.mark.parametrize("discard", [0.0, 0.5, 0.9])
def test_rollout_matches_a_plain_reimplementation(fusion, discard):
    attentions = _random_attentions(depth=3, heads=4, tokens=10, seed=va.HEAD_FUSIONS.index(fusion) * 10 + int(discard * 10))
    ours = va.rollout(attentions, fusion, discard).double().numpy()
    np.testing.assert_allclose(ours, _plain_rollout(attentions, fusion, discard), atol=1e-5)
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=1e-5)


def test_rollout_never_discards_attention_to_the_class_token():
    attentions = _random_attentions(depth=2, heads=2, tokens=6, seed=3)
    for a in attentions:
        a[:, :, 0] = 1e-6  # the weakest entries of all sit in the [CLS] column
    out = va.rollout(attentions, "mean", 0.95)
    assert torch.all(out[:, 0] > 0)


def test_rollout_of_identity_attention_is_identity():
    eye = [torch.eye(5).expand(3, 5, 5).clone() for _ in range(4)]
    torch.testing.assert_close(va.rollout(eye), torch.eye(5))


def test_rollout_rejects_bad_settings():
    attentions = _random_attentions(1, 1, 3, 0)
    with pytest.raises(ValueError, match="fusion"):
        va.rollout(attentions, "median")
    with pytest.raises(ValueError, match="discard"):
        va.rollout(attentions, "mean", 1.0)


def test_mean_distance_on_hand_made_attention():
    # 2×2 grid of 16-px patches, tokens: [CLS], p0 (0,0), p1 (0,1), p2 (1,0), p3 (1,1).
    a = torch.zeros(3, 5, 5)
    a[:, 0, 0] = 1.0
    # head 0: every patch attends only to itself -> 0 px.
    for i in range(1, 5):
        a[0, i, i] = 1.0
    # head 1: half to [CLS] (excluded, renormalised away), half to the horizontal neighbour -> 16 px.
    for i, j in ((1, 2), (2, 1), (3, 4), (4, 3)):
        a[1, i, 0], a[1, i, j] = 0.5, 0.5
    # head 2: p0 -> diagonal p3 (16√2), the others split evenly over all four patches.
    a[2, 1, 4] = 1.0
    a[2, 2:, 1:] = 0.25
    out = va.mean_attention_distance([a, a], grid=(2, 2), patch_size=16)
    assert out.shape == (2, 2 + 1)
    d = 16 * math.sqrt(2)
    # Rows 2..4 of head 2: from p1 (0,1) the mean over {16, 0, d, 16} etc.; every patch sees 0, 16, 16, d.
    expected_head2 = (d + 3 * (0 + 16 + 16 + d) / 4) / 4
    torch.testing.assert_close(out[0], torch.tensor([0.0, 16.0, expected_head2]))


def test_attention_map_picks_query_and_head():
    attention = _random_attentions(1, 3, 10, 5)[0]  # (3, 10, 10): [CLS] + 3×3 grid
    torch.testing.assert_close(va.attention_map(attention, (3, 3), query=0, head=1), attention[1, 0, 1:].reshape(3, 3))
    torch.testing.assert_close(va.attention_map(attention, (3, 3), query=4), attention.mean(0)[4, 1:].reshape(3, 3))


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(0, 6, 200).astype(float)  # many ties
        y = x + rng.normal(0, 2, 200)
        assert va.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-9)


def test_position_locality_separates_smooth_from_random_embeddings():
    grid = (6, 6)
    rows, cols = torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij")
    # Embeddings that vary smoothly with x and y (plus a constant): near cells are similar.
    freqs = torch.linspace(0.2, 0.8, 8)
    smooth = torch.cat([torch.cos(rows.flatten()[:, None] * freqs), torch.cos(cols.flatten()[:, None] * freqs)], 1)
    pos = torch.cat([torch.zeros(1, 16), smooth], 0)  # [CLS] + 36 cells
    assert va.position_locality(pos, grid) < -0.7
    noise = torch.randn(37, 16, generator=torch.Generator().manual_seed(1))
    assert abs(va.position_locality(noise, grid)) < 0.2
    sim = va.position_similarity(pos)
    assert sim.shape == (36, 36)
    torch.testing.assert_close(torch.diagonal(sim), torch.ones(36))


def test_filter_components_are_the_principal_axes():
    g = torch.Generator().manual_seed(2)
    weight = torch.randn(40, 3, 4, 4, generator=g)  # (D, C, P, P)
    comps, variance = va.filter_components(weight, count=5)
    assert comps.shape == (5, 4, 4, 3) and variance.shape == (5,)
    flat = weight.reshape(40, -1).double().numpy()
    flat -= flat.mean(0)
    values, vectors = np.linalg.eigh(flat.T @ flat)
    top = vectors[:, ::-1][:, :5].T  # (5, C·P·P) in (C, P, P) order
    ours = comps.transpose(0, 3, 1, 2).reshape(5, -1)  # back to (C, P, P) order
    for a, b in zip(ours, top):
        assert abs(abs(float(np.dot(a, b))) - 1) < 1e-4  # same axis, sign free
    np.testing.assert_allclose(variance, values[::-1][:5] / values.sum(), rtol=1e-4)
    tiles = va.component_tiles(comps)
    assert tiles.dtype == np.uint8 and tiles.shape == (5, 4, 4, 3)
    assert tiles.reshape(5, -1).min(1).tolist() == [0] * 5 and tiles.reshape(5, -1).max(1).tolist() == [255] * 5


def test_upsample_is_smooth_and_stays_in_range():
    values = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    up = va.upsample(values, (40, 30))
    assert up.shape == (40, 30) and up.min() >= 0 and up.max() <= 1
    assert len(np.unique(np.round(up, 4))) > 10  # not blocky nearest-neighbour
