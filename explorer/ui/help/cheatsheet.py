"""Help › Cheatsheet: the facts the panels illustrate, each with the panel that shows it.

The worked attention example is not typed in: its numbers are computed by
:func:`explorer.engine.attention.attend` when the cheatsheet is built, so the
page and the Attention panel cannot disagree. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    title: str  # short, for the list
    heading: str  # HTML, for the page
    html: str
    panel: str  # the panel that shows it, opened by the topic's button
    button: str


def _row(values) -> str:
    return "[" + ", ".join(f"{float(v):.3g}" for v in values) + "]"


def worked_example_html() -> str:
    """The cheatsheet's example, q = [1, 0] over three keys, with every number from the engine."""
    from explorer.engine.attention import attend

    q = [[1.0, 0.0]]
    keys = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    trace = attend(q, keys, keys)  # V = K, as in the example
    scores, scaled, weights, output = (t[0].tolist() for t in (trace.scores, trace.scaled, trace.weights, trace.output))
    return (
        "<table cellpadding='3'>"
        "<tr><td><b>inputs</b></td><td>q = [1, 0]; keys k₁ = [1, 0], k₂ = [0, 1], k₃ = [1, 1]; values = the keys</td></tr>"
        f"<tr><td><b>scores</b> q·kᵢ</td><td>{_row(scores)}</td></tr>"
        f"<tr><td><b>scaled</b> ÷ √2</td><td>{_row(scaled)}</td></tr>"
        f"<tr><td><b>weights</b> softmax</td><td>{_row(weights)}</td></tr>"
        f"<tr><td><b>output</b> Σ wᵢ·vᵢ</td><td>{_row(output)}</td></tr>"
        "</table>"
    )


def topics() -> list[Topic]:
    """Every cheatsheet topic, in reading order."""
    return [
        Topic(
            "Three places", "Three places sequences enter vision",
            "<table cellpadding='3'>"
            "<tr><th align='left'>where</th><th align='left'>example</th><th align='left'>tool</th></tr>"
            "<tr><td>output</td><td>captioning: a sequence of words</td><td>an RNN or an attention decoder</td></tr>"
            "<tr><td>input</td><td>video: a sequence of frames</td><td>an RNN, a temporal CNN or a transformer over time</td></tr>"
            "<tr><td>internal</td><td>a Vision Transformer: the image as a sequence of patches</td><td>a transformer encoder</td></tr>"
            "</table>",
            "captioning", "Open Captioning",
        ),
        Topic(
            "Recurrence", "Recurrence: h<sub>t</sub> = f(W·x<sub>t</sub> + U·h<sub>t−1</sub> + b)",
            "<p>The hidden state h<sub>t</sub> is the network's running memory, carried from step to step; the output at "
            "each step is read off h<sub>t</sub>, often through one more linear layer. LSTM and GRU add gates that decide "
            "what is kept and what is forgotten.</p><p>Limits: the steps run one after another (no parallelism), "
            "and long-range dependencies are hard — the influence of early inputs tends to fade.</p>",
            "rnn", "Open RNN",
        ),
        Topic(
            "Attention", "Attention: softmax(Q·Kᵀ / √d<sub>k</sub>) · V",
            "<p>Queries, keys and values are matrices computed from the input. The scores Q·Kᵀ compare every "
            "query with every key; dividing by √d<sub>k</sub> keeps them from growing with the key size; the softmax turns "
            "each row into probabilities; the output is the weighted average of the values.</p>"
            f"{worked_example_html()}"
            "<p>What attention lifts: every position is computed at once (parallel), and every output position "
            "reaches every input directly (no distance penalty). Recurrence steps through with a hidden state; "
            "attention takes a weighted average over all, weighted by compatibility.</p>",
            "attention", "Open Attention",
        ),
        Topic(
            "ViT in six steps", "A Vision Transformer in six steps",
            "<ol><li>Cut the image into a grid of patches (often 16×16 pixels).</li>"
            "<li>Flatten each patch and embed it linearly as a vector.</li>"
            "<li>Add learned position embeddings, so the model knows where each patch sat.</li>"
            "<li>Put a learnable class token in front of the sequence.</li>"
            "<li>Run a standard transformer encoder over the sequence.</li>"
            "<li>Read the class token's final vector; a linear classifier turns it into one score per class.</li></ol>",
            "vit", "Open ViT",
        ),
        Topic(
            "Encoders and sequence models", "Encoders and sequence models, side by side",
            "<table cellpadding='3'>"
            "<tr><th align='left'>architecture</th><th align='left'>encoder</th><th align='left'>sequence model</th></tr>"
            "<tr><td>classic captioning</td><td>CNN</td><td>RNN decoder</td></tr>"
            "<tr><td>attention captioning</td><td>CNN feature maps</td><td>attention decoder over regions (a map per word)</td></tr>"
            "<tr><td>video understanding</td><td>a CNN per frame</td><td>RNN over the frame features</td></tr>"
            "<tr><td>Vision Transformer</td><td>none: the patches go in directly</td><td>transformer encoder over the patches</td></tr>"
            "</table>",
            "video", "Open Video",
        ),
        Topic(
            "Common mistakes", "Common mistakes",
            "<ul><li><b>“The hidden state is the weights.”</b> No: the state changes at every step of a "
            "sequence; the weights stay fixed until training updates them.</li>"
            "<li><b>“Attention is a different idea from a neural network.”</b> It is a layer built from the same "
            "multiply, add and softmax; its weights are computed from the input.</li>"
            "<li><b>“A ViT is a CNN with attention.”</b> A pure ViT has no convolution: attention replaces it "
            "(the patch embedding is a linear map, even when written as a strided convolution).</li>"
            "<li><b>“Transformers always beat CNNs.”</b> It is a trade-off: they need more data and compute to "
            "pull ahead, and scale further when they have them.</li></ul>",
            "rnn", "See the state change in RNN",
        ),
    ]
