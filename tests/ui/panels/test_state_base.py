"""The Qt-free base of every panel state: held events, persisted settings, the synchronous runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from psygnal import evented

from explorer.ui.panels.state import hold_events, persisted, restore_settings, run_now, settings_of


@evented
@dataclass
class Demo:
    PERSISTED: ClassVar[tuple[str, ...]] = ("size", "name", "on", "ratio")
    size: int = persisted(4, min=1, max=64)
    name: str = persisted("lstm", choices=("rnn", "lstm", "gru"))
    on: bool = persisted(True)
    ratio: float = persisted(0.5, min=0.0, max=1.0)
    trace: list = field(default_factory=list)


def test_held_events_come_once_each_after_the_block_in_field_order():
    state, seen = Demo(), []
    for name in ("size", "name", "on"):
        getattr(state.events, name).connect(lambda *args, name=name: seen.append((name, args, state.size, state.name)))
    with hold_events(state, "on", "name", "size"):
        state.on = False
        state.size = 5
        state.size = 6
        state.name = "gru"
        assert seen == [], "nothing may be seen while the fields are half set"
    # declared order, the last new value with the first old one, every field already final
    assert seen == [("size", (6, 4), 6, "gru"), ("name", ("gru", "lstm"), 6, "gru"), ("on", (False, True), 6, "gru")]


def test_settings_round_trip_and_damaged_values_are_ignored():
    state = Demo(size=9, name="gru", on=False, ratio=0.25)
    fresh = Demo()
    assert restore_settings(fresh, {k: str(v).lower() for k, v in settings_of(state).items()}) == list(Demo.PERSISTED)
    assert settings_of(fresh) == settings_of(state)
    damaged = {"size": "abc", "name": "transformer", "on": "maybe", "ratio": "nan"}
    assert restore_settings(fresh, damaged) == []
    assert restore_settings(fresh, {"size": "1e308", "ratio": "2"}) == []  # out of range
    assert settings_of(fresh) == settings_of(state)


def test_run_now_calls_back_and_raises_without_an_error_handler():
    results, errors = [], []
    job = run_now(lambda x: x * 2, 21, on_result=results.append)
    assert results == [42] and job.done and job.result == 42
    run_now(lambda: 1 / 0, on_error=errors.append)
    assert isinstance(errors[0], ZeroDivisionError)
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        run_now(lambda: 1 / 0)

