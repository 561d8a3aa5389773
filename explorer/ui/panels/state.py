"""What every panel's state shares, without Qt.

A panel's state (``explorer/ui/panels/<feature>/state.py``) is a plain
dataclass made evented by psygnal: setting a field emits
``state.events.<field>``, and the panel's widgets redraw on those events. The
state holds the model, the trace, the selection, the settings and the values
derived from them, and the rules that tie them together (a new trace clamps the
selected step, a new model resets the head…). It imports no Qt, so tests drive
it directly, and a test fails if it ever does.

Three conventions every state follows, so the panel base can serve them all:

* **Settings that persist** are named in the class variable ``PERSISTED``;
  :func:`settings_of` reads them and :func:`restore_settings` writes them back
  (with type checks: a damaged settings file is ignored, never fatal). The
  panel base stores them under ``panels/<key>/`` in the app's settings — the
  one place settings are saved.
* **Heavy fields** (models, traces, arrays) are compared by identity, not by
  value, when psygnal decides whether a change happened: list them in
  :func:`identity_fields` for ``@evented(equality_operators=...)``.
* **Long work** goes through a *runner*, a callable with :func:`explorer.ui.workers.run_task`'s
  signature. The panel gives the state ``run_task`` (a worker thread); tests and
  small jobs give :func:`run_now`, which calls the function at once. Either way
  the callbacks, and so every state change, happen on the GUI thread.
"""

from __future__ import annotations

import inspect
import math
import operator
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from explorer.engine.infra.progress import Cancelled, Reporter


class Runner(Protocol):
    """``run_task``'s signature: run ``fn(*args, **kwargs)`` and call back with its outcome."""

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        description: str = "",
        **kwargs: Any,
    ) -> Any: ...


class FinishedJob:
    """What :func:`run_now` returns: a job that is already over (``done``, ``result``, ``error``)."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.reporter = Reporter()
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def cancel(self) -> None:
        """Nothing to stop: the work is over (here for the same interface as a worker task)."""
        self.reporter.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.reporter.cancelled


def run_now(
    fn: Callable[..., Any],
    *args: Any,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[float, str], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    on_finished: Callable[[], None] | None = None,
    description: str = "",
    **kwargs: Any,
) -> FinishedJob:
    """A :class:`Runner` that runs the work in the calling thread, now.

    Without ``on_error`` an exception propagates to the caller (in tests that
    is what you want to see).
    """
    job = FinishedJob(description or getattr(fn, "__name__", "work"))
    if on_progress is not None:
        job.reporter = Reporter(on_progress)
    try:
        accepts = "reporter" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        accepts = False
    if accepts:
        kwargs = {**kwargs, "reporter": job.reporter}
    try:
        try:
            job.result = fn(*args, **kwargs)
        except Cancelled:
            if on_cancelled is not None:
                on_cancelled()
        except Exception as exc:
            job.error = exc
            if on_error is None:
                raise
            on_error(exc)
        else:
            if on_result is not None:
                on_result(job.result)
    finally:
        job.done = True
        if on_finished is not None:
            on_finished()
    return job


@dataclass(frozen=True)
class BackLink:
    """Where something opened in another panel came from: that panel's key and what was selected there.

    A model panel puts one in the :class:`~explorer.engine.attention.heads.RealHead` or
    :class:`~explorer.engine.rnn.real.RealRecurrence` it offers; the mechanism panel shows
    "Back to …" and offers the link back, and the model panel restores ``selection``.
    """

    panel: str  # "vit", "video", "captioning"
    selection: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"layer": 2, "head": 3, "patch": 17}
    label: str = ""  # "Back to ViT · layer 3, head 4"


@contextmanager
def hold_events(state: Any, *names: str) -> Iterator[None]:
    """Hold the field events of ``state`` (these ``names``, or all) until the block ends.

    Setting several fields that belong together (a new trace, its step and its
    read-out) would otherwise let a handler of the first event see the others
    still old — a stale index. Each held signal emits once afterwards, with its
    final value, in the order the fields are declared. (psygnal's
    ``state.events.paused()`` does not hold the per-field signals, only the
    group's own.)
    """
    names = names or tuple(f.name for f in fields(state))
    order = {f.name: i for i, f in enumerate(fields(state))}
    signals = [getattr(state.events, name) for name in sorted(names, key=lambda n: order.get(n, len(order)))]
    for signal in signals:
        signal.pause()
    try:
        yield
    finally:
        for signal in signals:
            signal.resume(reducer=_first_old_last_new)


def _first_old_last_new(first: tuple, last: tuple) -> tuple:
    """Fold held ``(new, old)`` emissions into one: the last new value, the first old one."""
    return (last[0], *first[1:])


def identity_fields(*names: str) -> dict[str, Callable[[Any, Any], bool]]:
    """``equality_operators`` for ``@evented``: these fields change when the object does.

    Comparing two traces by value would compare every array in them (slow, and
    ambiguous for arrays); a new trace object is a change, the same one is not.
    """
    return {name: operator.is_ for name in names}


# -- settings that persist -----------------------------------------------------------------------
def settings_of(state: Any) -> dict[str, Any]:
    """The state's ``PERSISTED`` fields by name, as plain values."""
    return {name: getattr(state, name) for name in getattr(state, "PERSISTED", ())}


def restore_settings(state: Any, values: Mapping[str, Any]) -> list[str]:
    """Set the ``PERSISTED`` fields found in ``values``, converted to each field's type.

    Values come from a settings file and may be strings ("3", "true") or be
    damaged; a value that does not convert, or that is out of a field's
    ``metadata`` range (``min`` / ``max`` / ``choices``), is skipped. Returns the
    names that were set.
    """
    hints = typing.get_type_hints(type(state))
    meta = {f.name: f.metadata for f in fields(state)}
    restored = []
    for name in getattr(state, "PERSISTED", ()):
        if name not in values:
            continue
        value = _convert(values[name], hints.get(name, str))
        if value is None or not _allowed(value, meta.get(name, {})):
            continue
        setattr(state, name, value)
        restored.append(name)
    return restored


def _convert(raw: Any, kind: Any) -> Any:
    """``raw`` as ``kind`` (bool, int, float, str, or an Optional of one), or None if it does not fit."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if args and typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = args[0]
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            return {"true": True, "1": True, "false": False, "0": False}.get(text)
        if kind is int:
            if isinstance(raw, bool):
                return None
            number = float(raw)
            return int(number) if number.is_integer() else None
        if kind is float:
            number = float(raw)
            return number if math.isfinite(number) else None
        if kind is str:
            return str(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _allowed(value: Any, metadata: Mapping[str, Any]) -> bool:
    if "choices" in metadata and value not in metadata["choices"]:
        return False
    if "min" in metadata and value < metadata["min"]:
        return False
    return not ("max" in metadata and value > metadata["max"])


def persisted(default: Any, *, choices: Iterable[Any] | None = None, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    """A dataclass field whose restored value must lie in ``choices`` or ``min``…``max``."""
    metadata: dict[str, Any] = {}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if min is not None:
        metadata["min"] = min
    if max is not None:
        metadata["max"] = max
    return field(default=default, metadata=metadata)
