"""The Vision Transformer: an image cut into patches and read as a sequence.

- :mod:`.config`: :class:`ViTConfig` (what rebuilds a model) and :class:`TokenLayout` (which token is which).
- :mod:`.blocks`, :mod:`.model`: the one internal ViT, written out step by step; :mod:`.trace`: what
  a forward keeps (queries and keys; attention maps formed when asked).
- :mod:`.layouts` (weight names of timm, torchvision, transformers, DINOv2, OpenAI CLIP) and
  :mod:`.families` (ViT, DeiT, DINO, DINOv2, CLIP, SigLIP): one declarative table each;
  :mod:`.formats` reads a checkpoint through them; :mod:`.resample`: each family's
  position-embedding resampling; :mod:`.preprocessing`: the model's own input transform.
- :mod:`.loading`: :func:`load` (a file, a folder or a bundled name) and :class:`LoadedViT`.
- :mod:`.analysis`: functions of a trace — attention maps, rollout, position similarity,
  mean attention distance, token norms, filter components.
- :mod:`.tasks`: the bundled model's generated task; :mod:`.reference`: an independent ViT on
  ``nn.MultiheadAttention``, the tests' yardstick.
"""

from explorer.engine.vit.analysis import (
    attention_map,
    mean_attention_distance,
    position_locality,
    position_similarity,
    rollout,
    token_norms,
)
from explorer.engine.vit.config import IMAGENET_MEAN, IMAGENET_STD, TokenLayout, ViTConfig
from explorer.engine.vit.formats import ViTFormatError
from explorer.engine.vit.loading import (
    BUNDLED,
    DEFAULT_BUNDLED,
    MAX_INPUT,
    MAX_PATCHES,
    LoadedViT,
    available_devices,
    bundled_path,
    from_state_dict,
    imagenet_classes,
    load,
    pick_device,
)
from explorer.engine.vit.model import VisionTransformer
from explorer.engine.vit.preprocessing import PRESETS, ResizePlan
from explorer.engine.vit.trace import AttentionMaps, ViTTrace

__all__ = [
    "BUNDLED", "DEFAULT_BUNDLED", "IMAGENET_MEAN", "IMAGENET_STD", "MAX_INPUT", "MAX_PATCHES", "PRESETS",
    "AttentionMaps", "LoadedViT", "ResizePlan", "TokenLayout", "ViTConfig", "ViTFormatError", "ViTTrace",
    "VisionTransformer", "attention_map", "available_devices", "bundled_path", "from_state_dict", "imagenet_classes", "load",
    "mean_attention_distance", "pick_device", "position_locality", "position_similarity", "rollout", "token_norms",
]
