"""The left column of the Q·K·V tab: sizes, fill buttons, ÷√dₖ and temperature, the Q, K, V editors and the mask.

Only widgets: :class:`~explorer.ui.panels.attention.qkv.QKVView` connects them to the state.
The editors are table views over NumPy arrays, so a real head's 1,370 × 64 matrices
are three widgets, not 260,000.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.ui.panels.attention.notation import rich
from explorer.ui.panels.attention.qkv_state import (
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    SIZE_NAMES,
)
from explorer.ui.panels.attention.views import SizeSpin
from explorer.ui.widgets.heatmap import Heatmap
from explorer.ui.widgets.matrix_editor import LARGEST, MatrixEditor

#: The mask never gets less room than this, however short the window (720 px high included).
MASK_MIN_HEIGHT = 120
EDITOR_MIN_HEIGHT = 70

TITLES = {
    "q": "Q — queries (n_q × d_k)",
    "k": "K — keys (n_k × d_k)",
    "v": "V — values (n_k × d_v)",
}


class QKVInputs(QWidget):
    """Sizes, Random / Zeros / Identity / Reset, scaling and temperature, the editors and the mask."""

    def __init__(self, seed: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(4)

        sizes = QGridLayout()
        sizes.setHorizontalSpacing(4)
        self.size_spins: dict[str, SizeSpin] = {}
        for index, name in enumerate(SIZE_NAMES):
            spin = SizeSpin(name)
            sizes.addWidget(QLabel(rich(name)), 0, 2 * index)
            sizes.addWidget(spin, 0, 2 * index + 1)
            self.size_spins[name] = spin
        layout.addLayout(sizes)

        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Fill Q, K, V with N(0, 1) numbers from the seed (then the seed moves on)")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 99_999)
        self.seed_spin.setValue(seed)
        self.seed_spin.setPrefix("seed ")
        self.zeros_button = QPushButton("Zeros")
        self.identity_button = QPushButton("Identity")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the preset")
        for widget in (self.random_button, self.seed_spin, self.zeros_button, self.identity_button, self.reset_button):
            buttons.addWidget(widget)
        layout.addLayout(buttons)

        options = QHBoxLayout()
        self.scale_check = QCheckBox("÷√dₖ")  # Unicode subscript: a check box shows no rich text
        self.scale_check.setChecked(True)
        self.scale_check.setToolTip("Scale the scores by 1/√dₖ before the softmax")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(MIN_TEMPERATURE, MAX_TEMPERATURE)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setDecimals(2)
        self.temperature_spin.setValue(1.0)
        self.temperature_spin.setPrefix("temperature ")
        self.temperature_spin.setToolTip("The scaled scores are divided by the temperature: >1 flattens, <1 sharpens")
        options.addWidget(self.scale_check)
        options.addWidget(self.temperature_spin)
        options.addStretch(1)
        layout.addLayout(options)

        self.size_note = QLabel("")
        self.size_note.setWordWrap(True)
        self.size_note.setStyleSheet("color: #c62828;")
        self.size_note.hide()
        layout.addWidget(self.size_note)

        self.splitter = editors = QSplitter(Qt.Orientation.Vertical)
        editors.setChildrenCollapsible(False)
        self.q_editor = MatrixEditor(1, 2, row_prefix="q", col_prefix="", title=rich(TITLES["q"]), max_size=LARGEST)
        self.k_editor = MatrixEditor(3, 2, row_prefix="k", col_prefix="", title=rich(TITLES["k"]), max_size=LARGEST)
        self.v_editor = MatrixEditor(3, 2, row_prefix="v", col_prefix="", title=rich(TITLES["v"]), max_size=LARGEST)
        self.editors = {"q": self.q_editor, "k": self.k_editor, "v": self.v_editor}
        for editor in self.editors.values():
            editor.setMinimumHeight(EDITOR_MIN_HEIGHT)
            editors.addWidget(editor)

        mask_box = QWidget()
        mask_box.setMinimumHeight(MASK_MIN_HEIGHT)
        mask_layout = QVBoxLayout(mask_box)
        mask_layout.setContentsMargins(0, 0, 0, 0)
        mask_row = QHBoxLayout()
        self.mask_check = QCheckBox("Mask")
        self.mask_check.setToolTip("Click a cell of the mask to block or allow that key for that query")
        self.causal_button = QPushButton("Causal")
        self.allow_all_button = QPushButton("Allow all")
        mask_row.addWidget(self.mask_check)
        mask_row.addStretch(1)
        mask_row.addWidget(self.causal_button)
        mask_row.addWidget(self.allow_all_button)
        mask_layout.addLayout(mask_row)
        self.mask_map = Heatmap("", kind="sequential", annotate=False)
        self.mask_map.setToolTip("bright = may attend, dark = blocked; click a cell to toggle it")
        mask_layout.addWidget(self.mask_map, 1)
        editors.addWidget(mask_box)
        editors.setSizes([100, 140, 140, 130])
        layout.addWidget(editors, 1)
        self.setMinimumWidth(300)

    def set_real(self, real: bool, n: int = 0, d_k: int = 0, d_v: int = 0) -> None:
        """A model's head: its sizes are the model's (the boxes rest) and the titles say what the rows are."""
        for spin in self.size_spins.values():
            spin.setEnabled(not real)
        self.reset_button.setToolTip("Back to the model's own Q, K and V" if real else "Back to the preset")
        if real:
            self.q_editor.set_title(rich(f"Q — {n} tokens × d_head {d_k}: one row per token"))
            self.k_editor.set_title(rich(f"K — {n} tokens × d_head {d_k}"))
            self.v_editor.set_title(rich(f"V — {n} tokens × d_head {d_v}"))
        else:
            for name, editor in self.editors.items():
                editor.set_title(rich(TITLES[name]))
