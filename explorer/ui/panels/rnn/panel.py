"""RNN panel: step a hidden state through a sequence with a vanilla RNN, an LSTM or a GRU.

The page makes the recurrence hₜ = f(W·xₜ + U·hₜ₋₁ + b) visible, on a cell of
your own, a bundled model, a file, or a real model's recurrence handed over by
the Captioning panel (the decoder LSTM through its caption) or the Video panel
(the GRU over the clip's frames), with a way back at the same word or frame:

- *Step through*: the input read (an image row or patch outlined, or the
  signal), every term of the update rule at the current step as coloured
  strips, the hidden state over time (H × T) with the step marked, one unit's
  trajectory, and ‖h_t‖ moving while ‖W‖, ‖U‖, ‖b‖ stay flat.
- *Gates over time*: LSTM i, f, g, o and c; GRU r, z, n.
- *Weights*: W, U and b per gate block, editable; an edit re-runs the sequence.
- *Long-range memory*: ‖∂h_T/∂x_t‖ for the bundled RNN, LSTM and GRU on the
  same memory-task sequence, and their accuracy against the number of
  distractors (measured on fresh data by the training script).

What is shown and why lives in :class:`.state.RNNState` (no Qt); the widgets
sit where :mod:`.layout` puts them. This module binds the two: a user's action
goes to a state method, a state event redraws. A trace of a whole sequence is
computed once per change, so moving the time slider only moves markers.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QApplication, QFileDialog, QWidget

from explorer.engine.rnn import describe_update
from explorer.engine.rnn.real import RealRecurrence
from explorer.ui.errors import show_error
from explorer.ui.panels.base import Panel
from explorer.ui.panels.rnn.export import ExportMixin
from explorer.ui.panels.rnn.layout import RNNLayout
from explorer.ui.panels.rnn.pages import MEMORY_COLOURS
from explorer.ui.panels.rnn.real import REAL
from explorer.ui.panels.rnn.state import CUSTOM, FILE, RNNState
from explorer.ui.workers import run_task

STATE_FILTER = "State dicts (*.safetensors *.pt *.pth *.bin *.ckpt);;All files (*)"


class RNNPanel(RNNLayout, ExportMixin, Panel):
    title = "RNN"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        state = self.bind_state(RNNState(runner=run_task, report=show_error))
        state.image = context.image.image if context.image is not None else None
        self._drawn = None  # the trace the views hold: a step is drawn only on it
        self.timer = QTimer(self)
        self.timer.timeout.connect(state.advance)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.build()
        self._pages = {self.gates_page: "gates", self.weights_page: "weights", self.long_page: "memory"}
        self._show_model_choices()
        self._show_cell_settings()
        self._show_input_settings()
        self.speed_combo.setCurrentIndex(self.speed_combo.findData(state.speed))
        self._forward_actions()
        self._redraw_on_events()

    def _forward_actions(self) -> None:
        """Each control calls one state method; the state decides what follows."""
        state = self.state
        self.model_combo.currentIndexChanged.connect(lambda: state.choose_model(self.model_combo.currentData()))
        self.kind_combo.currentIndexChanged.connect(self._kind_chosen)
        self.hidden_spin.valueChanged.connect(lambda value: state.set_cell_settings(hidden_size=value))
        self.seed_spin.valueChanged.connect(lambda value: state.set_cell_settings(seed=value))
        self.bias_check.toggled.connect(lambda value: state.set_cell_settings(bias=value))
        self.load_button.clicked.connect(self.load_dialog)
        self.back_link_button.clicked.connect(self.go_back)
        self.input_combo.currentIndexChanged.connect(lambda: state.set_input(input_kind=self.input_combo.currentData()))
        self.steps_spin.valueChanged.connect(lambda value: state.set_input(steps=value))
        self.example_spin.valueChanged.connect(lambda value: state.set_input(example=value))
        self.text_edit.editingFinished.connect(lambda: state.set_input(text=self.text_edit.text()))
        self.export_actions["png"].triggered.connect(self.export_heatmap_dialog)
        for kind in ("csv", "npy", "npz"):
            self.export_actions[kind].triggered.connect(lambda _checked=False, kind=kind: self.export_trace_dialog(kind))
        self.first_button.clicked.connect(lambda: self.set_step(0))
        self.back_button.clicked.connect(self.step_back)
        self.play_button.clicked.connect(self.toggle_play)
        self.forward_button.clicked.connect(self.step_forward)
        self.last_button.clicked.connect(lambda: self.set_step(state.last_step))
        self.speed_combo.currentIndexChanged.connect(lambda: setattr(state, "speed", self.speed_combo.currentData()))
        self.slider.valueChanged.connect(self.set_step)
        self.hidden_map.clicked.connect(lambda row, _col: state.set_unit(row))
        self.rule_view.hovered.connect(state.set_hover)
        self.weights_page.edited.connect(self._edit_weights)
        self.weights_page.reset_requested.connect(state.reset_weights)
        self.long_page.compute_requested.connect(state.compute_sensitivity)
        self.long_page.cancel_requested.connect(state.memory.cancel)
        self.tabs.currentChanged.connect(lambda: state.set_page(self._pages.get(self.tabs.currentWidget(), "step")))

    def _redraw_on_events(self) -> None:
        events, memory = self.state.events, self.state.memory.events
        events.trace.connect(self._show_trace)
        events.step.connect(self._show_step)
        events.unit.connect(self._show_unit)
        events.hover.connect(self._show_hover)
        events.running.connect(self._show_running)
        events.page.connect(self._show_page)
        events.playing.connect(self._show_playing)
        events.speed.connect(self._show_playing)
        events.choices.connect(self._show_model_choices)
        for name in ("source", "loading"):
            getattr(events, name).connect(self._show_model_choices)
        for name in ("source", "cell", "kind", "hidden_size", "seed", "bias"):
            getattr(events, name).connect(self._show_cell_settings)
        for name in ("input_kind", "steps", "example", "text", "source"):
            getattr(events, name).connect(self._show_input_settings)
        memory.running.connect(self.long_page.set_running)
        memory.progress.connect(lambda fraction: self.long_page.progress.setValue(int(fraction * 1000)))
        memory.status.connect(lambda text: self.long_page.status.setText(text))
        memory.results.connect(lambda results: self.long_page.set_results(results, dict(MEMORY_COLOURS, current="#7f7f7f")))
        memory.accuracy.connect(self.long_page.set_accuracy)

    # -- start-up and the app's signals -----------------------------------------------------------
    def start(self) -> None:
        self.state.start()

    def receive(self, payload: object) -> None:
        """A real model's recurrence (Captioning's decoder LSTM, Video's GRU), shown at its panel's word or frame."""
        if not isinstance(payload, RealRecurrence):
            super().receive(payload)
        self.state.show_real(payload)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Coming to this panel (Ctrl+PgUp, the list, a hand-over), the transport keys work at once.

        The page switch gives focus back to the control last used here (the Input box, say),
        where Space opened the box instead of playing: the panel takes the focus after the switch.
        """
        super().showEvent(event)
        QTimer.singleShot(0, self._take_focus)

    def _take_focus(self) -> None:
        if self.isVisible():
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    def on_image_changed(self, current) -> None:
        self.state.set_image(current.image)

    def on_model_trained(self, task: str, path: str) -> None:
        """A model retrained in the Training panel joins the model list and is shown."""
        self.state.open_retrained(path, task)

    def on_zoom_changed(self, zoom: float) -> None:
        """Ctrl +/−: plot tick labels follow the application font (projecting for a class)."""
        font = QApplication.font()
        plots = [self.rule_view.plot, self.sequence_view.plot, self.trajectory.plot, self.norms.plot,
                 self.long_page.plot, self.long_page.accuracy, self.hidden_map.plot, self.prediction_view.heatmap.plot]
        plots += [heatmap.plot for heatmap in self.gates_page.maps.values()]
        for plot in plots:
            item = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
            for side in ("left", "bottom", "top"):
                item.getAxis(side).setTickFont(font)

    def on_theme_changed(self, theme: str) -> None:
        for view in (self.sequence_view, self.trajectory, self.norms, self.prediction_view, self.gates_page,
                     self.weights_page, self.long_page):
            view.apply_theme()
        self.hidden_map.apply_theme()
        self.hidden_map.set_kind("diverging")
        if self.state.trace is not None:
            self._show_trace()

    # -- actions -------------------------------------------------------------------------------------
    def _kind_chosen(self) -> None:
        self.state.choose_kind(self.kind_combo.currentData())
        self._show_cell_settings()  # a file's tensors that do not fit keep the kind they had

    def _edit_weights(self, W, U, b_ih, b_hh) -> None:
        """An edit of the weights; one the state refuses (NaN, an overflow) puts the old values back in the editors."""
        if not self.state.edit_weights(W, U, b_ih, b_hh):
            QTimer.singleShot(0, self.weights_page.show_weights)

    def go_back(self) -> None:
        """Back to the panel the real model came from, at the word or frame shown here."""
        link = self.state.back_link
        if link is not None:
            self.context.offer(link.panel, link)

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a torch.nn RNN / LSTM / GRU state dict", "", STATE_FILTER)
        if path:
            self.load_file(path)

    def load_file(self, path: str | Path):
        """Read a user's state dict in a worker; on failure the message names the problem and nothing changes."""
        return self.state.open_file(path)

    def set_step(self, t: int) -> None:
        """Show step ``t`` (0-based) in every view: the redraw the time slider triggers."""
        self.state.set_step(t)

    def step_forward(self) -> None:
        self.state.set_step(self.state.step + 1)

    def step_back(self) -> None:
        self.state.set_step(self.state.step - 1)

    def toggle_play(self) -> None:
        self.state.toggle_play()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        actions = {
            Qt.Key.Key_Right: self.step_forward, Qt.Key.Key_Left: self.step_back, Qt.Key.Key_Space: self.toggle_play,
            Qt.Key.Key_Home: lambda: self.set_step(0), Qt.Key.Key_End: lambda: self.set_step(self.state.last_step),
        }
        if event.key() in actions:
            actions[event.key()]()
            event.accept()
        else:
            super().keyPressEvent(event)

    # -- redrawing from the state -------------------------------------------------------------------
    def _show_model_choices(self) -> None:
        state, combo = self.state, self.model_combo
        combo.blockSignals(True)
        if [combo.itemData(i) for i in range(combo.count())] != [key for key, _ in state.choices]:
            combo.clear()
            for key, title in state.choices:
                combo.addItem(title, key)
        for index, (_key, title) in enumerate(state.choices):
            combo.setItemText(index, title)
        combo.setCurrentIndex(combo.findData(state.loading or state.source))
        combo.setToolTip(combo.currentText())  # the whole title, where the box elides it
        combo.blockSignals(False)

    def _show_cell_settings(self) -> None:
        state = self.state
        kind, hidden, bias = state.cell_settings
        widgets = (self.kind_combo, self.hidden_spin, self.seed_spin, self.bias_check)
        for widget in widgets:
            widget.blockSignals(True)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))
        self.hidden_spin.setValue(hidden)
        self.seed_spin.setValue(state.seed)
        self.bias_check.setChecked(bias)
        for widget in widgets:
            widget.blockSignals(False)
        custom = state.source == CUSTOM
        self.kind_combo.setEnabled(custom or state.source == FILE)
        for widget in (self.hidden_spin, self.seed_spin, self.bias_check):
            widget.setEnabled(custom)
        for widget in (self.seed_label, self.seed_spin, self.bias_check):  # no seed for a real model: room for 'Back to …'
            widget.setVisible(state.source != REAL)

    def _show_input_settings(self) -> None:
        state = self.state
        widgets = (self.input_combo, self.steps_spin, self.example_spin)
        for widget in widgets:
            widget.blockSignals(True)
        self.input_combo.setCurrentIndex(self.input_combo.findData(state.input_kind))
        self.steps_spin.setValue(state.steps)
        self.example_spin.setValue(state.example)
        for widget in widgets:
            widget.blockSignals(False)
        if self.text_edit.text() != state.text:
            self.text_edit.setText(state.text)
        real = state.source == REAL  # a real model reads what it read
        self.input_combo.setVisible(not real)  # a real model's input is what it read (said beside it)
        self.steps_label.setVisible(state.uses_steps and not real)
        self.steps_spin.setVisible(state.uses_steps and not real)
        self.steps_label.setText("Distractors" if state.input_kind == "memory" else "Steps")
        self.example_label.setVisible(state.uses_example and not real)
        self.example_spin.setVisible(state.uses_example and not real)
        self.text_edit.setVisible(state.input_kind == "text" and not real)

    def _show_trace(self) -> None:
        """A new trace: every view takes it once; a step then only moves markers."""
        state = self.state
        trace, cell = state.trace, state.cell
        T = trace.length
        self._drawn = trace
        self.sequence_view.set_sequence(state.sequence)
        self.rule_view.set_terms(state.terms, describe_update(cell.kind))
        parts = state.sequence.parts
        sizes = f" ({' + '.join(str(stop - start) for _, start, stop in parts)})" if len(parts) > 1 else ""
        self.rule_view.title.setText(f"Update rule at step t · {cell.title}, I = {cell.input_size}{sizes}, H = {cell.hidden_size}")
        self.hidden_map.set_data(trace.hidden.T, row_labels=[str(j + 1) for j in range(cell.hidden_size)],
                                 col_labels=[str(t + 1) for t in range(T)])
        self.trajectory.set_trace(trace, state.unit)
        self.norms.set_trace(trace, cell)
        if state.readout is not None:
            self.prediction_view.set_readout(state.readout)
            self.prediction_view.show()
        else:
            self.prediction_view.hide()
        self.gates_page.set_trace(trace)
        self.weights_page.set_cell(cell, state.edited, state.sequence.feature_labels if parts else None)
        self._show_real()
        self.weights_page.set_unit(state.unit)
        note = state.sequence_note
        self.sequence_note.setText(note)
        self.sequence_note.setToolTip(note)
        self.slider.blockSignals(True)
        self.slider.setRange(0, T - 1)
        self.slider.blockSignals(False)
        self._show_cell_settings()
        self._show_step()

    def _show_step(self) -> None:
        """Step ``state.step`` in every view: the redraw the time slider triggers."""
        state, t = self.state, self.state.step
        if state.trace is None or state.trace is not self._drawn:
            return  # the views still hold an older trace; _show_trace draws this step
        if self.slider.value() != t:
            self.slider.blockSignals(True)
            self.slider.setValue(t)
            self.slider.blockSignals(False)
        self.rule_view.set_step(t)
        self.sequence_view.set_step(t)
        self.hidden_map.set_highlight(cols=[t], rows=[state.unit])
        self.trajectory.set_step(t)
        self.norms.set_step(t)
        if state.readout is not None:
            self.prediction_view.set_step(t)
        if state.page == "gates":
            self.gates_page.set_step(t)
        if state.hover is not None:
            self.rule_view.info.setText(state.hover_text)
        self.step_label.setText(state.step_text)
        if state.source == REAL:
            link = state.back_link
            self.back_link_button.setText(f"◀ {link.label}" if link is not None else "")

    def _show_real(self) -> None:
        """Which real model, image or clip, what its x_t are; the way back (only while a real model is shown)."""
        state = self.state
        text = state.real_text
        self.real_note.setText(text)
        self.real_note.setVisible(bool(text))
        self.back_link_button.setVisible(state.back_link is not None)

    def _show_unit(self) -> None:
        if self.state.trace is self._drawn and self._drawn is not None:
            self.trajectory.set_trace(self._drawn, self.state.unit)
            self.weights_page.set_unit(self.state.unit)
            self._show_step()

    def _show_running(self, text: str) -> None:
        if text:  # a large trace runs in a worker: say so where the step is written
            self.step_label.setText(text)

    def _show_page(self) -> None:
        if self.state.page == "gates" and self._drawn is not None and self.state.trace is self._drawn:
            self.gates_page.set_step(self.state.step)

    def _show_hover(self) -> None:
        self.rule_view.info.setText(self.state.hover_text)

    def _show_playing(self) -> None:
        state = self.state
        if state.playing:
            self.timer.start(int(1000 / state.speed))
        else:
            self.timer.stop()
        self.play_button.setText("❚❚ Pause" if state.playing else "▶ Play")
