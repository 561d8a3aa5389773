"""The RNN panel: a hidden state stepped through a sequence (no imports here: ``state`` stays Qt-free)."""
