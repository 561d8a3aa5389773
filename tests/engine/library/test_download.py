"""Downloading against a stand-in hub on 127.0.0.1: progress, cancel, resume, safetensors only, offline.

Everything goes through huggingface_hub's real client (HF_ENDPOINT points at the stand-in,
read when the download starts); only the server is ours.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from safetensors.numpy import save

from explorer.engine.infra.hub import ALLOW_PATTERNS, HubDownloadError, download_folder, looks_like_repo_id, plan_download
from explorer.engine.infra.progress import Cancelled, Reporter

MiB = 1024 * 1024
VIT_CONFIG = json.dumps({"model_type": "vit", "architectures": ["ViTModel"], "hidden_size": 48, "patch_size": 8,
                         "image_size": 32, "num_hidden_layers": 2}).encode()


def weights(seed: int, floats: int = 1_000_000) -> bytes:
    """A safetensors file of about 4 MB (``floats`` float32 values), different per seed."""
    rng = np.random.default_rng(seed)
    return save({"pad": rng.standard_normal(floats).astype(np.float32), "bias": rng.standard_normal(48).astype(np.float32)})


def repo(seed: int = 0, **extra: bytes) -> dict[str, bytes]:
    return {"config.json": VIT_CONFIG, "model.safetensors": weights(seed), **extra}


def test_progress_in_bytes_and_only_safe_files_fetched(hub, cache):
    files = repo(1, **{"pytorch_model.bin": b"pickle!", "tf_model.h5": b"h5", "vocab.txt": b"a\nb\n"})
    server = hub({"tester/tiny": files})
    seen: list[tuple[float, str]] = []
    folder = download_folder("tester/tiny", cache_dir=cache, reporter=Reporter(lambda f, t: seen.append((f, t))))
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "vocab.txt"]
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"]
    fetched = {e.path.rsplit("/", 1)[-1] for e in server.log if e.method == "GET" and "/resolve/" in e.path}
    assert fetched == {"config.json", "model.safetensors", "vocab.txt"}, fetched
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions), f"progress went backwards: {fractions}"
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    total = sum(len(files[n]) for n in fetched)
    assert any(0.2 < f < 0.9 for f in fractions), "no progress was reported in the middle of the weights"
    assert seen[-1][1] == f"tester/tiny: downloaded ({total / 1e6:.1f} MB)"
    assert "*.bin" not in ALLOW_PATTERNS and "*.safetensors" in ALLOW_PATTERNS


def test_a_second_request_is_served_from_the_cache_even_offline(hub, cache, monkeypatch):
    server = hub({"tester/tiny": repo(2)})
    first = download_folder("tester/tiny", cache_dir=cache)
    bodies = len(server.gets("model.safetensors"))
    again = download_folder("tester/tiny", cache_dir=cache)
    assert again == first and len(server.gets("model.safetensors")) == bodies == 1
    server.stop()
    from standin_hub import free_port

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    assert download_folder("tester/tiny", cache_dir=cache) == first


def test_cancel_stops_the_transfer_and_keeps_finished_files(hub, cache):
    files = repo(3)
    server = hub({"tester/slow": files}, delay=0.004)
    reporter = Reporter()
    reporter._on_progress = lambda fraction, text: reporter.cancel() if fraction > 0.3 else None
    with pytest.raises(Cancelled, match="cancelled on request"):
        download_folder("tester/slow", cache_dir=cache, reporter=reporter)
    body = server.gets("model.safetensors")
    assert len(body) == 1 and not body[0].wait().complete
    assert body[0].sent < len(files["model.safetensors"]), "the whole file was sent despite the cancel"
    repo_folder = cache / "models--tester--slow"
    assert not list(repo_folder.rglob("*.incomplete")), "a partial file was left behind"
    assert len(list((repo_folder / "blobs").iterdir())) == 1  # config.json only
    snapshot = next((repo_folder / "snapshots").iterdir())
    assert [p.name for p in snapshot.iterdir()] == ["config.json"]


def test_download_resumes_after_a_cancel_without_fetching_finished_files(hub, cache):
    files = repo(4)
    server = hub({"tester/slow": files}, delay=0.004)
    reporter = Reporter()
    reporter._on_progress = lambda fraction, text: reporter.cancel() if fraction > 0.3 else None
    with pytest.raises(Cancelled, match="cancelled on request"):
        download_folder("tester/slow", cache_dir=cache, reporter=reporter)
    server.delay = 0.0
    plan = plan_download("tester/slow", cache_dir=cache)
    assert plan.cached == {"config.json"} and plan.cached_bytes == len(VIT_CONFIG)
    texts: list[str] = []
    folder = download_folder("tester/slow", cache_dir=cache, reporter=Reporter(lambda f, t: texts.append(t)))
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"]
    assert len(server.gets("config.json")) == 1, "config.json was fetched again"
    assert len(server.gets("model.safetensors")) == 2
    assert any("1 of 2 files already here" in t for t in texts), texts


def test_a_dropped_connection_resumes_from_the_byte_it_reached(hub, cache):
    files = repo(5)
    size = len(files["model.safetensors"])
    server = hub({"tester/flaky": files}, drop_after={"model.safetensors": int(2.6 * MiB)})
    folder = download_folder("tester/flaky", cache_dir=cache)
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"]
    first, second = server.gets("model.safetensors")
    assert first.range is None and not first.complete and first.sent == int(2.6 * MiB)
    # huggingface_hub writes whole chunks (1 MiB here), so it resumes at the last whole MiB it kept.
    assert second.range == f"bytes={2 * MiB}-" and second.complete and second.sent == size - 2 * MiB


def test_a_model_without_safetensors_is_refused_before_any_download(hub, cache):
    server = hub({"tester/pickled": {"config.json": VIT_CONFIG, "pytorch_model.bin": b"\x80\x04pickle"}})
    with pytest.raises(HubDownloadError, match=r"no safetensors weights \(it has pytorch_model.bin\).*could run code"):
        download_folder("tester/pickled", cache_dir=cache)
    assert not [e for e in server.log if "/resolve/" in e.path], "files were fetched for a refused model"
    assert not (cache / "models--tester--pickled" / "blobs").exists()


def test_offline_says_what_to_do(cache):
    # The autouse fixture points HF_ENDPOINT at a port where nothing listens.
    with pytest.raises(HubDownloadError, match=r"could not reach the Hugging Face hub \(http://127\.0\.0\.1:\d+\).*Connect"):
        download_folder("tester/tiny", cache_dir=cache)


def test_offline_mode_says_how_to_switch_it_off(hub, cache, monkeypatch):
    from huggingface_hub import constants

    server = hub({"tester/tiny": repo(6)})
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubDownloadError, match="HF_HUB_OFFLINE is set.*Unset HF_HUB_OFFLINE"):
        download_folder("tester/tiny", cache_dir=cache)
    assert server.log == []


def test_unknown_model_says_so(hub, cache):
    hub({"tester/tiny": repo(7)})
    with pytest.raises(HubDownloadError, match="tester/none: no such public model"):
        download_folder("tester/none", cache_dir=cache)


def test_the_endpoint_is_read_when_the_download_starts(hub, cache, monkeypatch):
    """HF_ENDPOINT set after huggingface_hub was imported still counts (a stand-in or a mirror)."""
    from huggingface_hub import constants

    server = hub({"tester/tiny": repo(8)})
    assert constants.ENDPOINT != server.endpoint
    download_folder("tester/tiny", cache_dir=cache)
    assert server.gets("model.safetensors")


@pytest.mark.parametrize("text", ["not an id", "a/b/c", "/abs/path", "", "owner/"])
def test_malformed_ids_refused(text, cache):
    assert not looks_like_repo_id(text)
    with pytest.raises(HubDownloadError, match="not a Hugging Face model id"):
        download_folder(text, cache_dir=cache)


def test_captioning_load_by_id_goes_through_the_download(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from explorer.engine import captioning

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(captioning.CaptionModelError, match="owner/captioner: could not reach"):
        captioning.load("owner/captioner")


def test_library_download_returns_the_entry_described_from_its_files(hub, cache):
    from explorer.engine.library import download

    files = repo(9)
    hub({"tester/tiny": files})
    entry = download("tester/tiny", cache_dir=cache)
    assert entry.group == "computer" and entry.where == "Hugging Face cache" and entry.from_files
    assert entry.panel == "vit" and entry.description.family == "ViT/8"
    assert entry.description.parameters == 1_000_000 + 48
    assert os.path.samefile(entry.source, cache / "models--tester--tiny" / "snapshots" / server_commit("tester/tiny"))


def server_commit(repo_id: str) -> str:
    import hashlib

    return hashlib.sha1(repo_id.encode()).hexdigest()
