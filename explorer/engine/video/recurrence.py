"""The video model's GRU (or LSTM) over a clip's frame features, for the RNN panel.

The recurrent video model reads one CNN feature vector per frame; the state
after frame t is what it believes having seen frames 1…t. :func:`clip_recurrence`
packs that recurrence as a :class:`~explorer.engine.rnn.real.RealRecurrence`: the
``nn.GRU`` / ``nn.LSTM`` weights, x_t = the frame's CNN features exactly as the
model received them, h_0 = 0 (the model starts empty), and the hidden states
of the model's own ``nn.GRU`` / ``nn.LSTM`` on those features, run in float64
(the float32 analysis differs from any re-computation by up to ~1e-6), which
the RNN panel's re-run must equal.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from explorer.engine.rnn.cells import from_state_dict
from explorer.engine.rnn.real import InputPart, RealRecurrence
from explorer.engine.video.analysis import VideoTrace
from explorer.engine.video.models import LoadedModel, VideoClassifier, VideoModelError


def clip_recurrence(
    loaded: LoadedModel | VideoClassifier,
    trace: VideoTrace,
    *,
    clip_name: str = "",
    step: int = 0,
    back: Any = None,
) -> RealRecurrence:
    """The recurrence of ``loaded`` over the clip that ``trace`` analysed; ``step`` is the frame shown (0-based).

    Raises:
        VideoModelError: the model is the temporal transformer (no recurrence), or the trace is of another model.
    """
    model = loaded.model if isinstance(loaded, LoadedModel) else loaded
    if not model.is_recurrent or trace.arch != model.arch:
        raise VideoModelError(
            "the temporal transformer has no recurrence: it reads all frames at once through causal attention, "
            "with no hidden state carried from frame to frame. Choose the CNN + GRU model to step it in the RNN panel."
        )
    rnn = model.temporal.rnn
    cell = from_state_dict(model.arch, {name: value.detach() for name, value in rnn.state_dict().items()})
    x = trace.features.detach().double().numpy()  # (T, F)
    with torch.no_grad():
        states, _ = copy.deepcopy(rnn).double()(trace.features.detach().double()[None])  # (1, T, H)
    hidden = states[0].numpy()  # (T, H)
    if x.shape[1] != cell.input_size or hidden.shape[1] != cell.hidden_size:
        raise VideoModelError(f"the trace ({x.shape[1]} features, {hidden.shape[1]} states) is not of this model's recurrence")
    T = x.shape[0]
    name = getattr(loaded, "name", "") or model.arch
    title = {"gru": "CNN + GRU", "lstm": "CNN + LSTM"}[model.arch]
    return RealRecurrence(
        cell=cell, x=x, step_labels=tuple(f"frame {t + 1}" for t in range(T)), h0=None, c0=None,
        parts=(InputPart("frame features", 0, x.shape[1], "the per-frame CNN's output for this frame"),),
        hidden=hidden, model=f"{title} ({name})", input_name=clip_name, source="Video",
        start_note="h₀ = 0: the model starts empty before frame 1.", step_name="frame",
        step=min(max(step, 0), T - 1), back=back,
    )
