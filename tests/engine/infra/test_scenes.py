"""The scene generator: seeded, boxes where the shapes are, captions that match the layout."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.engine.infra import scenes


def test_same_seed_same_scene_and_different_seeds_differ():
    a, b, c = scenes.generate(7), scenes.generate(7), scenes.generate(8)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert a.words == b.words and a.objects == b.objects
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))


def test_splits_use_disjoint_seeds():
    train = {scenes.split_seed("train", i) for i in range(5000)}
    val = {scenes.split_seed("val", i) for i in range(5000)}
    test = {scenes.split_seed("test", i) for i in range(5000)}
    assert not (train & val) and not (train & test) and not (val & test)
    with pytest.raises(ValueError, match="split must be one of .* \\(got 'holdout'\\)"):
        scenes.split_seed("holdout", 0)
    with pytest.raises(ValueError, match="scene index must be ≥ 0"):
        scenes.split_seed("train", -1)


@pytest.mark.parametrize("size", [64, 200])
def test_boxes_hold_every_shape_pixel_and_each_box_holds_its_colour(size):
    for seed in range(60):
        scene = scenes.generate(seed, size=size, supersample=1)
        pixels = np.asarray(scene.image).astype(int)  # (H, W, 3)
        changed = np.abs(pixels - scene.background.astype(int)).sum(-1) > 0  # (H, W)
        covered = np.zeros_like(changed)
        for obj, (x0, y0, x1, y1) in zip(scene.objects, scene.boxes()):
            covered[y0:y1, x0:x1] = True
            patch = pixels[y0:y1, x0:x1]
            own = (np.abs(patch - np.array(obj.rgb)).sum(-1) == 0).mean()
            assert own > 0.25, (seed, obj)  # the box is mostly its own shape
            # the box is tight: its border rows and columns touch the shape
            mask = scenes.shape_mask(obj.shape, obj.cx, obj.cy, obj.size, size)
            ys, xs = np.nonzero(mask)
            assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
            assert xs.min() - x0 <= 0.1 * size and x1 - 1 - xs.max() <= 0.1 * size
        assert not (changed & ~covered).any(), seed


def test_captions_follow_the_layout():
    counts, kinds = set(), set()
    for seed in range(300):
        scene = scenes.generate(seed)
        objs = scene.objects
        counts.add(len(objs))
        assert [o.cx for o in objs] == sorted(o.cx for o in objs)  # named left to right
        assert len({o.colour for o in objs}) == len(objs)
        expected = []
        for i, obj in enumerate(objs):
            if i:
                dx, dy = obj.cx - objs[i - 1].cx, obj.cy - objs[i - 1].cy
                expected += ["left", "of"] if dx >= abs(dy) else (["above"] if dy > 0 else ["below"])
            expected += ["a", obj.colour, obj.shape]
        assert scene.words == expected
        assert len(scene.words) == len(scene.word_objects) == len(scene.word_kinds)
        for word, owner, kind in zip(scene.words, scene.word_objects, scene.word_kinds):
            kinds.add(kind)
            if kind == "colour":
                assert objs[owner].colour == word
            elif kind == "shape":
                assert objs[owner].shape == word
            else:
                assert owner == -1
    assert counts == {1, 2, 3}
    assert {"colour", "shape"} < kinds  # both checked branches ran, and the other words too


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="between 16 and 4096 pixels \\(got 4\\)"):
        scenes.generate(0, size=4)
    with pytest.raises(ValueError, match="1 to 3 objects \\(got 4\\)"):
        scenes.generate(0, n_objects=4)
