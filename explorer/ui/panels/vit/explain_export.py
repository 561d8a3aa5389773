"""The numbers behind steps 8–11 as NPY (arrays) or CSV (tables), chosen by the file's suffix. No Qt.

Every writer raises a ``ValueError`` that says what to do when there is nothing
to write yet or the suffix is neither ``.npy`` nor ``.csv``; an ``OSError``
(a folder that cannot be written) is passed on for the panel to show.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from explorer.engine.vit.ablation import HeadImportance
from explorer.engine.vit.heads_overview import HeadsOverview
from explorer.engine.vit.logit_lens import LogitLens
from explorer.ui.panels.vit.explain_maps import ExplainMap

SUFFIXES = (".npy", ".csv")


def _kind(path: str | Path) -> tuple[Path, str]:
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"{path.name}: export as .npy (the array) or .csv (a table); choose one of those suffixes.")
    return path, path.suffix.lower()


def _table(path: Path, header: Sequence[str], rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _g(value: float) -> str:
    return f"{value:.9g}"


def comparison(path: str | Path, maps: Sequence[ExplainMap | None]) -> Path:
    """NPY: (maps, gh, gw) float32, in the order shown; CSV: one row per patch, one column per map."""
    shown = [m for m in maps if m is not None]
    if not shown:
        raise ValueError("nothing to export yet: the maps have not been made (wait for the model to run).")
    path, kind = _kind(path)
    stack = np.stack([m.values for m in shown]).astype(np.float32)  # (M, gh, gw)
    if kind == ".npy":
        np.save(path, stack)
        return path
    gh, gw = stack.shape[1:]
    rows = ([r * gw + c, r, c, *(_g(v) for v in stack[:, r, c])] for r in range(gh) for c in range(gw))
    return _table(path, ["patch", "row", "col", *(m.title for m in shown)], rows)


def importance(path: str | Path, result: HeadImportance | None, off: Sequence[tuple[int, int]]) -> Path:
    """NPY: (depth, heads) drop; CSV: layer, head (1-based), switched off, drop, measure."""
    if result is None:
        raise ValueError("nothing to export yet: press “Compute importance” first.")
    path, kind = _kind(path)
    if kind == ".npy":
        np.save(path, result.drop.astype(np.float32))
        return path
    depth, heads = result.drop.shape
    switched = set(off)
    rows = ([layer + 1, head + 1, int((layer, head) in switched), _g(result.drop[layer, head]), result.measure]
            for layer in range(depth) for head in range(heads))
    return _table(path, ["layer", "head", "switched_off", "drop", "measure"], rows)


def overview(path: str | Path, result: HeadsOverview | None) -> Path:
    """NPY: (depth, heads, gh, gw) maps; CSV: one row per head with its place in the similar-heads order."""
    if result is None:
        raise ValueError("nothing to export yet: open step 10 once so the maps are made.")
    path, kind = _kind(path)
    if kind == ".npy":
        np.save(path, result.maps.astype(np.float32))
        return path
    depth, heads = result.shape
    rank = np.empty(depth * heads, dtype=np.int64)
    rank[result.order] = np.arange(depth * heads)
    rows = ([layer + 1, head + 1, int(rank[layer * heads + head]) + 1, _g(result.maps[layer, head].max()),
             _g(result.special[layer, head])] for layer in range(depth) for head in range(heads))
    return _table(path, ["layer", "head", "similar_order", "max_weight", "weight_on_special_tokens"], rows)


def lens(path: str | Path, result: LogitLens | None, target: int, leading: int, names: Sequence[str]) -> Path:
    """NPY: (layers, N) the target's probability per patch; CSV: per layer, the read-out's top-1 and the target."""
    if result is None:
        raise ValueError("nothing to export yet: open step 11 once so the layers are read.")
    path, kind = _kind(path)
    column = result.classes.index(target)
    if kind == ".npy":
        np.save(path, result.token_probs[:, leading:, column].astype(np.float32))
        return path
    top1 = result.top1
    rows = ([layer, int(top1[layer]), names[int(top1[layer])], _g(result.readout[layer, top1[layer]]),
             _g(result.readout[layer, target]), _g(result.token_probs[layer, leading:, column].mean())]
            for layer in range(len(top1)))
    return _table(path, ["layer", "top1_index", "top1_name", "p_top1", f"p_{names[target]}", "mean_patch_p"], rows)
