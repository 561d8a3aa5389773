"""Every plot and map of every panel exports as SVG (vector) and as PNG at a chosen scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from explorer.ui.export import export_figure, figures_in
from explorer.ui.export_dialog import file_stem
from explorer.ui.panels import PANELS


@pytest.mark.parametrize("key", [spec.key for spec in PANELS])
def test_every_figure_of_a_panel_exports_as_svg_and_png(window, qtbot, wait_for_tasks, tmp_path, key):
    window.set_panel(key)
    wait_for_tasks(60_000)
    qtbot.wait(50)  # a panel built just now is shown by a queued event
    panel = window.current_page().panel
    figures = figures_in(panel)
    assert figures, f"the {key} panel shows no exportable plot"
    for index, figure in enumerate(figures):
        svg = export_figure(figure, tmp_path / f"{index}.svg")
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and len(list(root.iter())) > 3, figure.name
    first = figures[0]
    png = export_figure(first, tmp_path / "first.png", scale=2.0)
    width = Image.open(png).width
    assert abs(width - 2 * first.width) <= 2, (width, first.width)


def test_figures_have_names_a_user_recognises(window, wait_for_tasks):
    window.set_panel("rnn")
    wait_for_tasks(60_000)
    names = [f.name for f in figures_in(window.current_page().panel)]
    assert any("Hidden state" in n for n in names), names
    assert file_stem("③ Weights · q1") == "weights-q1"


def test_bad_export_paths_are_refused_with_a_reason(window, wait_for_tasks, tmp_path):
    window.set_panel("attention")
    wait_for_tasks(60_000)
    figure = figures_in(window.current_page().panel)[0]
    with pytest.raises(ValueError, match="export as .png or .svg"):
        export_figure(figure, tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="scale must be between 1 and 4"):
        export_figure(figure, tmp_path / "x.png", scale=9)
    with pytest.raises(ValueError, match="could not be written"):
        export_figure(figure, tmp_path / "missing-folder" / "x.svg")


def test_the_dialog_saves_the_chosen_figure(window, wait_for_tasks, tmp_path):
    window.set_panel("vit")
    wait_for_tasks(60_000)
    dialog = window.export_figure_dialog()
    assert dialog.figures and dialog.figure is not None
    dialog.format_combo.setCurrentIndex(1)  # SVG
    assert not dialog.scale_spin.isEnabled()
    saved = dialog.save(str(tmp_path / "fig"))
    assert saved.endswith(".svg")
    dialog.close()
