"""Weight files: safetensors and weights-only torch files load; pickled code never runs."""

from __future__ import annotations

import pickle
import re

import pytest
import torch

from explorer.engine.infra.checkpoints import (
    CheckpointError,
    load_config,
    load_model_file,
    load_state_dict,
    save_model,
)


def test_safetensors_round_trip_with_config(tmp_path):
    state = {"w": torch.randn(3, 4), "b": torch.randn(4)}
    path = save_model(tmp_path / "m.safetensors", state, {"hidden": 4, "name": "x"})
    loaded, config = load_model_file(path)
    assert config == {"hidden": 4, "name": "x"}
    assert torch.equal(loaded["w"], state["w"]) and torch.equal(loaded["b"], state["b"])


def test_torch_state_dict_and_nested_checkpoint(tmp_path):
    lstm = torch.nn.LSTM(3, 5)
    torch.save(lstm.state_dict(), tmp_path / "plain.pt")
    torch.save({"epoch": 3, "state_dict": lstm.state_dict()}, tmp_path / "nested.pth")
    for name in ("plain.pt", "nested.pth"):
        loaded = load_state_dict(tmp_path / name)
        assert set(loaded) == set(lstm.state_dict())


def test_module_prefix_removed(tmp_path):
    torch.save({"module.weight": torch.ones(2)}, tmp_path / "dp.pt")
    assert list(load_state_dict(tmp_path / "dp.pt")) == ["weight"]


class Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_pickled_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"weight": Evil()}, handle)
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "module.pt")  # a whole pickled module
    for name in ("evil.pt", "module.pt"):
        with pytest.raises(CheckpointError, match=name):
            load_state_dict(tmp_path / name)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("empty.safetensors", b"", "empty"),
        ("junk.safetensors", b"\x00garbage" * 10, "safetensors"),
        ("junk.pt", b"not a zip at all", "pytorch"),
        ("nothing.bin", None, "no tensors"),
    ],
)
def test_broken_files_name_the_problem(tmp_path, name, content, words):
    path = tmp_path / name
    if content is None:
        torch.save({"epoch": 1, "note": "hello"}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(name)) as info:
        load_state_dict(path)
    assert words in str(info.value).lower(), str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_state_dict(tmp_path / "nope.safetensors")


def test_config_absent_is_empty(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "bare.safetensors"))
    assert load_config(tmp_path / "bare.safetensors") == {}


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "it is a PNG image"),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "it is a JPEG image"),
        ("notes.txt", b"just some words\n", "it is a text file"),
        ("blob.dat", bytes(range(200, 256)) * 2, "its contents are not a format this app reads"),
    ],
)
def test_a_file_that_is_not_weights_says_what_it_is(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"{name}: not a weight file \\({says}"):
        load_state_dict(path)


def test_weights_under_any_name_are_read_by_their_contents(tmp_path):
    from safetensors.torch import save_file

    torch.save({"w": torch.ones(3)}, tmp_path / "a.weights")
    save_file({"w": torch.ones(3)}, str(tmp_path / "b.data"))
    assert torch.equal(load_state_dict(tmp_path / "a.weights")["w"], torch.ones(3))
    assert torch.equal(load_state_dict(tmp_path / "b.data")["w"], torch.ones(3))


def test_random_bytes_named_pt_are_not_called_pickled_objects(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(range(1, 250)))
    with pytest.raises(CheckpointError, match="model.pt: not a PyTorch weight file \\(its contents are not a format"):
        load_state_dict(path)
