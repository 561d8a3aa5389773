"""The curated catalogue: real models worth looking inside, to download when online.

These are data, not measurements: repository ids, licences, sizes and
parameter counts as their public model cards state them, rounded and marked
approximate (a download's real size is known once the hub lists its files).
Once downloaded, a model is described from its own files under "On this
computer"; the catalogue keeps this card beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.engine.library.describe import Description
from explorer.engine.library.entries import ModelEntry


@dataclass(frozen=True)
class CatalogueItem:
    repo_id: str
    title: str
    panel: str
    family: str
    parameters: int  # approximate, from the model card
    input_size: int
    download_mb: int  # approximate size of the safetensors weights
    licence: str
    classes: int | None = None
    vocabulary: int | None = None
    patch_size: int | None = None
    note: str = ""


CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem("google/vit-base-patch16-224", "ViT-B/16 (ImageNet-21k → 1k)", "vit", "ViT-B/16", 86_600_000, 224, 346,
                  "Apache-2.0", classes=1000, patch_size=16,
                  note="The classic ViT of Dosovitskiy et al.: pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k."),
    CatalogueItem("facebook/deit-tiny-patch16-224", "DeiT-tiny", "vit", "DeiT-Ti/16", 5_700_000, 224, 23,
                  "Apache-2.0", classes=1000, patch_size=16,
                  note="Data-efficient ViT trained on ImageNet-1k alone; 3 heads, width 192."),
    CatalogueItem("facebook/deit-tiny-distilled-patch16-224", "DeiT-tiny distilled", "vit", "DeiT-Ti/16 distilled",
                  5_900_000, 224, 24, "Apache-2.0", classes=1000, patch_size=16,
                  note="A distillation token beside [CLS], taught by a CNN teacher; two heads, averaged."),
    CatalogueItem("facebook/dino-vits16", "DINO ViT-S/16", "vit", "ViT-S/16 (DINO)", 21_700_000, 224, 87, "Apache-2.0",
                  patch_size=16,
                  note="Self-supervised (no labels): its [CLS] attention finds objects; no classifier head."),
    CatalogueItem("facebook/dinov2-small", "DINOv2-small", "vit", "DINOv2-S/14", 22_100_000, 224, 88, "Apache-2.0",
                  patch_size=14,
                  note="Self-supervised, layer scale, position embeddings for 518 px; shows high-norm artefact tokens."),
    CatalogueItem("facebook/dinov2-with-registers-small", "DINOv2-small with registers", "vit",
                  "DINOv2-S/14 with registers", 22_100_000, 224, 88, "Apache-2.0", patch_size=14,
                  note="Four register tokens absorb the artefacts: compare its attention maps with DINOv2-small."),
    CatalogueItem("timm/vit_small_patch16_224.augreg_in21k_ft_in1k", "timm ViT-S/16 (AugReg)", "vit", "ViT-S/16 (timm)",
                  22_100_000, 224, 88, "Apache-2.0", classes=1000, patch_size=16,
                  note="timm's AugReg weights; normalised with mean = std = 0.5 (from its pretrained_cfg)."),
    CatalogueItem("openai/clip-vit-base-patch16", "CLIP ViT-B/16", "vit", "CLIP ViT-B/16", 150_000_000, 224, 599, "MIT",
                  vocabulary=49_408, patch_size=16,
                  note="Image and text towers (vision tower about 86 M parameters); the ViT panel opens the vision tower."),
    CatalogueItem("google/siglip-base-patch16-224", "SigLIP base/16", "vit", "SigLIP-B/16", 203_000_000, 224, 813,
                  "Apache-2.0", vocabulary=32_000, patch_size=16,
                  note="No class token: an attention-pooling head; the vision tower is about 93 M parameters."),
    CatalogueItem("nlpconnect/vit-gpt2-image-captioning", "ViT-GPT2 captioner", "captioning",
                  "VisionEncoderDecoder: ViT-B/16 → GPT-2", 239_000_000, 224, 982, "Apache-2.0", vocabulary=50_257,
                  note="A ViT encoder and a GPT-2 decoder joined by cross-attention, trained on COCO captions."),
    CatalogueItem("Salesforce/blip-image-captioning-base", "BLIP base captioner", "captioning",
                  "BLIP (BlipForConditionalGeneration)", 247_000_000, 384, 990, "BSD-3-Clause", vocabulary=30_524,
                  note="BLIP's captioning model (ViT-B/16 encoder, BERT-style decoder), trained on COCO."),
)


def catalogue_entry(item: CatalogueItem, snapshot: str = "") -> ModelEntry:
    """The catalogue's card for ``item``; ``snapshot`` is its folder when already in the cache."""
    description = Description(
        item.family, item.panel, "Hugging Face repository", item.parameters, item.input_size, item.patch_size,
        classes=item.classes, vocabulary=item.vocabulary,
        notes=(item.note,),
    )
    return ModelEntry(
        key=f"catalogue:{item.repo_id}", title=item.title, group="catalogue",
        where="in the cache, downloaded" if snapshot else "Hugging Face hub", description=description,
        source=snapshot, repo_id=item.repo_id, size_bytes=item.download_mb * 1_000_000, licence=item.licence,
        from_files=False, downloaded=bool(snapshot), url=f"https://huggingface.co/{item.repo_id}",
    )


def find_item(repo_id: str) -> CatalogueItem | None:
    return next((item for item in CATALOGUE if item.repo_id == repo_id), None)
