"""The Captioning panel's state without Qt: the bundled captioners on real scenes, the stepper, the rules.

Nothing here imports Qt: the state runs its work with ``run_now`` (or a runner
that holds jobs until the test finishes them, to play requests out of order).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from explorer.assets import resource_path
from explorer.engine.captioning.loading import bundled_path
from explorer.engine.infra import scenes
from explorer.engine.infra.images import load_image
from explorer.ui.panels.captioning import describe
from explorer.ui.panels.captioning.state import COLOUR_MAPS, CaptioningState, sharpest_word
from explorer.ui.panels.state import restore_settings, settings_of


class HeldJob:
    """One job of :class:`HeldRunner`: it runs when the test calls :meth:`finish`."""

    def __init__(self, fn, args, kwargs, callbacks) -> None:
        self.fn, self.args, self.kwargs, self.callbacks = fn, args, kwargs, callbacks
        self.done = self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def finish(self) -> None:
        result = self.fn(*self.args, **self.kwargs)
        self.done = True
        self.callbacks["on_result"](result)


class HeldRunner:
    """A runner that keeps every job until the test finishes it, in any order (a worker's timing)."""

    def __init__(self) -> None:
        self.jobs: list[HeldJob] = []

    def __call__(self, fn, *args, description="", **kwargs):
        callbacks = {name: kwargs.pop(name) for name in list(kwargs) if name.startswith("on_")}
        job = HeldJob(fn, args, kwargs, callbacks)
        self.jobs.append(job)
        return job


def scene_state(**kwargs) -> CaptioningState:
    """A state with the bundled captioners loaded, showing a generated scene (fixed seed)."""
    state = CaptioningState(rng=np.random.default_rng(0), **kwargs)
    state.load_bundled()
    return state


def a_photo() -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8))


def test_the_bundled_captioners_start_on_a_generated_scene_and_caption_it_with_both():
    shared = []
    state = CaptioningState(rng=np.random.default_rng(0), share_image=lambda image, name: shared.append(name))
    state.load_bundled()
    assert state.main.name == "attention" and state.classic.name == "classic"
    assert state.scene is not None and shared == [state.scene_name] and state.scene_name.startswith("generated scene")
    assert state.trace is None  # the app's image comes back through set_image, as the context does
    state.set_image(state.scene.image, state.scene_name)
    assert state.trace.words and state.classic_trace.words and state.scene is not None
    assert state.status.startswith(f"attention: {len(state.trace.words)} words, beam 3 · BLEU-4 against the scene's caption ")


def test_a_new_caption_starts_on_the_sharpest_word_with_every_word_revealed():
    state = scene_state()
    trace = state.trace
    peaks = trace.alphas.reshape(len(trace.words), -1).max(1)
    assert state.selected == int(np.argmax(peaks)) == sharpest_word(trace)
    assert state.shown == len(trace.words) and state.hovered == -1
    state.step_to(1)
    state.hover(0)
    state.set_image(a_photo(), "photo")  # a new trace never leaves a stale index
    assert state.scene is None
    assert state.selected == sharpest_word(state.trace) < len(state.trace.words)
    assert state.shown == len(state.trace.words) and state.hovered == -1


def test_setting_the_beam_size_captions_again():
    state = scene_state()
    state.beam_size = 1
    assert state.trace.beam_size == 1 and len(state.trace.alternatives) == 1
    state.beam_size = 5
    assert state.trace.beam_size == 5


def test_the_latest_caption_request_wins():
    runner = HeldRunner()
    state = CaptioningState(runner=runner, rng=np.random.default_rng(0))
    state.load_bundled()
    runner.jobs[0].finish()  # the models; then the scene is captioned
    first = runner.jobs[-1]
    state.beam_size = 1
    second = runner.jobs[-1]
    assert second is not first and first.cancelled and not second.cancelled
    assert state.status == "Captioning…"
    second.finish()
    assert state.trace.beam_size == 1
    first.finish()  # arrives late: it must not replace the newer caption
    assert state.trace.beam_size == 1


def test_stepping_reveals_words_and_keeps_the_selection_on_a_revealed_one():
    state = scene_state()
    n = len(state.trace.words)
    state.step_to(0)
    assert state.shown == 0 and state.position == 0 and state.focus_word() is None and state.focus_map() is None
    assert state.focus_info() == "Step ▶ to generate the first word."
    state.step_forward()
    assert (state.shown, state.selected) == (1, 0)
    step, rows, chosen = state.focus_step()
    assert step == 0 and chosen == state.trace.words[0] and chosen in [word for word, _p in rows]
    state.step_to(n + 5)
    assert state.shown == n and state.selected == n - 1 and state.step_text == f"word {n} of {n} · end"
    state.step_to(-3)
    assert state.shown == 0
    state.step_all()
    assert state.shown == n
    state.step_to(1)
    state.select_word(n - 1)  # a hidden word, clicked: the caption is revealed up to it
    assert (state.selected, state.shown) == (n - 1, n)
    state.select_word(n)  # out of range: ignored
    assert state.selected == n - 1


def test_the_stepper_stands_on_the_selected_word_from_the_first_caption_on():
    """It read "word 3 of 3 · end" with word 2 selected: it counted the revealed words, not the selection."""
    state = CaptioningState()
    state.set_image(load_image(resource_path("images", "chelsea.png")), "chelsea.png")
    state.load_bundled()
    n, selected = len(state.trace.words), state.selected
    assert selected < n - 1 and state.shown == n  # on this photo the sharpest map is not the last word's
    assert state.position == selected + 1 and state.step_text == f"word {selected + 1} of {n}"
    state.step_forward()  # ▶ goes on from the selected word
    assert state.selected == selected + 1 and state.step_text.startswith(f"word {selected + 2} of {n}")
    state.select_word(0)
    assert state.shown == n and state.step_text == f"word 1 of {n}"
    state.step_back()
    assert state.shown == 0 and state.step_text == f"word 0 of {n}"


def test_the_hovered_word_is_in_focus_until_the_pointer_leaves():
    state = scene_state()
    state.select_word(0)
    state.hover(1)
    assert state.focus == 1 and np.array_equal(state.focus_map(), state.trace.alphas[1])
    assert f"“{state.trace.words[1]}”" in state.focus_info() and "map peak" in state.focus_info()
    state.hover(-1)
    assert state.focus == 0 and np.array_equal(state.focus_map(), state.trace.alphas[0])


def test_the_object_box_outlines_the_object_a_colour_word_names():
    state = scene_state()
    colour = next(t for t, word in enumerate(state.trace.words) if word in scenes.COLOURS)
    state.select_word(colour)
    box = state.true_box()
    obj = next(o for o in state.scene.objects if o.colour == state.trace.words[colour])
    x0, y0, x1, y1 = obj.box(state.scene.size)
    s = state.scene.size
    assert box == pytest.approx((x0 / s, y0 / s, x1 / s, y1 / s))
    state.show_box = False
    assert state.true_box() is None
    state.show_box = True
    state.set_image(a_photo(), "photo")
    assert state.true_box() is None


def test_the_remembered_bundled_model_is_the_one_opened_at_start():
    runner = HeldRunner()
    state = CaptioningState(runner=runner, model_key="attention_boxes", rng=np.random.default_rng(0))
    state.load_bundled()
    assert state.chosen == "attention_boxes" and state.main is None  # the model box shows it while it opens
    runner.jobs[0].finish()
    assert state.main.name == "attention_boxes" and state.source == "attention_boxes"


def test_choosing_a_bundled_model_opens_it_and_remembers_it():
    state = scene_state()
    before = state.trace
    assert state.choose_model("attention") is None  # the one shown: nothing to open
    state.choose_model("attention_boxes")
    assert state.main.name == "attention_boxes" and state.source == state.chosen == "attention_boxes"
    assert state.model_key == "attention_boxes" and state.trace is not before


def test_a_model_opened_from_a_file_joins_the_model_box_but_is_not_remembered(tmp_path):
    state = scene_state()
    path = tmp_path / "mine.safetensors"
    path.write_bytes(bundled_path("attention_boxes").read_bytes())
    state.load_model(path)
    assert state.main.name == "mine" and state.chosen == path and state.model_key == "attention"
    assert state.choices[-1] == (path, "Opened · mine")
    state.load_model(path)
    assert [source for source, _label in state.choices].count(path) == 1


def test_a_wrong_model_file_keeps_the_model_and_puts_the_model_box_back(tmp_path):
    errors = []
    state = scene_state(on_error=lambda title, exc: errors.append((title, str(exc))))
    before = state.main
    bad = tmp_path / "notes.safetensors"
    bad.write_bytes(b"definitely not weights")
    state.choices = (*state.choices, (bad, "Opened · notes"))
    state.choose_model(bad)
    assert state.main is before and state.chosen == "attention"
    assert errors and errors[-1][0] == "Open captioner" and "notes.safetensors" in errors[-1][1]


def test_without_an_error_callback_the_error_is_raised(tmp_path):
    state = scene_state()
    with pytest.raises(ValueError, match="no such file"):
        state.load_model(tmp_path / "missing.safetensors")


def test_a_bundled_captioner_that_cannot_be_opened_says_so():
    errors = []
    state = CaptioningState(on_error=lambda title, exc: errors.append(title))
    state.model_key = "missing"  # as if the bundled file were gone
    state.load_bundled()
    assert state.main is None and errors == ["Captioning"]
    assert state.status.startswith("No captioner loaded: ")


def test_a_retrained_classic_decoder_replaces_the_one_beside_the_caption(tmp_path):
    state = scene_state()
    main, classic = state.main, state.classic
    path = tmp_path / "classic2.safetensors"
    path.write_bytes(bundled_path("classic").read_bytes())
    state.model_trained("caption_classic", str(path))
    assert state.main is main and state.classic is not classic and state.classic.name == "classic2"
    path = tmp_path / "boxes2.safetensors"
    path.write_bytes(bundled_path("attention_boxes").read_bytes())
    state.model_trained("caption_attention_boxes", str(path))
    assert state.main.name == "boxes2"


def test_opening_reports_progress_while_it_runs():
    seen = []

    def runner(fn, *args, on_progress=None, on_result=None, on_finished=None, **kwargs):
        on_progress(0.25, "downloading")
        seen.append(state.loading)
        on_result(fn(*args))
        on_finished()

    state = CaptioningState(runner=runner)
    state.load_model("attention_boxes")
    assert seen == ["downloading (25%)"] and state.loading == "" and state.main.name == "attention_boxes"


def test_settings_round_trip_and_damaged_values_are_ignored():
    state = CaptioningState(model_key="attention_boxes", beam_size=5, opacity=30, cmap="magma",
                            show_box=False, tab=1, layer=1, head=0)
    saved = settings_of(state)
    assert set(saved) == set(CaptioningState.PERSISTED)
    fresh = CaptioningState()
    assert sorted(restore_settings(fresh, {k: str(v) for k, v in saved.items()})) == sorted(saved)
    assert settings_of(fresh) == saved
    damaged = {"model_key": "classic", "beam_size": "eleven", "opacity": "150", "cmap": "rainbow",
               "show_box": "maybe", "tab": "2", "layer": "-1", "head": "1.5"}
    assert restore_settings(fresh, damaged) == []
    assert settings_of(fresh) == saved
    assert restore_settings(fresh, {"beam_size": "11"}) == [] and fresh.beam_size == 5
    assert COLOUR_MAPS[0] == CaptioningState().cmap


# -- Hugging Face captioners (the tiny random ones of tests/engine/captioning/hf_captioners.py) ----------------
def test_a_hugging_face_decoder_offers_each_layer_and_head(hf_folder):
    state = scene_state()
    assert state.attention_choices == []  # the bundled decoder has one map per word, nothing to choose
    state.load_model(hf_folder)
    assert state.main.kind == "transformer" and state.trace.alphas.shape[1:] == (4, 4)
    labels = [label for label, _layer, _head in state.attention_choices]
    assert labels[0] == "mean of all layers and heads" and len(labels) == 1 + 2 * (1 + 2)
    assert "layer 2, head 1" in labels
    mean = state.trace
    state.choose_attention(1, 0)
    assert (state.layer, state.head) == (1, 0) and state.trace is not mean
    assert state.main.stepper.layer == 1 and state.main.stepper.head == 0
    assert state.trace.tokens == mean.tokens and not np.allclose(state.trace.alphas, mean.alphas)


def test_a_hugging_face_model_brings_its_beam_and_says_how_it_searches(hf_folder):
    runner = HeldRunner()
    state = CaptioningState(runner=runner, beam_size=5, rng=np.random.default_rng(0))
    state.set_image(a_photo(), "photo")
    state.load_model(hf_folder)
    runner.jobs[-1].finish()  # the model opens: its generation config asks for beam 3
    assert state.beam_size == 3
    captions = [job for job in runner.jobs[1:] if not job.cancelled]
    assert len(captions) == 1, "one caption for the new model and its beam, not two"
    captions[0].finish()
    assert state.trace.beam_size == 3 and "length^0.6" in state.trace.rule
    assert state.status.startswith(f"{state.main.name}: {len(state.trace.words)} words, beam 3 (score = ")
    text = describe.attention_text(state.main)
    assert "generation config: beam 3, at most 9 tokens" in text and "no repeated 2-grams" in text
    caption, _tip, score, score_tip = describe.beam_texts(state.trace.alternatives[0], state.trace.rule)
    assert score == f"{state.trace.alternatives[0].score:.3f}" and "generation config" in score_tip


def test_the_remembered_layer_and_head_apply_where_the_decoder_has_them(ved_folder):
    state = scene_state()
    state.layer, state.head = 1, 1  # as restored from the settings
    state.load_model(ved_folder)
    assert (state.main.stepper.layer, state.main.stepper.head) == (1, 1)
    state.layer, state.head = 5, None  # a bigger model's choice: this one shows the mean
    state.load_model(ved_folder)
    assert (state.layer, state.head) == (None, None)
    assert (state.main.stepper.layer, state.main.stepper.head) == (None, None)


def test_on_a_generated_scene_the_status_gives_the_caption_s_bleu():
    from explorer.engine.captioning.metrics import sentence_bleu

    state = scene_state()
    bleu = sentence_bleu([state.scene.words], state.trace.words)
    assert state.scene_bleu() == bleu and f"BLEU-4 against the scene's caption {bleu:.2f}" in state.status
    state.set_image(a_photo(), "photo")
    assert state.scene_bleu() is None and "BLEU" not in state.status
