"""Show-Attend-Tell tutorial checkpoints: refused as pickles, converted by the script as the README writes it,
then captioned exactly as the tutorial's own modules would caption.

The tutorial's code is stood in for by a small ``models.py`` written to a temporary "tutorial" folder (its
classes and attribute names, smaller sizes); the checkpoint is pickled from it, so unpickling needs that
folder — as with a real checkpoint and the real tutorial.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from explorer.engine.captioning.captioner import CaptionModelError
from explorer.engine.captioning.loading import load

ROOT = Path(__file__).resolve().parents[3]
WORDS = ["<pad>", "a", "man", "dog", "on", "grass", "riding", "<unk>", "<start>", "<end>"]

#: The tutorial's models.py in miniature: Encoder (a ResNet's children + adaptive pooling), Attention,
#: DecoderWithAttention, with the tutorial's attribute names.
MODELS_PY = '''
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):  # torchvision's Bottleneck layout
    def __init__(self, cin, width, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if (stride != 1 or cin != cout) else None)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Encoder(nn.Module):
    def __init__(self, encoded_image_size=4):
        super().__init__()
        stages, cin = [], 8
        for i, (width, blocks) in enumerate([(4, 2), (8, 1), (8, 2), (16, 1)]):
            layer = []
            for b in range(blocks):
                layer.append(Block(cin, width, width * 4, 2 if (i > 0 and b == 0) else 1))
                cin = width * 4
            stages.append(nn.Sequential(*layer))
        self.resnet = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                    nn.MaxPool2d(3, 2, 1), *stages)
        self.adaptive_pool = nn.AdaptiveAvgPool2d((encoded_image_size, encoded_image_size))

    def forward(self, images):
        return self.adaptive_pool(self.resnet(images)).permute(0, 2, 3, 1)


class Attention(nn.Module):
    def __init__(self, encoder_dim, decoder_dim, attention_dim):
        super().__init__()
        self.encoder_att = nn.Linear(encoder_dim, attention_dim)
        self.decoder_att = nn.Linear(decoder_dim, attention_dim)
        self.full_att = nn.Linear(attention_dim, 1)


class DecoderWithAttention(nn.Module):
    def __init__(self, attention_dim, embed_dim, decoder_dim, vocab_size, encoder_dim=64):
        super().__init__()
        self.attention = Attention(encoder_dim, decoder_dim, attention_dim)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.decode_step = nn.LSTMCell(embed_dim + encoder_dim, decoder_dim)
        self.init_h, self.init_c = nn.Linear(encoder_dim, decoder_dim), nn.Linear(encoder_dim, decoder_dim)
        self.f_beta, self.fc = nn.Linear(decoder_dim, encoder_dim), nn.Linear(decoder_dim, vocab_size)
'''


def pictures() -> list[Image.Image]:
    """Four 96 × 128 pictures: a plain background with a rectangle of another colour (fixed seed)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(4):
        pixels = np.empty((96, 128, 3), np.uint8)
        pixels[...] = rng.integers(0, 256, 3)
        y, x = rng.integers(0, 48), rng.integers(0, 64)
        pixels[y : y + 48, x : x + 64] = rng.integers(0, 256, 3)
        out.append(Image.fromarray(pixels))
    return out


def converter():
    spec = importlib.util.spec_from_file_location("convert_sat_checkpoint", ROOT / "scripts" / "convert_sat_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_greedy(encoder, decoder, pixels, start, end, max_words=12):
    """The tutorial's decoding loop (caption.py with beam 1), written out: (words, maps, ended)."""
    out = encoder(pixels)  # (1, g, g, D)
    feats = out.reshape(1, -1, out.shape[-1])
    mean = feats.mean(1)
    h, c = decoder.init_h(mean), decoder.init_c(mean)
    word, words, alphas = start, [], []
    for _ in range(max_words):
        a = decoder.attention
        alpha = torch.softmax(a.full_att(F.relu(a.encoder_att(feats) + a.decoder_att(h)[:, None])).squeeze(2), 1)
        awe = torch.sigmoid(decoder.f_beta(h)) * (feats * alpha[:, :, None]).sum(1)
        h, c = decoder.decode_step(torch.cat([decoder.embedding(torch.tensor([word])), awe], 1), (h, c))
        word = int(decoder.fc(h).argmax())
        if word == end:
            return words, torch.stack(alphas) if alphas else None, True
        words.append(word)
        alphas.append(alpha[0])
    return words, torch.stack(alphas), False


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """A tutorial folder with models.py, a checkpoint pickled from its classes, and the word map."""
    folder = tmp_path_factory.mktemp("a-PyTorch-Tutorial-to-Image-Captioning")
    (folder / "models.py").write_text(MODELS_PY)
    spec = importlib.util.spec_from_file_location("models", folder / "models.py")
    models = importlib.util.module_from_spec(spec)
    sys.modules["models"] = models  # as `from models import *` in the tutorial's train.py
    try:
        spec.loader.exec_module(models)
        torch.manual_seed(0)
        encoder = models.Encoder().eval()
        decoder = models.DecoderWithAttention(16, 12, 24, len(WORDS)).eval()
        with torch.no_grad():
            for module in encoder.modules():
                if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial running statistics
                    module.running_mean.uniform_(-0.2, 0.2)
                    module.running_var.uniform_(0.5, 1.5)
            decoder.fc.weight.mul_(3)  # sharper words, and an image that matters: captions end after 3 words
            decoder.fc.bias[WORDS.index("<end>")] += 1.0
            decoder.init_h.weight.mul_(30)
            decoder.init_c.weight.mul_(30)
            decoder.attention.encoder_att.weight.mul_(30)  # maps far from uniform (peaks 0.15–0.18 of 16 cells)
            decoder.attention.full_att.weight.mul_(30)
        checkpoint = folder / "BEST_checkpoint_tiny.pth.tar"
        torch.save({"epoch": 7, "encoder": encoder, "decoder": decoder, "bleu-4": 0.2}, checkpoint)
    finally:
        del sys.modules["models"]  # the app's process must not see the tutorial's code
    wordmap = folder / "WORDMAP_tiny.json"
    wordmap.write_text(json.dumps({w: i for i, w in enumerate(WORDS)}))
    return folder, checkpoint, wordmap, encoder, decoder


@pytest.fixture(autouse=True)
def _no_tutorial_module():
    """The converter imports the tutorial's models.py when it unpickles in this process: forget it after."""
    sys.modules.pop("models", None)
    yield
    sys.modules.pop("models", None)


@pytest.fixture(scope="module")
def converted(tutorial, tmp_path_factory):
    """The README's command, run from the repository root, with the checkpoint in the tutorial's folder."""
    _folder, checkpoint, wordmap, _enc, _dec = tutorial
    out = tmp_path_factory.mktemp("converted") / "sat_tiny.safetensors"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "scripts/convert_sat_checkpoint.py", str(checkpoint), "--wordmap", str(wordmap),
         "--out", str(out), "--encoded-image-size", "4", "--image-size", "128"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and out.is_file()
    return out


def test_without_the_tutorial_code_the_converter_says_where_it_looked(tutorial, tmp_path, monkeypatch, capsys):
    _folder, checkpoint, wordmap, _enc, _dec = tutorial
    moved = tmp_path / "elsewhere" / checkpoint.name
    moved.parent.mkdir()
    shutil.copy(checkpoint, moved)
    monkeypatch.chdir(tmp_path)
    assert converter().main([str(moved), "--wordmap", str(wordmap), "--out", str(tmp_path / "x.safetensors")]) == 1
    message = capsys.readouterr().err
    assert "need the Python module 'models'" in message and "--tutorial-dir" in message
    assert str(moved.parent) in message and str(tmp_path) in message  # the folders it tried
    assert not (tmp_path / "x.safetensors").exists() and "models" not in sys.modules


def test_tutorial_dir_finds_the_code_wherever_the_checkpoint_is(tutorial, tmp_path, monkeypatch):
    folder, checkpoint, wordmap, _enc, _dec = tutorial
    moved = tmp_path / checkpoint.name
    shutil.copy(checkpoint, moved)
    monkeypatch.chdir(tmp_path)
    module = converter()
    path_before = list(sys.path)
    assert module.main([str(moved), "--wordmap", str(wordmap), "--tutorial-dir", str(folder)]) == 0
    assert (tmp_path / "BEST_checkpoint_tiny.safetensors").is_file() and sys.path == path_before
    sys.modules.pop("models", None)  # imported by that run
    assert module.main([str(moved), "--wordmap", str(wordmap), "--tutorial-dir", str(tmp_path)]) == 1


def test_the_converter_names_a_folder_without_models_py_and_a_broken_file(tutorial, tmp_path, capsys):
    _folder, checkpoint, wordmap, _enc, _dec = tutorial
    module = converter()
    with pytest.raises(module.ConversionError, match="no models.py in that folder"):
        module.convert(checkpoint, wordmap, tmp_path / "x.safetensors", tutorial_dir=tmp_path)
    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(module.ConversionError, match="junk.pth.tar: could not be read as a torch checkpoint"):
        module.convert(junk, wordmap, tmp_path / "x.safetensors")
    with pytest.raises(module.ConversionError, match="no such file"):
        module.convert(tmp_path / "missing.pth.tar", wordmap, tmp_path / "x.safetensors")


def test_the_pickled_checkpoint_is_refused_with_the_converter_named(tutorial):
    with pytest.raises(CaptionModelError, match="convert_sat_checkpoint"):
        load(tutorial[1])


@pytest.mark.parametrize("max_words", [12, 2])
def test_converted_file_captions_like_the_tutorial_modules(tutorial, converted, max_words):
    """At 12 words every caption ends at <end> (after 3 words); at 2 every one stops at the limit first."""
    _folder, _checkpoint, _wordmap, encoder, decoder = tutorial
    captioner = load(converted)
    start, end = WORDS.index("<start>"), WORDS.index("<end>")
    for i, image in enumerate(pictures()):
        trace = captioner.caption(image, beam_size=1, max_words=max_words)
        with torch.no_grad():
            words, alphas, stopped = reference_greedy(encoder, decoder, captioner.pixels(image), start, end, max_words)
        assert stopped == (max_words == 12) and len(words) == min(3, max_words), f"image {i}: {words}, {stopped}"
        assert trace.words == [WORDS[w] for w in words] and trace.ended == stopped, f"image {i}"
        assert np.allclose(trace.alphas.reshape(len(words), -1), alphas.numpy(), atol=1e-5), f"image {i}"
        assert np.allclose(trace.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5) and trace.alphas.max() > 0.1, trace.alphas.max()
        beam = captioner.caption(image, beam_size=3, max_words=max_words)
        assert beam.alternatives and beam.grid == (4, 4), f"image {i}"


def test_converted_file_without_word_map_is_named(converted, tmp_path):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(converted))
    bad = tmp_path / "no_map.safetensors"
    save_file(tensors, str(bad), metadata={"config": json.dumps({"format": "sat-tutorial"})})
    with pytest.raises(CaptionModelError, match="word map"):
        load(bad)
