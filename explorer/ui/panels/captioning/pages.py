"""The Captioning panel's two tabs, each bound to the panel's state and redrawn from its events.

:class:`WordPage` is the picture with the map of the word in focus, the caption
as chips and, beside them, the stepper with its candidates, the beam's finished
captions and the classic decoder's caption. :class:`FigurePage` is the
word-by-word figure. Neither decides anything: a click goes to a state method,
and what is drawn comes from the state.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import theme
from explorer.ui.panels.captioning import describe
from explorer.ui.panels.captioning.state import FIGURE_TAB, CaptioningState
from explorer.ui.panels.captioning.views import (
    ImageView,
    WordChips,
    image_array,
    overlay,
    render_figure,
)
from explorer.ui.widgets.eliding import ElidingLabel
from explorer.ui.widgets.scroll import ColumnScroll

#: Longer side of the picture the map is laid on, in pixels (the view scales it to fit).
OVERLAY_SIZE = 720


def table(columns: list[str]) -> QTableWidget:
    """A read-only two-column table: the first column stretches, the second fits its numbers."""
    widget = QTableWidget(0, len(columns))
    widget.setHorizontalHeaderLabels(columns)
    widget.verticalHeader().hide()
    widget.verticalHeader().setDefaultSectionSize(24)
    widget.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    widget.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
    header = widget.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    return widget


def classic_caption_sheet() -> str:
    """The classic decoder's caption, three points over the text size at the current zoom."""
    return f"font-size: {theme.point_size(3):.1f}pt;"


class ChipScroll(QScrollArea):
    """The caption's word chips, one row that scrolls sideways; as high as a chip in the current font."""

    def __init__(self) -> None:
        super().__init__()
        self._fit()

    def _fit(self) -> None:
        # a chip: text line + button padding; below it, room for the sideways scroll bar
        self.setFixedHeight(round(self.fontMetrics().height() * 1.9) + self.horizontalScrollBar().sizeHint().height() + 6)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override: zoom changes the app font
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._fit()


def bold_item(text: str, bold: bool) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if bold:
        font = item.font()
        font.setBold(True)
        item.setFont(font)
    return item


class WordPage(QWidget):
    """"Attention per word": the overlay of the word in focus, the caption's chips, the side column."""

    def __init__(self, state: CaptioningState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._overlay_key: tuple = ()
        self._overlay: np.ndarray | None = None
        grid = QHBoxLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.addLayout(self._build_left(), 3)
        grid.addWidget(self._build_side(), 2)
        self._bind()

    # -- layout ------------------------------------------------------------------------------
    def _build_left(self) -> QVBoxLayout:
        state = self.state
        left = QVBoxLayout()
        controls = QHBoxLayout()
        self.model_label = ElidingLabel("Attention decoder")  # a long model name is cut, never widens the row
        self.model_label.setStyleSheet("font-weight: 600;")
        controls.addWidget(self.model_label)
        controls.addStretch(1)
        controls.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(state.opacity)
        self.opacity.setFixedWidth(90)
        controls.addWidget(self.opacity)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(theme.SEQUENTIAL_NAMES)
        self.cmap_combo.setCurrentText(state.cmap)
        self.cmap_combo.setToolTip("Colour map of the attention weights (0 → peak of the map)")
        controls.addWidget(self.cmap_combo)
        self.boxes_check = QPushButton("Object box")
        self.boxes_check.setCheckable(True)
        self.boxes_check.setChecked(state.show_box)
        self.boxes_check.setToolTip("On a generated scene: outline the object the selected word names (from the generator).")
        controls.addWidget(self.boxes_check)
        left.addLayout(controls)
        self.view = ImageView()
        left.addWidget(self.view, 1)
        self.chips = WordChips()
        chip_scroll = ChipScroll()
        chip_scroll.setWidget(self.chips)
        chip_scroll.setWidgetResizable(True)
        chip_scroll.setFrameShape(QFrame.Shape.NoFrame)
        chip_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.addWidget(chip_scroll)
        self.word_info = QLabel(" ")
        self.word_info.setWordWrap(True)
        left.addWidget(self.word_info)
        self.attention_note = QLabel(" ")
        self.attention_note.setProperty("role", "muted")
        self.attention_note.setWordWrap(True)
        left.addWidget(self.attention_note)
        return left

    def _build_side(self) -> QWidget:
        side = QVBoxLayout()
        step_box = QGroupBox("Step through generation")
        step = QGridLayout(step_box)
        self.prev_button = QPushButton("◀")
        self.next_button = QPushButton("▶")
        self.all_button = QPushButton("All")
        for button in (self.prev_button, self.next_button, self.all_button):
            button.setFixedWidth(44)
        self.step_label = QLabel("—")
        step.addWidget(self.prev_button, 0, 0)
        step.addWidget(self.next_button, 0, 1)
        step.addWidget(self.all_button, 0, 2)
        step.addWidget(self.step_label, 0, 3)
        self.candidates = table(["next word", "probability"])
        self.candidates.setFixedHeight(150)
        step.addWidget(self.candidates, 1, 0, 1, 4)
        side.addWidget(step_box)

        beam_box = QGroupBox("The beam's finished captions")
        beam_layout = QVBoxLayout(beam_box)
        self.beams = table(["caption", "score"])
        self.beams.setMinimumHeight(90)
        beam_layout.addWidget(self.beams)
        side.addWidget(beam_box, 1)

        classic_box = QGroupBox("Classic CNN→RNN decoder (no attention)")
        classic_layout = QVBoxLayout(classic_box)
        self.classic_caption = QLabel("—")
        self.classic_caption.setWordWrap(True)
        self.classic_caption.setStyleSheet(classic_caption_sheet())
        self.classic_info = QLabel(describe.CLASSIC_INFO)
        self.classic_info.setProperty("role", "muted")
        self.classic_info.setWordWrap(True)
        classic_layout.addWidget(self.classic_caption)
        classic_layout.addWidget(self.classic_info)
        side.addWidget(classic_box)
        side_widget = QWidget()
        side_widget.setLayout(side)
        # A short or zoomed window scrolls the column instead of squeezing its boxes over each other.
        side_scroll = ColumnScroll(side_widget)
        side_scroll.setMinimumWidth(330)
        side_scroll.setMaximumWidth(430)
        return side_scroll

    def _bind(self) -> None:
        state, events = self.state, self.state.events
        self.opacity.valueChanged.connect(lambda value: setattr(state, "opacity", value))
        self.cmap_combo.currentTextChanged.connect(lambda name: setattr(state, "cmap", name))
        self.boxes_check.toggled.connect(lambda checked: setattr(state, "show_box", checked))
        self.chips.hovered.connect(state.hover)
        self.chips.clicked.connect(state.select_word)
        self.prev_button.clicked.connect(state.step_back)
        self.next_button.clicked.connect(state.step_forward)
        self.all_button.clicked.connect(state.step_all)
        events.opacity.connect(lambda value: self.opacity.setValue(value))
        events.cmap.connect(lambda name: self.cmap_combo.setCurrentText(name))
        events.show_box.connect(lambda checked: self.boxes_check.setChecked(checked))
        events.main.connect(self.show_model)
        events.trace.connect(self.show_trace)
        events.classic_trace.connect(self.show_classic)
        for name in ("selected", "hovered", "shown", "opacity", "cmap", "show_box"):
            getattr(events, name).connect(self.redraw)

    # -- drawing -----------------------------------------------------------------------------
    def show_model(self) -> None:
        main = self.state.main
        if main is None:
            return
        self.model_label.setText(main.title)
        self.attention_note.setText(describe.attention_text(main))

    def show_trace(self) -> None:
        trace = self.state.trace
        if trace is None:
            return
        self.chips.set_words(trace.words, describe.word_tips(trace))
        self.beams.setRowCount(len(trace.alternatives))
        for row, alt in enumerate(trace.alternatives):
            caption, caption_tip, score, score_tip = describe.beam_texts(alt, trace.rule)
            item = bold_item(caption, row == 0)
            item.setToolTip(caption_tip)
            score_item = QTableWidgetItem(score)
            score_item.setToolTip(score_tip)
            self.beams.setItem(row, 0, item)
            self.beams.setItem(row, 1, score_item)
        self.redraw()

    def show_classic(self) -> None:
        caption, info = describe.classic_texts(self.state.classic_trace)
        self.classic_caption.setText(caption)
        self.classic_info.setText(info)

    def current_overlay(self) -> np.ndarray | None:
        """The picture as shown: image with the map of the word in focus (None before an image).

        The last picture is kept: several state events of one change (a new
        caption resets the selection and the stepper with it) draw it once.
        """
        state = self.state
        if state.image is None:
            return None
        key = (state.image, state.trace, state.focus_word(), state.opacity, state.cmap)
        last = self._overlay_key
        if last and all(a is b for a, b in zip(key[:2], last[:2])) and key[2:] == last[2:]:  # image, trace: by identity
            return self._overlay
        alpha = state.focus_map()
        base = image_array(state.image, OVERLAY_SIZE)
        picture = base if alpha is None else overlay(base, alpha, opacity=state.opacity / 100, cmap=state.cmap)
        self._overlay_key, self._overlay = key, picture
        return picture

    def redraw(self) -> None:
        self.view.set_array(self.current_overlay(), self.state.true_box())
        if self.state.trace is None:
            return
        self._show_focus()
        self._show_candidates()

    def _show_focus(self) -> None:
        state = self.state
        self.chips.set_state(state.focus if state.shown else -1, state.shown)
        self.step_label.setText(state.step_text)
        self.prev_button.setEnabled(state.position > 0)
        self.next_button.setEnabled(state.position < state.word_count)
        self.word_info.setText(state.focus_info())

    def _show_candidates(self) -> None:
        step, rows, chosen = self.state.focus_step()
        self.candidates.setRowCount(len(rows))
        for row, (word, prob) in enumerate(rows):
            self.candidates.setItem(row, 0, bold_item(word, word == chosen))
            self.candidates.setItem(row, 1, QTableWidgetItem(describe.probability_bar(prob)))
        self.candidates.setToolTip(describe.candidates_tip(self.state.trace, step))


class FigurePage(QScrollArea):
    """"Figure (word by word)": the image, then one tile per word with its map, drawn while the tab is shown."""

    def __init__(self, state: CaptioningState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.label = QLabel("Caption an image to see the figure.")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        for name in ("trace", "opacity", "cmap", "tab"):
            getattr(state.events, name).connect(self.refresh)

    def refresh(self) -> None:
        state = self.state
        if state.tab != FIGURE_TAB or state.trace is None or state.image is None:
            return
        self.label.setPixmap(QPixmap.fromImage(self.figure_image()))

    def figure_image(self) -> QImage:
        """The figure as a picture (what the tab shows and what is exported)."""
        state = self.state
        return render_figure(
            state.image, state.trace, opacity=state.opacity / 100, cmap=state.cmap,
            dark=theme.current_theme() == "dark", note=state.main.attention_note if state.main else "",
        )
