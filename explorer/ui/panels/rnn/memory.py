"""The RNN panel's long-range memory comparison, as state: curves, progress, status. No Qt.

‖∂h_T/∂x_t‖ of the bundled vanilla RNN, LSTM and GRU on one memory-task
sequence (and of the cell shown, on its own input), computed by
:func:`explorer.engine.rnn.models.memory_sensitivities` through the runner; and
the accuracy against the number of distractors that the training script
measured and stored with each bundled model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psygnal import evented

from explorer.engine import rnn as engine
from explorer.engine.rnn import models as bundled
from explorer.ui.panels.rnn.sources import load_bundled_models
from explorer.ui.panels.state import identity_fields


def legend(key: str) -> str:
    """'LSTM' for 'Memory task · LSTM': the curves differ only by the cell."""
    return bundled.BUNDLED[key].split("·")[-1].strip()


@evented(equality_operators=identity_fields("results", "accuracy"))
@dataclass
class MemoryComparison:
    """What the long-range page shows; a new request replaces the one that runs."""

    stale: bool = True  # the curves are of an older trace (or there are none)
    running: bool = False
    progress: float = 0.0  # of the running computation, 0…1
    status: str = " "  # a line under the buttons: progress, "cancelled", or how fast each curve fades
    #: key → (legend, ‖∂h_T/∂x_t‖ (T,)); keys are the bundled names, plus "current".
    results: dict[str, tuple[str, Any]] | None = None
    #: key → (legend, {distractors: accuracy}) from the bundled files' metadata.
    accuracy: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._job: Any = None
        self._request = 0  # only the latest request's callbacks count

    def compute(self, runner, cache: dict, distractors: int, seed: int, current=None, fail=None):
        """``memory_sensitivities`` of the bundled memory models (and ``current`` = (cell, x)) through ``runner``.

        Models not in ``cache`` (name → TrainedModel) are loaded into it first;
        ``fail(title, exc)`` is told when that fails.
        """
        self.cancel()  # a newer request replaces one that runs
        self._request += 1
        request = self._request

        def latest(callback):
            return lambda *args: callback(*args) if request == self._request else None

        missing = [key for key in bundled.MEMORY_MODELS if key not in cache and bundled.bundled_path(key).is_file()]
        if missing:  # load them first (small files), then come back here

            def loaded(models: dict) -> None:
                cache.update(models)
                self.fill_accuracy(cache)
                self.compute(runner, cache, distractors, seed, current, fail)

            self.status = "loading the bundled memory models…"
            runner(load_bundled_models, missing, on_result=latest(loaded), description="loading the memory models",
                   on_error=None if fail is None else lambda exc: fail("Could not load the memory models", exc))
            return None
        models = {key: cache[key] for key in bundled.MEMORY_MODELS if key in cache}
        title = None if current is None else current[0].title
        self.running, self.progress = True, 0.0
        self._job = runner(
            bundled.memory_sensitivities, models, distractors, seed, current,
            on_result=latest(lambda results: self._show(results, distractors, title)),
            on_progress=latest(self._progressed),
            on_cancelled=latest(lambda: setattr(self, "status", "cancelled")),
            on_finished=latest(lambda: setattr(self, "running", False)),
            description="computing ∂h_T/∂x_t",
        )
        self.stale = False
        return self._job

    def cancel(self) -> None:
        """Stop the computation that runs (at its next progress report); the curves are then stale."""
        if self._job is not None and not self._job.done:
            self._job.cancel()
        self.stale = True

    def _progressed(self, fraction: float, text: str) -> None:
        self.progress, self.status = fraction, text

    def _show(self, results: dict, distractors: int, title: str | None) -> None:
        shown = {key: (f"{legend(key)} (memory task, {distractors} distractors)", values)
                 for key, values in results.items() if key != "current"}
        if "current" in results:
            shown["current"] = (f"current cell on current input ({title})", results["current"])
        fades = []
        for text, values in shown.values():
            steps = engine.fading_steps(values)
            name = text.split(" (")[0]
            fades.append(f"{name}: below 1/100 after {steps} steps back" if steps is not None else f"{name}: never below 1/100")
        self.results = shown
        self.status = "; ".join(fades)

    def fill_accuracy(self, models: dict) -> None:
        """Each bundled memory model's accuracy table, from the loaded model or its file's metadata."""
        from explorer.engine.infra.checkpoints import load_config

        tables = {}
        for key in bundled.MEMORY_MODELS:
            path = bundled.bundled_path(key)
            if not path.is_file():
                continue
            config = models[key].config if key in models else load_config(path)
            table = config.get("accuracy_vs_distractors")
            if table:
                tables[key] = (legend(key), table)
        self.accuracy = tables
