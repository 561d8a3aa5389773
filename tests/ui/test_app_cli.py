"""The command line: --screenshot writes a real PNG of the window; the image argument loads."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def run_app(args, tmp_path, timeout=240):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "explorer", "--settings", str(tmp_path / "s.ini"), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path,
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshot_is_a_real_picture_of_the_window(tmp_path, theme):
    image = tmp_path / "stripes.png"
    stripes = np.zeros((60, 80, 3), np.uint8)
    stripes[::4] = (250, 30, 30)
    Image.fromarray(stripes).save(image)
    out = tmp_path / "shot.png"
    result = run_app([str(image), "--panel", "captioning", "--theme", theme, "--screenshot", str(out), "--size", "1280x720"], tmp_path)
    assert result.returncode == 0, result.stderr
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert shot.shape == (720, 1280, 3)
    assert shot.std() > 10, "the screenshot is blank"
    # the loaded image's red stripes show in the sidebar thumbnail
    assert ((shot[..., 0] > 200) & (shot[..., 1] < 80)).sum() > 50


def test_bad_image_argument_fails_screenshot_with_message(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    result = run_app([str(bad), "--screenshot", str(tmp_path / "x.png")], tmp_path)
    assert result.returncode == 2
    assert "bad.png" in result.stderr


def test_image_argument_loads(qtbot, tmp_path, monkeypatch):
    from explorer import app as app_module

    path = tmp_path / "green.png"
    Image.new("RGB", (9, 9), (0, 200, 0)).save(path)
    windows = []
    monkeypatch.setattr(app_module, "take_screenshot", lambda app, win, p: windows.append(win) or 0)
    assert app_module.main([str(path), "--settings", str(tmp_path / "s.ini"), "--screenshot", str(tmp_path / "o.png")]) == 0
    window = windows[0]
    qtbot.addWidget(window)
    assert window.context.image.name == "green.png"


def test_window_shows_before_torch_is_imported(tmp_path):
    result = run_app(["--quit-after-show"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "torch-imported=no" in result.stdout


def test_size_applies_to_a_normal_launch_too(tmp_path):
    result = run_app(["--size", "900x600", "--quit-after-show"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "size=900x600" in result.stdout, result.stdout


def test_the_last_image_is_remembered_by_its_full_path(tmp_path):
    """Opened by a relative name, it must still be found from another folder next launch."""
    Image.fromarray(np.full((40, 50, 3), 200, np.uint8)).save(tmp_path / "mine.png")
    first = run_app(["mine.png", "--quit-after-show"], tmp_path)
    assert first.returncode == 0, first.stderr
    settings = (tmp_path / "s.ini").read_text()
    assert str(tmp_path / "mine.png") in settings, settings
