"""The Video panel: a clip read frame by frame by a model over time (no imports here: ``state`` stays Qt-free)."""
