"""Every head at a glance: the maps are the attention rows, distances are scipy's Jensen–Shannon, clusters hold together."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vit_parity import perturb, pixels

from explorer.engine.vit import analysis as va
from explorer.engine.vit import heads_overview as ho
from explorer.engine.vit.config import ViTConfig
from explorer.engine.vit.model import VisionTransformer


def _trace(seed: int, **overrides):
    torch.manual_seed(seed)
    cfg = ViTConfig(**{**dict(image_size=32, patch_size=8, dim=48, depth=3, heads=4, mlp_dim=96, num_classes=5),
                       **overrides})
    return perturb(VisionTransformer(cfg), seed, scale=0.3).trace(pixels(seed, 32, 40))


@pytest.mark.parametrize("registers", [0, 2])
def test_the_maps_are_each_heads_attention_row_over_the_patches(registers):
    for seed in (0, 1):
        trace = _trace(seed, registers=registers)
        for query in (0, trace.leading + 5):
            overview = ho.heads_overview(trace.attentions, trace.grid, trace.leading, query)
            assert overview.maps.shape == (3, 4, 4, 5) and overview.query == query
            for layer in range(3):
                for head in range(4):
                    expected = va.attention_map(trace.attentions[layer], trace.grid, query, head).numpy()
                    np.testing.assert_allclose(overview.maps[layer, head], expected, atol=1e-6)
                    special = float(trace.attentions[layer][head, query, : trace.leading].sum())
                    assert overview.special[layer, head] == pytest.approx(special, abs=1e-6)


def test_distances_are_scipys_jensen_shannon_in_base_two():
    distance = pytest.importorskip("scipy.spatial.distance")
    rng = np.random.default_rng(3)
    maps = rng.random((9, 4, 5)) ** 3
    maps[2] = 0.0  # a map with no weight on the patches is taken as uniform
    maps[4, :2] = 0.0  # zeros inside a map: 0·log 0 = 0
    ours = ho.js_distances(maps)
    flat = maps.reshape(9, -1)
    for i in range(9):
        for j in range(9):
            p = flat[i] if flat[i].sum() else np.ones(20)
            q = flat[j] if flat[j].sum() else np.ones(20)
            assert ours[i, j] == pytest.approx(distance.jensenshannon(p, q, base=2), abs=1e-7), (i, j)
    assert np.allclose(ours, ours.T) and (ours >= 0).all() and (ours <= 1).all()


def test_the_clustered_order_keeps_similar_heads_together():
    rng = np.random.default_rng(4)
    centres = rng.random((3, 6, 6)) ** 4  # three kinds of head
    kinds = rng.permutation(np.repeat(np.arange(3), 5))  # 15 heads, shuffled
    maps = np.stack([centres[k] + 0.01 * rng.random((6, 6)) for k in kinds])
    order = ho.cluster_order(ho.js_distances(maps))
    assert sorted(order.tolist()) == list(range(15))
    runs = [kinds[order][0]] + [k for a, k in zip(kinds[order], kinds[order][1:]) if k != a]
    assert len(runs) == 3, f"each kind should be one contiguous run in the order, got {kinds[order]}"


def test_tiles_sit_in_order_with_gaps_and_optional_per_map_scale():
    maps = np.arange(4 * 2 * 3, dtype=np.float32).reshape(4, 2, 3) + 1
    tiled = ho.tile_maps(maps, np.array([3, 0, 1, 2]), columns=2, per_map=False)
    assert tiled.shape == (2 * 2 + 1, 2 * 3 + 1)
    np.testing.assert_array_equal(tiled[:2, :3], maps[3])
    np.testing.assert_array_equal(tiled[3:, 4:], maps[2])
    assert np.isnan(tiled[2]).all() and np.isnan(tiled[:, 3]).all()
    scaled = ho.tile_maps(maps, np.arange(4), columns=4, per_map=True)
    assert np.nanmax(scaled[:, :3]) == 1.0 and np.nanmax(scaled[:, 4:7]) == 1.0
    overview = ho.HeadsOverview(0, maps.reshape(2, 2, 2, 3), np.zeros((2, 2)), np.zeros((4, 4)), np.array([1, 0, 3, 2]))
    assert overview.ordered("layers").tolist() == [0, 1, 2, 3] and overview.ordered("similar").tolist() == [1, 0, 3, 2]
    with pytest.raises(ValueError, match="order must be one of"):
        overview.ordered("random")
