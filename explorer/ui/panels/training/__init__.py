"""The Training panel: the one loop that made every bundled model, live (no imports here: ``state`` stays Qt-free)."""
