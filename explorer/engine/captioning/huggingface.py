"""Hugging Face captioners from a local folder: VisionEncoderDecoder (e.g. ViT + GPT-2) and BLIP.

The folder is what ``save_pretrained`` writes: ``config.json`` and the weights
(safetensors preferred; a ``pytorch_model.bin`` is read by transformers with
``weights_only``), ``generation_config.json`` when the model has one, plus the
tokenizer and image-processor files. ``transformers`` is a dependency of
seqvis-explorer.

Captions follow the model's generation config as ``generate()`` applies it
(:func:`search_rule`): the beam (``num_beams``), ``length_penalty``,
``early_stopping``, ``no_repeat_ngram_size``, ``min_length`` /
``min_new_tokens`` and ``max_length`` / ``max_new_tokens``. Settings the app
does not apply (sampling, repetition penalty, ...) are named in the trace's
notes. BLIP's own ``generate()`` hands only the text decoder's defaults to the
search, whatever the folder's generation config says; the app follows the
folder's config (the one ``model.generation_config`` holds) for BLIP too.

A model id (``owner/name``) is downloaded by :mod:`explorer.engine.infra.hub` when
the user is online, then opened from the cache folder like any other.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from explorer.engine.captioning.captioner import Captioner, CaptionModelError
from explorer.engine.captioning.hf_steppers import BlipStepper, EncoderDecoderStepper, HFStepper
from explorer.engine.captioning.search import MAX_BEAM, SearchRule

#: Generation settings the search does not apply, with the value that means "off".
_NOT_APPLIED = {
    "do_sample": False, "repetition_penalty": 1.0, "bad_words_ids": None, "forced_bos_token_id": None,
    "forced_eos_token_id": None, "exponential_decay_length_penalty": None, "suppress_tokens": None,
    "begin_suppress_tokens": None, "sequence_bias": None, "num_beam_groups": 1, "diversity_penalty": 0.0,
    "renormalize_logits": False, "encoder_repetition_penalty": 1.0,
}
#: The captioning architectures this module opens, by ``model_type``.
FAMILIES = {"vision-encoder-decoder": "VisionEncoderDecoder", "blip": "BLIP"}


def _transformers():
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - installed here
        raise CaptionModelError(
            "Hugging Face models need the 'transformers' package, which seqvis-explorer depends on: reinstall it "
            "(pip install seqvis-explorer) or pip install transformers."
        ) from exc
    return transformers


def search_rule(generation_config, prompt: int = 1) -> tuple[SearchRule, int, int, tuple[str, ...]]:
    """(rule, max_words, beams, notes) from a ``GenerationConfig``, for a decoder prompt of ``prompt`` tokens.

    ``max_length`` counts the prompt (the start token); ``max_new_tokens``, when
    set, wins over it, as in ``generate()``. ``min_length`` also counts the prompt.
    """
    gc = generation_config
    max_words = gc.max_new_tokens if gc.max_new_tokens is not None else (gc.max_length or 20) - prompt
    min_words = max((gc.min_length or 0) - prompt, gc.min_new_tokens or 0, 0)
    rule = SearchRule(
        length_penalty=float(gc.length_penalty if gc.length_penalty is not None else 1.0),
        early_stopping=gc.early_stopping if gc.early_stopping in (True, False, "never") else False,
        no_repeat_ngram_size=int(gc.no_repeat_ngram_size or 0),
        min_words=int(min_words),
    )
    notes = tuple(
        f"The model's generation config sets {name} = {getattr(gc, name)!r}, which the app does not apply: "
        "its captions may differ from generate()."
        for name, off in _NOT_APPLIED.items()
        if getattr(gc, name, off) not in (off, None)
    )
    return rule, max(int(max_words), 1), int(gc.num_beams or 1), notes


def _first(token) -> int | None:
    if isinstance(token, (list, tuple)):
        return int(token[0]) if token else None
    return None if token is None else int(token)


class HFCaptioner(Captioner):
    kind = "transformer"
    attention_note = "Decoder cross-attention over the encoder's patches (not trained to point)."

    def __init__(self, folder: Path, family: str, model, processor, tokenizer, layer: int | None = None,
                 head: int | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.family = family
        self.name = folder.name
        self.title = f"{folder.name} (Hugging Face {FAMILIES[family]})"
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = tokenizer
        if family == "blip":
            vision, text = model.config.vision_config, model.config.text_config
            start, end = text.bos_token_id, text.sep_token_id
            stepper_class = BlipStepper
        else:
            vision, text = model.config.encoder, model.config.decoder
            gc = model.generation_config
            start = _first(gc.decoder_start_token_id) if gc.decoder_start_token_id is not None else _first(gc.bos_token_id)
            if start is None:
                start = _first(model.config.decoder_start_token_id) or _first(text.bos_token_id)
            end = _first(gc.eos_token_id) if gc.eos_token_id is not None else _first(model.config.eos_token_id or text.eos_token_id)
            stepper_class = EncoderDecoderStepper
        if start is None or end is None:
            raise CaptionModelError(f"{folder.name}: the model's config names no start or end token for its captions.")
        g = _size(vision, "image_size", 224) // _size(vision, "patch_size", 16)
        self.grid = (g, g)
        self.layers = int(getattr(text, "n_layer", None) or getattr(text, "num_hidden_layers", 1))
        self.heads = int(getattr(text, "n_head", None) or getattr(text, "num_attention_heads", 1))
        self._stepper: HFStepper = stepper_class(model, start, end, g * g)
        self.follow_generation_config()
        self.set_attention(layer, head)

    def follow_generation_config(self) -> None:
        """Take the search rule, length limit and beam from ``model.generation_config`` (again, if it changed)."""
        gc = self.model.generation_config
        self.rule, self.max_words, beams, notes = search_rule(gc)
        self.default_beam = min(beams, MAX_BEAM)
        if beams > MAX_BEAM:
            notes += (f"The model asks for {beams} beams; the app searches with at most {MAX_BEAM}.",)
        if self.family != "blip" and isinstance(gc.eos_token_id, (list, tuple)) and len(gc.eos_token_id) > 1:
            notes += (f"The model has {len(gc.eos_token_id)} end tokens; the app ends captions at the first, "
                      f"{self._stepper.end_token}.",)
        self.search_notes = notes

    def set_attention(self, layer: int | None, head: int | None) -> None:
        """Which cross-attention to show: a layer and head, or None for the mean over them."""
        if layer is not None and not 0 <= layer < self.layers:
            raise ValueError(f"layer must be from 0 to {self.layers - 1} (got {layer})")
        if head is not None and not 0 <= head < self.heads:
            raise ValueError(f"head must be from 0 to {self.heads - 1} (got {head})")
        self._stepper.layer, self._stepper.head = layer, head

    @property
    def stepper(self):
        return self._stepper

    def pixels(self, image: Image.Image):
        image = image.convert("RGB") if image.mode != "RGB" else image
        return self.processor(images=image, return_tensors="pt")["pixel_values"]

    def word(self, token: int) -> str:
        if not 0 <= int(token) < len(self.tokenizer):
            return f"<unk:{int(token)}>"
        text = self.tokenizer.decode([int(token)]).strip()
        return text or self.tokenizer.convert_ids_to_tokens(int(token)) or f"<{int(token)}>"


def _size(config, name: str, default: int) -> int:
    value = getattr(config, name, default)
    return int(value if isinstance(value, int) else value[0])


def _family(folder: Path) -> str:
    """Which captioning family ``folder`` holds, or a :class:`CaptionModelError` that says what it holds instead."""
    if not (folder / "config.json").is_file():
        raise CaptionModelError(f"{folder.name}: not a Hugging Face model folder (no config.json in it).")
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CaptionModelError(f"{folder.name}: config.json is not readable JSON ({exc}).") from exc
    if not isinstance(config, dict):
        raise CaptionModelError(f"{folder.name}: config.json holds no model configuration.")
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    if model_type == "blip" and architectures and "BlipForConditionalGeneration" not in architectures:
        raise CaptionModelError(
            f"{folder.name}: holds a BLIP model built as {', '.join(map(str, architectures))} (question answering or "
            "image–text matching), not the captioning one (BlipForConditionalGeneration)."
        )
    if model_type not in FAMILIES:
        raise CaptionModelError(
            f"{folder.name}: holds a {model_type or 'unknown'!r} model, not a captioner this app opens "
            "(a VisionEncoderDecoder — an image encoder with a text decoder — or BLIP for captioning)."
        )
    _check_sizes(folder, config)
    return model_type


#: Sizes a model's parts are built from; transformers divides by some of them and fails with an
#: arithmetic error naming neither file nor field (hidden_size 0: "0.0 cannot be raised to a
#: negative power"), so they are checked first.
SIZE_FIELDS = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "image_size",
               "patch_size", "vocab_size", "n_embd", "n_head", "n_layer", "d_model", "encoder_attention_heads",
               "decoder_attention_heads", "encoder_layers", "decoder_layers")
SUB_CONFIGS = ("encoder", "decoder", "vision_config", "text_config")


def _check_sizes(folder: Path, config: dict) -> None:
    """A size that is not a positive whole number, or heads that do not divide the width, named by file and field."""
    parts = [("", config)] + [(f"{name}.", config[name]) for name in SUB_CONFIGS if isinstance(config.get(name), dict)]
    for prefix, part in parts:
        for name in SIZE_FIELDS:
            value = part.get(name)
            if name in part and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise CaptionModelError(
                    f"{folder.name}/config.json: {prefix}{name} must be a positive whole number (got {value!r})."
                )
        for width, heads in (("hidden_size", "num_attention_heads"), ("n_embd", "n_head")):
            if isinstance(part.get(width), int) and isinstance(part.get(heads), int) and part[width] % part[heads]:
                raise CaptionModelError(
                    f"{folder.name}/config.json: {prefix}{width} ({part[width]}) must be a multiple of "
                    f"{prefix}{heads} ({part[heads]})."
                )


def load_folder(folder: str | Path, layer: int | None = None, head: int | None = None) -> HFCaptioner:
    """A VisionEncoderDecoder or BLIP captioner with its tokenizer and image processor from ``folder``."""
    folder = Path(folder)
    family = _family(folder)
    transformers = _transformers()
    model_class = (transformers.BlipForConditionalGeneration if family == "blip"
                   else transformers.VisionEncoderDecoderModel)
    try:
        model = model_class.from_pretrained(str(folder), attn_implementation="eager")
        processor = transformers.AutoImageProcessor.from_pretrained(str(folder))
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, ArithmeticError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CaptionModelError(f"{folder.name}: could not load the model, tokenizer or image processor ({first}).") from exc
    return HFCaptioner(folder, family, model, processor, tokenizer, layer, head)
