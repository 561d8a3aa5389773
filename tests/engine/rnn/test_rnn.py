"""The recurrent cells against torch.nn: hidden states, every term, sensitivity, bad state dicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.engine import rnn
from explorer.engine.infra.checkpoints import save_model
from explorer.engine.rnn import models as rnn_models
from explorer.engine.rnn.sequences import (
    SequenceError,
    image_patches,
    image_rows,
    memory_sequence,
    noise,
    shape_sequence,
    sine,
    step_signal,
    text,
)

KINDS = rnn.KINDS


def _random_case(kind: str, rng: np.random.Generator, bias: bool):
    """A torch.nn layer with random (not default-scaled) weights, a sequence and initial states."""
    I, H, T = (int(v) for v in rng.integers((1, 1, 1), (9, 13, 40)))
    torch.manual_seed(int(rng.integers(1 << 30)))
    module = rnn.torch_module(kind, I, H, bias=bias).double()
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, float(rng.uniform(0.2, 1.2)))
    x = torch.from_numpy(rng.normal(0, 1.5, (T, I)))
    h0 = torch.from_numpy(rng.normal(0, 0.7, H))
    c0 = torch.from_numpy(rng.normal(0, 0.7, H))
    return module, x, h0, c0


def _torch_run(module, kind, x, h0=None, c0=None):
    state = None
    if h0 is not None:
        state = (h0[None, None], c0[None, None]) if kind == "lstm" else h0[None, None]
    out, _ = module(x[None], state)
    return out[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", [True, False])
def test_hidden_states_equal_torch(kind, bias):
    seed = 1000 * KINDS.index(kind) + int(bias)  # fixed per case (hash() is salted per process)
    rng = np.random.default_rng(seed)
    for _ in range(6):
        module, x, h0, c0 = _random_case(kind, rng, bias)
        cell = rnn.from_state_dict(kind, module.state_dict())
        assert cell.has_bias == bias
        with torch.no_grad():
            ref_zero = _torch_run(module, kind, x).numpy()
            ref_h0 = _torch_run(module, kind, x, h0, c0).numpy()
        np.testing.assert_allclose(cell.trace(x.numpy()).hidden, ref_zero, atol=1e-6, rtol=1e-12)
        state = (h0.numpy(), c0.numpy()) if kind == "lstm" else h0.numpy()
        np.testing.assert_allclose(cell.trace(x.numpy(), state).hidden, ref_h0, atol=1e-6, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_every_term_is_consistent(kind):
    """W·x_t, U·h_{t-1}, gates and cell state agree with torch's formulas and with step()."""
    rng = np.random.default_rng(7)
    module, x, h0, c0 = _random_case(kind, rng, True)
    cell = rnn.from_state_dict(kind, module.state_dict())
    state = (h0.numpy(), c0.numpy()) if kind == "lstm" else h0.numpy()
    trace = cell.trace(x.numpy(), state)
    W = module.weight_ih_l0.detach().numpy()
    U = module.weight_hh_l0.detach().numpy()
    np.testing.assert_allclose(trace.wx, x.numpy() @ W.T, atol=1e-12)
    np.testing.assert_allclose(trace.uh, trace.h_prev @ U.T, atol=1e-12)
    H = cell.hidden_size
    if kind == "lstm":
        i, f, g, o = (trace.gates[n] for n in "ifgo")
        c_prev = np.vstack([c0.numpy()[None], trace.cell[:-1]])
        np.testing.assert_allclose(trace.cell, f * c_prev + i * g, atol=1e-12)
        np.testing.assert_allclose(trace.hidden, o * np.tanh(trace.cell), atol=1e-12)
        assert ((i > 0) & (i < 1)).all() and ((f > 0) & (f < 1)).all()
    elif kind == "gru":
        r, z, n = (trace.gates[k] for k in "rzn")
        np.testing.assert_allclose(trace.hidden, (1 - z) * n + z * trace.h_prev, atol=1e-12)
        assert trace.pre.shape == (len(x), 3 * H)
    else:
        np.testing.assert_allclose(trace.pre, trace.wx + trace.uh + trace.bias_ih + trace.bias_hh, atol=1e-12)
    # stepping one at a time gives the same terms as the whole-sequence trace
    step_state = state
    for t in range(len(x)):
        step = cell.step(x[t].numpy(), step_state, t=t)
        expected = trace.step(t)
        for name in ("x", "h_prev", "wx", "uh", "pre", "h"):
            np.testing.assert_allclose(getattr(step, name), getattr(expected, name), atol=1e-12)
        for name in cell.gate_names:
            np.testing.assert_allclose(step.gates[name], expected.gates[name], atol=1e-12)
        step_state = step.state


@pytest.mark.parametrize("kind", KINDS)
def test_sensitivity_equals_autograd_through_torch(kind):
    rng = np.random.default_rng(11)
    for bias in (True, False):
        module, x, h0, c0 = _random_case(kind, rng, bias)
        cell = rnn.from_state_dict(kind, module.state_dict())
        state = (h0.numpy(), c0.numpy()) if kind == "lstm" else h0.numpy()
        ours = rnn.sensitivity(cell, x.numpy(), state, chunk=max(1, cell.hidden_size // 3))

        def last_state(inputs):
            return _torch_run(module, kind, inputs, h0, c0)[-1]

        jacobian = torch.autograd.functional.jacobian(last_state, x)  # (H, T, I)
        expected = jacobian.pow(2).sum(dim=(0, 2)).sqrt().numpy()
        np.testing.assert_allclose(ours, expected, atol=1e-9, rtol=1e-7)


def test_random_cell_matches_torch_init_and_seed():
    for kind in KINDS:
        a = rnn.random_cell(kind, 5, 8, seed=3)
        b = rnn.random_cell(kind, 5, 8, seed=3)
        c = rnn.random_cell(kind, 5, 8, seed=4)
        np.testing.assert_array_equal(a.weight_hh, b.weight_hh)
        assert not np.array_equal(a.weight_hh, c.weight_hh)
        assert np.abs(a.weight_hh).max() <= 1 / np.sqrt(8) + 1e-9
        assert a.weight_hh.shape == (rnn.n_blocks(kind) * 8, 8)
        assert not rnn.random_cell(kind, 5, 8, bias=False).has_bias


def test_prefixed_state_dict_and_guess_kind():
    model = torch.nn.Sequential()
    model.add_module("rnn", torch.nn.GRU(4, 6))
    tensors = model.state_dict()
    assert rnn.guess_kind(tensors) == "gru"
    cell = rnn.from_state_dict("gru", tensors)
    assert (cell.input_size, cell.hidden_size) == (4, 6)
    assert rnn.guess_kind(torch.nn.LSTM(3, 5).state_dict()) == "lstm"
    assert rnn.guess_kind(torch.nn.RNN(3, 5).state_dict()) == "rnn_tanh"


def test_wrong_kind_names_the_tensors():
    lstm = torch.nn.LSTM(3, 5).state_dict()
    with pytest.raises(rnn.StateDictError, match="does not fit") as info:
        rnn.from_state_dict("gru", lstm)
    message = str(info.value)
    assert "weight_hh_l0" in message and "weight_ih_l0" in message and "bias_ih_l0" in message
    assert "20 × 5" in message and "LSTM" in message


def test_wrong_shapes_and_missing_tensors_are_named():
    good = {k: v.clone() for k, v in torch.nn.RNN(3, 4).state_dict().items()}
    bad_bias = dict(good, bias_hh_l0=torch.zeros(7))
    with pytest.raises(rnn.StateDictError, match="bias_hh_l0 is 7, expected 4"):
        rnn.from_state_dict("rnn_tanh", bad_bias)
    only_one_bias = {k: v for k, v in good.items() if k != "bias_hh_l0"}
    with pytest.raises(rnn.StateDictError, match="missing tensor.*bias_hh_l0"):
        rnn.from_state_dict("rnn_tanh", only_one_bias)
    with pytest.raises(rnn.StateDictError, match="weight_ih_l0"):
        rnn.from_state_dict("lstm", {"fc.weight": torch.zeros(2, 2)})
    nan = dict(good, weight_hh_l0=torch.full((4, 4), float("nan")))
    with pytest.raises(rnn.StateDictError, match="weight_hh_l0: holds NaN"):
        rnn.from_state_dict("rnn_tanh", nan)
    with pytest.raises(rnn.StateDictError, match="proj_size"):
        rnn.from_state_dict("lstm", torch.nn.LSTM(3, 6, proj_size=2).state_dict())
    with pytest.raises(rnn.RNNError, match="cell type"):
        rnn.from_state_dict("transformer", good)


def test_empty_sequence_and_zero_hidden_are_refused():
    cell = rnn.random_cell("lstm", 3, 4)
    with pytest.raises(rnn.RNNError, match="empty"):
        cell.trace(np.zeros((0, 3)))
    with pytest.raises(rnn.RNNError, match="3 features"):
        cell.trace(np.zeros((5, 2)))
    with pytest.raises(rnn.RNNError, match="NaN"):
        cell.trace(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(rnn.RNNError, match="hidden size must be at least 1"):
        rnn.random_cell("gru", 3, 0)
    zero_hidden = {"weight_ih_l0": torch.zeros(0, 3), "weight_hh_l0": torch.zeros(0, 0)}
    with pytest.raises(rnn.StateDictError, match="hidden size of 0"):
        rnn.from_state_dict("rnn_tanh", zero_hidden)
    with pytest.raises(rnn.RNNError, match="h0 must have 4"):
        cell.trace(np.zeros((2, 3)), np.zeros(5))


def test_load_cell_file_torch_save_and_safetensors(tmp_path):
    lstm = torch.nn.LSTM(6, 10, num_layers=2)
    path = tmp_path / "lstm.pt"
    torch.save(lstm.state_dict(), path)
    cell, note = rnn_models.load_cell_file(path)
    assert cell.kind == "lstm" and cell.hidden_size == 10 and "layer 0 only" in note
    x = torch.randn(9, 6)
    with torch.no_grad():
        single = torch.nn.LSTM(6, 10)
        single.load_state_dict({k: v for k, v in lstm.state_dict().items() if k.endswith("l0")})
        expected = single(x)[0].double().numpy()
    np.testing.assert_allclose(cell.trace(x.numpy()).hidden, expected, atol=1e-5)
    gru_path = tmp_path / "gru.safetensors"
    save_model(gru_path, torch.nn.GRU(2, 3).state_dict(), {})
    cell, _ = rnn_models.load_cell_file(gru_path)
    assert cell.kind == "gru"
    with pytest.raises(rnn.StateDictError, match="gru.safetensors.*does not fit LSTM"):
        rnn_models.load_cell_file(gru_path, kind="lstm")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pt"):
        rnn_models.load_cell_file(broken)


def test_load_cell_file_on_a_folder_reads_its_one_weight_file_or_says_what_is_there(tmp_path):
    """Regression: a folder chosen with 'Load state dict' said 'no such file'."""
    folder = tmp_path / "my_gru"
    folder.mkdir()
    with pytest.raises(rnn.StateDictError, match="my_gru is a folder with no weight file"):
        rnn_models.load_cell_file(folder)
    (folder / "notes.txt").write_text("trained on Tuesday")
    save_model(folder / "gru.safetensors", torch.nn.GRU(4, 5).state_dict(), {})
    cell, note = rnn_models.load_cell_file(folder)
    assert cell.kind == "gru" and cell.input_size == 4 and note.startswith("gru.safetensors")
    torch.save(torch.nn.GRU(4, 5).state_dict(), folder / "other.pt")
    with pytest.raises(rnn.StateDictError, match=r"folder with 2 weight files \(gru.safetensors, other.pt\): choose one"):
        rnn_models.load_cell_file(folder)


def test_replace_keeps_shapes_and_refuses_nan():
    cell = rnn.random_cell("gru", 2, 3)
    edited = cell.replace(weight_hh=np.ones((9, 3)))
    assert edited.weight_hh[0, 0] == 1 and cell.weight_hh[0, 0] != 1
    with pytest.raises(rnn.RNNError, match="shape"):
        cell.replace(weight_hh=np.ones((3, 3)))
    with pytest.raises(rnn.RNNError, match="NaN"):
        cell.replace(bias_ih=np.full(9, np.nan))


def test_fading_steps():
    assert rnn.fading_steps(np.array([1e-6, 1e-3, 0.5, 1.0])) == 2
    assert rnn.fading_steps(np.array([0.9, 1.0])) is None


def test_trace_export(tmp_path):
    cell = rnn.random_cell("lstm", 3, 4)
    trace = cell.trace(np.random.default_rng(0).normal(size=(5, 3)))
    csv_path = trace.save_csv(tmp_path / "t.csv")
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("t,x_1,x_2,x_3,h_1")
    np.testing.assert_allclose(np.load(trace.save_npy(tmp_path / "h.npy")), trace.hidden)
    archive = np.load(trace.save_npy(tmp_path / "all.npz"))
    np.testing.assert_allclose(archive["gate_f"], trace.gates["f"])
    np.testing.assert_allclose(archive["c"], trace.cell)


def test_sequences():
    from PIL import Image

    image = Image.fromarray((np.random.default_rng(0).random((60, 90, 3)) * 255).astype(np.uint8))
    rows = image_rows(image, width=30)
    assert rows.values.shape == (20, 30) and rows.picture.shape == (20, 30)
    assert 0 <= rows.values.min() and rows.values.max() <= 1
    patches = image_patches(image, patch=4, grid=5)
    assert patches.values.shape == (25, 16)
    np.testing.assert_allclose(patches.values[6], patches.picture[4:8, 4:8].reshape(-1))
    assert sine(50, channels=3).values.shape == (50, 3)
    assert step_signal(30).values[:10].sum() == 0 and step_signal(30).values[10:].min() == 1
    assert noise(20, seed=1).values.shape == (20, 1)
    one_hot = text("abca")
    assert one_hot.values.shape == (4, 3) and (one_hot.values.sum(1) == 1).all()
    with pytest.raises(SequenceError, match="empty"):
        text("")
    with pytest.raises(SequenceError, match="number of steps must be between 1 and"):
        sine(0)
    memory = memory_sequence(12, seed=2)
    assert memory.values.shape == (13, 16) and memory.values[0, memory.target] == 1
    assert shape_sequence(2).values.shape == (24, 24)
    fitted = sine(10).fitted(4)
    assert fitted.values.shape == (10, 4) and "padded" in fitted.description
