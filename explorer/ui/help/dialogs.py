"""The help windows: a panel's guide (F1), the cheatsheet, the keyboard shortcuts.

One small dialog serves all three: a list of pages on the left, the page on
the right, and an optional button per page ("Open ViT"). Non-modal, so a
teacher can keep the cheatsheet open beside the panel it explains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from explorer.ui.help.cheatsheet import topics
from explorer.ui.help.guides import GUIDES
from explorer.ui.help.shortcuts import PANEL_KEYS, menu_rows


@dataclass(frozen=True)
class Page:
    title: str
    html: str
    button: str = ""  # text of the page's action button, "" for none
    action: Callable[[], None] | None = None


class HelpDialog(QDialog):
    """Pages of help text with a list to choose from and one action button per page."""

    def __init__(self, title: str, pages: list[Page], parent: QWidget | None = None, *, start: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.pages = pages
        self.list = QListWidget()
        self.list.addItems([page.title for page in pages])
        self.list.setMaximumWidth(240)
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.action_button = QPushButton()
        self.action_button.clicked.connect(self._act)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        right = QWidget()
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addWidget(self.browser, 1)
        row = QHBoxLayout()
        row.addWidget(self.action_button)
        row.addStretch(1)
        row.addWidget(buttons)
        right_box.addLayout(row)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.list.currentRowChanged.connect(self._show)
        self.list.setVisible(len(pages) > 1)
        self.resize(860, 560)
        self.list.setCurrentRow(min(max(start, 0), len(pages) - 1))

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.pages):
            return
        page = self.pages[row]
        self.browser.setHtml(page.html)
        self.action_button.setText(page.button)
        self.action_button.setVisible(bool(page.button and page.action))

    def _act(self) -> None:
        page = self.pages[self.list.currentRow()]
        if page.action is not None:
            page.action()

    @property
    def current_title(self) -> str:
        return self.pages[self.list.currentRow()].title


def guide_dialog(panel: str, parent: QWidget | None = None) -> HelpDialog:
    """Every panel's guide, opened on ``panel``'s (the others one click away)."""
    keys = list(GUIDES)
    pages = [Page(GUIDES[key].name, GUIDES[key].html()) for key in keys]
    return HelpDialog("What am I looking at?", pages, parent, start=keys.index(panel) if panel in keys else 0)


def cheatsheet_dialog(open_panel: Callable[[str], None], parent: QWidget | None = None) -> HelpDialog:
    """The cheatsheet's topics, each with a button that opens the panel showing it."""
    pages = [
        Page(topic.title, f"<h2>{topic.heading}</h2>{topic.html}", topic.button, lambda key=topic.panel: open_panel(key))
        for topic in topics()
    ]
    return HelpDialog("Cheatsheet: sequence tools for vision", pages, parent)


def shortcuts_html(actions, panel_titles: dict[str, str]) -> str:
    """The shortcuts as one table: the window's, then each panel's own keys."""
    sections = [("Anywhere", menu_rows(actions))]
    sections += [(panel_titles.get(key, key), list(entries)) for key, entries in PANEL_KEYS.items() if entries]
    rows = ""
    for title, entries in sections:
        rows += f"<tr><td colspan='2'><h3>{escape(title)}</h3></td></tr>"
        rows += "".join(f"<tr><td><b>{escape(keys)}</b></td><td>{escape(text)}</td></tr>" for keys, text in entries)
    return f"<h2>Keyboard shortcuts</h2><table cellpadding='3'>{rows}</table>"


def shortcuts_dialog(actions, panel_titles: dict[str, str], parent: QWidget | None = None) -> HelpDialog:
    return HelpDialog("Keyboard shortcuts", [Page("Keyboard shortcuts", shortcuts_html(actions, panel_titles))], parent)


def about_html(application: str, version: str) -> str:
    """Help › About: what the app is for and the versions it runs on (for bug reports)."""
    import sys

    from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR

    torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else "not loaded yet"
    return (
        f"<h3>{escape(application)} {escape(version)}</h3>"
        "<p>How sequences enter vision — recurrence, attention, Vision Transformers, "
        "captioning and video — live on your own images.</p>"
        f"<p>PyTorch {torch_version}<br>Qt {QT_VERSION_STR} (PyQt {PYQT_VERSION_STR})<br>"
        f"Python {sys.version.split()[0]}</p>"
    )
