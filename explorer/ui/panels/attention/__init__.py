"""The Attention panel: softmax(Q·Kᵀ/√d_k)·V with every step visible (no imports here: ``state`` stays Qt-free)."""
