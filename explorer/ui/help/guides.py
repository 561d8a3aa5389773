"""The per-panel guides (F1): what a panel shows, how to read it, and where it misleads.

Plain text (a little HTML) keyed by panel, no Qt, so tests can check every
panel has one and the wording stays in one place. Each guide has the same
three parts, because a learner needs all three: what am I looking at, how do
I read it, and what will fool me.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Guide:
    panel: str  # panel key
    name: str  # the panel's name, for the list of guides
    title: str
    shows: str  # what the panel shows
    read: str  # how to read it
    misleads: str  # where it misleads
    methods: str = ""  # optional: what each of the panel's methods answers, and where each misleads

    def html(self) -> str:
        methods = f"<h3>What each method answers</h3><p>{self.methods}</p>" if self.methods else ""
        return (
            f"<h2>{self.title}</h2>"
            f"<h3>What it shows</h3><p>{self.shows}</p>"
            f"<h3>How to read it</h3><p>{self.read}</p>"
            f"<h3>Where it misleads</h3><p>{self.misleads}</p>"
            f"{methods}"
        )


GUIDES: dict[str, Guide] = {
    guide.panel: guide
    for guide in (
        Guide(
            "attention", "Attention", "Attention: a weighted average chosen by compatibility",
            "One scaled dot-product attention, softmax(Q·Kᵀ/√d<sub>k</sub>)·V, with every intermediate on screen: the "
            "scores Q·Kᵀ, the scaled scores, the softmax weights (one probability row per query) and the output "
            "(each query's weighted average of the rows of V). <i>Why scale?</i> measures what the ÷√d<sub>k</sub> is "
            "for; <i>From input</i> builds Q, K and V from tokens X and learned projections W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub> and "
            "runs several heads. A real model's head can be opened here from the ViT or Video panel.",
            "Rows are queries, columns are keys. Pick a query row: its weights say how much of each value row "
            "goes into its output, and they sum to 1. Edit Q, K or V (type, drag sideways or turn the wheel on a "
            "cell; Shift is fine) and watch every map follow. Hover a weight to see its query, key and value "
            "rows. Signed numbers use the blue–red map centred on zero; weights use the sequential map from 0.",
            "A weight is not an importance: a large weight on a value row that is near zero changes the output "
            "little. Without ÷√d<sub>k</sub> the softmax saturates as d<sub>k</sub> grows (one key takes everything), which looks "
            "like a confident model but is only large dot products. A fully masked query has no defined output; "
            "it is shown as zeros and flagged, not as a real answer.",
        ),
        Guide(
            "rnn", "RNN", "RNN: a hidden state carried step by step",
            "A vanilla RNN, an LSTM or a GRU reading a sequence one step at a time, with every term of "
            "h<sub>t</sub> = f(W·x<sub>t</sub> + U·h<sub>t−1</sub> + b) at the current step: the input, the previous state, both products, "
            "the bias, the pre-activation, the gates and the new state. The hidden state over time, one unit's "
            "trajectory, the gates over time, the weights (editable) and how far back the last state still "
            "feels its inputs (‖∂h<sub>T</sub>/∂x<sub>t</sub>‖). A real model's recurrence (the captioner's decoder, the video GRU) "
            "can be opened here from its panel.",
            "Step with ← → (Home, End; Space plays). Each strip is one vector at step t; the heatmap is h<sub>t</sub> for "
            "every t, one column per step. Watch ‖h<sub>t</sub>‖ move while ‖W‖, ‖U‖ and ‖b‖ stay flat: the state changes "
            "at every step, the weights do not. In an LSTM, f near 1 keeps the cell state; in a GRU, z near 1 "
            "keeps the old state.",
            "The hidden state is not the weights: only training changes W, U and b. The bundled models learned "
            "generated tasks (remember a symbol, read a shape row by row); on your photo their read-out is "
            "meaningless, and the panel says so. A fading ‖∂h<sub>T</sub>/∂x<sub>t</sub>‖ shows the gradient path, not what the "
            "model 'remembers' in a human sense.",
        ),
        Guide(
            "vit", "ViT", "ViT: the image as a sequence of patches",
            "A Vision Transformer's six steps on your image: the patch grid, the patches as a sequence, the "
            "linear embedding, the position embeddings, the class token, and the encoder's attention at any "
            "layer and head, with rollout, mean attention distance and the top-5 predictions. Extra tokens "
            "(registers, a distillation token) are shown as what they are. Then token norms (step 7), and "
            "beyond raw attention: relevance beside rollout (8), heads switched off and head importance (9), "
            "every head at a glance (10) and the logit lens (11).",
            "Click a patch to follow it through the steps. In step 4 a patch's cosine-similarity map shows "
            "that learned position embeddings encode where patches sit. In step 6 pick a layer and head and a "
            "query ([CLS] or a clicked patch): the map is that query's attention row over the patch grid.",
            "Attention is not explanation: a bright patch received weight, which is not the same as mattering "
            "for the answer. Rollout multiplies layers together and spreads context; its head fusion and "
            "discard ratio are heuristics. Maps scaled per head to their own range make weak heads look as "
            "strong as strong ones — the raw range is shown beside each map. The bundled model knows only "
            "generated scenes of a red and a blue shape; on a photo its prediction is meaningless.",
            "Steps 8–11 go beyond raw attention. <b>Raw attention</b> (step 6) answers “where did this token look "
            "in this layer?”; <b>rollout</b> “where could information have come from, through every layer?” — the "
            "same for every class. <b>Relevance</b> (Chefer et al.: each head's attention weighed by the gradient of "
            "the chosen class's logit, positive part, accumulated R ← R + Ē·R) and <b>gradient rollout</b> answer "
            "“which patches does <i>this</i> answer depend on?”; they are first-order (a gradient is local) and "
            "ignore the MLPs' own contribution, so a patch can matter without lighting up. <b>Head ablation</b> "
            "(step 9) answers “what does the answer lose without this head?” by zeroing it; single-head drops "
            "underestimate heads that back each other up, and a zeroed head is an input the model never saw in "
            "training. <b>All heads at a glance</b> (step 10) shows every head's map for one query and groups "
            "similar ones by Jensen–Shannon distance: similar maps for one query need not mean similar heads. "
            "The <b>logit lens</b> (step 11) reads each layer through the final norm and head: it shows when the "
            "answer becomes readable, but early layers were never trained for that head, so a low probability "
            "there means “not in this basis yet” as much as “not known”.",
        ),
        Guide(
            "captioning", "Captioning", "Captioning: a sequence of words out, and where the model looked",
            "Two decoders caption the same image: an attention decoder (Show, Attend and Tell: one glimpse at "
            "a grid of image regions per word, gated by β) and a classic CNN→RNN decoder (the image only "
            "starts the LSTM). Each word of the attention decoder comes with its map over the image; the "
            "stepper shows the words it weighed at each step; the beam lists the alternatives it kept.",
            "Hover or click a word to lay its map over the image. β near 0 means the word came mostly from the "
            "language model, not the image. ◀ ▶ step through generation.",
            "A map shows where the decoder looked, not what it recognised; a plausible map can come with a "
            "wrong word and the other way round. The bundled decoders know only generated scenes of coloured "
            "shapes; on a photo they name shapes they think they see. Beam search ranks whole captions, so the "
            "best caption can start with a word greedy decoding would not pick.",
        ),
        Guide(
            "video", "Video", "Video: a sequence of frames in",
            "A clip read frame by frame: a small CNN turns each frame into a feature vector, then either a GRU "
            "(one frame at a time, a hidden state after each) or a causal transformer (frame t attends to frames "
            "1…t) reads the sequence. The prediction after every frame shows the decision forming; importance "
            "shows how much the final answer still depends on each frame.",
            "Scrub or play the frames. The hidden-state map has one column per frame. The belief plot is the "
            "class probabilities after each frame. The attention map is lower-triangular: a frame never sees "
            "the future.",
            "The bundled models classify generated clips of one moving shape; on other clips their answer is "
            "meaningless. Importance is a gradient norm: large means sensitive, not necessarily decisive. A "
            "clip longer than the frame cap is sampled evenly, so fast motion can be skipped.",
        ),
        Guide(
            "training", "Training", "Training: the loop on top",
            "The one training loop that made every bundled model: a batch of fresh generated data, the loss, "
            "backpropagation, an optimiser step — the same for every architecture. Live loss and accuracy, "
            "samples per second, time left, and snapshots of what the model learns (for the ViT, its "
            "position-embedding similarity turning from noise into a 2-D pattern).",
            "Pick a model and its task, set steps, batch size, learning rate and seed, and Start. The same seed "
            "gives the same weights. A finished run is saved and opens in its own panel.",
            "Training accuracy on fresh generated batches measures the generated task only. A run cut short is "
            "not saved unless you choose to; a loss that becomes NaN stops the run with the last good weights.",
        ),
    )
}


def guide(panel: str) -> Guide:
    """The guide of ``panel`` (a key such as ``"vit"``)."""
    try:
        return GUIDES[panel]
    except KeyError:
        raise ValueError(f"no guide for the panel {panel!r}") from None
