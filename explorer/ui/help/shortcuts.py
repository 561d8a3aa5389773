"""Help › Keyboard shortcuts: the menu shortcuts (read off the window's actions) and each panel's keys.

The menu part is not written down here but gathered from the live actions, so
it cannot fall behind; panel keys are handled inside panels, so they are
listed here, next to their panel.
"""

from __future__ import annotations

#: Keys a panel handles itself: panel key → (keys, what they do).
PANEL_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "attention": (
        ("Type in a cell", "set a value of Q, K, V (or X and the W's); Enter accepts"),
        ("Drag sideways / wheel on a cell", "scrub the value; hold Shift for fine steps"),
        ("Click a row of the weights", "select that query"),
    ),
    "rnn": (
        ("← / →", "one step back / forward"),
        ("Home / End", "first / last step"),
        ("Space", "play / pause"),
        ("Click a row of the hidden-state map", "follow that unit"),
    ),
    "vit": (
        ("Click a patch", "select it (and, in step 6, attend from it)"),
    ),
    "captioning": (
        ("← / →", "step back / forward through generation"),
        ("Hover / click a word", "show its attention map"),
    ),
    "video": (
        ("Click a map", "jump to that frame"),
    ),
    "training": (),
}


def menu_rows(actions) -> list[tuple[str, str]]:
    """(shortcut text, action text) for every action with a shortcut; ``actions`` are QAction-like."""
    rows = []
    for action in actions:
        keys = [k.toString() for k in action.shortcuts() if not k.isEmpty()]
        if keys:
            rows.append((" / ".join(keys), action.text().replace("&", "").rstrip("…").strip()))
    return rows
