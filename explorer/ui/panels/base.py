"""What every panel is: a page of the main window that sees the shared context."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QWidget

from explorer.ui.context import AppContext, CurrentImage


class Panel(QWidget):
    """Base class of the panels.

    Subclasses build their widgets in ``__init__`` and override the hooks they
    need; the base connects them to the context, and calls
    :meth:`on_image_changed` once at construction if an image is already loaded.
    """

    #: Shown in the navigation list; set by subclasses.
    title = "Panel"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        context.imageChanged.connect(self.on_image_changed)
        context.themeChanged.connect(self.on_theme_changed)
        context.zoomChanged.connect(self.on_zoom_changed)
        context.modelTrained.connect(self._model_trained)

    def start(self) -> None:
        """Called once after construction, when the panel is first shown."""
        if self.context.image is not None:
            self.on_image_changed(self.context.image)

    def on_image_changed(self, current: CurrentImage) -> None:
        """The shared current image changed."""

    def on_theme_changed(self, theme: str) -> None:
        """Light/dark switched; restyle plots here."""

    def on_model_trained(self, task: str, path: str) -> None:
        """The Training panel saved a model that this panel shows (``path`` is a .safetensors)."""

    def _model_trained(self, task: str, panel: str, path: str) -> None:
        if panel == self.title.lower():
            self.on_model_trained(task, path)

    def on_zoom_changed(self, zoom: float) -> None:
        """Ctrl +/−: scale plot fonts here if they do not follow the app font."""

    def export_png(self, path: str | Path) -> Path:
        """Save what the panel shows now as a PNG (File › Export view)."""
        path = Path(path)
        if not self.grab().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path
