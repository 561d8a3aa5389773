"""The Video panel's hand-overs: its GRU to the RNN panel, a transformer head to the Attention panel, and back.

A mixin of :class:`~explorer.ui.panels.video.panel.VideoPanel` (it uses the
panel's state, its head box and its context), kept apart so the panel's layout
code does not mix with the cross-panel traffic.
"""

from __future__ import annotations

from explorer.engine.video.heads import video_head
from explorer.ui.errors import show_error
from explorer.ui.panels.state import BackLink


class HandOver:
    """Open the model's recurrence or one head elsewhere; come back to a frame or a head."""

    def open_in_rnn(self) -> None:
        """Hand the GRU (or LSTM) over this clip's frame features to the RNN panel, at the frame shown."""
        try:
            recurrence = self.state.recurrence()
        except ValueError as exc:
            show_error("Open in RNN panel", exc)
            return
        self.context.offer("rnn", recurrence)

    def _fill_heads(self, trace) -> None:
        """One entry per (layer, head) of a transformer's trace; hidden for a recurrent model."""
        pairs = [(layer, head) for layer, w in enumerate(trace.attentions or []) for head in range(w.shape[0])]
        if pairs != self.head_pairs:
            chosen = self.chosen_head()
            self.head_pairs = pairs
            self.head_combo.clear()
            self.head_combo.addItems([f"layer {layer + 1} · head {head + 1}" for layer, head in pairs])
            self.choose_head(*(chosen or (0, 0)))
        for widget in (self.head_combo, self.open_attention_button):
            widget.setVisible(bool(pairs))

    def chosen_head(self) -> tuple[int, int] | None:
        """(layer, head) chosen in the box, 0-based; None when the model has no heads."""
        index = self.head_combo.currentIndex()
        return self.head_pairs[index] if 0 <= index < len(self.head_pairs) else None

    def choose_head(self, layer: int, head: int) -> None:
        if (layer, head) in self.head_pairs:
            self.head_combo.setCurrentIndex(self.head_pairs.index((layer, head)))

    def open_in_attention(self) -> None:
        """The chosen head's real Q, K, V on this clip, from the current frame, in the Attention panel."""
        state, chosen = self.state, self.chosen_head()
        loaded = state.models.get(state.model_name)
        if state.trace is None or chosen is None or loaded is None:
            return
        layer, head = chosen
        link = BackLink("video", {"layer": layer, "head": head, "token": state.current},
                        f"Back to Video · layer {layer + 1}, head {head + 1}")
        try:
            real = video_head(loaded, state.trace, layer, head, query=state.current,
                              model_name=state.model_title(state.model_name), input_name=state.clip.name, back=link)
        except ValueError as exc:
            show_error("Open in Attention panel", exc)
            return
        self.context.offer("attention", real)

    def receive(self, payload: object) -> None:
        """Back from the RNN panel (a frame) or the Attention panel (a head and the frame it queried)."""
        if not isinstance(payload, BackLink) or payload.panel != "video":
            super().receive(payload)
            return
        chosen = payload.selection
        if "layer" in chosen:
            self.choose_head(int(chosen["layer"]), int(chosen.get("head", 0)))
        self.state.set_frame(int(chosen.get("frame", chosen.get("token", self.state.current))))
