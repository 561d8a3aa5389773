"""One entry of the Models library: what a model is (:class:`Description`), where it lives, what opens it.

:func:`inspect_folder` and :func:`inspect_file` read a model where it lies and
never raise: a damaged or incomplete model becomes a description whose
``reason`` says what is wrong and what to do, so the library can list it
beside the good ones instead of hiding it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from explorer.engine.library.describe import PANEL_TITLES, Description, describe_config, describe_tensors
from explorer.engine.library.files import (
    FileReadError,
    bytes_on_disk,
    folder_weights,
    read_folder_weights,
    read_json,
    read_weights,
)

#: Groups of the library, in the order they are listed.
GROUPS = ("bundled", "computer", "catalogue")
GROUP_TITLES = {"bundled": "Bundled with the app", "computer": "On this computer", "catalogue": "Catalogue — download"}


@dataclass(frozen=True)
class ModelEntry:
    """A model the library lists.

    ``source`` is what the panel's loader receives (a bundled name or a path);
    ``where`` says in words where it lives ("Hugging Face cache", "torch hub
    checkpoints", "added folder", ...). Catalogue entries are described from the
    catalogue's data (``from_files`` is False) until they are downloaded.
    """

    key: str
    title: str
    group: str
    where: str
    description: Description
    source: str = ""
    path: Path | None = None
    repo_id: str = ""
    size_bytes: int | None = None
    licence: str = ""
    from_files: bool = True
    downloaded: bool = False
    url: str = ""

    @property
    def panel(self) -> str | None:
        return self.description.panel

    @property
    def reason(self) -> str:
        return self.description.reason

    @property
    def can_open(self) -> bool:
        return bool(self.source) and self.panel is not None and not self.reason

    @property
    def needs_download(self) -> bool:
        return self.group == "catalogue" and not self.downloaded

    def with_reason(self, reason: str) -> ModelEntry:
        """The same entry, marked as one the app cannot run (the engine's own words)."""
        return replace(self, description=replace(self.description, reason=reason))

    def matches(self, query: str) -> bool:
        """Every word of ``query`` appears in the title, family, where, repo id or path."""
        text = " ".join((self.title, self.description.family, self.where, self.repo_id, str(self.path or ""),
                         PANEL_TITLES.get(self.panel or "", ""), self.licence)).lower()
        return all(word in text for word in query.lower().split())

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) rows for a details pane; only what is known."""
        d = self.description
        rows = [("Family", d.family)]
        rows.append(("Opens in", f"the {PANEL_TITLES[d.panel]} panel" if d.panel else "no panel of this app"))
        if d.kind:
            rows.append(("Format", d.kind))
        if d.parameters:
            rows.append(("Parameters", format_count(d.parameters)))
        for name, count in d.towers:
            if count:
                rows.append((f"  {name}", format_count(count)))
        if d.input_size:
            rows.append(("Input", f"{d.input_size} × {d.input_size} px" + (f", patches of {d.patch_size}" if d.patch_size else "")))
        if d.layers or d.width:
            rows.append(("Encoder", ", ".join(p for p in (f"{d.layers} layers" if d.layers else "",
                                                          f"width {d.width}" if d.width else "") if p)))
        if d.classes:
            rows.append(("Classes", f"{d.classes:,}"))
        if d.vocabulary:
            rows.append(("Vocabulary", f"{d.vocabulary:,} tokens"))
        if self.size_bytes:
            label = "Download" if self.group == "catalogue" else "On disk"
            rows.append((label, format_bytes(self.size_bytes) + (" (approximate)" if not self.from_files else "")))
        if self.licence:
            rows.append(("Licence", self.licence))
        if self.repo_id:
            rows.append(("Hub id", self.repo_id))
        rows.append(("Where", self.where + (f": {self.path}" if self.path else "")))
        return rows


def format_count(n: int) -> str:
    """86,567,656 → "86.6 M"."""
    if n >= 1e9:
        return f"{n / 1e9:.2f} B"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


def format_bytes(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} kB"


def inspect_folder(folder: Path) -> tuple[Description, int]:
    """A model folder (Hugging Face or timm layout) → (description, bytes of its weights)."""
    try:
        config = read_json(folder / "config.json")
    except FileReadError as exc:
        return _broken(folder.name, str(exc), "Hugging Face folder"), 0
    try:
        safe, pickled = folder_weights(folder)
        tensors = read_folder_weights(safe) if safe else None
        preprocessor = read_json(folder / "preprocessor_config.json") if (folder / "preprocessor_config.json").exists() else None
    except (FileReadError, OSError) as exc:
        return _broken(folder.name, str(exc), "Hugging Face folder"), 0
    description = describe_config(config, tensors, preprocessor)
    if not safe and not pickled and not description.reason:
        description = replace(description, reason=(
            "config.json but no weights beside it: the download did not finish, or only part of the folder was "
            "copied. Download it again (finished files are kept) or copy the .safetensors file in."))
    elif not safe and pickled:
        description = replace(description, notes=(*description.notes, (
            f"weights only as {pickled[0].name} (pickled): read with torch.load(weights_only=True), "
            "which refuses anything but tensors")))
    return description, bytes_on_disk(safe or pickled)


def inspect_file(path: Path) -> Description:
    """A single weight file → its description (a broken file is described by what is wrong)."""
    try:
        return describe_tensors(read_weights(path))
    except (FileReadError, OSError) as exc:
        return _broken(path.name, str(exc), "weight file")


def _broken(name: str, problem: str, kind: str) -> Description:
    return Description("unreadable", None, kind, reason=f"{problem} Remove or replace {name}, or download it again.")
