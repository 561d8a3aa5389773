"""The Models library, shared by the ViT, Captioning and Video panels.

A panel registers its loader once and offers the library from its own "Open model" menu::

    library.register_opener(context, "vit", self.load_model)
    menu.addAction("Models library…", lambda: library.show_library(context, "vit", self))

There is one dialog per app context: opened from the ViT panel it starts on the
ViT models, from Captioning on the captioners, and a model of another panel
is handed to that panel (the main window switches to it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from explorer.ui.library.state import LibraryState, Opener, remembered

_OPENERS: WeakKeyDictionary[Any, dict[str, Opener]] = WeakKeyDictionary()
_DIALOGS: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()


class SettingsStore:
    """The library's lists in the app's QSettings, under ``library/``."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def load(self, key: str) -> list[str]:
        if self.settings is None:
            return []
        return remembered(self.settings.value(f"library/{key}", []))

    def save(self, key: str, values: list[str]) -> None:
        if self.settings is not None:
            self.settings.setValue(f"library/{key}", list(values))


def register_opener(context: Any, panel: str, opener: Opener) -> None:
    """``opener(source)`` loads a model in panel ``panel`` (and returns its job, whose error the library keeps)."""
    _OPENERS.setdefault(context, {})[panel] = opener


def openers(context: Any) -> dict[str, Opener]:
    return _OPENERS.setdefault(context, {})


def library_state(context: Any, **discover_options: Any) -> LibraryState:
    """A library state bound to ``context``: its settings, its panels' openers, its panel switch."""
    from explorer.ui.workers import run_task

    if "trained_dir" not in discover_options:
        from explorer.ui.panels.training.panel import trained_models_dir

        discover_options["trained_dir"] = trained_models_dir()
    return LibraryState(runner=run_task, store=SettingsStore(context.settings), show_panel=context.panelRequested.emit,
                        openers=openers(context), defer=when_panels_idle, discover_options=discover_options)


def when_panels_idle(fn: Callable[[], None], *, poll_ms: int = 50, patience_ms: int = 120_000) -> None:
    """Call ``fn`` once no panel work runs (downloads aside): a panel just shown is still loading its own model,
    and a model handed over before that ends would be replaced by it."""
    from PyQt6.QtCore import QTimer
    from superqt.utils import WorkerBase

    from explorer.ui.workers import Task

    waited = [0]

    def check() -> None:
        busy = [w for w in WorkerBase._worker_set if isinstance(w, Task) and not w.description.startswith("downloading")]
        if not busy or waited[0] >= patience_ms:
            fn()
            return
        waited[0] += poll_ms
        QTimer.singleShot(poll_ms, check)

    check()


def show_library(context: Any, panel: str = "", parent: Any = None, **discover_options: Any):
    """Show the library (built on first use), filtered to ``panel``'s models, and look for models again."""
    from explorer.ui.library.dialog import LibraryDialog

    dialog = _DIALOGS.get(context)
    if dialog is None:
        window = parent.window() if parent is not None else None
        dialog = LibraryDialog(library_state(context, **discover_options), window)
        context.themeChanged.connect(lambda _theme: dialog.apply_theme())
        _DIALOGS[context] = dialog
    dialog.state.panel_filter = panel
    if not dialog.state.busy:
        dialog.state.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
