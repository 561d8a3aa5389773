"""What every panel is: a page of the main window that sees the shared context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtWidgets import QWidget

from explorer.ui import theme
from explorer.ui.context import AppContext, CurrentImage
from explorer.ui.panels.state import restore_settings, settings_of


class Panel(QWidget):
    """Base class of the panels.

    Subclasses build their widgets in ``__init__`` and override the hooks they
    need; the base connects them to the context, and :meth:`start` (called when
    the panel is first shown) calls :meth:`on_image_changed` if an image is loaded.

    A panel keeps its state in a Qt-free object (``<feature>/state.py``) and
    hands it to :meth:`bind_state`, which restores the state's ``PERSISTED``
    settings and saves each one when it changes — the one place panel
    settings are persisted.
    """

    #: Shown in the navigation list; set by subclasses.
    title = "Panel"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.state: Any = None
        context.imageChanged.connect(self.on_image_changed)
        self._restyle_pending = False
        context.themeChanged.connect(self._appearance_changed)
        context.zoomChanged.connect(self._appearance_changed)
        context.modelTrained.connect(self._model_trained)

    # -- the panel's state and its persisted settings -----------------------------------------
    @property
    def settings_group(self) -> str:
        return f"panels/{self.title.lower()}"

    def bind_state(self, state: Any) -> Any:
        """Adopt ``state``: restore its persisted settings now, save them whenever they change."""
        self.state = state
        settings = self.context.settings
        names = tuple(getattr(state, "PERSISTED", ()))
        if settings is None or not names:
            return state
        stored = {name: settings.value(f"{self.settings_group}/{name}") for name in names}
        restore_settings(state, {name: value for name, value in stored.items() if value is not None})
        for name in names:
            getattr(state.events, name).connect(lambda *_args, name=name: self._save_setting(name))
        return state

    def _save_setting(self, name: str) -> None:
        value = settings_of(self.state)[name]
        self.context.settings.setValue(f"{self.settings_group}/{name}", value)

    # -- theme and zoom: restyled now if shown, else when next shown -------------------------
    def _appearance_changed(self, *_args) -> None:
        if self.isVisible():
            self.restyle()
        else:
            self._restyle_pending = True  # a theme switch costs only what is on screen

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._restyle_pending:
            self.restyle()

    def restyle(self) -> None:
        """Give every label, plot and map of the panel the current theme and zoom, then the panel's hooks."""
        self._restyle_pending = False
        theme.restyle_roles(self)
        theme.restyle_plots(self)
        self.on_theme_changed(self.context.theme)
        self.on_zoom_changed(self.context.zoom)

    # -- hooks ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Called once after construction, when the panel is first shown."""
        if self.context.image is not None:
            self.on_image_changed(self.context.image)

    def on_image_changed(self, current: CurrentImage) -> None:
        """The shared current image changed."""

    def on_theme_changed(self, theme: str) -> None:
        """Light/dark switched: recolour what the panel colours by meaning (curves, highlights).

        Backgrounds, axes, titles, legends and role labels are already restyled
        by :meth:`restyle`; this is called when the panel is (or next becomes) visible.
        """

    def receive(self, payload: object) -> None:
        """Another panel handed this one something to show (``AppContext.offer``).

        The Attention panel takes a :class:`~explorer.engine.attention.heads.RealHead`, the
        RNN panel a :class:`~explorer.engine.rnn.real.RealRecurrence`, a model panel a
        :class:`~explorer.ui.panels.state.BackLink` to its own selection.
        """
        raise ValueError(f"the {self.title} panel cannot show {type(payload).__name__}")

    def on_model_trained(self, task: str, path: str) -> None:
        """The Training panel saved a model that this panel shows (``path`` is a .safetensors)."""

    def _model_trained(self, task: str, panel: str, path: str) -> None:
        if panel == self.title.lower():
            self.on_model_trained(task, path)

    def on_zoom_changed(self, zoom: float) -> None:
        """Ctrl +/−: scale what does not follow the style sheet or :func:`theme.restyle_plots` (drawn text)."""

    def export_png(self, path: str | Path) -> Path:
        """Save what the panel shows now as a PNG (File › Export view)."""
        path = Path(path)
        if not self.grab().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path
