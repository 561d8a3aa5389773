"""Exporting figures: every plot and map of a panel as SVG (vector) or as PNG at a chosen scale.

Users of every peer tool ask for vector output (for papers and slides), so
File › Export figure… finds the pyqtgraph views the current panel shows and
writes one through pyqtgraph's own exporters: ``SVGExporter`` for vectors
(images inside a plot, such as heatmaps, are embedded as pixels), and
``ImageExporter`` at 1–4× the on-screen size for print. Nothing is drawn
twice: the exporters render the live scene.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401 - registers pg.exporters
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QPainter, QPixmap
from PyQt6.QtSvg import QSvgGenerator
from PyQt6.QtWidgets import QGraphicsItem, QLabel, QWidget

FORMATS = ("png", "svg")
MAX_SCALE = 4.0


def _accept_closed_paths() -> None:
    """Let pyqtgraph's SVG exporter read the closed paths Qt 6 writes.

    pyqtgraph 0.14's ``correctCoordinates`` parses a path's ``d`` as
    ``x,y`` pairs and fails on the ``Z`` that closes one (pyqtgraph issue
    #3495: "SVGExporter cannot handle closed paths"), which every plot's
    frame has under Qt 6. Dropping the ``Z`` first changes nothing visible:
    those paths already end on their first point, and a fill closes itself.
    """
    module = importlib.import_module("pyqtgraph.exporters.SVGExporter")
    original = module.correctCoordinates
    if getattr(original, "accepts_closed_paths", False):
        return

    def correct(node, defs, item, options):
        for path in node.getElementsByTagName("path"):
            d = path.getAttribute("d")
            if "Z" in d or "z" in d:
                path.setAttribute("d", " ".join(t for t in d.split() if t not in ("Z", "z")))
        return original(node, defs, item, options)

    correct.accepts_closed_paths = True
    module.correctCoordinates = correct


_accept_closed_paths()


@dataclass
class Figure:
    """One exportable view: its name, the widget on screen, and what to render.

    A pyqtgraph view has a scene ``item``; a picture shown in a label (an
    overlay composed as an image) has only its ``pixmap``, which an SVG then
    holds as pixels.
    """

    name: str
    view: QWidget
    item: QGraphicsItem | None = None
    pixmap: QPixmap | None = None

    @property
    def width(self) -> float:
        return self.item.boundingRect().width() if self.item is not None else float(self.pixmap.width())


def _scene_item(view: pg.GraphicsView) -> QGraphicsItem | None:
    if isinstance(view, pg.PlotWidget):
        return view.getPlotItem()
    if isinstance(view, pg.GraphicsLayoutWidget):
        return view.ci
    return view.centralWidget if getattr(view, "centralWidget", None) is not None else None


def _name_of(view: pg.GraphicsView, item: QGraphicsItem, number: int) -> str:
    """The view's own title, else a title label just above it, else its accessible name, else "Figure n"."""
    plot = item if isinstance(item, pg.PlotItem) else None
    if plot is None and isinstance(item, pg.GraphicsLayout):
        plot = next((i for i in item.items if isinstance(i, pg.PlotItem)), None)
    if plot is not None and plot.titleLabel.isVisible() and plot.titleLabel.text:
        return _plain(plot.titleLabel.text)
    parent = view.parentWidget()
    if parent is not None:  # e.g. a Heatmap: a title QLabel above its graphics view
        labels = [w for w in parent.findChildren(QLabel) if w.isVisible() and w.text().strip()]
        above = [w for w in labels if w.geometry().bottom() <= view.geometry().top() + 2]
        if above:
            return _plain(max(above, key=lambda w: w.geometry().bottom()).text())
    return view.accessibleName() or f"Figure {number}"


def _plain(text: str) -> str:
    from PyQt6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(text)
    return " ".join(doc.toPlainText().split())


def _pictures(widget: QWidget) -> list[QLabel]:
    """Labels showing a picture of some size (an image with an overlay), not icons."""
    out = []
    for label in widget.findChildren(QLabel):
        pixmap = label.pixmap()
        if label.isVisible() and pixmap is not None and not pixmap.isNull() and min(pixmap.width(), pixmap.height()) >= 48:
            out.append(label)
    return out


def figures_in(widget: QWidget) -> list[Figure]:
    """The plots, maps and pictures visible in ``widget``, in reading order (top to bottom, left to right)."""
    views: list[QWidget] = [v for v in widget.findChildren(pg.GraphicsView) if v.isVisible() and v.width() > 8 and v.height() > 8]
    views += _pictures(widget)
    origin = widget.mapToGlobal(QPoint(0, 0))

    def place(view: QWidget) -> tuple[int, int]:
        at = view.mapToGlobal(QPoint(0, 0)) - origin
        return (at.y() // 40, at.x())  # rows of 40 px, then left to right

    figures = []
    for view in sorted(views, key=place):
        if isinstance(view, QLabel):
            name = view.accessibleName() or view.toolTip().split("\n")[0] or f"Picture {len(figures) + 1}"
            figures.append(Figure(name, view, pixmap=view.pixmap()))
            continue
        item = _scene_item(view)
        if item is not None:
            figures.append(Figure(_name_of(view, item, len(figures) + 1), view, item))
    return figures


def export_figure(figure: Figure, path: str | Path, *, scale: float = 2.0) -> Path:
    """Write ``figure`` to ``path``: SVG by pyqtgraph's SVG exporter, PNG at ``scale`` × its size on screen."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise ValueError(f"{path.name}: export as .png or .svg (not .{kind or '?'})")
    if kind == "png" and not (1.0 <= scale <= MAX_SCALE):
        raise ValueError(f"the scale must be between 1 and {MAX_SCALE:g}, not {scale:g}")
    if not path.parent.is_dir():
        raise ValueError(f"{path.name}: could not be written (the folder {path.parent} does not exist).")
    if figure.item is None:
        _export_picture(figure.pixmap, path, kind, scale)
    else:
        if kind == "svg":
            exporter = pg.exporters.SVGExporter(figure.item)
        else:
            exporter = pg.exporters.ImageExporter(figure.item)
            exporter.parameters()["width"] = max(int(round(figure.width * scale)), 1)  # the height follows
        try:
            exporter.export(str(path))
        except OSError as exc:
            raise ValueError(f"{path.name}: could not be written ({exc.strerror or exc}).") from exc
    if not path.is_file() or path.stat().st_size == 0:
        raise ValueError(f"{path.name}: could not be written (check the folder and the file name).")
    return path


def _export_picture(pixmap: QPixmap, path: Path, kind: str, scale: float) -> None:
    """A picture: PNG scaled up smoothly, or an SVG (Qt's generator) holding it as pixels."""
    if kind == "png":
        size = pixmap.size() * scale
        pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation).save(str(path), "PNG")
        return
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(pixmap.size())
    generator.setViewBox(pixmap.rect())
    generator.setTitle(path.stem)
    painter = QPainter(generator)
    painter.drawPixmap(0, 0, pixmap)
    painter.end()

