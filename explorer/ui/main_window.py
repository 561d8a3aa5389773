"""The main window: a navigation list of panels, the shared current image, menus.

Start-up is built so the window paints before torch is imported: pages are
:class:`~explorer.ui.pages.LazyPage` placeholders until the engine (torch) has
been imported in a background thread by :class:`~explorer.ui.pages.EngineLoader`;
then the visible page builds its panel.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from explorer import __version__
from explorer.assets import sample_image_paths
from explorer.runtime import release_free_memory
from explorer.ui import theme as themes
from explorer.ui.context import AppContext, CurrentImage
from explorer.ui.errors import show_error
from explorer.ui.export_dialog import ExportDialog
from explorer.ui.help.dialogs import HelpDialog, about_html, cheatsheet_dialog, guide_dialog, shortcuts_dialog
from explorer.ui.pages import EngineLoader, LazyPage
from explorer.ui.panels import PANELS, find_panel
from explorer.ui.panels.base import Panel
from explorer.ui.qt_images import pil_to_pixmap, qimage_to_pil
from explorer.ui.workers import active_tasks

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.ppm *.pgm);;All files (*)"
ORGANIZATION = "SeqVis"
APPLICATION = "Sequence Vision Explorer"


def default_settings() -> QSettings:
    return QSettings(ORGANIZATION, APPLICATION)


class MainWindow(QMainWindow):
    panelChanged = pyqtSignal(str)

    def __init__(
        self,
        *,
        settings: QSettings | None = None,
        context: AppContext | None = None,
        engine: EngineLoader | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle(APPLICATION)
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else default_settings()
        self.context = context or AppContext(self.settings)
        self.engine = engine or EngineLoader()
        self.engine.ready.connect(self._engine_ready)
        self.engine.failed.connect(lambda text: show_error("Engine", text))
        # Freed worker memory goes back to the system when nothing runs (runtime.release_free_memory).
        self.trim_timer = QTimer(self, interval=20_000, timeout=lambda: active_tasks() or release_free_memory())
        self.trim_timer.start()

        self.nav = QListWidget()
        self.nav.setObjectName("panelNav")
        self.nav.setFixedWidth(230)
        self.nav.setIconSize(QSize(0, 0))
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.stack = QStackedWidget()
        self.pages: list[LazyPage] = []
        self._help: HelpDialog | None = None
        for spec in PANELS:
            item = QListWidgetItem(f"{spec.title}\n{spec.subtitle}")
            item.setToolTip(spec.promise)
            self.nav.addItem(item)
            page = LazyPage(spec, self.context)
            self.pages.append(page)
            self.stack.addWidget(page)
        self.nav.currentRowChanged.connect(self._on_row_changed)

        self.image_card = QFrame()
        self.image_card.setObjectName("imageCard")
        card = QVBoxLayout(self.image_card)
        card.setContentsMargins(12, 10, 12, 12)
        heading = QLabel("Current image")
        heading.setProperty("role", "muted")
        self.thumbnail = QLabel()
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setFixedSize(204, 150)
        self.image_label = QLabel("none — File › Open, drop or paste one")
        self.image_label.setWordWrap(True)
        for widget in (heading, self.thumbnail, self.image_label):
            card.addWidget(widget)

        sidebar = QWidget()
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 8, 0, 0)
        side.setSpacing(0)
        side.addWidget(self.nav, 1)
        self.guide_button = QPushButton("What am I looking at?  (F1)")
        self.guide_button.setObjectName("guideButton")
        self.guide_button.setToolTip("How to read the panel shown, and where it misleads")
        self.guide_button.clicked.connect(self.show_guide)
        side.addWidget(self.guide_button)
        side.addWidget(self.image_card)
        sidebar.setFixedWidth(230)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(sidebar)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.image_status = QLabel("No image")
        self.statusBar().addPermanentWidget(self.image_status)
        self._build_menus()
        self.context.imageChanged.connect(self._on_image_changed)
        self.context.recentChanged.connect(lambda _files: self._fill_recent_menu())
        self.context.panelRequested.connect(self.set_panel)
        self.context.offered.connect(self.deliver)
        self._restore_settings()

    # -- menus -----------------------------------------------------------------------------
    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open image…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.samples_menu = file_menu.addMenu("&Sample images")
        for path, title in sample_image_paths():
            self._action(self.samples_menu, title, lambda _=False, p=path: self.open_path(p))
        self._action(file_menu, "&Paste image", self.paste_image, QKeySequence.StandardKey.Paste)
        file_menu.addSeparator()
        self._action(file_menu, "&Export view as PNG…", self.export_view, "Ctrl+E")
        self._action(file_menu, "Export &figure (PNG / SVG)…", self.export_figure_dialog, "Ctrl+Shift+E")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Next panel", self.next_panel, ["Ctrl+PgDown", "Ctrl+Tab"])
        self._action(view_menu, "&Previous panel", self.previous_panel, ["Ctrl+PgUp", "Ctrl+Shift+Tab"])
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in ("light", "dark"):
            action = QAction(name.capitalize(), self, checkable=True)
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[name] = action
        view_menu.addSeparator()
        self._action(view_menu, "Zoom &in", lambda: self.context.set_zoom(self.context.zoom * 1.15), ["Ctrl++", "Ctrl+="])
        self._action(view_menu, "Zoom &out", lambda: self.context.set_zoom(self.context.zoom / 1.15), "Ctrl+-")
        self._action(view_menu, "&Reset zoom", lambda: self.context.set_zoom(1.0), "Ctrl+0")
        self.context.zoomChanged.connect(self._apply_zoom)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&What am I looking at?", self.show_guide, "F1")
        self._action(help_menu, "&Cheatsheet", self.show_cheatsheet, "Ctrl+Shift+H")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "Ctrl+/")
        help_menu.addSeparator()
        self._action(help_menu, "&About", self.show_about)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.context.recent_files()
        for text in files:
            self._action(self.recent_menu, Path(text).name, lambda _=False, p=text: self.open_path(p)).setToolTip(text)
        self.recent_menu.setEnabled(bool(files))

    # -- panels ----------------------------------------------------------------------------
    def current_key(self) -> str:
        return PANELS[max(self.nav.currentRow(), 0)].key

    def current_page(self) -> LazyPage:
        return self.pages[max(self.nav.currentRow(), 0)]

    def set_panel(self, key: str) -> None:
        spec = find_panel(key)
        self.nav.setCurrentRow(PANELS.index(spec))

    def deliver(self, key: str, payload: object) -> None:
        """Switch to panel ``key`` and hand it ``payload``; what it cannot show becomes a message."""
        self.set_panel(key)
        page = self.current_page()
        page.build()
        if page.panel is None:
            show_error(f"{page.spec.title} panel", ValueError("this panel is not available, so it cannot show that."))
            return
        try:
            page.panel.receive(payload)
        except ValueError as exc:
            show_error(f"{page.spec.title} panel", exc)

    def next_panel(self) -> None:
        self.nav.setCurrentRow((self.nav.currentRow() + 1) % len(PANELS))

    def previous_panel(self) -> None:
        self.nav.setCurrentRow((self.nav.currentRow() - 1) % len(PANELS))

    def _on_row_changed(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        if self.engine.is_ready:
            self.pages[row].build()
        self.settings.setValue("lastPanel", PANELS[row].key)
        self.panelChanged.emit(PANELS[row].key)

    def start_engine(self) -> None:
        """Import torch in the background; the visible page builds when it is ready."""
        self.engine.start()

    def _engine_ready(self) -> None:
        self.current_page().build()

    # -- images ----------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = self.settings.value("lastDir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open image", str(start), IMAGE_FILTER)
        if path:
            self.settings.setValue("lastDir", str(Path(path).parent))
            self.open_path(path)

    def open_path(self, path: str | Path, *, background: bool = True):
        return self.context.open_image_file(path, background=background)

    def paste_image(self) -> None:
        mime = QApplication.clipboard().mimeData()
        if mime is not None and mime.hasImage():
            try:
                image = qimage_to_pil(QApplication.clipboard().image())
            except ValueError as exc:
                show_error("Paste", exc)
                return
            self.context.set_image(image, "pasted image")
        elif mime is not None and mime.hasUrls() and mime.urls()[0].isLocalFile():
            self.open_path(mime.urls()[0].toLocalFile())
        elif mime is not None and mime.hasText() and Path(mime.text().strip()).is_file():
            self.open_path(mime.text().strip())
        else:
            show_error("Paste", "The clipboard holds no image (copy an image or an image file first).")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if mime.hasImage() or (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if files:
            self.open_path(files[0])
            event.acceptProposedAction()
        elif mime.hasImage():
            try:
                self.context.set_image(qimage_to_pil(mime.imageData()), "dropped image")
            except (ValueError, TypeError) as exc:
                show_error("Drop", exc)
            event.acceptProposedAction()

    def _on_image_changed(self, current: CurrentImage) -> None:
        self.image_status.setText(f"{current.name} — {current.size_text}")
        self.image_label.setText(f"{current.name}\n{current.size_text}")
        pixmap = pil_to_pixmap(current.image).scaled(
            self.thumbnail.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.thumbnail.setPixmap(pixmap)
        if current.path is not None:
            self.settings.setValue("lastImage", str(current.path))
        self.statusBar().showMessage(f"Opened {current.name}", 4000)

    # -- export, about, theme ----------------------------------------------------------------
    def export_view(self) -> None:
        page = self.current_page()
        target = page.panel or page
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", f"{page.spec.key}.png", "PNG image (*.png)")
        if not path:
            return
        try:
            if isinstance(target, Panel):
                target.export_png(path)
            elif not target.grab().save(path, "PNG"):
                raise ValueError(f"could not write {path}")
        except ValueError as exc:
            show_error("Export", exc)
        else:
            self.statusBar().showMessage(f"Saved {path}", 4000)

    def export_figure_dialog(self) -> ExportDialog:
        """One plot or map of the current panel as SVG, or PNG at a chosen scale."""
        page = self.current_page()
        dialog = ExportDialog(page.panel or page, self)
        dialog.open()
        return dialog

    def about_text(self) -> str:
        return about_html(APPLICATION, __version__)

    def show_guide(self) -> HelpDialog:
        """The current panel's guide (F1), non-modal."""
        return self._show_help(guide_dialog(self.current_key(), self))

    def show_cheatsheet(self) -> HelpDialog:
        return self._show_help(cheatsheet_dialog(self.set_panel, self))

    def show_shortcuts(self) -> HelpDialog:
        titles = {spec.key: spec.title for spec in PANELS}
        return self._show_help(shortcuts_dialog(self.findChildren(QAction), titles, self))

    def _show_help(self, dialog: HelpDialog) -> HelpDialog:
        if self._help is not None:
            self._help.close()
            self._help.deleteLater()  # one help window at a time: they do not pile up
        self._help = dialog
        dialog.show()
        return dialog

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APPLICATION}", self.about_text())

    def set_theme(self, name: str) -> None:
        themes.apply_theme(QApplication.instance(), name)
        self._restyle_frame()
        self.theme_actions[name].setChecked(True)
        self.settings.setValue("theme", name)
        self.context.set_theme(name)

    def _apply_zoom(self, zoom: float) -> None:
        themes.set_zoom(QApplication.instance(), zoom)
        self._restyle_frame()

    def _restyle_frame(self) -> None:
        """The window's own widgets take the theme and zoom; each panel restyles itself when shown."""
        for object_name, sheet in themes.named_sheets().items():
            widget = self.findChild(QWidget, object_name)
            if widget is not None:
                widget.setStyleSheet(sheet)
        themes.restyle_roles(self.image_card)
        for page in self.pages:
            themes.restyle_roles(page.message)
        if self._help is not None:
            themes.restyle_roles(self._help)

    # -- settings --------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        theme = str(self.settings.value("theme", "light"))
        self.set_theme(theme if theme in themes.THEMES else "light")
        last = str(self.settings.value("lastPanel", PANELS[0].key))
        try:
            self.set_panel(last)
        except ValueError:
            self.set_panel(PANELS[0].key)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("lastPanel", self.current_key())
        self.settings.sync()
        super().closeEvent(event)
