"""Progress and cancellation for long engine work, without Qt.

Long engine functions take an optional ``reporter`` and call
``reporter.report(fraction, text)`` now and then. The UI's worker passes one
whose ``report`` raises :class:`Cancelled` once the user pressed Cancel, so
the work stops at its next report; scripts and tests pass nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """Raised inside long work when the user asked it to stop."""


class Reporter:
    """Carries progress out of, and a cancel request into, a piece of long work.

    Args:
        on_progress: called with (fraction in [0, 1], text) on every report.
    """

    def __init__(self, on_progress: Callable[[float, str], None] | None = None) -> None:
        self._on_progress = on_progress
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if a cancel was requested."""
        if self._cancel.is_set():
            raise Cancelled("cancelled on request")

    def report(self, fraction: float, text: str = "") -> None:
        """Pass progress on, then stop here if a cancel was requested."""
        self.check()
        if self._on_progress is not None:
            self._on_progress(min(max(float(fraction), 0.0), 1.0), text)


def report(reporter: Reporter | None, fraction: float, text: str = "") -> None:
    """``reporter.report(...)`` that accepts ``None`` (no UI attached)."""
    if reporter is not None:
        reporter.report(fraction, text)
