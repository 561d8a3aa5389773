"""Downloading a model by id: progress, cancel, the offline message, safetensors only.

No hub is reachable here, so huggingface_hub.snapshot_download is replaced by a
stand-in that drives the progress bar class it is given, as the real one does.
"""

from __future__ import annotations

import huggingface_hub
import pytest
from huggingface_hub import errors

from explorer.engine.infra.hub import ALLOW_PATTERNS, HubDownloadError, download_folder, looks_like_repo_id
from explorer.engine.infra.progress import Cancelled, Reporter


def fake_snapshot(folder, files=("config.json", "model.safetensors", "vocab.json"), calls=None):
    def snapshot_download(repo_id, *, cache_dir=None, allow_patterns=None, tqdm_class=None, **_):
        if calls is not None:
            calls.append((repo_id, allow_patterns))
        folder.mkdir(parents=True, exist_ok=True)
        bar = tqdm_class(total=len(files), desc="Fetching files")
        for name in files:
            (folder / name).write_bytes(b"{}")
            bar.update(1)
        bar.close()
        return str(folder)

    return snapshot_download


def test_progress_reaches_the_reporter_and_only_safe_files_are_asked_for(tmp_path, monkeypatch):
    calls, seen = [], []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot(tmp_path / "m", calls=calls))
    folder = download_folder("owner/model", reporter=Reporter(lambda f, t: seen.append(f)))
    assert folder == tmp_path / "m"
    assert calls == [("owner/model", ALLOW_PATTERNS)]
    assert "*.bin" not in ALLOW_PATTERNS and "*.safetensors" in ALLOW_PATTERNS
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert pytest.approx(seen[1:4]) == [1 / 3, 2 / 3, 1.0]


def test_cancel_stops_the_download(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot(tmp_path / "m"))
    reporter = Reporter()
    reporter.cancel()
    with pytest.raises(Cancelled, match="cancelled on request"):
        download_folder("owner/model", reporter=reporter)


def test_offline_says_so(monkeypatch):
    def offline(*args, **kwargs):
        raise errors.LocalEntryNotFoundError("no connection")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(HubDownloadError, match="could not reach the Hugging Face hub"):
        download_folder("owner/model")


def test_pickle_only_model_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot(tmp_path / "m", files=("config.json",)))
    with pytest.raises(HubDownloadError, match="no safetensors weights"):
        download_folder("owner/model")


@pytest.mark.parametrize("text", ["not an id", "a/b/c", "/abs/path", "", "owner/"])
def test_malformed_ids_refused(text):
    assert not looks_like_repo_id(text)
    with pytest.raises(HubDownloadError, match="not a Hugging Face model id"):
        download_folder(text)


def test_captioning_load_by_id_goes_through_the_download(monkeypatch):
    from explorer.engine import captioning

    def offline(*args, **kwargs):
        raise errors.LocalEntryNotFoundError("no connection")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(captioning.CaptionModelError, match="owner/captioner: could not reach"):
        captioning.load("owner/captioner")
