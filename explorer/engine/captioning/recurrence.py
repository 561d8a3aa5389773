"""A captioner's decoder LSTM stepping through the caption it produced, for the RNN panel.

:func:`decoder_recurrence` replays a caption word by word through the
captioner's own one-step interface and records, with a forward hook on its
``LSTMCell``, exactly what the cell received at every step — x_t, h_{t-1},
c_{t-1} — and what it returned. What x_t is differs by decoder (see
:mod:`explorer.engine.captioning.networks`):

- attention decoder, ``feed="context"``: [embedding of the previous word |
  the gated attention context ẑ = β·Σᵢ αᵢ aᵢ]; with ``query="current"`` the
  context is the previous word's glimpse (zeros at word 1), with
  ``"previous"`` the glimpse taken from h_{t-1} for this word;
- attention decoder, ``feed="where"`` (the bundled default): [embedding |
  where it looked, the α-weighted (x, y) of the previous glimpse] — β gates
  only the context that reaches the output, never the LSTM;
- classic CNN→RNN decoder: the embedding alone; the image is in h_0, c_0;
- the Show-Attend-Tell tutorial: [embedding | σ(f_beta(h_{t-1})) ⊙ Σᵢ αᵢ aᵢ],
  the glimpse for this word gated channel by channel.

The encoder runs as the captioner ran it (float32); the decoder is replayed
on a float64 twin of its own modules, so the states handed over are the
model's own arithmetic without float32 rounding (float32 alone differs from
any re-computation by up to ~1e-6 on the bundled decoders). The replay must
reproduce the caption (each word's probability, to 1e-4); otherwise the image
or model changed since, and it says so.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from PIL import Image

from explorer.engine.captioning.captioner import Captioner, CaptionModelError, CaptionTrace
from explorer.engine.captioning.networks import END, START, AttentionCaptioner, ClassicCaptioner
from explorer.engine.rnn.cells import from_state_dict
from explorer.engine.rnn.real import InputPart, RealRecurrence

#: How far a replayed word's probability may differ from the caption's before the replay is refused.
REPLAY_TOLERANCE = 1e-4


def _lstm_and_parts(stepper) -> tuple[torch.nn.LSTMCell, tuple[InputPart, ...], str]:
    """The decoder's LSTMCell, what the columns of its input are, and where its h0, c0 come from."""
    if isinstance(stepper, ClassicCaptioner):
        E = stepper.lstm.input_size
        return stepper.lstm, (InputPart("word embedding", 0, E, "the previous word, embedded"),), (
            "h₀, c₀ are made from the image's mean CNN feature: the only way the image enters this decoder.")
    if isinstance(stepper, AttentionCaptioner):
        c = stepper.config
        E, I = c.embed, stepper.lstm.input_size
        which = "the previous word's glimpse (zeros at word 1)" if c.query == "current" else "the glimpse for this word, queried from hₜ₋₁"
        if c.feed == "context":
            part = InputPart("attention context", E, I, f"ẑ = β·Σ α·a, {which}")
        elif c.feed == "peak":
            part = InputPart("where it looked (x, y)", E, I, f"grid position of the peak of {which}")
        else:
            part = InputPart("where it looked (x, y)", E, I, f"α-weighted grid position of {which}; β gates only the output's context")
        start = ("h₀, c₀ are made from the image's mean CNN feature." if c.init_from_image else
                 "h₀, c₀ are learned constants, the same for every image: the image enters only through xₜ.")
        return stepper.lstm, (InputPart("word embedding", 0, E, "the previous word, embedded"), part), start
    decode = getattr(stepper, "decode_step", None)
    if isinstance(decode, torch.nn.LSTMCell) and hasattr(stepper, "embedding"):  # the Show-Attend-Tell tutorial
        E, I = stepper.embedding.embedding_dim, decode.input_size
        return decode, (
            InputPart("word embedding", 0, E, "the previous word, embedded"),
            InputPart("attention context", E, I, "σ(f_beta(hₜ₋₁)) ⊙ Σ α·a: the glimpse for this word, gated per channel"),
        ), "h₀, c₀ are made from the image's mean CNN feature (init_h, init_c)."
    raise CaptionModelError(
        "this captioner has no recurrent decoder (a transformer decoder attends to all earlier words at once, "
        "with no hidden state carried from word to word): there is nothing to step in the RNN panel."
    )


def _double_twin(stepper: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of the decoder's modules; the image encoder (large, used only by ``start``) is shared, not copied."""
    encoder = next((getattr(stepper, name) for name in ("encoder", "resnet") if isinstance(getattr(stepper, name, None), torch.nn.Module)), None)
    twin = copy.deepcopy(stepper, {id(encoder): encoder} if encoder is not None else {})
    for child in twin.children():
        if child is not encoder:
            child.double()
    for parameter in twin.parameters(recurse=False):  # e.g. the learned h0, c0
        parameter.data = parameter.data.double()
    return twin


def _cell_of(lstm: torch.nn.LSTMCell):
    tensors = {"weight_ih_l0": lstm.weight_ih, "weight_hh_l0": lstm.weight_hh}
    if lstm.bias:
        tensors.update(bias_ih_l0=lstm.bias_ih, bias_hh_l0=lstm.bias_hh)
    return from_state_dict("lstm", {name: value.detach() for name, value in tensors.items()})


def decoder_recurrence(
    captioner: Captioner,
    image: Image.Image,
    trace: CaptionTrace,
    *,
    step: int = 0,
    image_name: str = "",
    back: Any = None,
) -> RealRecurrence:
    """The decoder LSTM of ``captioner`` through the caption ``trace`` it made of ``image``.

    One step per word, plus the step that chose the end when the caption
    ended; ``step`` is the word the Captioning panel was on (0-based).

    Raises:
        CaptionModelError: the decoder is not recurrent, or the replay does not reproduce the caption.
    """
    stepper = captioner.stepper
    _lstm_and_parts(stepper)  # refuse a decoder that is not recurrent before copying anything
    twin = _double_twin(stepper)
    lstm, parts, start_note = _lstm_and_parts(twin)
    start_token, end_token = int(getattr(stepper, "start_token", START)), int(getattr(stepper, "end_token", END))
    tokens = list(trace.tokens) + ([end_token] if trace.ended else [])
    if not tokens:
        raise CaptionModelError("the caption is empty: there is no step to show.")
    records: list[tuple[torch.Tensor, ...]] = []

    def record(_module, inputs, outputs) -> None:
        x, (h, c) = inputs[0], inputs[1]
        records.append((x[0].clone(), h[0].clone(), c[0].clone(), outputs[0][0].clone(), outputs[1][0].clone()))

    handle = lstm.register_forward_hook(record)
    probs = []
    try:
        with torch.no_grad():
            state = stepper.start(captioner.pixels(image))  # the encoder as the captioner ran it
            state = {key: value.double() if value.is_floating_point() else value for key, value in state.items()}
            prev = start_token
            for token in tokens:
                log_probs, state, _alpha, _beta = twin.step(torch.tensor([prev]), state)  # (1, V)
                probs.append(float(log_probs[0, token].exp()))
                prev = token
    finally:
        handle.remove()
    if len(records) != len(tokens):
        raise CaptionModelError(f"the decoder ran its LSTM {len(records)} times for {len(tokens)} words: not one step per word.")
    n = len(trace.words)
    drift = float(np.max(np.abs(np.array(probs[:n]) - trace.probs))) if n else 0.0
    if drift > REPLAY_TOLERANCE:
        raise CaptionModelError(
            f"replaying the caption through the decoder gives other word probabilities (off by {drift:.2g}): "
            "the image or the model changed since it was captioned. Caption it again, then open the decoder."
        )
    x, h_in, c_in, h_out, c_out = (torch.stack(column).double().numpy() for column in zip(*records))  # each (T, ·)
    words = [captioner.word(t) if t != end_token else "<end>" for t in tokens]
    read = ["<start>", *words[:-1]]
    labels = tuple(f"word {t + 1} '{w}' (reads '{r}')" if w != "<end>" else f"<end> (reads '{r}')"
                   for t, (w, r) in enumerate(zip(words, read)))
    return RealRecurrence(
        cell=_cell_of(lstm), x=x, step_labels=labels, h0=h_in[0], c0=c_in[0], parts=parts,
        hidden=h_out, cells=c_out, model=captioner.title or captioner.name, input_name=image_name,
        source="Captioning", start_note=start_note, step_name="word", step=min(max(step, 0), len(tokens) - 1),
        back=back,
    )
