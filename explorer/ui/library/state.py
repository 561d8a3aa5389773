"""The Models library's state, without Qt: the entries, the search, the selection, downloads, opening.

The dialog (:mod:`.dialog`) binds widgets to this; tests drive it directly with
:func:`~explorer.ui.panels.state.run_now`. What opens where is the entry's
panel (read from its config); the panel's own loader runs it, in that panel's
worker, and if it refuses, its message is kept on the entry for the rest of
the session ("An entry the app cannot run says why").

Added folders and recent models persist through ``store``, a small adapter
over the app's QSettings (``library/folders``, ``library/recent``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from psygnal import evented

from explorer.engine.library import GROUPS, PANEL_TITLES, ModelEntry, discover, download
from explorer.engine.library.discovery import recent_entries
from explorer.ui.panels.state import Runner, hold_events, identity_fields, run_now

MAX_RECENT = 12
#: The panel filter's choices: key ("" = every panel) → label.
FILTERS = {"": "All panels", **PANEL_TITLES}


class Store(Protocol):
    """Where lists of strings persist (the app's QSettings through the dialog)."""

    def load(self, key: str) -> list[str]: ...

    def save(self, key: str, values: list[str]) -> None: ...


class MemoryStore:
    """A :class:`Store` in memory (tests, scripts)."""

    def __init__(self, **values: list[str]) -> None:
        self.values = dict(values)

    def load(self, key: str) -> list[str]:
        return list(self.values.get(key, []))

    def save(self, key: str, values: list[str]) -> None:
        self.values[key] = list(values)


#: A panel's loader as the library calls it: source (bundled name or path) → a job (or None).
Opener = Callable[[str], Any]


@evented(equality_operators=identity_fields("entries", "progress"))
@dataclass
class LibraryState:
    runner: Runner = run_now
    store: Store = field(default_factory=MemoryStore)
    #: Asked to bring a panel forward before its opener is called (the main window's switch).
    show_panel: Callable[[str], None] = lambda _key: None
    openers: dict[str, Opener] = field(default_factory=dict)
    #: Runs the hand-over once the panel has settled (a panel just built is still loading its own model).
    defer: Callable[[Callable[[], None]], None] = lambda fn: fn()
    discover_options: dict[str, Any] = field(default_factory=dict)  # trained_dir, cache_dir, torch_dir

    entries: tuple[ModelEntry, ...] = ()
    query: str = ""
    panel_filter: str = ""
    show_unusable: bool = True
    selected: str = ""
    busy: str = ""  # "", "scanning", "downloading"
    progress: tuple[float, str] | None = None
    status: str = ""
    folders: tuple[str, ...] = ()
    recent: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.folders = tuple(self.store.load("folders"))
        self.recent = tuple(self.store.load("recent"))[:MAX_RECENT]
        self._job: Any = None
        self._refusals: dict[str, str] = {}

    # -- what is shown ---------------------------------------------------------------------------
    @property
    def current(self) -> ModelEntry | None:
        return next((e for e in self.entries if e.key == self.selected), None)

    def visible(self) -> list[tuple[str, list[ModelEntry]]]:
        """(group, entries) in group order, filtered by the search, the panel filter and usability."""
        def of_panel(e: ModelEntry) -> bool:  # an unreadable entry might be anyone's: shown under every panel
            return not self.panel_filter or e.panel == self.panel_filter or e.description.family == "unreadable"

        shown = [e for e in self.entries if e.matches(self.query) and of_panel(e) and (self.show_unusable or not e.reason)]
        # Within a group, what can be opened comes first; the rest keeps its place and says why.
        return [(group, sorted((e for e in shown if e.group == group), key=lambda e: bool(e.reason))) for group in GROUPS]

    def open_label(self) -> str:
        entry = self.current
        if entry is None or entry.panel is None:
            return "Open"
        return f"Open in {PANEL_TITLES[entry.panel]}"

    # -- scanning --------------------------------------------------------------------------------
    def refresh(self) -> Any:
        """Look again everywhere (in the runner); the selection stays if its entry is still there."""
        self.busy, self.status = "scanning", "Looking for models on this computer…"
        return self.runner(discover, folders=self.folders, recent=self.recent, **self.discover_options,
                           on_result=self._found, on_error=self._failed, on_finished=self._idle,
                           description="looking for models")

    def _found(self, entries: list[ModelEntry]) -> None:
        entries = [e.with_reason(self._refusals[e.key]) if e.key in self._refusals else e for e in entries]
        with hold_events(self):
            self.entries = tuple(entries)
            if self.current is None:
                self.selected = next((e.key for e in entries if e.can_open), "")
            on_computer = sum(1 for e in entries if e.group == "computer")
            self.status = f"{len(entries)} models: {on_computer} on this computer."

    # -- folders and files ------------------------------------------------------------------------
    def add_folder(self, folder: str | Path) -> Any:
        text = str(Path(folder).expanduser().resolve())
        if text not in self.folders:
            self.folders = (*self.folders, text)
            self.store.save("folders", list(self.folders))
        return self.refresh()

    def remove_folder(self, folder: str) -> Any:
        self.folders = tuple(f for f in self.folders if f != folder)
        self.store.save("folders", list(self.folders))
        return self.refresh()

    def open_path(self, path: str | Path) -> Any:
        """A file or folder the user picked: describe it, list it, select it and open it."""
        (entry,) = recent_entries([Path(path)])
        self.entries = (entry, *[e for e in self.entries if e.key != entry.key])
        self.selected = entry.key
        return self.open_selected()

    # -- download --------------------------------------------------------------------------------
    def download_selected(self) -> Any:
        entry = self.current
        if entry is None or not entry.repo_id or not entry.needs_download or self.busy == "downloading":
            return None
        self.busy, self.progress, self.status = "downloading", (0.0, f"{entry.repo_id}: starting"), ""
        self._job = self.runner(
            download, entry.repo_id, on_result=lambda got: self._downloaded(entry.key, got),
            on_error=lambda exc: self._download_failed(entry.key, exc), on_progress=self._progressed,
            on_cancelled=lambda: self._cancelled(entry), on_finished=self._idle, description=f"downloading {entry.repo_id}",
        )
        return self._job

    def cancel(self) -> None:
        if self._job is not None and self.busy == "downloading":
            self.status = "Cancelling… (finished files are kept: Download resumes from them)"
            self._job.cancel()

    def _progressed(self, fraction: float, text: str) -> None:
        self.progress = (fraction, text)

    def _downloaded(self, key: str, got: ModelEntry) -> None:
        entries = [e for e in self.entries if e.key != got.key]
        entries = [replace(e, downloaded=True, source=got.source, where="in the cache, downloaded") if e.key == key else e
                   for e in entries]
        index = max((i for i, e in enumerate(entries) if e.group != "catalogue"), default=-1) + 1
        entries.insert(index, got)
        with hold_events(self):
            self.entries = tuple(entries)
            self.status = f"Downloaded {got.repo_id} to the Hugging Face cache ({got.source})."

    def _download_failed(self, key: str, exc: BaseException) -> None:
        self.status = str(exc)

    def _cancelled(self, entry: ModelEntry) -> None:
        self.status = f"Cancelled the download of {entry.repo_id}; the files already finished are kept."

    def _idle(self) -> None:
        with hold_events(self):
            self.busy = ""
            self.progress = None
            self._job = None

    def _failed(self, exc: BaseException) -> None:
        self.status = f"Could not look for models: {exc}"

    # -- opening ---------------------------------------------------------------------------------
    def open_selected(self) -> Any:
        """Hand the selected entry to its panel's loader; a refusal is kept on the entry."""
        entry = self.current
        if entry is None:
            return None
        if entry.reason or entry.panel is None:
            self.status = f"{entry.title}: {entry.reason or 'no panel of this app opens it.'}"
            return None
        if not entry.source:
            self.status = f"{entry.title} is not on this computer yet: press Download first."
            return None
        self.show_panel(entry.panel)
        opener = self.openers.get(entry.panel)
        if opener is None:
            self.status = f"The {PANEL_TITLES[entry.panel]} panel is not open yet: choose it in the list on the left, then try again."
            return None
        self.status = f"Opening {entry.title} in the {PANEL_TITLES[entry.panel]} panel…"
        handed: list[Any] = []

        def hand_over() -> None:
            handed.append(opener(entry.source))
            follow(handed[-1], on_error=lambda exc: self._refused(entry, exc), on_done=lambda: self._opened(entry))

        self.defer(hand_over)
        return handed[0] if handed else None

    def _opened(self, entry: ModelEntry) -> None:
        self.status = f"Opened {entry.title} in the {PANEL_TITLES[entry.panel or '']} panel."
        if entry.group != "bundled" and entry.source:
            self.recent = tuple([entry.source, *[r for r in self.recent if r != entry.source]][:MAX_RECENT])
            self.store.save("recent", list(self.recent))

    def _refused(self, entry: ModelEntry, exc: BaseException) -> None:
        reason = f"the {PANEL_TITLES[entry.panel or '']} panel could not open it: {exc}"
        self._refusals[entry.key] = reason
        with hold_events(self):
            self.entries = tuple(e.with_reason(reason) if e.key == entry.key else e for e in self.entries)
            self.status = f"{entry.title}: {reason}"


def follow(job: Any, *, on_error: Callable[[BaseException], None], on_done: Callable[[], None]) -> None:
    """Call back when ``job`` (a worker task or a finished job) ends: with its error, or done."""
    if job is None:
        return
    if getattr(job, "done", False):
        if job.error is not None:
            on_error(job.error)
        elif not getattr(job, "is_cancelled", False):
            on_done()
        return
    job.errored.connect(on_error)
    job.returned.connect(lambda _value: on_done())


def remembered(values: Iterable[Any]) -> list[str]:
    """A settings value (a string, a list, or nothing) as a list of strings."""
    if values is None:
        return []
    if isinstance(values, str):
        return [values] if values else []
    return [str(v) for v in values]
