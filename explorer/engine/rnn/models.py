"""Trained recurrent models and users' weight files, on top of :mod:`explorer.engine.rnn`.

- Bundled models (trained by ``scripts/train_rnn.py`` on generated data, see
  :mod:`explorer.engine.rnn.tasks`): a cell ``rnn.*`` plus a linear read-out
  ``head.*`` in one safetensors file whose metadata holds the config and the
  accuracy measured on fresh data.
- A user's ``torch.nn.RNN/LSTM/GRU`` state dict, read only through
  :func:`explorer.engine.infra.checkpoints.load_state_dict` (no code runs).
- :func:`memory_sensitivities`: the long-range comparison the panel plots —
  ‖∂h_T/∂x_t‖ for the bundled RNN, LSTM and GRU on one memory-task sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explorer.engine.infra.progress import Reporter
from explorer.engine.rnn.cells import RecurrentCell, from_state_dict, guess_kind, layer_prefix, shape_text
from explorer.engine.rnn.sensitivity import sensitivity
from explorer.engine.rnn.update import KIND_TITLES, KINDS, TENSOR_NAMES, RNNError, StateDictError

BUNDLED: dict[str, str] = {
    "rnn_memory_rnn": "Memory task · vanilla RNN",
    "rnn_memory_lstm": "Memory task · LSTM",
    "rnn_memory_gru": "Memory task · GRU",
    "rnn_shapes_gru": "Shapes read row by row · GRU",
}
MEMORY_MODELS = ("rnn_memory_rnn", "rnn_memory_lstm", "rnn_memory_gru")


@dataclass
class TrainedModel:
    """A cell with its linear read-out (class scores from every h_t) and the saved config."""

    name: str
    title: str
    cell: RecurrentCell
    head_weight: np.ndarray  # (K, H)
    head_bias: np.ndarray  # (K,)
    classes: list[str]
    config: dict[str, Any]

    def probabilities(self, hidden: np.ndarray) -> np.ndarray:
        """Softmax of the read-out at every step: hidden (T, H) → (T, K)."""
        logits = hidden @ self.head_weight.T + self.head_bias  # (T, K)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    @property
    def task(self) -> str:
        return str(self.config.get("task", ""))

    @property
    def task_input(self) -> str | None:
        """The only input this model knows (an :class:`InputSequence` ``source``: "memory", "shape"), or None.

        Its answers mean something only there: on any other input, a photo
        above all, they are confident numbers about nothing.
        """
        if self.task.startswith("rnn_memory"):
            return "memory"
        if self.task.startswith("rnn_shapes"):
            return "shape"
        return None

    @property
    def task_title(self) -> str:
        return {"memory": "generated memory-task sequences", "shape": "generated shapes"}.get(
            self.task_input or "", "its own training data")


def bundled_path(name: str) -> Path:
    from explorer.assets import resource_path

    if name not in BUNDLED:
        raise RNNError(f"no bundled recurrent model called {name!r}; choose one of {', '.join(BUNDLED)}.")
    return resource_path("models", f"{name}.safetensors")


def available_bundled() -> list[str]:
    return [name for name in BUNDLED if bundled_path(name).is_file()]


def load_bundled(name: str) -> TrainedModel:
    """A bundled model by name (see :data:`BUNDLED`)."""
    path = bundled_path(name)
    if not path.is_file():
        raise RNNError(f"the bundled model {name} is missing ({path.name}); retrain it with scripts/train_rnn.py.")
    return load_trained(path, title=BUNDLED[name], name=name)


def load_trained(path: str | Path, *, title: str | None = None, name: str | None = None) -> TrainedModel:
    """A model file written by scripts/train_rnn.py (cell ``rnn.*`` + read-out ``head.*`` + config)."""
    from explorer.engine.infra.checkpoints import load_model_file
    from explorer.engine.rnn.sequences import MEMORY_TARGETS, SHAPE_CLASSES

    path = Path(path)
    tensors, config = load_model_file(path)
    model_config = config.get("model") or {}
    kind = model_config.get("kind") or guess_kind(tensors)
    if kind not in KINDS:
        raise StateDictError(f"{path.name}: the cell type is not recorded and cannot be told from the shapes.")
    cell = from_state_dict(kind, {k: v for k, v in tensors.items() if not k.startswith("head.")})
    if "head.weight" not in tensors:
        raise StateDictError(f"{path.name}: no read-out (head.weight) in the file.")
    head_w = tensors["head.weight"].double().numpy()
    head_b = tensors["head.bias"].double().numpy() if "head.bias" in tensors else np.zeros(head_w.shape[0])
    if head_w.shape[1] != cell.hidden_size:
        raise StateDictError(f"{path.name}: head.weight is {shape_text(head_w)}, expected K × {cell.hidden_size}.")
    task = str(config.get("task", ""))
    if task.startswith("rnn_memory"):
        classes = [f"symbol {k + 1}" for k in range(MEMORY_TARGETS)]
    elif task.startswith("rnn_shapes"):
        classes = list(SHAPE_CLASSES)
    else:
        classes = [f"class {k + 1}" for k in range(head_w.shape[0])]
    return TrainedModel(name or path.stem, title or path.stem, cell, head_w, head_b, classes[: head_w.shape[0]], config)


def load_cell_file(path: str | Path, kind: str | None = None) -> tuple[RecurrentCell, str]:
    """A user's torch.nn.RNN/LSTM/GRU state dict file → (cell, note on what was read).

    Read only through :func:`explorer.engine.infra.checkpoints.load_state_dict` (no
    code runs). ``kind=None`` tells the type from the shapes (a vanilla RNN
    is assumed to use tanh). Layers above 0 and reverse directions are ignored,
    and the note says so.
    """
    from explorer.engine.infra.checkpoints import load_state_dict

    path = weights_file(Path(path))
    tensors = load_state_dict(path)
    guessed = guess_kind(tensors)
    chosen = kind or guessed
    if chosen is None:
        layer_prefix(tensors)  # raises the "no recurrent layer" message when that is the problem
        raise StateDictError(f"{path.name}: the tensor shapes fit none of RNN (1 block), GRU (3) or LSTM (4).")
    try:
        cell = from_state_dict(chosen, tensors)
    except StateDictError as exc:
        raise StateDictError(f"{path.name}: {exc}") from exc
    ignored = sorted(k for k in tensors if any(k.endswith(n.replace("l0", s)) for n in TENSOR_NAMES for s in ("l1", "l2", "l3", "l0_reverse")))
    note = f"{path.name}: {KIND_TITLES[chosen]}, input {cell.input_size}, hidden {cell.hidden_size}{'' if cell.has_bias else ', no bias'}"
    if ignored:
        note += f"; showing layer 0 only ({len(ignored)} tensors of other layers/directions ignored)"
    return cell, note


WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


def weights_file(path: Path) -> Path:
    """``path`` itself, or for a folder the one weight file inside it (say what is there otherwise)."""
    if not path.is_dir():
        return path
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES)
    if len(found) == 1:
        return found[0]
    if not found:
        raise StateDictError(
            f"{path.name} is a folder with no weight file in it ({', '.join(WEIGHT_SUFFIXES)}): "
            "choose the state dict file itself (torch.save(module.state_dict()) or safetensors)."
        )
    names = ", ".join(p.name for p in found[:6]) + (" …" if len(found) > 6 else "")
    raise StateDictError(f"{path.name} is a folder with {len(found)} weight files ({names}): choose one of them.")


def memory_sensitivities(
    models: dict[str, TrainedModel],
    distractors: int,
    seed: int,
    current: tuple[RecurrentCell, np.ndarray] | tuple[RecurrentCell, np.ndarray, Any] | None = None,
    *,
    reporter: Reporter | None = None,
) -> dict[str, np.ndarray]:
    """‖∂h_T/∂x_t‖ (T,) for each model on ONE memory-task sequence, and for ``current`` = (cell, x[, h0]) on its own input
    (``h0`` as :meth:`RecurrentCell.initial_state` takes it: a real model's start state).

    Keys are the model names, plus ``"current"``. Progress is reported per
    model and per chunk of hidden units; a cancel stops at the next report.
    """
    from explorer.engine.rnn.sequences import memory_sequence

    sequence = memory_sequence(distractors, seed)
    jobs = [(key, model.cell, sequence.values, None) for key, model in models.items()]
    if current is not None:
        jobs.append(("current", current[0], current[1], current[2] if len(current) > 2 else None))
    out = {}
    for index, (key, cell, values, h0) in enumerate(jobs):
        part = None
        if reporter is not None:
            part = Reporter(lambda fraction, text, index=index, key=key: reporter.report((index + fraction) / len(jobs), f"{key}: {text}"))
        out[key] = sensitivity(cell, values, h0, reporter=part)
    return out
