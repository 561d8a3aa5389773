"""The library's state without Qt: listing, search and filters, folders that persist, opening and refusals, download."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_cache import cached_repo, save_hf, tiny_vit_classifier
from safetensors.numpy import save

from explorer.ui.library.state import LibraryState, MemoryStore
from explorer.ui.panels.state import FinishedJob

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def vit_files(tmp_path_factory) -> dict[str, bytes]:
    return save_hf(tiny_vit_classifier(), tmp_path_factory.mktemp("vit") / "vit")


@pytest.fixture
def filled_cache(cache, vit_files) -> Path:
    cached_repo(cache, "someone/tiny-vit", vit_files)
    cached_repo(cache, "someone/chat", {"config.json": json.dumps({"model_type": "gpt2"}).encode()})
    cached_repo(cache, "someone/damaged", vit_files, missing_blobs=("model.safetensors",))
    return cache


def make_state(tmp_path, store=None, **kwargs) -> LibraryState:
    state = LibraryState(store=store or MemoryStore(), discover_options={"trained_dir": tmp_path / "trained"}, **kwargs)
    state.refresh()
    return state


class Opened:
    """A panel's opener: records what it was given, answers with a finished job (an error if told to)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sources: list[str] = []
        self.error = error

    def __call__(self, source: str) -> FinishedJob:
        self.sources.append(source)
        job = FinishedJob("loading")
        job.error, job.done = self.error, True
        return job


def test_listing_groups_and_selection(tmp_path, filled_cache):
    state = make_state(tmp_path)
    groups = dict(state.visible())
    assert [e.source for e in groups["bundled"]][:1] == ["shapes"]
    assert [e.title for e in groups["computer"]] == ["someone/tiny-vit", "someone/chat", "someone/damaged"], \
        "usable first, then the rest"
    assert len(groups["catalogue"]) >= 11
    assert state.current is not None and state.current.can_open and state.busy == ""
    assert state.status.endswith("3 on this computer.")


def test_search_filter_and_hiding_what_cannot_open(tmp_path, filled_cache):
    state = make_state(tmp_path)
    state.query = "tiny vit"
    assert [e.title for _g, es in state.visible() for e in es] == ["someone/tiny-vit", "DeiT-tiny", "DeiT-tiny distilled"]
    state.query = "someone VIT"
    assert [e.title for _g, es in state.visible() for e in es] == ["someone/tiny-vit"]
    state.query = ""
    state.panel_filter = "captioning"
    shown = [e for _g, es in state.visible() for e in es]
    assert {e.panel for e in shown} == {"captioning", None}
    assert [e.title for e in shown if e.panel is None] == ["someone/damaged"], "only the unreadable one could be anyone's"
    state.panel_filter = ""
    state.show_unusable = False
    titles = [e.title for _g, es in state.visible() for e in es]
    assert "someone/chat" not in titles and "someone/damaged" not in titles and "someone/tiny-vit" in titles


def test_added_folders_persist_in_the_store(tmp_path, vit_files):
    folder = tmp_path / "mine" / "a-vit"
    folder.mkdir(parents=True)
    for name, data in vit_files.items():
        (folder / name).write_bytes(data)
    store = MemoryStore()
    state = make_state(tmp_path, store)
    state.add_folder(tmp_path / "mine")
    assert store.load("folders") == [str((tmp_path / "mine").resolve())]
    assert any(e.title == "a-vit" and e.where == "added folder" for e in state.entries)
    again = make_state(tmp_path, store)
    assert again.folders == (str((tmp_path / "mine").resolve()),)
    assert any(e.title == "a-vit" for e in again.entries)
    again.remove_folder(again.folders[0])
    assert store.load("folders") == [] and not any(e.title == "a-vit" for e in again.entries)


def test_open_hands_the_source_to_the_entry_s_panel_and_remembers_it(tmp_path, filled_cache):
    shown: list[str] = []
    vit, captioning = Opened(), Opened()
    store = MemoryStore()
    state = make_state(tmp_path, store, show_panel=shown.append, openers={"vit": vit, "captioning": captioning})
    state.selected = "hf:someone/tiny-vit"
    assert state.open_label() == "Open in ViT"
    state.open_selected()
    assert shown == ["vit"] and vit.sources == [state.current.source] and captioning.sources == []
    assert store.load("recent") == [state.current.source]
    assert state.status.startswith("Opened someone/tiny-vit in the ViT panel")
    state.selected = "bundled:attention"
    state.open_selected()
    assert shown == ["vit", "captioning"] and captioning.sources == ["attention"]
    assert store.load("recent") == [vit.sources[0]], "bundled models are not recent files"


def test_a_refusal_is_kept_on_the_entry_with_the_engine_s_words(tmp_path, filled_cache):
    refusing = Opened(ValueError("the weights do not fit: blocks.0.attn.qkv.weight"))
    state = make_state(tmp_path, openers={"vit": refusing})
    state.selected = "hf:someone/tiny-vit"
    state.open_selected()
    entry = state.current
    assert not entry.can_open
    assert entry.reason == "the ViT panel could not open it: the weights do not fit: blocks.0.attn.qkv.weight"
    state.refresh()
    assert state.current.reason == entry.reason, "a rescan forgets the refusal"
    state.open_selected()
    assert len(refusing.sources) == 1, "an entry that was refused is not handed over again"


def test_what_cannot_open_says_why_and_calls_nobody(tmp_path, filled_cache):
    vit = Opened()
    state = make_state(tmp_path, openers={"vit": vit})
    state.selected = "hf:someone/chat"
    state.open_selected()
    assert vit.sources == [] and "is not an image model" in state.status
    state.selected = "catalogue:google/vit-base-patch16-224"
    state.open_selected()
    assert vit.sources == [] and "press Download first" in state.status
    state.selected = "bundled:shapes"
    state.openers.clear()
    state.open_selected()
    assert "The ViT panel is not open yet" in state.status


def test_download_marks_the_catalogue_entry_and_lists_the_files(tmp_path, hub):
    rng = np.random.default_rng(0)
    config = {"model_type": "deit", "architectures": ["DeiTForImageClassification"], "hidden_size": 192, "patch_size": 16,
              "image_size": 224, "num_hidden_layers": 12, "id2label": {str(i): f"c{i}" for i in range(1000)}}
    weights = save({"w": rng.standard_normal(300_000).astype(np.float32)})
    hub({"facebook/deit-tiny-patch16-224": {"config.json": json.dumps(config).encode(), "model.safetensors": weights}})
    state = make_state(tmp_path)
    state.selected = "catalogue:facebook/deit-tiny-patch16-224"
    progress: list[float] = []
    state.events.progress.connect(lambda p: p is not None and progress.append(p[0]))
    state.download_selected()
    assert progress[0] == 0.0 and progress[-1] == 1.0 and state.progress is None and state.busy == ""
    card = state.current
    assert card.downloaded and not card.needs_download and card.can_open and Path(card.source).is_dir()
    got = next(e for e in state.entries if e.key == "hf:facebook/deit-tiny-patch16-224")
    assert got.group == "computer" and got.from_files
    assert (got.description.family, got.description.classes, got.description.parameters) == ("DeiT-Ti/16", 1000, 300_000)
    assert "Downloaded facebook/deit-tiny-patch16-224" in state.status


def test_a_failed_download_says_why_and_keeps_the_list(tmp_path):
    state = make_state(tmp_path)
    before = state.entries
    state.selected = "catalogue:facebook/dinov2-small"
    state.download_selected()
    assert "could not reach the Hugging Face hub" in state.status
    assert state.entries == before and state.busy == ""


def test_the_state_imports_no_qt():
    code = ("import sys, explorer.ui.library.state\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'pyqtgraph', 'superqt')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
