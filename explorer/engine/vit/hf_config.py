"""What a transformers ``config.json`` says that the tensors cannot: heads, ε, activation, class names.

And what it says that the tensors can: width, depth, MLP, patch — checked
against the weights, so a folder whose config and weights disagree is named.
"""

from __future__ import annotations

from typing import Any

from explorer.engine.vit.config import ViTConfig
from explorer.engine.vit.formats import ViTFormatError

#: transformers' ``hidden_act`` → ours (gelu_new and gelu_pytorch_tanh are the same tanh approximation).
ACTS = {"gelu": "gelu", "quick_gelu": "quick_gelu", "gelu_pytorch_tanh": "gelu_tanh", "gelu_new": "gelu_tanh"}


def hf_vision_config(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The vision part: CLIPModel / SiglipModel configs nest it under ``vision_config``."""
    if cfg.get("model_type") in ("clip", "siglip"):
        vision = cfg.get("vision_config")
        if not isinstance(vision, dict):
            raise ViTFormatError(f"{name}: config.json of a {cfg['model_type']} model has no vision_config.")
        return {**vision, "id2label": cfg.get("id2label")}
    return cfg


def hf_known(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """ViTConfig fields from a transformers config."""
    known: dict[str, Any] = {}
    try:
        if "num_attention_heads" in cfg:
            known["heads"] = int(cfg["num_attention_heads"])
        if "layer_norm_eps" in cfg:
            known["eps"] = float(cfg["layer_norm_eps"])
    except (TypeError, ValueError) as exc:
        raise ViTFormatError(f"{name}: config.json holds an unreadable number ({exc}).") from exc
    act = cfg.get("hidden_act")
    if act is not None:
        if act not in ACTS:
            raise ViTFormatError(f"{name}: hidden_act {act!r} is not supported (supported: {', '.join(ACTS)}).")
        known["act"] = ACTS[act]
    labels = cfg.get("id2label") or {}
    try:
        names = [str(labels[k]) for k in sorted(labels, key=lambda s: int(s))]
    except (TypeError, ValueError):
        names = []
    if names and not all(n == f"LABEL_{i}" for i, n in enumerate(names)):
        known["class_names"] = names
    return known


def check_against_weights(cfg: dict[str, Any], config: ViTConfig, name: str) -> None:
    """ViTFormatError if config.json's sizes disagree with the weights'."""
    checks = {"hidden_size": config.dim, "num_hidden_layers": config.depth, "patch_size": config.patch_size,
              "num_channels": config.channels, "num_register_tokens": config.registers}
    if cfg.get("model_type") not in ("dinov2", "dinov2_with_registers"):  # DINOv2 derives it from mlp_ratio
        checks["intermediate_size"] = config.mlp_dim
    for key, found in checks.items():
        value = cfg.get(key)
        if isinstance(value, int) and value != found:
            raise ViTFormatError(f"{name}: config.json says {key} = {value} but the weights have {found}.")
