"""The one-step interface of :mod:`explorer.engine.captioning.search` over Hugging Face captioners.

Two families, one shape: an image encoder gives patch tokens once, and a text
decoder with cross-attention reads them at every step.

- ``VisionEncoderDecoderModel`` (e.g. ViT + GPT-2): ``model.encoder`` then,
  when the hidden sizes differ, ``enc_to_dec_proj``; the decoder's
  ``cross_attentions``.
- ``BlipForConditionalGeneration``: ``model.vision_model`` (class token + patch
  grid), then ``model.text_decoder`` — a BERT-style decoder whose layers each
  hold a ``crossattention`` block; transformers records its probabilities
  (``BlipTextSelfAttention``'s second output) as ``cross_attentions``. The caption
  starts from the text config's ``bos_token_id`` and ends at its
  ``sep_token_id``, as ``BlipForConditionalGeneration.generate`` does.

The decoder is run over the whole prefix at every step (no key/value cache;
captions are short), which gives the same logits and the same cross-attention
of the last position as ``generate()``'s cached steps, to float rounding.

The map of a word is the cross-attention from the position that produced it to
the encoder's tokens: one layer and head, or the mean over all of them
(``layer`` / ``head`` None). Tokens before the patch grid (class, distillation)
are dropped and the rest renormalised, so each map sums to 1 over the grid.
"""

from __future__ import annotations

import torch

from explorer.engine.captioning.captioner import CaptionModelError


class HFStepper:
    """Shared by both families: the prefix in the state, log-probabilities, the per-token maps."""

    def __init__(self, model, start_token: int, end_token: int, patches: int) -> None:
        self.model = model
        self.start_token, self.end_token = int(start_token), int(end_token)
        self.patches = patches
        self.layer: int | None = None
        self.head: int | None = None

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, prefix: torch.Tensor, encoded: torch.Tensor):
        """Logits of the last position (k, V) and the cross-attentions, per layer (k, heads, t, N)."""
        raise NotImplementedError

    def start(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"encoded": self.encode(pixels), "prefix": torch.zeros(1, 0, dtype=torch.long)}

    def step(self, prev: torch.Tensor, state: dict[str, torch.Tensor]):
        prefix = torch.cat([state["prefix"], prev[:, None]], dim=1)  # (k, t): start token + words so far
        encoded = state["encoded"]
        if encoded.shape[0] != prefix.shape[0]:
            encoded = encoded.expand(prefix.shape[0], -1, -1)  # (k, N, D)
        logits, cross = self.decode(prefix, encoded)
        log_probs = torch.log_softmax(logits.float(), dim=-1)  # (k, V)
        return log_probs, {"encoded": encoded, "prefix": prefix}, self.maps(cross), None

    def maps(self, cross) -> torch.Tensor:
        """(k, g·g): the last position's cross-attention over the patch grid, for the chosen layer and head."""
        layers = list(cross) if self.layer is None else [cross[self.layer]]
        maps = torch.stack([a[:, :, -1, :] for a in layers], dim=1).float()  # (k, L, heads, N)
        maps = maps.mean(dim=(1, 2)) if self.head is None else maps[:, :, self.head].mean(1)  # (k, N)
        leading = maps.shape[1] - self.patches
        if not 0 <= leading <= 2:
            raise CaptionModelError(
                f"the encoder gives {maps.shape[1]} tokens, which are not the {self.patches} patches of its grid "
                "(plus a class token): this encoder's attention cannot be laid over the image."
            )
        maps = maps[:, leading:]  # (k, g·g)
        return maps / maps.sum(-1, keepdim=True).clamp_min(1e-12)


class EncoderDecoderStepper(HFStepper):
    """A ``VisionEncoderDecoderModel``."""

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        model = self.model
        encoded = model.encoder(pixel_values=pixels).last_hidden_state  # (1, N, D_enc)
        if (
            model.encoder.config.hidden_size != model.decoder.config.hidden_size
            and getattr(model.decoder.config, "cross_attention_hidden_size", None) is None
        ):
            encoded = model.enc_to_dec_proj(encoded)  # (1, N, D_dec), as the model's forward does
        return encoded

    def decode(self, prefix: torch.Tensor, encoded: torch.Tensor):
        out = self.model.decoder(input_ids=prefix, encoder_hidden_states=encoded, output_attentions=True,
                                 use_cache=False, return_dict=True)
        return out.logits[:, -1], out.cross_attentions


class BlipStepper(HFStepper):
    """A ``BlipForConditionalGeneration``."""

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.vision_model(pixel_values=pixels).last_hidden_state  # (1, 1 + g·g, D)

    def decode(self, prefix: torch.Tensor, encoded: torch.Tensor):
        mask = torch.ones(encoded.shape[:2], dtype=torch.long)  # (k, N): every image token, as generate() passes
        out = self.model.text_decoder(input_ids=prefix, encoder_hidden_states=encoded, encoder_attention_mask=mask,
                                      output_attentions=True, use_cache=False, return_dict=True)
        return out.logits[:, -1], out.cross_attentions
