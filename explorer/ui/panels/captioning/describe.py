"""What the Captioning panel says about a caption and a model, as plain text (no Qt).

Kept apart from the widgets so the wording, and the numbers it quotes, can be
read and changed (and tested) without the layout code; the panel's state and
its pages call these.
"""

from __future__ import annotations

import numpy as np

from explorer.engine.captioning.captioner import Alternative, Captioner, CaptionTrace

CLASSIC_INFO = "The whole image enters once, as the LSTM's initial state; no map per word."
NO_ATTENTION = "This model has no attention: no map per word."


def word_tips(trace: CaptionTrace) -> list[str]:
    """One tooltip per word of the caption: its probability, and β where the decoder gates its glimpse."""
    tips = []
    for t, word in enumerate(trace.words):
        tip = f"“{word}”: probability {trace.probs[t]:.3f} at step {t + 1}"
        if trace.betas is not None:
            tip += f"; β = {trace.betas[t]:.3f} (share of the glimpse let into the LSTM)"
        tips.append(tip)
    return tips


def word_info(trace: CaptionTrace, t: int) -> str:
    """The line under the chips about word ``t``: probability, where its map peaks, β (rich text)."""
    text = f"<b>“{trace.words[t]}”</b> — word {t + 1}, probability {trace.probs[t]:.3f}"
    if trace.alphas is not None:
        alpha = trace.alphas[t]  # (g, g)
        r, c = np.unravel_index(int(np.argmax(alpha)), alpha.shape)
        text += f"; map peak {alpha.max():.3f} at row {r + 1}, column {c + 1} of {alpha.shape[0]}×{alpha.shape[1]}"
    if trace.betas is not None:
        text += f"; β = {trace.betas[t]:.3f}"
    return text


def candidates_tip(trace: CaptionTrace, step: int) -> str:
    """Says which step the candidate table lists, and after which words."""
    return f"The most likely words at step {step + 1}, after “{' '.join(trace.words[:step]) or '<start>'}”"


def probability_bar(prob: float) -> str:
    """A probability with a bar of up to twelve blocks, readable in a table cell."""
    return f"{prob:.3f}  " + "█" * int(round(prob * 12))


def beam_texts(alt: Alternative, rule: str = "") -> tuple[str, str, str, str]:
    """One finished hypothesis of the beam: (caption, its tooltip, score, the score's tooltip).

    ``rule`` is the trace's search rule in words: with a length penalty the score
    is not the plain sum of log-probabilities, and the tooltip says both.
    """
    caption = (" ".join(alt.words) or "(empty)") + ("" if alt.ended else " …")
    tokens = len(alt.tokens) + (1 if alt.ended else 0)
    if "length^" in rule:
        score_tip = (f"Score under the model's generation config ({rule}): log-probability {alt.total:.3f} "
                     f"over {tokens} tokens (end included); probability {np.exp(alt.total):.3g}")
    else:
        score_tip = f"Sum of the log-probabilities of its {tokens} tokens (end included); probability {np.exp(alt.total):.3g}"
    caption_tip = "Word probabilities: " + ", ".join(f"{p:.2f}" for p in alt.probs)
    if not alt.ended:
        caption_tip += " — stopped at the length limit before an end token"
    return caption, caption_tip, f"{alt.score:.3f}", score_tip


def caption_summary(trace: CaptionTrace, bleu: float | None = None) -> str:
    """The status line after a caption: model, length, beam, the search rule, whether it ran out of room,
    and on a generated scene its BLEU-4 against the scene's own caption."""
    text = f"{trace.model}: {len(trace.words)} words, beam {trace.beam_size}"
    if trace.rule:
        text += f" ({trace.rule})"
    if bleu is not None:
        text += f" · BLEU-4 against the scene's caption {bleu:.2f} (add-one smoothing)"
    return text + ("" if trace.ended else " — stopped at the length limit before an end token")


def classic_texts(trace: CaptionTrace | None) -> tuple[str, str]:
    """The classic decoder's box: (its caption, the line under it)."""
    if trace is None:
        return "—", CLASSIC_INFO
    return trace.caption or "(empty caption)", (
        f"log-prob {trace.score:.2f}. The whole image enters once, as the LSTM's "
        "initial state: there is no map per word."
    )


def model_figures(metrics: dict) -> str:
    """The figures a bundled model's file records, measured on fresh generated scenes ("" if none)."""
    if not metrics:
        return ""
    figures = (
        f" Measured on {int(metrics.get('scenes', 0))} fresh scenes: exact match {metrics.get('exact_match', 0):.1%}, "
        f"BLEU-4 {metrics.get('bleu4', 0):.3f}"
    )
    if "pointing" in metrics:
        figures += (
            f", pointing {metrics['pointing']:.1%} (colour words {metrics['pointing_colour']:.1%}, "
            f"shape words {metrics['pointing_shape']:.1%})"
        )
    return figures + "."


def search_text(main: Captioner) -> str:
    """How a model's captions are searched, when it says so itself (a Hugging Face generation config)."""
    if main.default_beam is None and not main.rule.text:
        return ""
    text = (f" Captions follow the model's generation config: beam {main.default_beam or 1}, "
            f"at most {main.max_words} tokens")
    text += (f", {main.rule.text}." if main.rule.text else ".")
    return text + "".join(f" {note}" for note in main.search_notes)


def attention_text(main: Captioner) -> str:
    """Where the model's maps come from (or that it has none), how it searches, then its measured figures."""
    return (main.attention_note or NO_ATTENTION) + search_text(main) + model_figures(main.metrics)


def attention_choices(main: Captioner | None) -> list[tuple[str, int | None, int | None]]:
    """The cross-attentions a Hugging Face decoder can show: (label, layer, head), None meaning the mean.

    Empty for every other kind of captioner (their one map per word is all there is).
    """
    if main is None or main.kind != "transformer":
        return []
    choices: list[tuple[str, int | None, int | None]] = [("mean of all layers and heads", None, None)]
    for layer in range(main.layers):
        choices.append((f"layer {layer + 1}, mean of heads", layer, None))
        choices.extend((f"layer {layer + 1}, head {head + 1}", layer, head) for head in range(main.heads))
    return choices
