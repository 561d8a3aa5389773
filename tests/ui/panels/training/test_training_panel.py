"""Training panel: Start shows progress and curves; Cancel stops; bad settings are refused."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

from explorer.engine.training.loop import TrainConfig, TrainTask
from explorer.engine.training.registry import TaskEntry
from explorer.ui import errors


class SlowBlobs(TrainTask):
    """Two blobs; a few ms per step so a run lasts long enough to watch and cancel."""

    name = "blobs"
    title = "Blobs"

    def build_model(self):
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

    def sample(self, batch_size, generator):
        time.sleep(0.003)
        y = torch.randint(0, 2, (batch_size,), generator=generator)
        return (y.float() * 2 - 1)[:, None] + torch.randn(batch_size, 4, generator=generator), y

    def loss(self, model, batch):
        x, y = batch
        logits = model(x)
        return nn.functional.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean().item()

    def snapshot_view(self, model):
        from explorer.engine.training.loop import SnapshotView

        weights = model[0].weight.detach().numpy().copy()
        return SnapshotView("First-layer weights", f"max {abs(weights).max():.2f}", weights)


@pytest.fixture
def panel(qtbot, context, monkeypatch, tmp_path):
    from explorer.ui.panels.training import panel as training

    entry = TaskEntry("blobs", SlowBlobs, TrainConfig(steps=200, batch_size=32, lr=0.01, report_every=10), "rnn")
    monkeypatch.setattr(training, "available_tasks", lambda: {"blobs": entry})
    monkeypatch.setattr(training, "trained_models_dir", lambda: tmp_path / "trained")
    widget = training.TrainingPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    return widget


def test_start_shows_progress_curves_and_snapshots(panel, qtbot):
    trained = []
    panel.context.modelTrained.connect(lambda *args: trained.append(args))
    panel.snapshot_every.setValue(50)
    panel.start_training()
    assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=60_000)
    assert panel.result.status == "finished" and panel.result.steps_done == 200
    assert panel.progress_bar.value() == 1000
    xs, ys = panel.loss_curve.getData()
    assert len(xs) == 20 and ys[-1] < ys[0]
    assert panel.snapshots.count == 4
    assert "First-layer weights" in panel.snapshot_title.text()
    assert "step 200" in panel.status.text() or "Finished" in panel.status.text()
    assert trained and trained[0][0] == "blobs" and trained[0][2].endswith(".safetensors")
    assert panel.show_button.isEnabled()


def test_cancel_stops_the_run(panel, qtbot):
    panel.steps.setValue(100_000)
    panel.start_training()
    qtbot.waitUntil(lambda: len(panel.state.history) >= 2, timeout=30_000)
    panel.cancel_training()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=10_000)
    assert panel.result.status == "cancelled"
    assert panel.result.steps_done < 100_000
    assert panel.start_button.isEnabled()


def test_pause_and_resume(panel, qtbot):
    panel.steps.setValue(100_000)
    panel.start_training()
    qtbot.waitUntil(lambda: len(panel.state.history) >= 1, timeout=30_000)
    panel.toggle_pause()
    qtbot.wait(300)
    count = len(panel.state.history)
    qtbot.wait(300)
    assert len(panel.state.history) <= count + 1
    panel.toggle_pause()
    qtbot.waitUntil(lambda: len(panel.state.history) > count + 1, timeout=30_000)
    panel.cancel_training()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=10_000)


@pytest.mark.parametrize(
    "text, words",
    [("abc", "is not a number"), ("", "is not a number"), ("nan", "greater than 0 and at most 10"),
     ("-1", "greater than 0 and at most 10"), ("0", "greater than 0 and at most 10"), ("1e9", "at most 10")],
)
def test_bad_learning_rate_refused(panel, text, words):
    panel.lr.setText(text)
    panel.start_training()
    assert panel.worker is None
    assert errors.MESSAGES, "no message shown"
    assert "learning rate" in errors.MESSAGES[-1].text.lower() and words in errors.MESSAGES[-1].text


def test_registry_tasks_listed(qtbot, context):
    """With the real registry, every registered task appears in the combo box."""
    from explorer.engine.training.registry import available_tasks
    from explorer.ui.panels.training.panel import TrainingPanel

    widget = TrainingPanel(context)
    qtbot.addWidget(widget)
    assert widget.task_combo.count() == len(available_tasks())


def test_the_chosen_task_and_its_settings_come_back(qtbot, context):
    """The task and the settings last used for it are restored on the next launch."""
    from explorer.ui.panels.training.panel import TrainingPanel

    first = TrainingPanel(context)
    qtbot.addWidget(first)
    first.task_combo.setCurrentIndex(first.task_combo.findData("video_gru"))
    first.steps.setValue(2)
    first.seed.setValue(11)
    again = TrainingPanel(context)
    qtbot.addWidget(again)
    assert again.task_combo.currentData() == "video_gru"
    assert (again.steps.value(), again.seed.value()) == (2, 11)
    assert again.lr.text() == first.lr.text() and "Video panel" in again.task_info.text()


@pytest.mark.parametrize(
    "kind, values, ends",
    [
        # probabilities: 0 and 1 are the two ends of the sequential map, whatever the range shown
        ("sequential", [[0.0, 1.0]], (0.0, 1.0)),
        ("sequential", [[0.0, 0.5]], (0.0, 0.5)),
        # signed values: the diverging map centred on zero, reaching the largest magnitude
        ("diverging", [[-2.0, 2.0]], (0.0, 1.0)),
        ("diverging", [[0.0, 3.0]], (0.5, 1.0)),
    ],
)
def test_snapshot_thumbnails_use_the_colour_map_of_their_kind(qtbot, kind, values, ends):
    from explorer.ui import theme
    from explorer.ui.panels.training.reports import Snapshot
    from explorer.ui.panels.training.views import SnapshotStrip

    strip = SnapshotStrip()
    qtbot.addWidget(strip)
    strip.show_snapshots((Snapshot(1, "t", "", np.array(values), kind),))
    image = strip.grid.itemAtPosition(0, 0).widget().pixmap().toImage()
    cmap = theme.sequential_cmap() if kind == "sequential" else theme.diverging_cmap()
    lut = cmap.getLookupTable(nPts=256)[:, :3]
    for x, position in zip((0, image.width() - 1), ends):
        colour = image.pixelColor(x, image.height() // 2)
        expected = lut[int(np.clip(position * 255, 0, 255))]
        assert (colour.red(), colour.green(), colour.blue()) == tuple(int(c) for c in expected), (kind, x)


def test_the_curves_span_the_run_from_its_first_report(panel, qtbot):
    """Not one point over steps 49.6 … 50.4 (an empty-looking plot) while the run starts."""
    panel.steps.setValue(100_000)
    panel.start_training()
    qtbot.waitUntil(lambda: len(panel.state.history) >= 1, timeout=30_000)
    low, high = panel.loss_plot.viewRange()[0]
    assert low <= 0 and high >= 100_000 * 0.99, (low, high)
    qtbot.waitUntil(lambda: len(panel.state.history) >= 2, timeout=30_000)
    panel.cancel_training()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=10_000)
    qtbot.wait(100)  # pyqtgraph fits the range when it next paints
    xs, _ = panel.loss_curve.getData()
    low, high = panel.loss_plot.viewRange()[0]
    span = xs.max() - xs.min()
    assert xs.max() < 99_000 and low <= xs.min() and xs.max() <= high <= xs.max() + 0.05 * span + 1  # fitted to what was drawn
