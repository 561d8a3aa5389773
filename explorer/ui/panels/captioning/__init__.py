"""The Captioning panel: words from an image, each with where the model looked (no imports here: ``state`` stays Qt-free)."""
