"""Recurrence step by step: h_t = f(W·x_t + U·h_{t-1} + b), the LSTM and the GRU.

- :mod:`.update`: the update rule, written once for NumPy and torch; kinds and gates.
- :mod:`.cells`: :class:`RecurrentCell` in ``torch.nn``'s tensor names, :func:`from_state_dict`.
- :mod:`.traces`: every term at one step (:class:`StepTrace`) or over a sequence (:class:`RNNTrace`).
- :mod:`.sensitivity`: ‖∂h_T/∂x_t‖ by autograd, how far back the last state feels its inputs.
- :mod:`.sequences`: inputs (an image read row by row, signals, text); :mod:`.models`: trained
  and users' models; :mod:`.tasks`: the generated tasks the bundled models learn.
"""

from explorer.engine.rnn.cells import (
    RecurrentCell,
    from_state_dict,
    guess_kind,
    layer_prefix,
    random_cell,
    shape_text,
    torch_module,
)
from explorer.engine.rnn.sensitivity import fading_steps, sensitivity
from explorer.engine.rnn.traces import RNNTrace, StepTrace
from explorer.engine.rnn.update import (
    GATE_MEANINGS,
    GATES,
    KIND_TITLES,
    KINDS,
    MAX_HIDDEN,
    RNNError,
    StateDictError,
    describe_update,
    n_blocks,
)

__all__ = [
    "GATES", "GATE_MEANINGS", "KINDS", "KIND_TITLES", "MAX_HIDDEN", "RNNError", "RNNTrace", "RecurrentCell",
    "StateDictError", "StepTrace", "describe_update", "fading_steps", "from_state_dict", "guess_kind",
    "layer_prefix", "n_blocks", "random_cell", "sensitivity", "shape_text", "torch_module",
]
