"""Hugging Face cache trees and model folders made for tests, from real configs and random weights.

The cache layout is the one huggingface_hub writes (``models--owner--name/blobs/<etag>``,
``snapshots/<commit>/<file>`` as relative links to the blobs, ``refs/main``), so
``scan_cache_dir`` reads it as it reads a user's cache. Models are built by
transformers / timm / torchvision from small configs (no download) and saved
the way each library saves them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch


def cached_repo(cache: Path, repo_id: str, files: dict[str, bytes], *, missing_blobs: tuple[str, ...] = ()) -> Path:
    """Write ``files`` as one snapshot of ``repo_id`` in ``cache``; return the snapshot folder.

    A name in ``missing_blobs`` gets its link but no blob (a damaged cache).
    """
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    for name, data in files.items():
        blob_id = hashlib.sha256(data).hexdigest()
        if name not in missing_blobs:
            (repo / "blobs" / blob_id).write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(repo / "blobs" / blob_id, link.parent))
    return snapshot


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def save_hf(model, folder: Path, processor=None) -> dict[str, bytes]:
    """``save_pretrained`` (safetensors) of a transformers model, and its files' bytes."""
    torch.manual_seed(0)
    model.save_pretrained(folder)
    if processor is not None:
        processor.save_pretrained(folder)
    return folder_files(folder)


def tiny_vit_classifier(labels: int = 5, image_size: int = 32, patch: int = 8):
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = ViTConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, intermediate_size=96,
                       image_size=image_size, patch_size=patch, num_labels=labels,
                       id2label={i: f"thing {i}" for i in range(labels)}, label2id={f"thing {i}": i for i in range(labels)})
    return ViTForImageClassification(config)


def tiny_dinov2_registers():
    from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    torch.manual_seed(0)
    return Dinov2WithRegistersModel(Dinov2WithRegistersConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=56,
        patch_size=14, num_register_tokens=4))


def tiny_clip():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                     "vocab_size": 99, "max_position_embeddings": 16},
        vision_config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                       "image_size": 32, "patch_size": 8},
        projection_dim=16)
    return CLIPModel(config)


def tiny_vision_encoder_decoder():
    from transformers import GPT2Config, ViTConfig, VisionEncoderDecoderConfig, VisionEncoderDecoderModel

    torch.manual_seed(0)
    encoder = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                        image_size=32, patch_size=8)
    decoder = GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=77, n_positions=32, add_cross_attention=True)
    return VisionEncoderDecoderModel(VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder))


def tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50, n_positions=16))


def parameter_count(state_dict: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() for t in state_dict.values())
