"""The Models library dialog: every model, grouped by where it is, with what it is and Open / Download.

Left, a searchable list grouped as bundled / on this computer / catalogue;
right, the selected model's details (family, parameters, input size, classes
or vocabulary, size, licence, where it lives, and why it cannot run if it
cannot). Below, Add folder… / Open file… / Rescan, the progress of a download,
and Download, Cancel, Open. Everything shown and every rule lives in
:class:`~explorer.ui.library.state.LibraryState`; this module only binds.
"""

from __future__ import annotations

import html

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QFont
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.library import GROUP_TITLES, PANEL_TITLES, ModelEntry, format_count
from explorer.ui import theme
from explorer.ui.library.state import FILTERS, LibraryState

KEY_ROLE = Qt.ItemDataRole.UserRole
#: Characters after which a long path or hash may wrap (a zero-width space is put there).
_BREAK_AFTER = "/\\-_."


def breakable(text: str, run: int = 24) -> str:
    """``text`` escaped for rich text, with wrap points in paths and in long unbroken runs (commit hashes)."""
    out, since = [], 0
    for ch in text:
        out.append(html.escape(ch))
        since = 0 if ch.isspace() else since + 1
        if ch in _BREAK_AFTER or since >= run:
            out.append("\u200b")
            since = 0
    return "".join(out)


class LibraryDialog(QDialog):
    """One per main window, shared by the panels; non-modal, so a download can run while you work."""

    def __init__(self, state: LibraryState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsLibrary")
        self.setWindowTitle("Models library")
        self.state = state
        self.resize(1060, 620)
        self._build()
        self._bind()
        self._fill()
        self._show_selected()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search: name, family, panel, folder…")
        self.search.setClearButtonEnabled(True)
        self.filter_combo = QComboBox()
        for key, label in FILTERS.items():
            self.filter_combo.addItem(label, key)
        self.unusable_check = QCheckBox("Show models the app cannot open")
        top.addWidget(self.search, 1)
        top.addWidget(self.filter_combo)
        top.addWidget(self.unusable_check)
        root.addLayout(top)

        self.tree = QTreeWidget()
        self.tree.setObjectName("libraryList")
        self.tree.setHeaderLabels(["Model", "Family", "Parameters", "Opens in"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        for column in (2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setColumnWidth(1, 210)

        details = QWidget()
        column = QVBoxLayout(details)
        column.setContentsMargins(12, 4, 4, 4)
        self.title = QLabel()
        self.title.setProperty("role", "title")
        self.title.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason = QLabel()
        self.reason.setObjectName("libraryReason")
        self.reason.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setProperty("role", "note")
        self.notes.setWordWrap(True)
        for widget in (self.title, self.facts, self.reason, self.notes):
            column.addWidget(widget)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(details)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([660, 380])
        root.addWidget(splitter, 1)

        self.status = QLabel(" ")
        self.status.setProperty("role", "muted")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        root.addWidget(self.status)

        bottom = QHBoxLayout()
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setToolTip("Look for models in a folder (searched two levels down); remembered")
        self.open_file_button = QPushButton("Open file…")
        self.open_file_button.setToolTip("A weight file (.safetensors, .pth …) or a model folder")
        self.rescan_button = QPushButton("Rescan")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.close_button = QPushButton("Close")
        for widget in (self.add_folder_button, self.open_file_button, self.rescan_button):
            bottom.addWidget(widget)
        bottom.addWidget(self.progress, 1)
        bottom.addStretch(0)
        for widget in (self.download_button, self.cancel_button, self.open_button, self.close_button):
            bottom.addWidget(widget)
        root.addLayout(bottom)

    def _bind(self) -> None:
        state, events = self.state, self.state.events
        self.search.textChanged.connect(lambda text: setattr(state, "query", text))
        self.filter_combo.currentIndexChanged.connect(lambda i: setattr(state, "panel_filter", self.filter_combo.itemData(i)))
        self.unusable_check.setChecked(state.show_unusable)
        self.unusable_check.toggled.connect(lambda on: setattr(state, "show_unusable", on))
        self.tree.currentItemChanged.connect(self._item_chosen)
        self.tree.itemDoubleClicked.connect(lambda item, _col: item.data(0, KEY_ROLE) and state.open_selected())
        self.add_folder_button.clicked.connect(self.add_folder_dialog)
        self.open_file_button.clicked.connect(self.open_file_dialog)
        self.rescan_button.clicked.connect(state.refresh)
        self.download_button.clicked.connect(state.download_selected)
        self.cancel_button.clicked.connect(state.cancel)
        self.open_button.clicked.connect(state.open_selected)
        self.close_button.clicked.connect(self.hide)
        for name in ("entries", "query", "panel_filter", "show_unusable"):
            getattr(events, name).connect(self._fill)
        events.selected.connect(self._show_selected)
        events.selected.connect(self._select_row)
        events.entries.connect(self._show_selected)
        events.busy.connect(self._show_buttons)
        events.progress.connect(self._show_progress)
        events.status.connect(lambda text: self.status.setText(text or " "))
        events.panel_filter.connect(self._show_filter)

    # -- the list ----------------------------------------------------------------------------------
    def _fill(self, *_args) -> None:
        c = theme.colors()
        self.tree.blockSignals(True)
        self.tree.clear()
        current = None
        for group, entries in self.state.visible():
            header = QTreeWidgetItem([f"{GROUP_TITLES[group]}  ({len(entries)})"])
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = QFont(header.font(0))
            font.setBold(True)
            header.setFont(0, font)
            self.tree.addTopLevelItem(header)
            header.setFirstColumnSpanned(True)
            for entry in entries:
                item = QTreeWidgetItem(header, self._row(entry))
                item.setData(0, KEY_ROLE, entry.key)
                item.setToolTip(0, f"{entry.where}" + (f": {entry.path}" if entry.path else ""))
                item.setToolTip(1, entry.description.family)
                if entry.reason:
                    for col in range(4):
                        item.setForeground(col, QColor(c.muted))
                    item.setToolTip(0, f"Cannot open: {entry.reason}")
                if entry.key == self.state.selected:
                    current = item
            header.setExpanded(True)
        if current is not None:
            self.tree.setCurrentItem(current)
        self.tree.blockSignals(False)

    @staticmethod
    def _row(entry: ModelEntry) -> list[str]:
        d = entry.description
        title = ("⚠ " if entry.reason else "") + entry.title
        if entry.group == "catalogue":
            title += "  ✓ downloaded" if entry.downloaded else ""
        params = format_count(d.parameters) if d.parameters else "—"
        return [title, d.family, params, PANEL_TITLES.get(d.panel or "", "—")]

    def _select_row(self, key: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                if group.child(j).data(0, KEY_ROLE) == key and self.tree.currentItem() is not group.child(j):
                    self.tree.blockSignals(True)
                    self.tree.setCurrentItem(group.child(j))
                    self.tree.blockSignals(False)
                    return

    def _item_chosen(self, item: QTreeWidgetItem | None, _previous) -> None:
        key = item.data(0, KEY_ROLE) if item is not None else None
        if key:
            self.state.selected = key

    # -- the details ---------------------------------------------------------------------------------
    def _show_selected(self, *_args) -> None:
        entry = self.state.current
        if entry is None:
            self.title.setText("No model selected")
            self.facts.setText("Choose a model on the left.")
            self.reason.hide()
            self.notes.hide()
            self._show_buttons()
            return
        self.title.setText(html.escape(entry.title))
        rows = "".join(
            f"<tr><td style='padding:2px 12px 2px 0; color:{theme.colors().muted}'>{html.escape(label)}</td>"
            f"<td style='padding:2px 0'>{breakable(value)}</td></tr>"
            for label, value in entry.facts()
        )
        origin = "Read from its files." if entry.from_files else "Catalogue data (model card), approximate; its files tell once downloaded."
        origin = "" if entry.description.family == "unreadable" else f"<p style='color:{theme.colors().muted}'>{origin}</p>"
        self.facts.setText(f"<table>{rows}</table>{origin}")
        self.reason.setVisible(bool(entry.reason))
        self.reason.setText(f"<b>Cannot open:</b> {breakable(entry.reason)}")
        self.reason.setStyleSheet(
            f"background: {theme.colors().alt_base}; border-left: 3px solid {theme.colors().highlight}; padding: 6px 8px;")
        notes = [n for n in entry.description.notes if n]
        self.notes.setVisible(bool(notes))
        self.notes.setText("<br>".join(breakable(n) for n in notes))
        self._show_buttons()

    def _show_buttons(self, *_args) -> None:
        entry, busy = self.state.current, self.state.busy
        downloading = busy == "downloading"
        self.open_button.setText(self.state.open_label())
        self.open_button.setEnabled(entry is not None and entry.can_open)
        self.download_button.setVisible(entry is not None and entry.needs_download)
        self.download_button.setEnabled(not downloading)
        self.cancel_button.setVisible(downloading)
        self.rescan_button.setEnabled(not busy)

    def _show_progress(self, progress: tuple[float, str] | None) -> None:
        self.progress.setVisible(progress is not None)
        if progress is not None:
            fraction, text = progress
            self.progress.setValue(int(fraction * 1000))
            self.progress.setFormat(f"{text}  {fraction:.0%}")

    def _show_filter(self, key: str) -> None:
        index = self.filter_combo.findData(key)
        if index >= 0 and index != self.filter_combo.currentIndex():
            self.filter_combo.blockSignals(True)
            self.filter_combo.setCurrentIndex(index)
            self.filter_combo.blockSignals(False)

    def apply_theme(self) -> None:
        self._fill()
        self._show_selected()

    # -- dialogs -----------------------------------------------------------------------------------
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of models")
        if folder:
            self.state.add_folder(folder)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a model file", "", "Weights (*.safetensors *.pth *.pt *.bin *.ckpt);;All files (*)")
        if path:
            self.state.open_path(path)
