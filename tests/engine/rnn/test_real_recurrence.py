"""Real models' recurrences handed to the RNN panel: the captioner's decoder LSTM word by word, the video GRU
frame by frame. The RNN engine's re-run must equal the model's own hidden states, and x_t must be exactly
what the model's cell received (word embedding, attention context or where it looked, frame features)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from explorer.engine import captioning
from explorer.engine.captioning.captioner import Captioner, CaptionModelError
from explorer.engine.captioning.loading import SceneCaptioner
from explorer.engine.captioning.networks import START, ModelConfig, build
from explorer.engine.captioning.recurrence import decoder_recurrence
from explorer.engine.captioning.show_attend_tell import from_converted, resnet_from_state
from explorer.engine.infra import scenes
from explorer.engine.rnn import RNNError, from_state_dict, random_cell
from explorer.engine.rnn.real import InputPart, RealRecurrence

SEEDS = (0, 1, 2)


def photo(seed: int, size=(70, 90)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8))


def scene(seed: int) -> Image.Image:
    return scenes.generate(scenes.split_seed("val", 950_000 + seed), size=256).image


@pytest.fixture(scope="module")
def bundled():
    return {name: captioning.load(name) for name in ("attention", "attention_boxes", "classic")}


def random_captioner(seed: int, **config) -> SceneCaptioner:
    """Our attention decoder with random weights and an input of several hundred numbers (I = 64 + 512)."""
    vocab = captioning.load("attention").vocab
    torch.manual_seed(seed)
    model = build(ModelConfig(vocab_size=len(vocab), **{"channels": 512, "embed": 64, "hidden": 96, **config})).eval()
    with torch.no_grad():
        model.out.weight.mul_(4)  # confident words, so captions vary in length
    return SceneCaptioner(model, vocab, {}, f"random-{seed}")


def own_float32_states(captioner: Captioner, lstm: nn.LSTMCell, image, beam: int = 1):
    """The hidden states the captioner computes while captioning (greedy), caught at its LSTM."""
    outputs = []
    handle = lstm.register_forward_hook(lambda _m, _i, out: outputs.append(out[0][0].detach().double().numpy().copy()))
    try:
        trace = captioner.caption(image, beam_size=beam)
    finally:
        handle.remove()
    return trace, np.stack(outputs)


# -- the captioner's decoder ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["attention", "attention_boxes", "classic"])
@pytest.mark.parametrize("seed", SEEDS)
def test_bundled_decoder_states_equal_the_captioners_own_word_by_word(bundled, name, seed):
    captioner = bundled[name]
    for image in (scene(seed), photo(seed)):
        trace, own = own_float32_states(captioner, captioner.model.lstm, image)
        rec = decoder_recurrence(captioner, image, trace, step=1, image_name="x.png")
        steps = len(trace.words) + (1 if trace.ended else 0)
        assert rec.length == steps == own.shape[0], (name, seed)
        ours = rec.trace()
        error64 = rec.max_error(ours)
        assert error64 < 1e-12, (name, seed, error64)  # the model's own modules, in float64
        error32 = float(np.abs(ours.hidden - own).max())
        assert error32 < 1e-5, (name, seed, error32)  # what the captioner itself computed, in float32
        np.testing.assert_allclose(ours.cell, rec.cells, atol=1e-12, err_msg=f"{name} seed {seed}")
        assert rec.step == 1 and rec.step_name == "word" and rec.source == "Captioning"


@pytest.mark.parametrize("seed", SEEDS)
def test_x_t_is_the_previous_words_embedding_and_what_the_last_glimpse_fed_back(bundled, seed):
    for name in ("attention", "attention_boxes"):
        captioner = bundled[name]
        model = captioner.model
        image = scene(seed)
        trace = captioner.caption(image, beam_size=1)
        rec = decoder_recurrence(captioner, image, trace)
        E = model.config.embed
        previous = [START, *trace.tokens][: rec.length]
        with torch.no_grad():
            embedding = model.embed(torch.tensor(previous)).double().numpy()  # (T, E)
            state = model.start(captioner.pixels(image))
            features = state["features"][0].double()  # (N, D)
        np.testing.assert_allclose(rec.x[:, :E], embedding, atol=1e-7)
        assert rec.parts[0].name == "word embedding" and rec.parts[0].stop == E
        assert np.all(rec.x[0, E:] == 0), "the first word has no earlier glimpse"
        # the fed-back part at word t+1 comes from word t's glimpse, as the Captioning panel shows it
        for t in range(1, rec.length):
            alpha = torch.from_numpy(trace.alphas[t - 1].reshape(-1)).double()  # (N,)
            if model.config.feed == "context":
                assert rec.parts[1].name == "attention context" and rec.parts[1].size == model.config.channels
                expected = trace.betas[t - 1] * (alpha @ features)  # β · Σ α·a
            else:
                assert rec.parts[1].name == "where it looked (x, y)" and rec.parts[1].size == 2
                g = round(alpha.numel() ** 0.5)
                ramp = torch.linspace(-1, 1, g, dtype=torch.float64)
                gy, gx = torch.meshgrid(ramp, ramp, indexing="ij")
                expected = alpha @ torch.stack([gx.flatten(), gy.flatten()], dim=1)
            np.testing.assert_allclose(rec.x[t, E:], expected.numpy(), atol=2e-6, err_msg=f"{name} word {t + 1}")


@pytest.mark.parametrize("seed", SEEDS)
def test_classic_decoder_starts_from_the_image_and_reads_only_words(bundled, seed):
    captioner = bundled["classic"]
    image = photo(seed)
    trace = captioner.caption(image)
    rec = decoder_recurrence(captioner, image, trace)
    with torch.no_grad():
        pooled = captioner.model.encoder(captioner.pixels(image)).mean(1)
        h0 = torch.tanh(captioner.model.init_h(pooled))[0].double().numpy()
    np.testing.assert_allclose(rec.h0, h0, atol=1e-7)
    assert [p.name for p in rec.parts] == ["word embedding"] and "image" in rec.start_note


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("query", ["current", "previous"])
def test_decoder_with_hundreds_of_inputs_and_beam_search(seed, query):
    captioner = random_captioner(seed, feed="context", query=query, init_from_image=True)
    image = photo(seed, (50, 64))
    for beam in (1, 3):
        trace = captioner.caption(image, beam_size=beam)
        rec = decoder_recurrence(captioner, image, trace, step=len(trace.words))
        assert rec.x.shape[1] == 576 and rec.cell.input_size == 576 and rec.cell.hidden_size == 96
        assert rec.max_error(rec.trace()) < 1e-12, (seed, query, beam)
        assert rec.step == rec.length - 1  # the end step, or the last word
    if query == "previous":
        assert "hₜ₋₁" in rec.parts[1].note


def tiny_tutorial_captioner(seed: int):
    """A converted Show-Attend-Tell tutorial model (tiny ResNet, random weights), as the app opens one."""
    torch.manual_seed(seed)
    shapes = {"encoder.resnet.0.weight": torch.zeros(8, 3, 7, 7)}
    for stage, width in zip(range(4, 8), (4, 8, 8, 16)):
        key = f"encoder.resnet.{stage}.0."
        shapes.update({key + "conv1.weight": torch.zeros(width), key + "conv3.weight": torch.zeros(width * 4),
                       key + "downsample.0.weight": torch.zeros(1)})
    state = {"encoder.resnet." + k: v for k, v in resnet_from_state(shapes).state_dict().items()}
    words = ["<pad>", "a", "cat", "on", "mat", "<unk>", "<start>", "<end>"]
    D, H, E, A, V = 64, 24, 12, 16, len(words)
    decoder = nn.ModuleDict({
        "embedding": nn.Embedding(V, E), "decode_step": nn.LSTMCell(E + D, H), "init_h": nn.Linear(D, H),
        "init_c": nn.Linear(D, H), "f_beta": nn.Linear(H, D), "fc": nn.Linear(H, V),
        "attention": nn.ModuleDict({"encoder_att": nn.Linear(D, A), "decoder_att": nn.Linear(H, A), "full_att": nn.Linear(A, 1)}),
    })
    with torch.no_grad():
        decoder["fc"].weight.mul_(6)
    state.update({"decoder." + k: v for k, v in decoder.state_dict().items()})
    config = {"word_map": {w: i for i, w in enumerate(words)}, "encoded_image_size": 4, "image_size": 64}
    return from_converted(state, config, "tiny"), decoder


@pytest.mark.parametrize("seed", SEEDS)
def test_tutorial_decoder_context_is_gated_per_channel(seed):
    captioner, decoder = tiny_tutorial_captioner(seed)
    image = photo(seed)
    trace = captioner.caption(image, beam_size=1, max_words=10)
    rec = decoder_recurrence(captioner, image, trace)
    assert rec.max_error(rec.trace()) < 1e-12
    assert [p.name for p in rec.parts] == ["word embedding", "attention context"] and rec.parts[1].size == 64
    model = captioner.model
    with torch.no_grad():
        features = model.start(captioner.pixels(image))["features"][0].double()  # (N, D)
    f_beta = decoder["f_beta"].double()
    assert trace.words, f"seed {seed}: choose weights that give a caption"
    for t in range(len(trace.words)):  # the glimpse of word t is taken from h_{t-1}
        h_prev = torch.from_numpy(rec.h0 if t == 0 else rec.hidden[t - 1])
        alpha = torch.from_numpy(trace.alphas[t].reshape(-1)).double()  # (N,)
        with torch.no_grad():
            gate = torch.sigmoid(f_beta(h_prev))  # (D,): one gate per channel
        np.testing.assert_allclose(rec.x[t, 12:], (gate * (alpha @ features)).numpy(), atol=2e-6, err_msg=f"word {t + 1}")


def test_a_caption_of_another_image_is_refused(bundled):
    captioner = bundled["attention_boxes"]
    trace = captioner.caption(scene(0))
    with pytest.raises(CaptionModelError, match="changed since it was captioned"):
        decoder_recurrence(captioner, scene(1), trace)


def test_a_decoder_without_recurrence_is_refused(bundled):
    class NoLSTM(Captioner):
        kind = "transformer"

        @property
        def stepper(self):
            return nn.Linear(2, 2)

    with pytest.raises(CaptionModelError, match="no recurrent decoder"):
        decoder_recurrence(NoLSTM(), scene(0), bundled["attention"].caption(scene(0)))


# -- the video model's GRU -----------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["gru", "lstm"])
@pytest.mark.parametrize("seed", SEEDS)
def test_video_recurrence_equals_the_video_models_own_states(arch, seed):
    from explorer.engine.video import VideoClassifier, analyse, load
    from explorer.engine.video.generated import example
    from explorer.engine.video.recurrence import clip_recurrence

    torch.manual_seed(seed)
    model = load("video_gru") if arch == "gru" else VideoClassifier(arch="lstm", hidden=48).eval()
    frames, _ = example(seed % 8, seed=500 + seed, frames=12)
    trace = analyse(model, frames, importance=False)
    rec = clip_recurrence(model, trace, clip_name="clip", step=5)
    ours = rec.trace()
    assert rec.max_error(ours) < 1e-12, (arch, seed)
    assert float(np.abs(ours.hidden - trace.hidden.double().numpy()).max()) < 1e-5  # the float32 analysis
    rnn = (model.model if hasattr(model, "model") else model).temporal.rnn
    with torch.no_grad():
        ref, _ = rnn(trace.features[None])  # torch.nn's own module
    assert float(np.abs(ours.hidden - ref[0].double().numpy()).max()) < 1e-5
    np.testing.assert_array_equal(rec.x, trace.features.double().numpy())
    assert rec.step == 5 and rec.step_labels[5] == "frame 6" and rec.parts[0].name == "frame features"


def test_the_video_transformer_has_no_recurrence():
    from explorer.engine.video import VideoModelError, analyse, load
    from explorer.engine.video.generated import example
    from explorer.engine.video.recurrence import clip_recurrence

    model = load("video_transformer")
    trace = analyse(model, example(0, seed=1, frames=8)[0], importance=False)
    with pytest.raises(VideoModelError, match="no recurrence"):
        clip_recurrence(model, trace)


# -- the hand-over itself -------------------------------------------------------------------------------
def test_real_recurrence_checks_what_it_is_given():
    cell = random_cell("gru", 5, 3, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 5))
    labels = tuple(f"s{t}" for t in range(4))
    with pytest.raises(ValueError, match="cover columns"):
        RealRecurrence(cell, x, labels, parts=(InputPart("a", 0, 2), InputPart("b", 3, 5)))
    with pytest.raises(ValueError, match="outside"):
        RealRecurrence(cell, x, labels, step=4)
    with pytest.raises(ValueError, match="takes 5"):
        RealRecurrence(cell, x[:, :4], labels)
    rec = RealRecurrence(cell, x, labels, parts=(InputPart("a", 0, 2), InputPart("b", 2, 5)))
    assert rec.part_at(3) == (rec.parts[1], 1) and rec.inputs_text() == "xₜ = [a (2) | b (3)]"
    assert rec.max_error(rec.trace()) is None  # no model states to compare with


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_weights_whose_products_overflow_are_refused_with_the_term_and_step(kind):
    cell = random_cell(kind, 3, 4, seed=1)
    x = np.random.default_rng(1).normal(size=(6, 3))
    huge = cell.weight_ih.copy()
    huge[:, 0] = 1e150
    big = cell.replace(weight_ih=huge)  # large weights are accepted as such
    x[2, 0] = 1e160  # but 1e150 · 1e160 is beyond the floats
    with pytest.raises(RNNError, match=r"W·xₜ overflows at step 3: .*too large"):
        big.trace(x)
    with pytest.raises(RNNError, match="W·xₜ overflows at step 1"):
        big.step(x[2])
    huge[0, 0] = 1e308  # w² overflows: the norm ‖W‖ the panel shows would be infinite
    with pytest.raises(RNNError, match=r"weight_ih: a value of 1e\+308 is too large: its norm"):
        cell.replace(weight_ih=huge)
    with pytest.raises(RNNError, match=r"weight_hh_l0: a value of 1e\+200 is too large"):
        from_state_dict(kind, {**cell.state_dict(), "weight_hh_l0": torch.full_like(cell.state_dict()["weight_hh_l0"], 1e200)})


def test_a_relu_state_that_grows_without_bound_is_refused_at_the_step_it_overflows():
    cell = random_cell("rnn_relu", 2, 3, seed=0)
    U = np.full((3, 3), 1e100)
    x = np.ones((10, 2))
    with pytest.raises(RNNError, match=r"U·hₜ₋₁ overflows at step [2-5]:"):
        cell.replace(weight_hh=U, weight_ih=np.ones((3, 2)), bias_ih=np.zeros(3), bias_hh=np.zeros(3)).trace(x)
