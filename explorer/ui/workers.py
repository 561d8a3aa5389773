"""Engine calls off the GUI thread, with progress, result, error and cancel.

Every panel runs anything that can take longer than a frame through
:func:`run_task`::

    task = run_task(engine_fn, arg, on_result=self._show, on_progress=bar.set)
    cancel_button.clicked.connect(task.cancel)

The thread pool, the signals object and the set that keeps running workers
alive are superqt's (:class:`superqt.utils.WorkerBase`, napari's workers); this
module adds what the engine contract needs on top: if ``engine_fn`` accepts a
``reporter`` keyword, it receives an :class:`explorer.engine.infra.progress.Reporter`
whose ``report(fraction, text)`` emits ``progressed`` here and raises
``Cancelled`` after :meth:`Task.cancel`, so the work stops at its next report.
An exception in the work never crashes the app: it arrives as ``errored`` and,
unless the caller handles it, is shown to the user by
:func:`explorer.ui.errors.show_error`.

Signals are superqt's, named in the past tense: ``started``, ``progressed``,
``returned``, ``errored``, ``cancelled``, ``finished`` (always last).
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal
from superqt.utils import WorkerBase

from explorer.engine.infra.progress import Cancelled, Reporter

log = logging.getLogger(__name__)


class _TaskSignals(QObject):
    """The signals superqt's :class:`WorkerBase` emits, plus progress and cancel."""

    started = pyqtSignal()
    progressed = pyqtSignal(float, str)
    returned = pyqtSignal(object)
    errored = pyqtSignal(object)  # the exception, with __traceback_text__ attached
    warned = pyqtSignal(tuple)
    cancelled = pyqtSignal()
    finished = pyqtSignal()
    _finished = pyqtSignal(object)  # superqt: drops the worker from its keep-alive set


class Task(WorkerBase):
    """One engine call on superqt's thread pool; its signals arrive in the GUI thread.

    ``done``, ``result`` and ``error`` are set (in the GUI thread) when it ends.
    """

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, description: str) -> None:
        super().__init__(SignalsClass=_TaskSignals)
        # Python owns the runnable (superqt's set keeps it alive while it runs): an
        # auto-deleted one would lose the slots bound to it before they are delivered.
        self.setAutoDelete(False)
        self.description = description
        self.reporter = Reporter(self.signals.progressed.emit)
        self._fn, self._args, self._kwargs = fn, args, kwargs
        if _accepts_reporter(fn):
            self._kwargs = {**kwargs, "reporter": self.reporter}
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.signals.returned.connect(self._remember_result)
        self.signals.errored.connect(self._remember_error)
        self.signals.finished.connect(self._finish)

    def cancel(self) -> None:
        """Ask the work to stop at its next progress report."""
        self.reporter.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.reporter.cancelled

    def work(self) -> Any:  # worker thread; superqt emits returned / errored / finished
        try:
            value = self._fn(*self._args, **self._kwargs)
            self.reporter.check()  # a cancel that came after the last report still counts
        except Cancelled:
            self.quit()  # superqt then emits no `returned`
            self.signals.cancelled.emit()
            return None
        except Exception as exc:
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            raise
        return value

    def _remember_result(self, value: Any) -> None:
        self.result = value

    def _remember_error(self, exc: BaseException) -> None:
        self.error = exc

    def _finish(self) -> None:
        self.done = True


def run_task(
    fn: Callable[..., Any],
    *args: Any,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[float, str], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    on_finished: Callable[[], None] | None = None,
    description: str = "",
    **kwargs: Any,
) -> Task:
    """Run ``fn(*args, **kwargs)`` on the global thread pool; callbacks run in the GUI thread.

    Without ``on_error``, an exception is shown to the user as a message
    titled with ``description``.
    """
    task = Task(fn, args, kwargs, description or getattr(fn, "__name__", "work"))
    if on_progress is not None:
        task.progressed.connect(on_progress)
    if on_result is not None:
        task.returned.connect(on_result)
    if on_cancelled is not None:
        task.cancelled.connect(on_cancelled)
    task.errored.connect(on_error if on_error is not None else _default_error_handler(task))
    if on_finished is not None:
        task.finished.connect(on_finished)
    task.start()
    return task


def active_tasks() -> int:
    """How many tasks have not finished yet (used by ``--screenshot`` and tests to settle)."""
    return sum(1 for worker in WorkerBase._worker_set if isinstance(worker, Task))


def _default_error_handler(task: Task) -> Callable[[BaseException], None]:
    def handle(exc: BaseException) -> None:
        from explorer.ui.errors import show_error

        log.error("%s failed:\n%s", task.description, getattr(exc, "__traceback_text__", exc))
        show_error(f"{task.description.capitalize()} failed", exc)

    return handle


def _accepts_reporter(fn: Callable[..., Any]) -> bool:
    try:
        return "reporter" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
