"""Where the RNN panel's widgets sit: three rows of controls above four tabs.

Only construction: which widgets exist, their ranges, tips and places. What
they do is wired in :mod:`.panel` and decided in :mod:`.state`.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.engine.rnn import KIND_TITLES, KINDS
from explorer.ui.panels.rnn.inputs import INPUTS
from explorer.ui.panels.rnn.pages import GatesPage, LongRangePage, WeightsPage
from explorer.ui.panels.rnn.rule_view import UpdateRuleView
from explorer.ui.panels.rnn.state import SPEEDS
from explorer.ui.panels.rnn.views import (
    PredictionView,
    SequenceView,
    StateVersusWeights,
    UnitTrajectory,
    bold_label,
)
from explorer.ui.widgets.eliding import ElidingLabel
from explorer.ui.widgets.heatmap import Heatmap


def _tool(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    return button


class RNNLayout:
    """Mixed into the RNN panel (a QWidget): :meth:`build` makes its widgets, as its attributes."""

    def build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 6, 8, 4)
        root.setSpacing(4)
        root.addLayout(self._model_row())
        root.addLayout(self._input_row())
        self.real_note = QLabel(" ")  # a real model's: which model, which image or clip, what x_t is
        self.real_note.setProperty("role", "note")
        self.real_note.setWordWrap(True)
        self.real_note.setTextFormat(Qt.TextFormat.RichText)
        self.real_note.hide()
        root.addWidget(self.real_note)
        root.addLayout(self._transport())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        root.addWidget(self.tabs, 1)
        self.tabs.addTab(self._step_page(), "Step through")
        self.gates_page = GatesPage()
        self.tabs.addTab(self.gates_page, "Gates over time")
        self.weights_page = WeightsPage()
        self.tabs.addTab(self.weights_page, "Weights W, U, b")
        self.long_page = LongRangePage()
        self.tabs.addTab(self.long_page, "Long-range memory")

    def _model_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(bold_label("Model", elide=False))
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("A cell with torch's random initialisation, or a model trained by scripts/train_rnn.py")
        # A real model's long title must not widen the panel past 1280 px: the box elides, its list shows all.
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(34)
        self.model_combo.view().setMinimumWidth(460)
        row.addWidget(self.model_combo)
        row.addWidget(QLabel("Cell"))
        self.kind_combo = QComboBox()
        for kind in KINDS:
            self.kind_combo.addItem(KIND_TITLES[kind], kind)
        row.addWidget(self.kind_combo)
        row.addWidget(QLabel("Hidden"))
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setRange(1, 256)
        self.hidden_spin.setToolTip("Hidden size H: how many numbers the state hₜ holds")
        row.addWidget(self.hidden_spin)
        self.seed_label = QLabel("Seed")
        row.addWidget(self.seed_label)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 9999)
        self.seed_spin.setToolTip("Seed of the random weights (torch's own initialisation)")
        row.addWidget(self.seed_spin)
        self.bias_check = QCheckBox("Bias")
        row.addWidget(self.bias_check)
        self.load_button = QPushButton("Load state dict…")
        self.load_button.setToolTip("A torch.nn.RNN / LSTM / GRU state dict (torch.save or safetensors); read safely, no code runs")
        row.addWidget(self.load_button)
        row.addStretch(1)
        self.back_link_button = QPushButton(" ")
        self.back_link_button.setToolTip("Back to the panel this model came from, at the word or frame shown here")
        self.back_link_button.hide()
        row.addWidget(self.back_link_button)
        return row

    def _input_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(bold_label("Input", elide=False))
        self.input_combo = QComboBox()
        for key, text in INPUTS:
            self.input_combo.addItem(text, key)
        row.addWidget(self.input_combo)
        self.steps_label = QLabel("Steps")
        row.addWidget(self.steps_label)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 1000)
        row.addWidget(self.steps_spin)
        self.example_label = QLabel("Example")
        row.addWidget(self.example_label)
        self.example_spin = QSpinBox()
        self.example_spin.setRange(0, 9999)
        self.example_spin.setToolTip("Which generated example (seed of the generator)")
        row.addWidget(self.example_spin)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("type a text: one step per character")
        self.text_edit.setMaximumWidth(220)
        row.addWidget(self.text_edit)
        self.sequence_note = ElidingLabel(" ")
        self.sequence_note.setProperty("role", "muted")
        row.addWidget(self.sequence_note, 1)
        self.export_button = QToolButton()
        self.export_button.setText("Export ▾")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        self.export_actions = {
            "png": menu.addAction("Hidden-state heatmap (PNG)…"),
            "csv": menu.addAction("Trace (CSV)…"),
            "npy": menu.addAction("Hidden states (NPY)…"),
            "npz": menu.addAction("Every array of the trace (NPZ)…"),
        }
        self.export_button.setMenu(menu)
        row.addWidget(self.export_button)
        return row

    def _transport(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.first_button = _tool("|◀", "First step (Home)")
        self.back_button = _tool("◀", "Step back (←)")
        self.play_button = _tool("▶ Play", "Play / pause (Space)")
        self.forward_button = _tool("▶", "Step forward (→)")
        self.last_button = _tool("▶|", "Last step (End)")
        for button in (self.first_button, self.back_button, self.play_button, self.forward_button, self.last_button):
            row.addWidget(button)
        self.speed_combo = QComboBox()
        for speed in SPEEDS:
            self.speed_combo.addItem(f"{speed} steps/s", speed)
        row.addWidget(self.speed_combo)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        row.addWidget(self.slider, 1)
        self.step_label = QLabel("t = –")
        self.step_label.setMinimumWidth(190)
        row.addWidget(self.step_label)
        return row

    def _step_page(self) -> QSplitter:
        page = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 4, 0)
        self.sequence_view = SequenceView()
        self.prediction_view = PredictionView()
        left_box.addWidget(self.sequence_view, 3)
        left_box.addWidget(self.prediction_view, 2)
        self.rule_view = UpdateRuleView()
        right = QWidget()
        right_box = QVBoxLayout(right)
        right_box.setContentsMargins(4, 0, 0, 0)
        self.hidden_map = Heatmap("Hidden state hₜ: units × steps", kind="diverging", annotate=False, colorbar=True)
        self.hidden_map.setMinimumHeight(150)
        self.trajectory = UnitTrajectory()
        self.norms = StateVersusWeights()
        right_box.addWidget(self.hidden_map, 4)
        right_box.addWidget(self.trajectory, 2)
        right_box.addWidget(self.norms, 2)
        self.trajectory.setMaximumHeight(190)
        self.norms.setMaximumHeight(210)
        for widget in (left, self.rule_view, right):
            page.addWidget(widget)
        page.setStretchFactor(0, 3)
        page.setStretchFactor(1, 4)
        page.setStretchFactor(2, 4)
        page.setSizes([270, 430, 350])
        return page
