"""load_image: every mode converts to RGB the right way up; every bad file names itself."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from explorer.engine.infra import images
from explorer.engine.infra.images import ImageLoadError, load_image


def save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def noise(seed: int, size: int = 64) -> Image.Image:
    """Seeded noise (Pillow's effect_noise draws from C's unseeded rand())."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "mode, fmt",
    [("L", "PNG"), ("LA", "PNG"), ("RGBA", "PNG"), ("RGB", "JPEG"), ("CMYK", "JPEG"), ("1", "PNG"), ("I;16", "PNG")],
)
def test_modes_become_rgb(tmp_path, mode, fmt):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    image = base.convert(mode) if mode != "I;16" else Image.fromarray((rng.integers(0, 65535, (20, 30))).astype(np.uint16))
    path = save(image, tmp_path / f"x.{fmt.lower()}", format=fmt)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (30, 20)


def test_transparency_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    out = np.asarray(load_image(save(rgba, tmp_path / "t.png")))
    assert tuple(out[0, 0]) == (0, 0, 255)
    assert tuple(out[3, 3]) == (255, 255, 255)


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (4, 4), 0)
    p.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    p.putpixel((1, 1), 1)
    path = tmp_path / "p.png"
    p.save(path, transparency=0)
    out = np.asarray(load_image(path))
    assert tuple(out[0, 0]) == (255, 255, 255)  # transparent index → white
    assert tuple(out[1, 1]) == (0, 255, 0)


def test_sixteen_bit_scaled_not_clipped(tmp_path):
    values = np.array([[0, 32896, 65535]], dtype=np.uint16)
    out = np.asarray(load_image(save(Image.fromarray(values), tmp_path / "16.png")))
    assert list(out[0, :, 0]) == [0, 128, 255]


def test_exif_orientation_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif.tobytes())
    assert load_image(path).size == (20, 40)


def test_animated_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    out = np.asarray(load_image(path))
    assert out[4, 4, 0] > 200 and out[4, 4, 1] < 50


def test_float_image_stretched(tmp_path):
    values = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    out = np.asarray(load_image(save(Image.fromarray(values, mode="F"), tmp_path / "f.tif")))
    assert out.min() == 0 and out.max() == 255


def _bomb(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    return save(Image.new("RGB", (20, 20)), tmp_path / "bomb.png")


def _truncated(tmp_path, _monkeypatch):
    path = save(noise(1), tmp_path / "trunc.png")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _truncated_jpeg(tmp_path, _monkeypatch):
    path = save(noise(2), tmp_path / "trunc.jpg", format="JPEG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _empty(tmp_path, _monkeypatch):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    return path


def _text(tmp_path, _monkeypatch):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture")
    return path


def _missing(tmp_path, _monkeypatch):
    return tmp_path / "missing.png"


def _folder(tmp_path, _monkeypatch):
    return tmp_path


BAD_FILES = {
    "decompression bomb": (_bomb, "decompression bomb"),
    "truncated png": (_truncated, "truncated"),
    "truncated jpeg": (_truncated_jpeg, "truncated"),
    "empty": (_empty, "empty"),
    "not an image": (_text, "not an image"),
    "missing": (_missing, "no such file"),
    "folder": (_folder, "folder"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_raise_named_errors(tmp_path, monkeypatch, case):
    make, words = BAD_FILES[case]
    path = make(tmp_path, monkeypatch)
    with pytest.raises(ImageLoadError, match=re.escape(path.name)) as info:
        load_image(path)
    assert isinstance(info.value, ValueError)
    assert words in str(info.value).lower(), str(info.value)


def test_real_bomb_header_refused_without_decoding(tmp_path, monkeypatch):
    """A PNG header claiming a huge size is refused before any pixel is decoded."""
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)
    buffer = io.BytesIO()
    Image.new("L", (1000, 1000)).save(buffer, format="PNG")
    path = tmp_path / "huge.png"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ImageLoadError, match="huge.png"):
        load_image(path)


def test_bundled_samples_load():
    from explorer.assets import sample_image_paths

    samples = sample_image_paths()
    assert len(samples) >= 4
    for path, _title in samples:
        assert load_image(path).mode == "RGB"
