"""The ViT panel: a Vision Transformer's six steps on the current image (no imports here: ``state`` stays Qt-free)."""
