"""Engine calls off the GUI thread, with progress, result, error and cancel.

Every panel runs anything that can take longer than a frame through
:func:`run_task`::

    task = run_task(engine_fn, arg, on_result=self._show, on_progress=bar.set)
    cancel_button.clicked.connect(task.cancel)

If ``engine_fn`` accepts a ``reporter`` keyword, it receives an
:class:`explorer.engine.progress.Reporter`; its ``report(fraction, text)``
emits ``progressed`` here and raises ``Cancelled`` after :meth:`Task.cancel`,
so the work stops at its next report. An exception in the work never crashes
the app: it arrives as ``errored`` and, unless the caller handles it, is shown
to the user by :func:`explorer.ui.errors.show_error`.

Signals are named in the past tense (after superqt): ``progressed``,
``returned``, ``errored``, ``cancelled``, ``finished`` (always last).
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from explorer.engine.progress import Cancelled, Reporter

log = logging.getLogger(__name__)

#: Tasks alive now; a task must outlive its runnable, so we hold a reference.
_ACTIVE: set[Task] = set()


class Task(QObject):
    """A handle on one piece of background work; lives in the GUI thread."""

    progressed = pyqtSignal(float, str)
    returned = pyqtSignal(object)
    errored = pyqtSignal(object)  # the exception, with __traceback_text__ attached
    cancelled = pyqtSignal()
    finished = pyqtSignal()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, description: str) -> None:
        super().__init__()
        self.description = description
        self.reporter = Reporter(self._emit_progress)
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        if _accepts_reporter(fn):
            self._kwargs = {**kwargs, "reporter": self.reporter}

    def cancel(self) -> None:
        """Ask the work to stop at its next progress report."""
        self.reporter.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.reporter.cancelled

    def _emit_progress(self, fraction: float, text: str) -> None:
        self.progressed.emit(fraction, text)

    def _run(self) -> None:  # worker thread
        try:
            value = self._fn(*self._args, **self._kwargs)
            if self.reporter.cancelled:
                raise Cancelled()
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every error must reach the user
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.errored.emit(exc)
        else:
            self.returned.emit(value)
        finally:
            self.finished.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self.task = task
        self.setAutoDelete(True)

    def run(self) -> None:
        self.task._run()


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
    task.returned.connect(lambda value: _remember(task, value, None))
    task.errored.connect(lambda exc: _remember(task, None, exc))
    if on_finished is not None:
        task.finished.connect(on_finished)
    task.finished.connect(lambda: _finish(task))
    _ACTIVE.add(task)
    QThreadPool.globalInstance().start(_Runnable(task))
    return task


def active_tasks() -> int:
    """How many tasks have not finished yet (used by ``--screenshot`` and tests to settle)."""
    return len(_ACTIVE)


def _remember(task: Task, value: Any, error: BaseException | None) -> None:
    task.result, task.error = value, error


def _finish(task: Task) -> None:
    task.done = True
    _ACTIVE.discard(task)


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
