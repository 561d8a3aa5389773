"""Telling the user what went wrong, without ever ending the app.

:func:`show_error` is the one way a message reaches the user: a non-blocking
message box over the main window plus a line in the status bar. Tests read
:data:`MESSAGES` instead of clicking boxes away. :func:`install_excepthook`
routes unexpected exceptions (in slots, in threads) to the log and to
:func:`show_error`, so a bug shows a message instead of a crash.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from dataclasses import dataclass

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QApplication, QMessageBox, QWidget

log = logging.getLogger("explorer")


@dataclass
class Message:
    title: str
    text: str
    detail: str = ""


#: Every message shown, newest last (tests read this; bounded).
MESSAGES: list[Message] = []
_MAX_MESSAGES = 200


def describe_exception(exc: BaseException) -> str:
    """A plain sentence for the user: our own errors speak for themselves."""
    text = str(exc).strip()
    if isinstance(exc, ValueError) and text:
        return text
    if isinstance(exc, MemoryError):
        return "Out of memory. Try a smaller image, sequence or model."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def show_error(title: str, error: BaseException | str, parent: QWidget | None = None) -> Message:
    """Show ``error`` to the user (non-modal) and return the message shown."""
    text = describe_exception(error) if isinstance(error, BaseException) else str(error)
    detail = getattr(error, "__traceback_text__", "") if isinstance(error, BaseException) else ""
    message = Message(title, text, detail)
    MESSAGES.append(message)
    del MESSAGES[:-_MAX_MESSAGES]
    app = QApplication.instance()
    if app is None:
        log.error("%s: %s", title, text)
        return message
    window = parent or _main_window()
    if window is not None and hasattr(window, "statusBar"):
        window.statusBar().showMessage(f"⚠ {title}: {text}", 10_000)
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, window)
    if detail:
        box.setDetailedText(detail)
    box.setObjectName("errorMessageBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # a long session must not keep every box ever shown
    box.open()  # window-modal, never blocks the caller
    return message


def _main_window() -> QWidget | None:
    app = QApplication.instance()
    if app is None:
        return None
    for widget in app.topLevelWidgets():
        if widget.objectName() == "mainWindow":
            return widget
    return None


class _Bridge(QObject):
    """Carries an exception from any thread to the GUI thread (queued signal)."""

    raised = pyqtSignal(object)


_bridge: _Bridge | None = None


def install_excepthook() -> None:
    """Log unexpected exceptions and show them; the app keeps running.

    Call from the GUI thread once the QApplication exists.
    """
    global _bridge
    _bridge = _Bridge()
    _bridge.raised.connect(
        lambda exc: show_error("Unexpected error", exc), Qt.ConnectionType.QueuedConnection
    )

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("Unexpected error:\n%s", text)
        exc.__traceback_text__ = text
        # Queued: the hook may run inside a paint event or in another thread.
        if _bridge is not None:
            _bridge.raised.emit(exc)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
