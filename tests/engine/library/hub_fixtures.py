"""Fixtures shared by the library's engine and UI tests (imported by both conftests).

Every test runs with no token, a Hugging Face cache and TORCH_HOME of its own, and
HF_ENDPOINT on a port where nothing listens, unless it starts a stand-in hub.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from standin_hub import StandInHub, free_port


@pytest.fixture(autouse=True)
def _no_real_hub(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "default-hf-cache"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture
def hub(monkeypatch):
    """``hub(repos, **faults)`` starts a stand-in hub and points HF_ENDPOINT at it (stopped after the test)."""
    started: list[StandInHub] = []

    def start(repos, **faults) -> StandInHub:
        server = StandInHub(repos, **faults)
        monkeypatch.setenv("HF_ENDPOINT", server.start())
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def cache(tmp_path) -> Path:
    """The Hugging Face cache huggingface_hub uses in this test (empty)."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
