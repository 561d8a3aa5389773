"""A plot that is read, not explored: the app's figures all start from this one."""

from __future__ import annotations

import pyqtgraph as pg


def still_plot(min_height: int | None = None) -> pg.PlotWidget:
    """A ``PlotWidget`` without pyqtgraph's context menu, mouse pan/zoom or auto-range button.

    The panels redraw their plots from the state; a dragged or zoomed view would
    silently stop showing what the numbers are, and the menu's export is the
    app's own (File › Export figure).
    """
    widget = pg.PlotWidget()
    widget.setMenuEnabled(False)
    widget.setMouseEnabled(x=False, y=False)
    widget.hideButtons()
    if min_height is not None:
        widget.setMinimumHeight(min_height)
    return widget
