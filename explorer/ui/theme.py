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


_zoom = 1.0
_base_point_size: float | None = None


def current_zoom() -> float:
    return _zoom


def point_size(points: float = 0.0) -> float:
    """A font size in points at the current zoom: the base size plus ``points``, times the zoom."""
    base = _base_point_size or 9.0
    return max((base + points) * _zoom, 4.0)


def apply_theme(app: QApplication, theme: str) -> None:
    """Switch the colours: Fusion with our palette, and pyqtgraph defaults for plots created afterwards.

    Fast on purpose (a teacher switches theme in front of a class): only the
    palette changes here. There is no application style sheet: with one, a
    palette or font change no longer reaches the widgets at all, and setting
    it re-polishes every widget (0.5–1 s with all panels built). What needs a
    style sheet has one of its own — role labels (:func:`restyle_roles`), the
    main window's named widgets (:func:`named_sheets`) — re-applied after a
    change; plots follow :func:`restyle_plots`.
    """
    global _current, _base_point_size
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; choose light or dark")
    _current = theme
    if _base_point_size is None:
        _base_point_size = app.font().pointSizeF() or 9.0
    c = THEMES[theme]
    if app.property("seqvisStyle") != "Fusion":  # setStyle re-polishes every widget (~0.3 s): once
        app.setStyle("Fusion")
        app.setProperty("seqvisStyle", "Fusion")
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
    pg.setConfigOptions(background=c.plot_bg, foreground=c.plot_fg, antialias=True, imageAxisOrder="row-major")


def set_zoom(app: QApplication, zoom: float) -> None:
    """Scale every font (projecting for a class): the application font, which widgets follow;
    widgets with a style sheet of their own follow once :func:`restyle_roles` re-applies it, and
    plot text through :func:`restyle_plots`."""
    global _zoom, _base_point_size
    if _base_point_size is None:
        _base_point_size = app.font().pointSizeF() or 9.0
    _zoom = zoom
    font = QFont(app.font())
    font.setPointSizeF(point_size())
    app.setFont(font)


def role_sheet(role: str) -> str:
    """The per-widget style of a label with ``setProperty("role", …)``, in the current theme."""
    c = colors()
    return {
        "muted": f"color: {c.muted};",
        "note": f"background: {c.alt_base}; border-left: 3px solid {c.accent}; padding: 6px 8px; border-radius: 3px;",
        "title": f"font-size: {point_size(6):.1f}pt; font-weight: 600;",
    }.get(role, "")


def restyle_roles(root) -> int:
    """Re-colour the widgets under ``root`` (and ``root``) with a role or a style sheet; returns how many roles."""
    from PyQt6.QtWidgets import QWidget

    count = 0
    for widget in [root, *root.findChildren(QWidget)]:
        role = widget.property("role")
        if role:
            sheet = role_sheet(str(role))
            widget.setStyleSheet(sheet)
            count += 1
        elif widget.styleSheet():
            # A widget with a style sheet of its own took its colours when it was polished and
            # keeps them through a palette change (dark text on a dark page): polish it again.
            widget.setStyleSheet(widget.styleSheet())
    return count


def named_sheets() -> dict[str, str]:
    """Style sheets of the main window's own named widgets, in the current theme."""
    c = colors()
    return {
        "panelNav": (
            f"QListWidget {{ background: {c.alt_base}; border: none; outline: none; }}"
            "QListWidget::item { padding: 9px 10px; border-radius: 6px; margin: 2px 6px; }"
            f"QListWidget::item:selected {{ background: {c.accent}; color: #ffffff; }}"
            f"QListWidget::item:hover:!selected {{ background: {c.grid}; }}"
        ),
        "imageCard": f"QFrame#imageCard {{ background: {c.alt_base}; border-top: 1px solid {c.grid}; }}",
        "guideButton": (
            f"QPushButton {{ background: {c.alt_base}; border: none; border-top: 1px solid {c.grid}; "
            f"color: {c.accent}; padding: 7px 10px; text-align: left; }}"
            f"QPushButton:hover {{ background: {c.grid}; }}"
        ),
    }


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


def restyle_plots(root) -> int:
    """Give every pyqtgraph view under ``root`` the current theme and zoom; returns how many views.

    pyqtgraph's global options only reach items created afterwards, so a theme
    switch or a zoom at run time walks the live scenes: backgrounds, axes (pen,
    text and tick font), plot titles, axis labels and legends. What a panel
    colours by meaning (curves, highlights) it restyles itself.
    """
    c = colors()
    size = point_size()
    tick_font = QFont(QApplication.font())
    tick_font.setPointSizeF(size)
    views = root.findChildren(pg.GraphicsView)
    for view in views:
        view.setBackground(c.plot_bg)
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem):  # each setter re-lays the axis out: only what changed
                if item.pen().color().name() != c.plot_fg:
                    item.setPen(c.plot_fg)
                if item.textPen().color().name() != c.plot_fg:
                    item.setTextPen(c.plot_fg)
                current = item.style.get("tickFont")
                if current is None or abs(current.pointSizeF() - size) > 0.01:
                    item.setStyle(tickFont=tick_font)
                if item.label.isVisible() and item.labelText:
                    style = {**item.labelStyle, "color": c.plot_fg, "font-size": f"{size:.1f}pt"}
                    item.setLabel(item.labelText, units=item.labelUnits or None, unitPrefix=item.labelUnitPrefix, **style)
            elif isinstance(item, pg.PlotItem) and item.titleLabel.isVisible() and item.titleLabel.text:
                item.setTitle(item.titleLabel.text, color=c.plot_fg, size=f"{size + 1:.1f}pt")
            elif isinstance(item, pg.LegendItem):
                item.setLabelTextColor(c.plot_fg)
                item.setLabelTextSize(f"{size:.1f}pt")
    return len(views)


# -- colour maps -------------------------------------------------------------------------------
def diverging_cmap(theme: str | None = None) -> pg.ColorMap:
    """Blue (negative) — neutral (0) — red (positive), for signed values.

    The neutral centre follows the theme: near-white on a light page, near-black
    on a dark one (so a dark page has no glaring white where values are ~0);
    sign is read from the hue and size from the strength in both.
    """
    stops = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    if (theme or _current) == "dark":
        colours = [[92, 164, 240], [44, 96, 156], [40, 44, 50], [156, 52, 48], [246, 104, 82]]
    else:
        colours = [[33, 102, 172], [103, 169, 207], [247, 247, 247], [239, 138, 98], [178, 24, 43]]
    return pg.ColorMap(stops, np.array(colours, dtype=np.ubyte), name=f"seqvis-diverging-{theme or _current}")


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
