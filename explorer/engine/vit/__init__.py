"""The Vision Transformer: an image cut into patches and read as a sequence.

- :mod:`.model`: the ViT written out step by step; its trace keeps every intermediate.
- :mod:`.formats`: torchvision / timm / Hugging Face / DINO checkpoints → the one internal layout.
- :mod:`.loading`: :func:`load` (a file, a folder or a bundled name) and :class:`LoadedViT`
  (the model's own preprocessing, then the trace).
- :mod:`.analysis`: functions of a trace — attention maps, rollout, position-embedding
  similarity, mean attention distance, filter components.
- :mod:`.tasks`: the bundled model's generated task; :mod:`.reference`: an independent ViT on
  ``nn.MultiheadAttention``, the tests' yardstick.
"""

from explorer.engine.vit.analysis import (
    attention_map,
    mean_attention_distance,
    position_locality,
    position_similarity,
    rollout,
)
from explorer.engine.vit.formats import ViTFormatError
from explorer.engine.vit.loading import (
    BUNDLED,
    DEFAULT_BUNDLED,
    MAX_INPUT,
    MAX_PATCHES,
    LoadedViT,
    ResizePlan,
    bundled_path,
    imagenet_classes,
    load,
)
from explorer.engine.vit.model import IMAGENET_MEAN, IMAGENET_STD, VisionTransformer, ViTConfig, ViTTrace

__all__ = [
    "BUNDLED", "DEFAULT_BUNDLED", "IMAGENET_MEAN", "IMAGENET_STD", "MAX_INPUT", "MAX_PATCHES", "LoadedViT",
    "ResizePlan", "ViTConfig", "ViTFormatError", "ViTTrace", "VisionTransformer", "attention_map",
    "bundled_path", "imagenet_classes", "load", "mean_attention_distance", "position_locality",
    "position_similarity", "rollout",
]
