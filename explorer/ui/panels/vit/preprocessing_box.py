"""The preprocessing a model's files did not store, shown and editable (step 1).

Where a checkpoint carries its own transform (transformers' preprocessor_config.json,
timm's pretrained_cfg, OpenCLIP's config, our own files) the box only shows it.
Where none is stored, the panel says what it assumes and lets you choose the
statistics, the crop and the interpolation; the state reruns the model.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QGroupBox, QLabel, QVBoxLayout

from explorer.engine import vit
from explorer.engine.vit import preprocessing as prep
from explorer.ui.panels.vit.state import ViTState
from explorer.ui.widgets.control_row import ControlRow

CUSTOM = "(as read)"
RESIZE_LABELS = {"short": "shorter side, centre crop", "squash": "whole image to a square"}


class PreprocessingBox(QGroupBox):
    """Statistics preset, crop fraction, resize mode and interpolation, bound to the state's model."""

    def __init__(self, state: ViTState) -> None:
        super().__init__("Preprocessing")
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setProperty("role", "muted")
        row = ControlRow()
        self.preset = QComboBox()
        self.preset.addItems(list(vit.PRESETS) + [CUSTOM])
        self.preset.setToolTip("Normalisation mean and std")
        self.crop = QDoubleSpinBox()
        self.crop.setRange(0.5, 1.0)
        self.crop.setSingleStep(0.025)
        self.crop.setDecimals(3)
        self.crop.setPrefix("crop ")
        self.crop.setKeyboardTracking(False)
        self.crop.setToolTip("The input is this fraction of the resized image (timm's crop_pct; 0.875 = 224 of 256)")
        self.resize_mode = QComboBox()
        self.resize_mode.addItems(list(RESIZE_LABELS.values()))
        self.interpolation = QComboBox()
        self.interpolation.addItems(["bicubic", "bilinear"])
        for widget in (self.preset, self.crop, self.resize_mode, self.interpolation):
            row.addWidget(widget)
        layout.addWidget(self.where)
        layout.addLayout(row)
        self.preset.activated.connect(self._changed)
        self.crop.valueChanged.connect(self._changed)
        self.resize_mode.activated.connect(self._changed)
        self.interpolation.activated.connect(self._changed)
        state.events.model.connect(self.sync)
        self.sync()

    def sync(self, *_args) -> None:
        """Show the model's preprocessing; editable where the files stored none (or you set it)."""
        model = self.state.model
        widgets = (self.preset, self.crop, self.resize_mode, self.interpolation)
        for widget in widgets:
            widget.blockSignals(True)
        if model is not None:
            cfg = model.config
            names = [name for name, (mean, std) in vit.PRESETS.items()
                     if tuple(mean) == tuple(cfg.mean) and tuple(std) == tuple(cfg.std)]
            self.preset.setCurrentText(names[0] if names else CUSTOM)
            self.crop.setValue(cfg.crop_pct)
            self.resize_mode.setCurrentText(RESIZE_LABELS[cfg.resize_mode])
            self.interpolation.setCurrentText(cfg.resample)
            editable = cfg.preprocessing_from in ("", "set by you")
            self.where.setText(prep.describe(cfg) if not editable else (
                f"{prep.describe(cfg)}. The model's files store no preprocessing: check it is the one the "
                "weights were trained with, or choose another here."))
            for widget in widgets:
                widget.setEnabled(editable)
        for widget in widgets:
            widget.blockSignals(False)

    def _changed(self, *_args) -> None:
        fields = {"crop_pct": float(self.crop.value()), "resample": self.interpolation.currentText(),
                  "resize_mode": next(k for k, v in RESIZE_LABELS.items() if v == self.resize_mode.currentText())}
        if self.preset.currentText() in vit.PRESETS:
            fields["mean"], fields["std"] = vit.PRESETS[self.preset.currentText()]
        self.state.set_preprocessing(**fields)
