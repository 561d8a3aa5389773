"""Stable entry point ``explorer.engine.images.load_image`` (DESIGN.md); the code is in :mod:`.infra.images`."""

from explorer.engine.infra.images import MAX_PIXELS, ImageLoadError, decode_image, describe, load_image, to_rgb

__all__ = ["MAX_PIXELS", "ImageLoadError", "decode_image", "describe", "load_image", "to_rgb"]
