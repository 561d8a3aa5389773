"""Shared fixtures. Qt runs offscreen: no display is needed, and pytest-qt aborts without one."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from explorer.runtime import configure_numeric_libraries  # noqa: E402

configure_numeric_libraries()  # as the app runs (before numpy/torch are imported)

import pytest  # noqa: E402


@pytest.fixture
def settings(tmp_path):
    """A throw-away settings file, so tests never touch the user's settings."""
    from PyQt6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def context(qapp, settings):
    """The shared app state (current image, theme) that panels are built with."""
    from explorer.ui.context import AppContext
    from explorer.ui.theme import apply_theme

    apply_theme(qapp, "light")
    return AppContext(settings)


@pytest.fixture
def sample_image():
    from explorer.assets import sample_image_paths
    from explorer.engine.infra.images import load_image

    path, _title = sample_image_paths()[0]
    return load_image(path)


@pytest.fixture(autouse=True)
def _clear_messages():
    """Each test starts with no messages shown to the user."""
    from explorer.ui import errors

    errors.MESSAGES.clear()
    yield
    errors.MESSAGES.clear()


@pytest.fixture
def window(qtbot, settings):
    """The main window, shown offscreen, with the engine (torch) loaded."""
    from explorer.ui.main_window import MainWindow

    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start_engine()
    qtbot.waitUntil(lambda: win.engine.is_ready, timeout=60_000)
    return win


@pytest.fixture
def wait_for_tasks(qtbot):
    """``wait_for_tasks()`` blocks until every background task finished and its callbacks ran."""
    from explorer.ui.workers import active_tasks

    def wait(timeout: int = 30_000) -> None:
        qtbot.waitUntil(lambda: active_tasks() == 0, timeout=timeout)

    return wait
