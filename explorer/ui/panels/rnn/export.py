"""The RNN panel's exports: the hidden-state heatmap as PNG, the trace as CSV / NPY / NPZ."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog

from explorer.ui.errors import show_error


class ExportMixin:
    """Mixed into the RNN panel, which holds ``hidden_map`` and ``state``."""

    def export_heatmap(self, path: str | Path) -> Path:
        path = Path(path)
        if not self.hidden_map.grab().save(str(path), "PNG"):
            raise ValueError(f"{path.name}: could not write the PNG (check the folder and file name).")
        return path

    def export_trace(self, path: str | Path) -> Path:
        path = Path(path)
        trace = self.state.trace
        if trace is None:
            raise ValueError("nothing to export yet: no sequence has been run.")
        try:
            if path.suffix.lower() == ".csv":
                return trace.save_csv(path)
            return trace.save_npy(path)
        except OSError as exc:
            raise ValueError(f"{path.name}: could not be written ({exc.strerror or exc}).") from exc

    def export_heatmap_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the hidden-state heatmap", "rnn_hidden.png", "PNG image (*.png)")
        if path:
            try:
                self.export_heatmap(path)
            except ValueError as exc:
                show_error("Export", exc)

    def export_trace_dialog(self, kind: str) -> None:
        filters = {"csv": "CSV table (*.csv)", "npy": "NumPy array (*.npy)", "npz": "NumPy archive (*.npz)"}
        path, _ = QFileDialog.getSaveFileName(self, "Export the trace", f"rnn_trace.{kind}", filters[kind])
        if path:
            if not path.lower().endswith(f".{kind}"):
                path += f".{kind}"
            try:
                self.export_trace(path)
            except ValueError as exc:
                show_error("Export", exc)
