"""The engine: pure PyTorch + NumPy, no Qt.

Every model returns a *trace*, a dataclass holding each intermediate that the
UI shows. Nothing in this package may import PyQt6 or pyqtgraph (a test checks).
"""
