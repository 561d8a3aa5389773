"""Loading the user's images: every file the user opens goes through :func:`load_image`.

Whatever the file holds (greyscale, palette with transparency, CMYK, 16-bit,
an animation, a rotated phone photo), the panels receive one thing: an RGB
``PIL.Image`` the right way up. Anything that is not a readable image raises
:class:`ImageLoadError` naming the file and the problem, so the UI can say so
and keep the image it had.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

#: Largest image accepted, in pixels (about 16k × 12k). Bigger files are refused
#: as possible decompression bombs before their pixels are decoded.
MAX_PIXELS = 200_000_000

#: Transparent areas are composited onto this colour.
BACKGROUND = (255, 255, 255)


class ImageLoadError(ValueError):
    """The file could not be read as an image; the message names file and problem."""


def load_image(path: str | Path) -> Image.Image:
    """Read ``path`` as an RGB image, the way a person would expect to see it.

    EXIF orientation is applied; transparency is composited onto white; 16-bit
    and float images are scaled to 8 bits; animations give their first frame.

    Raises:
        ImageLoadError: missing, empty, truncated, non-image or oversized file.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.exists():
        raise ImageLoadError(f"{name}: no such file.")
    if path.is_dir():
        raise ImageLoadError(f"{name}: is a folder, not an image file.")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageLoadError(f"{name}: cannot be read ({exc.strerror or exc}).") from exc
    if size == 0:
        raise ImageLoadError(f"{name}: the file is empty (0 bytes).")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageLoadError(f"{name}: cannot be read ({exc.strerror or exc}).") from exc
    return decode_image(data, name)


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode encoded image bytes (a file's content, a clipboard's PNG) to RGB."""
    if not data:
        raise ImageLoadError(f"{name}: the data is empty.")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageLoadError(
                    f"{name}: {width} × {height} pixels is more than the "
                    f"{MAX_PIXELS // 1_000_000} million accepted (a possible decompression bomb)."
                )
            if width == 0 or height == 0:
                raise ImageLoadError(f"{name}: the image has no pixels ({width} × {height}).")
            image.seek(0)  # first frame of an animation
            image.load()
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"{name}: refused as a possible decompression bomb ({exc}).") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{name}: not an image file, or a format that cannot be read.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc) or type(exc).__name__
        if "truncated" in message.lower() or isinstance(exc, EOFError):
            raise ImageLoadError(f"{name}: the file is truncated or damaged ({message}).") from exc
        raise ImageLoadError(f"{name}: the image data is damaged ({message}).") from exc
    try:
        return to_rgb(ImageOps.exif_transpose(image))
    except (OSError, ValueError) as exc:
        raise ImageLoadError(f"{name}: the image could not be converted to RGB ({exc}).") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB sensibly (transparency over white, high bit depth scaled)."""
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _high_depth_to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit integers are scaled by 1/257; floats stretched to their own range."""
    values = np.asarray(image, dtype=np.float64)  # (H, W)
    if image.mode == "F":
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        scaled = (np.nan_to_num(values, nan=low) - low) / max(high - low, 1e-12) * 255.0
    elif values.max(initial=0) > 255:
        scaled = values / 257.0
    else:
        scaled = values
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=-1), mode="RGB")


def describe(image: Image.Image) -> str:
    """Short human description, e.g. ``"640 × 480 px"``."""
    return f"{image.width} × {image.height} px"
