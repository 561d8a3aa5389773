"""Show-Attend-Tell tutorial checkpoints: refused as pickles, converted by the script, then captioned exactly
as the tutorial's own modules would caption (here: small random modules with the tutorial's layout)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from explorer.engine.captioning.captioner import CaptionModelError
from explorer.engine.captioning.loading import load

ROOT = Path(__file__).resolve().parents[3]


def converter():
    spec = importlib.util.spec_from_file_location("convert_sat_checkpoint", ROOT / "scripts" / "convert_sat_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Block(nn.Module):  # torchvision's Bottleneck layout
    def __init__(self, cin, width, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class TutorialEncoder(nn.Module):
    def __init__(self, size=4):
        super().__init__()
        stages, cin = [], 8
        for i, (width, blocks) in enumerate([(4, 2), (8, 1), (8, 2), (16, 1)]):
            layer = []
            for b in range(blocks):
                layer.append(Block(cin, width, width * 4, 2 if (i > 0 and b == 0) else 1))
                cin = width * 4
            stages.append(nn.Sequential(*layer))
        self.resnet = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1), *stages)
        self.adaptive_pool = nn.AdaptiveAvgPool2d((size, size))

    def forward(self, images):
        return self.adaptive_pool(self.resnet(images)).permute(0, 2, 3, 1)


class TutorialAttention(nn.Module):
    def __init__(self, enc, dec, att):
        super().__init__()
        self.encoder_att, self.decoder_att, self.full_att = nn.Linear(enc, att), nn.Linear(dec, att), nn.Linear(att, 1)


class TutorialDecoder(nn.Module):
    def __init__(self, vocab, enc=64, dec=24, emb=12, att=16):
        super().__init__()
        self.attention = TutorialAttention(enc, dec, att)
        self.embedding = nn.Embedding(vocab, emb)
        self.decode_step = nn.LSTMCell(emb + enc, dec)
        self.init_h, self.init_c = nn.Linear(enc, dec), nn.Linear(enc, dec)
        self.f_beta, self.fc = nn.Linear(dec, enc), nn.Linear(dec, vocab)


def reference_greedy(encoder, decoder, pixels, start, end, max_words=12):
    """The tutorial's decoding loop (caption.py with beam 1), written out."""
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
            break
        words.append(word)
        alphas.append(alpha[0])
    return words, torch.stack(alphas) if alphas else None


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sat")
    word_map = {w: i for i, w in enumerate(["<pad>", "a", "man", "dog", "on", "grass", "riding", "<unk>", "<start>", "<end>"])}
    torch.manual_seed(0)
    encoder, decoder = TutorialEncoder().eval(), TutorialDecoder(len(word_map)).eval()
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, nn.BatchNorm2d):  # non-trivial running statistics
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
        decoder.fc.weight.mul_(6)
        decoder.fc.bias[word_map["<end>"]] -= 2
    checkpoint = folder / "BEST_checkpoint_tiny.pth.tar"
    torch.save({"epoch": 7, "encoder": encoder, "decoder": decoder, "bleu-4": 0.2}, checkpoint)
    wordmap = folder / "WORDMAP_tiny.json"
    wordmap.write_text(json.dumps(word_map))
    out = converter().convert(checkpoint, wordmap, folder / "sat_tiny.safetensors", encoded_image_size=4, image_size=64)
    return checkpoint, out, encoder, decoder, word_map


def test_the_pickled_checkpoint_is_refused_with_the_converter_named(converted):
    checkpoint = converted[0]
    with pytest.raises(CaptionModelError, match="convert_sat_checkpoint"):
        load(checkpoint)


def test_converted_file_captions_like_the_tutorial_modules(converted):
    _checkpoint, out, encoder, decoder, word_map = converted
    captioner = load(out)
    inverse = {i: w for w, i in word_map.items()}
    rng = np.random.default_rng(0)
    for _ in range(3):
        image = Image.fromarray(rng.integers(0, 256, (50, 80, 3), dtype=np.uint8))
        trace = captioner.caption(image, beam_size=1, max_words=12)
        with torch.no_grad():
            words, alphas = reference_greedy(encoder, decoder, captioner.pixels(image), word_map["<start>"], word_map["<end>"])
        assert trace.words == [inverse[w] for w in words]
        if words:
            assert np.allclose(trace.alphas.reshape(len(words), -1), alphas.numpy(), atol=1e-5)
            assert np.allclose(trace.alphas.sum(axis=(1, 2)), 1.0, atol=1e-5)
        beam = captioner.caption(image, beam_size=3, max_words=12)
        assert beam.alternatives and beam.grid == (4, 4)


def test_converted_file_without_word_map_is_named(converted, tmp_path):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(converted[1]))
    bad = tmp_path / "no_map.safetensors"
    save_file(tensors, str(bad), metadata={"config": json.dumps({"format": "sat-tutorial"})})
    with pytest.raises(CaptionModelError, match="word map"):
        load(bad)
