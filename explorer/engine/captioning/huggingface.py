"""Hugging Face VisionEncoderDecoder captioners (e.g. ViT encoder + GPT-2 decoder) from a local folder.

Optional: needs ``transformers`` (the ``hf`` install extra). The folder is
what ``save_pretrained`` writes: the model's ``config.json`` and weights
(safetensors preferred; a ``pytorch_model.bin`` is read by transformers with
``weights_only``), plus the tokenizer and image-processor files.

The per-token map is the decoder's cross-attention from the position that
produced the token to the encoder's patch tokens: one layer and head, or the
mean over all of them (``layer=None`` / ``head=None``). The class token is
dropped and the rest renormalised, so each map sums to 1 over the patch grid.

A model id (``owner/name``) is downloaded by :mod:`explorer.engine.infra.hub` when
the user is online, then opened from the cache folder like any other.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from explorer.engine.captioning.captioner import Captioner, CaptionModelError


def _transformers():
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - installed here
        raise CaptionModelError(
            "Hugging Face models need the 'transformers' package, which seqvis-explorer depends on: reinstall it (pip install seqvis-explorer) or pip install transformers."
        ) from exc
    return transformers


class _HFStepper:
    """The one-step interface of :mod:`explorer.engine.captioning.search` over a VisionEncoderDecoder."""

    def __init__(self, model, layer: int | None, head: int | None, patches: int, has_cls: bool) -> None:
        self.model = model
        self.layer = layer
        self.head = head
        self.patches = patches
        self.has_cls = has_cls
        config = model.config
        start = config.decoder_start_token_id
        if start is None:
            start = config.decoder.bos_token_id
        end = config.eos_token_id if config.eos_token_id is not None else config.decoder.eos_token_id
        if start is None or end is None:
            raise CaptionModelError("the model's config names no decoder start or end token (decoder_start_token_id / eos_token_id).")
        self.start_token, self.end_token = int(start), int(end)

    def start(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        encoded = self.model.encoder(pixel_values=pixels).last_hidden_state  # (1, N, D_enc)
        if hasattr(self.model, "enc_to_dec_proj") and self.model.config.encoder.hidden_size != self.model.config.decoder.hidden_size:
            encoded = self.model.enc_to_dec_proj(encoded)
        return {"encoded": encoded, "prefix": torch.zeros(1, 0, dtype=torch.long)}

    def step(self, prev: torch.Tensor, state: dict[str, torch.Tensor]):
        prefix = torch.cat([state["prefix"], prev[:, None]], dim=1)  # (k, t)
        out = self.model.decoder(
            input_ids=prefix,
            encoder_hidden_states=state["encoded"].expand(prefix.shape[0], -1, -1),
            output_attentions=True,
            use_cache=False,
            return_dict=True,
        )
        log_probs = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # (k, V)
        cross = out.cross_attentions  # per layer (k, heads, t, N)
        layers = list(cross) if self.layer is None else [cross[self.layer]]
        maps = torch.stack([a[:, :, -1, :] for a in layers], dim=1)  # (k, L, heads, N)
        maps = maps.mean(dim=(1, 2)) if self.head is None else maps[:, :, self.head].mean(1)  # (k, N)
        if self.has_cls:
            maps = maps[:, 1:]
        maps = maps[:, : self.patches]
        alpha = maps / maps.sum(-1, keepdim=True).clamp_min(1e-12)  # (k, g·g)
        return log_probs, {"encoded": state["encoded"], "prefix": prefix}, alpha, None


class HFCaptioner(Captioner):
    kind = "transformer"
    attention_note = "Decoder cross-attention over the encoder's patches (not trained to point)."

    def __init__(self, folder: Path, model, processor, tokenizer, layer: int | None = None, head: int | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.name = folder.name
        self.title = f"{folder.name} (Hugging Face)"
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = tokenizer
        enc = model.config.encoder
        image_size = getattr(enc, "image_size", 224)
        patch = getattr(enc, "patch_size", 16)
        image_size = image_size if isinstance(image_size, int) else image_size[0]
        patch = patch if isinstance(patch, int) else patch[0]
        g = image_size // patch
        self.grid = (g, g)
        self.layers = int(getattr(model.config.decoder, "n_layer", getattr(model.config.decoder, "num_hidden_layers", 1)))
        self.heads = int(getattr(model.config.decoder, "n_head", getattr(model.config.decoder, "num_attention_heads", 1)))
        self._stepper = _HFStepper(model, None, None, g * g, has_cls=enc.model_type in ("vit", "deit"))
        self.set_attention(layer, head)

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

    def pixels(self, image: Image.Image) -> torch.Tensor:
        image = image.convert("RGB") if image.mode != "RGB" else image
        return self.processor(images=image, return_tensors="pt")["pixel_values"]

    def word(self, token: int) -> str:
        if not 0 <= int(token) < len(self.tokenizer):
            return f"<unk:{int(token)}>"
        text = self.tokenizer.decode([int(token)]).strip()
        return text or self.tokenizer.convert_ids_to_tokens(int(token)) or f"<{int(token)}>"

    @torch.no_grad()
    def caption(self, image, beam_size: int = 1, *, max_words: int = 24):
        return super().caption(image, beam_size, max_words=max_words)


def load_folder(folder: str | Path, layer: int | None = None, head: int | None = None) -> HFCaptioner:
    """A VisionEncoderDecoder model with its tokenizer and image processor from ``folder``."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise CaptionModelError(f"{folder.name}: not a Hugging Face model folder (no config.json in it).")
    transformers = _transformers()
    import json

    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CaptionModelError(f"{folder.name}: config.json is not readable JSON ({exc}).") from exc
    if config.get("model_type") != "vision-encoder-decoder":
        raise CaptionModelError(
            f"{folder.name}: holds a {config.get('model_type', 'unknown')!r} model, not a VisionEncoderDecoder "
            "captioner (an image encoder with a text decoder)."
        )
    try:
        model = transformers.VisionEncoderDecoderModel.from_pretrained(str(folder), attn_implementation="eager")
        processor = transformers.AutoImageProcessor.from_pretrained(str(folder))
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CaptionModelError(f"{folder.name}: could not load the model, tokenizer or image processor ({first}).") from exc
    return HFCaptioner(folder, model, processor, tokenizer, layer, head)


def patch_grid(n: int) -> int:
    g = int(round(math.sqrt(n)))
    if g * g != n:
        raise ValueError(f"{n} patches do not form a square grid")
    return g
