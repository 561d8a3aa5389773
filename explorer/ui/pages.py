"""The main window's pages before and after the engine is there.

The window paints before torch is imported: :class:`EngineLoader` imports it in
a background thread, and each :class:`LazyPage` builds its panel only when it
is first shown with the engine ready. A page whose panel does not exist yet
says what it will show; one whose panel fails to build says why, and the app
runs on.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer.ui.context import AppContext
from explorer.ui.errors import show_error
from explorer.ui.panels import PanelSpec
from explorer.ui.panels.base import Panel

log = logging.getLogger(__name__)


class EngineLoader(QObject):
    """Imports torch in a background thread so the window stays responsive meanwhile."""

    ready = pyqtSignal()
    failed = pyqtSignal(str)

    def __init__(self) -> None:
        super().__init__()
        self.is_ready = "torch" in sys.modules
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.is_ready:
            self.ready.emit()
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="engine-loader", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        try:
            importlib.import_module("torch")
        except Exception as exc:  # noqa: BLE001 - reported to the user
            self.failed.emit(f"PyTorch could not be imported: {exc}")
            return
        self.is_ready = True
        self.ready.emit()


class LazyPage(QWidget):
    """A page that builds its panel on demand, or explains what will be there."""

    def __init__(self, spec: PanelSpec, context: AppContext) -> None:
        super().__init__()
        self.spec = spec
        self.context = context
        self.panel: Panel | None = None
        self.failed = False
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.message = QWidget()
        box = QVBoxLayout(self.message)
        box.setContentsMargins(48, 40, 48, 40)
        title = QLabel(spec.title)
        title.setProperty("role", "title")
        subtitle = QLabel(spec.subtitle)
        subtitle.setProperty("role", "muted")
        self._body = QLabel()
        self._body.setWordWrap(True)
        self._body.setTextFormat(Qt.TextFormat.PlainText)
        self._body.setMaximumWidth(640)
        for widget in (title, subtitle, self._body):
            box.addWidget(widget)
        box.addStretch(1)
        self._layout.addWidget(self.message)
        if spec.available():
            self._body.setText("Loading the engine…")
        else:
            self._body.setText(
                "This panel is not built yet. When it is, it will show:\n\n" + spec.promise
            )

    @property
    def built(self) -> bool:
        return self.panel is not None or self.failed or not self.spec.available()

    def build(self) -> None:
        if self.built:
            return
        try:
            panel_class = self.spec.load()
            panel = panel_class(self.context)
        except Exception as exc:  # noqa: BLE001 - a broken panel must not take the app down
            log.exception("building the %s panel failed", self.spec.title)
            self.failed = True
            self._body.setText(f"This panel could not be started:\n\n{type(exc).__name__}: {exc}")
            show_error(f"{self.spec.title} panel", exc)
            return
        self.panel = panel
        self.message.hide()
        self._layout.addWidget(panel)
        panel.start()
        panel.restyle()  # its labels and plots take the current theme and zoom
