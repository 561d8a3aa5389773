"""Subscripts as people write them: "W_Q" on screen becomes W with a subscript Q, never a raw underscore.

A raw ``W_Q`` in a tab or a small label loses its underscore to the clipped
baseline and reads "W Q". Text for a rich-text widget (labels, map titles)
goes through :func:`rich`; text for a plain-text one (tab titles, check boxes)
uses Unicode subscripts where they exist (ₖ, ᵥ) or a rich label put in its place
(:func:`rich_tab`).
"""

from __future__ import annotations

import re

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QLabel, QTabBar, QTabWidget

#: A letter, an underscore and a subscript: "W_Q", "d_k", "n_q", "d_head" (not "some_word" inside a name).
RAW_NOTATION = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z])_([A-Za-z0-9]+)")


def rich(text: str) -> str:
    """``text`` with every raw subscript written as ``<sub>…</sub>`` (for widgets that show rich text)."""
    return RAW_NOTATION.sub(r"\1<sub>\2</sub>", text)


class TabTitle(QLabel):
    """A rich-text tab title; a zoom grows its font, and the tab grows with it."""

    def __init__(self, text: str, bar: QTabBar) -> None:
        super().__init__(text)
        self._bar = bar

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            QTimer.singleShot(0, self._resize_tab)  # after the bar has its new font too

    def _resize_tab(self) -> None:
        self.adjustSize()  # the label's own size first: the bar lays the tab out around it
        for index in range(self._bar.count()):  # the bar sizes its tabs when a text changes
            if self._bar.tabButton(index, QTabBar.ButtonPosition.LeftSide) is self:
                self._bar.setTabText(index, " ")
                self._bar.setTabText(index, "")


def rich_tab(tabs: QTabWidget, index: int, text: str) -> QLabel:
    """Show tab ``index``'s title as rich text (a tab bar draws only plain text); returns the label."""
    tabs.setUsesScrollButtons(True)  # a zoomed bar scrolls instead of widening the window
    label = TabTitle(rich(text), tabs.tabBar())
    label.setContentsMargins(2, 0, 2, 0)
    tabs.setTabText(index, "")
    tabs.setTabToolTip(index, text.replace("_", ""))
    tabs.tabBar().setTabButton(index, QTabBar.ButtonPosition.LeftSide, label)
    return label
