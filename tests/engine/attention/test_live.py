"""LiveAttention: row edits recompute only what they touch, and always agree with a fresh attend().

Random edit sequences over several seeds, sizes, masks, scales and temperatures; inputs
chosen so the shortcut for a key and its exact fallback (a key holding most of a row's
weight) both run; overflowing products refused with nothing changed.
"""

from __future__ import annotations

import numpy as np
import pytest

from explorer.engine.attention.core import attend
from explorer.engine.attention.live import CANCEL_SHARE, Change, LiveAttention

ARRAYS = ("scores", "scaled", "weights", "output")


def fresh(live: LiveAttention, mask, scale, temperature):
    return attend(live.q, live.k, live.v, mask=mask, scale=scale, temperature=temperature)


def assert_agrees(live, mask, scale, temperature, seed, step, tol=1e-11):
    ref = fresh(live, mask, scale, temperature)
    for name in ARRAYS:
        np.testing.assert_allclose(getattr(live, name), getattr(ref, name).numpy(), atol=tol, rtol=0,
                                   err_msg=f"{name} after edit {step}, seed {seed}")
    logits, expected = live.logits, ref.logits.numpy()
    assert np.array_equal(np.isinf(logits), np.isinf(expected)), f"masked logits, seed {seed}"
    finite = np.isfinite(expected)
    np.testing.assert_allclose(logits[finite], expected[finite], atol=tol, rtol=0, err_msg=f"seed {seed}")
    np.testing.assert_array_equal(live.masked_rows, ref.masked_rows.numpy())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("masked", [False, True])
def test_random_edit_sequences_agree_with_attend(seed, masked):
    rng = np.random.default_rng(seed)
    n_q, n_k, d_k, d_v = (int(x) for x in rng.integers(2, 40, size=4))
    q, k, v = rng.normal(size=(n_q, d_k)) * 2, rng.normal(size=(n_k, d_k)) * 2, rng.normal(size=(n_k, d_v))
    mask = rng.random((n_q, n_k)) < 0.7 if masked else None
    if masked:
        mask[0] = False  # one query sees nothing: its row must stay 0, flagged
    scale = [True, False, 0.3][seed % 3]
    temperature = [1.0, 0.5, 3.0, 1.0][seed]
    live = LiveAttention(q, k, v, mask=mask, scale=scale, temperature=temperature)
    kinds = set()
    for step in range(120):
        name = "qkv"[int(rng.integers(3))]
        matrix = getattr(live, name)
        row = int(rng.integers(matrix.shape[0]))
        values = matrix[row].copy()
        values[int(rng.integers(matrix.shape[1]))] = rng.normal() * 4
        change = live.set_row(name, row, values)
        kinds.add(name)
        assert not change.full
        np.testing.assert_array_equal(getattr(live, name)[row], values)
        if step % 20 == 0:
            assert_agrees(live, mask, scale, temperature, seed, step)
    assert kinds == {"q", "k", "v"}
    assert_agrees(live, mask, scale, temperature, seed, "last")


def test_what_each_edit_says_it_changed():
    rng = np.random.default_rng(5)
    live = LiveAttention(rng.normal(size=(6, 4)), rng.normal(size=(7, 4)), rng.normal(size=(7, 3)))
    assert live.set_row("q", 2, np.ones(4)) == Change(rows=(2,))
    assert live.set_row("k", 3, np.ones(4)) == Change(key_cols=(3,), weights_all=True, output_all=True)
    assert live.set_row("v", 1, np.ones(3)) == Change(output_all=True)
    assert live.set_matrix("q", live.q.copy()).empty  # nothing differs
    two = live.k.copy()
    two[:2] += 1
    assert live.set_matrix("k", two).full  # several rows: the whole head through attend
    assert_agrees(live, None, True, 1.0, 5, "matrix")


def test_a_key_that_held_most_of_the_weight_recomputes_those_rows_exactly():
    # query 0 puts nearly all its weight on key 2; moving key 2 away would cancel Z − e in the shortcut
    q = np.array([[10.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    k = np.array([[0.0, 1.0], [1.0, 0.0], [10.0, 0.0], [0.5, 0.5]])
    v = np.arange(8.0).reshape(4, 2)
    live = LiveAttention(q, k, v)
    assert live.weights[0, 2] > CANCEL_SHARE and live.weights[1, 2] < CANCEL_SHARE  # both paths run below
    live.set_row("k", 2, np.array([-10.0, 0.0]))
    assert live.weights[0, 2] < 1e-10
    assert_agrees(live, None, True, 1.0, "dominant", 1, tol=1e-14)


def test_a_large_jump_in_a_logit_recomputes_the_row():
    rng = np.random.default_rng(9)
    live = LiveAttention(rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), scale=False)
    live.set_row("k", 1, np.array([400.0, 400.0, 400.0]))  # logits jump by hundreds: exp would overflow
    assert np.isfinite(live.weights).all()
    assert_agrees(live, None, False, 1.0, 9, "jump", tol=1e-12)


@pytest.mark.parametrize("name, values, message", [
    ("q", [1e308, 1e308], "Q·Kᵀ overflows"),
    ("k", [1e308, -1e308], "Q·Kᵀ overflows"),
    ("k", [1e306, 1e306], "scaled scores overflows"),  # finite scores, but ÷ temperature 0.01 is not
])
def test_an_overflowing_edit_is_refused_and_changes_nothing(name, values, message):
    q = np.array([[3.0, 2.0], [1.0, 1.0]])
    k = np.array([[1.0, 0.5], [2.0, 1.0], [0.5, 1.0]])
    v = np.array([[1e308, 1.0], [1.0, 2.0], [1e308, 0.0]])
    live = LiveAttention(q, k, v, scale=False, temperature=0.01)
    before = {n: getattr(live, n).copy() for n in (*ARRAYS, "q", "k", "v")}
    with pytest.raises(ValueError, match=message):
        live.set_row(name, 0, np.array(values))
    for n, array in before.items():
        np.testing.assert_array_equal(getattr(live, n), array, err_msg=n)


def test_a_value_row_whose_change_overflows_still_gives_the_exact_average():
    # v' − v = −2e308 is not a float64, yet the new weighted average of V is: the edit is kept
    v = np.array([[1e308, 1.0], [1.0, 2.0], [-5e307, 0.0]])
    live = LiveAttention(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), v)
    live.set_row("v", 0, np.array([-1e308, 1.0]))
    ref = attend(live.q, live.k, live.v)
    np.testing.assert_allclose(live.output, ref.output.numpy(), rtol=1e-14)


def test_bad_rows_are_refused_with_the_reason():
    live = LiveAttention(np.ones((2, 2)), np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        live.set_row("q", 0, [np.nan, 1.0])
    with pytest.raises(ValueError, match="does not fit"):
        live.set_row("k", 5, [1.0, 1.0])
    with pytest.raises(ValueError, match="unknown matrix"):
        live.set_row("w", 0, [1.0, 1.0])


def test_recompute_with_new_settings_and_the_trace_view():
    rng = np.random.default_rng(2)
    live = LiveAttention(rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    causal = np.tril(np.ones((5, 5), dtype=bool))
    assert live.recompute(mask=causal, temperature=2.0).full
    ref = attend(live.q, live.k, live.v, mask=causal, temperature=2.0)
    np.testing.assert_allclose(live.weights, ref.weights.numpy(), atol=1e-15)
    live.set_row("k", 4, np.ones(3))
    assert np.all(np.triu(live.weights, 1) == 0)
    trace = live.trace()
    assert trace.weights.data_ptr() == live.weights.ctypes.data and trace.temperature == 2.0


def test_attend_refuses_overflowing_products_instead_of_showing_nan():
    with pytest.raises(ValueError, match=r"Q·Kᵀ overflows .* up to about ±1e\+150 is always safe"):
        attend([[1e308, 1e308]], [[1e308, -1.0], [2.0, 1e308]], [[1.0], [2.0]])
    with pytest.raises(ValueError, match="the scaled scores overflows"):
        attend([[1e306]], [[10.0]], [[1.0]], scale=False, temperature=0.05)
    ok = attend([[1e150]], [[1e150]], [[1.0]])  # the safe bound itself
    assert np.isfinite(ok.scores.numpy()).all()
