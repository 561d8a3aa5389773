"""Light and dark themes, and the colour maps every view shares.

Colour means the same thing everywhere (DESIGN.md): signed values on the
diverging map centred on zero, probabilities and attention weights on the
sequential map from zero, highlights in the accent colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtGui import QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication


@dataclass(frozen=True)
class Colors:
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    accent: str
    highlight: str  # selection / hover outline on plots
    plot_bg: str
    plot_fg: str
    grid: str


THEMES: dict[str, Colors] = {
    "light": Colors(
        window="#f3f4f6", base="#ffffff", alt_base="#eef0f3", text="#1f2328", muted="#5f6b7a",
        accent="#2f6fde", highlight="#ff9800", plot_bg="#ffffff", plot_fg="#30363d", grid="#d0d7de",
    ),
    "dark": Colors(
        window="#1e2227", base="#16191d", alt_base="#262b31", text="#e6e8eb", muted="#9aa4b2",
        accent="#5b9cff", highlight="#ffb74d", plot_bg="#16191d", plot_fg="#c9d1d9", grid="#3a414a",
    ),
}

_current = "light"


def colors(theme: str | None = None) -> Colors:
    return THEMES[theme or _current]


def current_theme() -> str:
    return _current


def apply_theme(app: QApplication, theme: str) -> None:
    """Fusion style with our palette; pyqtgraph defaults for plots created afterwards."""
    global _current
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; choose light or dark")
    _current = theme
    c = THEMES[theme]
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.window,
        QPalette.ColorRole.WindowText: c.text,
        QPalette.ColorRole.Base: c.base,
        QPalette.ColorRole.AlternateBase: c.alt_base,
        QPalette.ColorRole.Text: c.text,
        QPalette.ColorRole.Button: c.alt_base,
        QPalette.ColorRole.ButtonText: c.text,
        QPalette.ColorRole.ToolTipBase: c.base,
        QPalette.ColorRole.ToolTipText: c.text,
        QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: c.muted,
        QPalette.ColorRole.Link: c.accent,
        QPalette.ColorRole.Mid: c.grid,
    }
    for role, value in roles.items():
        palette.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.muted))
    app.setPalette(palette)
    app.setStyleSheet(
        f"""
        QToolTip {{ color: {c.text}; background: {c.base}; border: 1px solid {c.grid}; padding: 4px; }}
        QListWidget#panelNav {{ background: {c.alt_base}; border: none; outline: none; }}
        QListWidget#panelNav::item {{ padding: 9px 10px; border-radius: 6px; margin: 2px 6px; }}
        QListWidget#panelNav::item:selected {{ background: {c.accent}; color: #ffffff; }}
        QListWidget#panelNav::item:hover:!selected {{ background: {c.grid}; }}
        QLabel[role="muted"] {{ color: {c.muted}; }}
        QLabel[role="title"] {{ font-size: 15pt; font-weight: 600; }}
        QLabel[role="note"] {{ background: {c.alt_base}; border-left: 3px solid {c.accent};
                               padding: 6px 8px; border-radius: 3px; }}
        QFrame#imageCard {{ background: {c.alt_base}; border-top: 1px solid {c.grid}; }}
        QPushButton#guideButton {{ background: {c.alt_base}; border: none; border-top: 1px solid {c.grid};
                                   color: {c.accent}; padding: 7px 10px; text-align: left; }}
        QPushButton#guideButton:hover {{ background: {c.grid}; }}
        """
    )
    pg.setConfigOptions(background=c.plot_bg, foreground=c.plot_fg, antialias=True, imageAxisOrder="row-major")


def set_zoom(app: QApplication, zoom: float, base_point_size: float) -> None:
    """Scale the application font (projecting for a class)."""
    font = QFont(app.font())
    font.setPointSizeF(base_point_size * zoom)
    app.setFont(font)


def style_plot(plot, sides: tuple[str, ...] = ("left", "bottom")) -> None:
    """Give a pyqtgraph PlotWidget (or PlotItem) the current theme's background and axis colours."""
    c = colors()
    if hasattr(plot, "setBackground"):
        plot.setBackground(c.plot_bg)
    item = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
    for side in sides:
        axis = item.getAxis(side)
        axis.setPen(c.plot_fg)
        axis.setTextPen(c.plot_fg)


# -- colour maps -------------------------------------------------------------------------------
def diverging_cmap() -> pg.ColorMap:
    """Blue (negative) — white/grey (0) — red (positive), for signed values."""
    stops = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    colours = np.array(
        [[33, 102, 172], [103, 169, 207], [247, 247, 247], [239, 138, 98], [178, 24, 43]], dtype=np.ubyte
    )
    return pg.ColorMap(stops, colours, name="seqvis-diverging")


def sequential_cmap(name: str = "viridis") -> pg.ColorMap:
    """From 0 upward, for probabilities and attention weights."""
    return pg.colormap.get(name)


SEQUENTIAL_NAMES = ("viridis", "inferno", "magma", "plasma", "cividis")


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """Levels centred on zero that cover ``values`` (never empty)."""
    finite = np.abs(values[np.isfinite(values)]) if values.size else np.zeros(1)
    bound = float(finite.max()) if finite.size else 1.0
    bound = bound if bound > 1e-12 else 1.0
    return -bound, bound
