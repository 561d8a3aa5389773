"""The Models library in the main window: opened from a panel, it opens models there, downloads, cancels, resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_cache import cached_repo, save_hf, tiny_vit_classifier
from PyQt6.QtCore import Qt
from safetensors.numpy import save

from explorer.ui import errors, library


@pytest.fixture(autouse=True)
def _no_user_training_folder(monkeypatch, tmp_path):
    """The library also lists the Training panel's folder: here, an empty one of the test's own."""
    from explorer.ui.panels.training import panel as training

    monkeypatch.setattr(training, "trained_models_dir", lambda: tmp_path / "trained")


@pytest.fixture(scope="module")
def vit_files(tmp_path_factory) -> dict[str, bytes]:
    return save_hf(tiny_vit_classifier(), tmp_path_factory.mktemp("vit") / "vit")


def panel_of(window, key, wait_for_tasks):
    window.set_panel(key)
    page = window.current_page()
    page.build()
    wait_for_tasks(60_000)
    return page.panel


def library_from(menu):
    (action,) = [a for a in menu.actions() if a.text() == "Models library…"]
    action.trigger()


def choose(qtbot, dialog, key: str):
    for i in range(dialog.tree.topLevelItemCount()):
        group = dialog.tree.topLevelItem(i)
        for j in range(group.childCount()):
            if group.child(j).data(0, Qt.ItemDataRole.UserRole) == key:
                dialog.tree.setCurrentItem(group.child(j))
                assert dialog.state.selected == key
                return group.child(j)
    raise AssertionError(f"{key} is not listed: {[e.key for e in dialog.state.entries]}")


def test_the_vit_panel_opens_a_cached_model_through_the_library(qtbot, window, cache, vit_files, settings, wait_for_tasks):
    snapshot = cached_repo(cache, "someone/tiny-vit", vit_files)
    vit = panel_of(window, "vit", wait_for_tasks)
    library_from(vit.open_button.menu())
    wait_for_tasks()
    dialog = library._DIALOGS[window.context]
    assert dialog.isVisible() and dialog.filter_combo.currentText() == "ViT"
    assert {e.panel for _g, es in dialog.state.visible() for e in es} == {"vit"}
    choose(qtbot, dialog, "hf:someone/tiny-vit")
    assert dialog.open_button.text() == "Open in ViT" and dialog.open_button.isEnabled()
    assert "5" in dialog.facts.text() and "Hugging Face cache" in dialog.facts.text()
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    wait_for_tasks(60_000)
    assert vit.state.model.class_names == [f"thing {i}" for i in range(5)]
    assert "Opened someone/tiny-vit in the ViT panel" in dialog.status.text()
    assert library.SettingsStore(settings).load("recent") == [str(snapshot)]


def test_a_model_the_engine_refuses_says_why_in_its_entry(qtbot, window, cache, vit_files, wait_for_tasks):
    config = json.loads(vit_files["config.json"])
    config["hidden_size"] = 64  # the weights are 48 wide
    cached_repo(cache, "someone/mismatched", {**vit_files, "config.json": json.dumps(config).encode()})
    vit = panel_of(window, "vit", wait_for_tasks)
    before = vit.state.model
    dialog = library.show_library(window.context, "vit", vit)
    wait_for_tasks()
    choose(qtbot, dialog, "hf:someone/mismatched")
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    wait_for_tasks(60_000)
    assert vit.state.model is before, "the panel keeps the model it had"
    entry = dialog.state.current
    assert entry.reason.startswith("the ViT panel could not open it: ") and "hidden_size" in entry.reason
    assert not dialog.reason.isHidden() and "hidden_size = 64" in dialog.reason.text().replace("\u200b", "")
    assert not dialog.open_button.isEnabled()
    assert errors.MESSAGES and "hidden_size" in errors.MESSAGES[-1].text


def test_a_model_of_another_panel_is_opened_there(qtbot, window, wait_for_tasks):
    vit = panel_of(window, "vit", wait_for_tasks)
    dialog = library.show_library(window.context, "vit", vit)
    wait_for_tasks()
    dialog.state.panel_filter = ""
    assert dialog.filter_combo.currentText() == "All panels"
    choose(qtbot, dialog, "bundled:attention_boxes")
    assert dialog.open_button.text() == "Open in Captioning"
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    wait_for_tasks(60_000)
    assert window.current_key() == "captioning"
    captioning = window.current_page().panel
    qtbot.waitUntil(lambda: captioning.state.source == "attention_boxes", timeout=30_000)
    wait_for_tasks(60_000)
    assert captioning.state.source == "attention_boxes", "the panel's own start-up load replaced the model handed over"
    choose(qtbot, dialog, "bundled:video_transformer")
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    wait_for_tasks(60_000)
    assert window.current_key() == "video" and window.current_page().panel.state.model_name == "video_transformer"


def test_download_shows_progress_cancels_and_resumes(qtbot, window, hub, cache, wait_for_tasks):
    rng = np.random.default_rng(3)
    weights = save({"w": rng.standard_normal(1_500_000).astype(np.float32)})  # 6 MB
    config = {"model_type": "dinov2", "architectures": ["Dinov2Model"], "hidden_size": 384, "patch_size": 14,
              "image_size": 518, "num_hidden_layers": 12}
    server = hub({"facebook/dinov2-small": {"config.json": json.dumps(config).encode(), "model.safetensors": weights}},
                 delay=0.01)
    vit = panel_of(window, "vit", wait_for_tasks)
    dialog = library.show_library(window.context, "vit", vit)
    wait_for_tasks()
    choose(qtbot, dialog, "catalogue:facebook/dinov2-small")
    assert dialog.download_button.isVisible() and not dialog.open_button.isEnabled()
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.isVisible() and dialog.progress.value() > 200, timeout=30_000)
    assert dialog.cancel_button.isVisible() and "MB of" in dialog.progress.format()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    wait_for_tasks()
    assert "Cancelled the download of facebook/dinov2-small" in dialog.status.text()
    assert not dialog.progress.isVisible() and not dialog.cancel_button.isVisible()
    assert dialog.download_button.isVisible() and dialog.state.current.needs_download
    assert not server.gets("model.safetensors")[0].wait().complete

    server.delay = 0.0
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    wait_for_tasks(60_000)
    assert dialog.state.current.downloaded and dialog.open_button.isEnabled() and not dialog.download_button.isVisible()
    assert len(server.gets("config.json")) == 1, "the finished file was fetched again"
    assert any("✓ downloaded" in item.text(0) for item in dialog.tree.findItems("DINOv2-small", Qt.MatchFlag.MatchStartsWith | Qt.MatchFlag.MatchRecursive))
    got = next(e for e in dialog.state.entries if e.key == "hf:facebook/dinov2-small")
    assert got.description.family == "DINOv2-S/14" and got.description.parameters == 1_500_000


def test_added_folders_persist_through_the_settings(qtbot, window, tmp_path, vit_files, monkeypatch, wait_for_tasks):
    from PyQt6.QtWidgets import QFileDialog

    from explorer.ui.context import AppContext

    folder = tmp_path / "my-models" / "run-1"
    folder.mkdir(parents=True)
    for name, data in vit_files.items():
        (folder / name).write_bytes(data)
    dialog = library.show_library(window.context, "vit")
    wait_for_tasks()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "my-models"))
    qtbot.mouseClick(dialog.add_folder_button, Qt.MouseButton.LeftButton)
    wait_for_tasks()
    assert any(e.title == "run-1" and e.where == "added folder" for e in dialog.state.entries)
    window.settings.sync()
    later = library.library_state(AppContext(type(window.settings)(window.settings.fileName(), window.settings.format())))
    assert later.folders == (str((tmp_path / "my-models").resolve()),)


def test_a_hand_over_waits_for_the_panel_s_own_loading_but_not_for_downloads(qtbot, wait_for_tasks):
    import time

    from explorer.ui.workers import run_task

    called: list[float] = []
    started = time.monotonic()
    run_task(time.sleep, 0.4, description="loading the captioners")
    download = run_task(time.sleep, 3.0, description="downloading owner/model")
    library.when_panels_idle(lambda: called.append(time.monotonic() - started))
    assert called == [], "handed over while the panel was still loading its own model"
    qtbot.waitUntil(lambda: bool(called), timeout=10_000)
    assert 0.35 < called[0] < 2.5, f"waited {called[0]:.2f} s (the download must not hold it up)"
    assert not download.done
    wait_for_tasks(20_000)
