"""The Attention panel as the tests of its widgets use it: shown at 1100 × 640 and started."""

import pytest

from explorer.ui.panels.attention.panel import AttentionPanel


@pytest.fixture
def panel(qtbot, context):
    widget = AttentionPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1100, 640)
    widget.show()
    qtbot.waitExposed(widget)
    widget.start()
    return widget
