"""Captioning: an image in, a sequence of words out, and where the model looked for each word.

Entry points::

    captioner = load("attention")          # bundled name, a .safetensors file, a Hugging Face folder or id
    trace = captioner.caption(image, beam_size=3)
    trace.words, trace.alphas, trace.betas, trace.score, trace.probs, trace.alternatives

- :mod:`.captioner`: what every captioner is (:class:`Captioner`, :class:`CaptionTrace`).
- :mod:`.loading`: :func:`load`, the bundled models (:data:`BUNDLED`), our own file format.
- :mod:`.networks`: the CNN encoder, the Show-Attend-Tell decoder and the classic CNN→RNN decoder.
- :mod:`.search`: greedy and beam search over any decoder with the one-step interface.
- :mod:`.huggingface`: VisionEncoderDecoder folders; :mod:`.show_attend_tell`: converted tutorial checkpoints.
- :mod:`.metrics`: exact match, BLEU-4 and pointing; :mod:`.tasks`: the bundled models' training task.
"""

from explorer.engine.captioning.captioner import Alternative, Captioner, CaptionModelError, CaptionTrace
from explorer.engine.captioning.loading import BUNDLED, SceneCaptioner, bundled_path, load, load_file

__all__ = [
    "BUNDLED", "Alternative", "CaptionModelError", "CaptionTrace", "Captioner", "SceneCaptioner", "bundled_path",
    "load", "load_file",
]
