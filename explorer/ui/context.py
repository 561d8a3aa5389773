"""State every panel shares: the current image, the theme, the zoom.

The main window owns one :class:`AppContext` and hands it to each panel.
Panels read ``context.image`` and listen to ``imageChanged``; they never
load files themselves. Opening a file goes through :meth:`AppContext.open_image_file`,
which decodes off the GUI thread with :func:`explorer.engine.infra.images.load_image`
and, on a bad file, shows the message and keeps the image it had.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PyQt6.QtCore import QObject, QSettings, pyqtSignal

from explorer.engine.infra.images import ImageLoadError, load_image
from explorer.ui.errors import show_error
from explorer.ui.workers import Task, run_task

MAX_RECENT = 10


@dataclass(frozen=True)
class CurrentImage:
    """The image every panel sees."""

    image: Image.Image  # RGB
    name: str
    path: Path | None = None

    @property
    def size_text(self) -> str:
        return f"{self.image.width} × {self.image.height} px"


class AppContext(QObject):
    imageChanged = pyqtSignal(object)  # CurrentImage
    themeChanged = pyqtSignal(str)  # "light" | "dark"
    zoomChanged = pyqtSignal(float)  # font scale factor
    recentChanged = pyqtSignal(list)  # list[str] of paths
    #: Emitted when a file could not be opened (the message has been shown).
    imageRejected = pyqtSignal(str)
    #: A panel asks the main window to show another panel (by key).
    panelRequested = pyqtSignal(str)
    #: A panel hands another panel something to show: (panel key, payload). The main window
    #: switches to that panel, builds it if needed, and passes the payload to ``Panel.receive``.
    offered = pyqtSignal(str, object)
    #: The Training panel saved a model: (task name, panel key, path of the .safetensors).
    modelTrained = pyqtSignal(str, str, str)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.image: CurrentImage | None = None
        self.theme = "light"
        self.zoom = 1.0

    # -- image ---------------------------------------------------------------------------
    def set_image(self, image: Image.Image, name: str, path: Path | None = None) -> None:
        # Absolute, so a path remembered for the next launch still points here from another folder.
        path = Path(path).resolve() if path is not None else None
        self.image = CurrentImage(image.convert("RGB") if image.mode != "RGB" else image, name, path)
        if path is not None:
            self.add_recent(path)
        self.imageChanged.emit(self.image)

    def open_image_file(self, path: str | Path, *, background: bool = True) -> Task | bool:
        """Load ``path`` as the current image; on failure show why and keep the old one.

        With ``background`` the decode runs in a worker and the task is
        returned; otherwise it runs now and returns whether it succeeded.
        """
        path = Path(path)
        if not background:
            try:
                image = load_image(path)
            except ImageLoadError as exc:
                self._reject(path, exc)
                return False
            self.set_image(image, path.name, path)
            return True
        return run_task(
            load_image,
            path,
            on_result=lambda image: self.set_image(image, path.name, path),
            on_error=lambda exc: self._reject(path, exc),
            description=f"opening {path.name}",
        )

    def _reject(self, path: Path, exc: BaseException) -> None:
        show_error("Could not open image", exc)
        if isinstance(exc, ImageLoadError) or not path.exists():
            self.remove_recent(path)
        self.imageRejected.emit(str(exc))

    def offer(self, panel: str, payload: object) -> None:
        """Show ``payload`` (a real head, a real recurrence, a back link) in the panel ``panel``."""
        self.offered.emit(panel, payload)

    # -- recent files --------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        if self.settings is None:
            return []
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: Path) -> None:
        if self.settings is None:
            return
        text = str(Path(path).resolve())
        files = [text] + [f for f in self.recent_files() if f != text]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self.recentChanged.emit(files[:MAX_RECENT])

    def remove_recent(self, path: Path) -> None:
        if self.settings is None:
            return
        text = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != text]
        self.settings.setValue("recentFiles", files)
        self.recentChanged.emit(files)

    # -- appearance ----------------------------------------------------------------------
    def set_theme(self, theme: str) -> None:
        if theme not in ("light", "dark"):
            raise ValueError(f"theme must be 'light' or 'dark', not {theme!r}")
        self.theme = theme
        self.themeChanged.emit(theme)

    def set_zoom(self, zoom: float) -> None:
        self.zoom = min(max(zoom, 0.6), 2.5)
        self.zoomChanged.emit(self.zoom)
