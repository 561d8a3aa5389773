"""Say what a model is — family, size, parameters, input size, classes or vocabulary — from its files.

Everything here is read, never guessed: a Hugging Face folder's ``config.json``
(``model_type``, ``architectures``, the vision / text sub-configs) and
``preprocessor_config.json``, a timm folder's ``pretrained_cfg``, this app's
config stored in a safetensors header, and tensor shapes (parameters are the
sum over the shapes; a plain state dict's patch size, width, depth, input
size and classes come from its patch embedding, position embedding, blocks and
head). The same reading decides which panel a model goes to. Whether that
panel's engine can really run it is the engine's answer, given when the user
opens it; :attr:`Description.reason` is only set where no panel could.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from explorer.engine.library.files import Tensors

#: Panel keys → titles, for "opens in the … panel".
PANEL_TITLES = {"vit": "ViT", "captioning": "Captioning", "video": "Video"}

#: Hugging Face model types of Vision Transformers → family name (all open in the ViT panel).
VIT_TYPES = {
    "vit": "ViT", "deit": "DeiT", "dinov2": "DINOv2", "dinov2_with_registers": "DINOv2 with registers",
    "clip": "CLIP", "clip_vision_model": "CLIP vision tower", "siglip": "SigLIP",
    "siglip_vision_model": "SigLIP vision tower", "beit": "BEiT", "vit_mae": "ViT-MAE", "vit_msn": "ViT-MSN",
    "data2vec-vision": "data2vec vision", "dinov3_vit": "DINOv3",
}
#: Model types of image captioners and image-to-text models (all offered to the Captioning panel).
CAPTION_TYPES = {
    "vision-encoder-decoder": "VisionEncoderDecoder", "blip": "BLIP", "blip-2": "BLIP-2", "git": "GIT",
    "pix2struct": "Pix2Struct", "kosmos-2": "Kosmos-2", "florence2": "Florence-2",
}
VIDEO_TYPES = {"videomae": "VideoMAE", "timesformer": "TimeSformer", "vivit": "ViViT", "xclip": "X-CLIP"}
#: Width → the usual size letter of a ViT.
SIZE_LETTERS = {192: "Ti", 384: "S", 768: "B", 1024: "L", 1280: "H", 1408: "g", 1536: "g"}
#: timm architecture name prefixes of Vision Transformers.
TIMM_VIT_PREFIXES = ("vit_", "deit_", "deit3_", "eva02_", "flexivit_", "vit_relpos_", "samvit_")


@dataclass(frozen=True)
class Description:
    """What a model is, as its files say. ``None`` means the files do not tell."""

    family: str
    panel: str | None
    kind: str = ""
    parameters: int | None = None
    input_size: int | None = None
    patch_size: int | None = None
    layers: int | None = None
    width: int | None = None
    classes: int | None = None
    vocabulary: int | None = None
    towers: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()
    reason: str = ""


def vit_name(family: str, width: int | None, patch: int | None, suffix: str = "") -> str:
    """"ViT-B/16", "DINOv2-S/14 with registers" from a family, a width and a patch size (as far as known)."""
    letter = SIZE_LETTERS.get(width or 0, "")  # other widths: the facts give the width
    size = f"-{letter}" if letter else ""
    return (f"{family}{size}/{patch}" if patch else f"{family}{size}") + suffix


# -- Hugging Face folders ---------------------------------------------------------------------------
def describe_config(config: dict[str, Any], tensors: Tensors | None, preprocessor: dict[str, Any] | None = None) -> Description:
    """A Hugging Face (or timm hub) folder from its config, its tensors' shapes and its preprocessor."""
    params = tensors.parameters if tensors is not None and tensors.shapes else None
    kind = "Hugging Face folder"
    if "architecture" in config and "model_type" not in config:
        return _describe_timm(config, params)
    model_type = str(config.get("model_type", ""))
    architectures = [str(a) for a in config.get("architectures") or []]
    if model_type in VIT_TYPES:
        return _describe_hf_vit(config, model_type, architectures, tensors, params, preprocessor)
    if model_type in CAPTION_TYPES:
        return _describe_captioner(config, model_type, architectures, tensors, params, preprocessor)
    if model_type in VIDEO_TYPES:
        return Description(
            VIDEO_TYPES[model_type], None, kind, params, _image_size(config, preprocessor),
            reason=f"a video transformer ({VIDEO_TYPES[model_type]}): the Video panel runs its own CNN + GRU and "
            "CNN + temporal-transformer models, not this family.",
        )
    what = f"model_type {model_type!r}" if model_type else "no model_type in config.json"
    arch = f" ({', '.join(architectures)})" if architectures else ""
    return Description(
        model_type or "unknown", None, kind, params,
        reason=f"{what}{arch} is not an image model: no panel of this app runs it.",
    )


def _describe_hf_vit(config, model_type, architectures, tensors, params, preprocessor) -> Description:
    vision = config.get("vision_config") if isinstance(config.get("vision_config"), dict) else config
    family, suffix = VIT_TYPES[model_type], ""
    if family.endswith(" with registers"):
        family, suffix = family[: -len(" with registers")], " with registers"
    width, patch = _int(vision.get("hidden_size")), _int(vision.get("patch_size"))
    notes: list[str] = []
    if any("WithTeacher" in a for a in architectures):
        suffix = " distilled"
        notes.append("a distillation token after [CLS]; the prediction is the mean of the two heads")
    registers = _int(vision.get("num_register_tokens"))
    if registers:
        notes.append(f"{registers} register tokens between [CLS] and the patches")
    classes = None
    if any("ForImageClassification" in a for a in architectures):
        classes = len(config.get("id2label") or {}) or _int(config.get("num_labels"))
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    vocabulary = _int(text.get("vocab_size")) if text else None
    towers: tuple[tuple[str, int], ...] = ()
    if tensors is not None and text:
        towers = (("vision tower", tensors.parameters_under("vision_model.")), ("text tower", tensors.parameters_under("text_model.")))
        notes.append("the ViT panel opens the vision tower; the text tower is what makes it zero-shot")
    native = _int(vision.get("image_size"))
    size = _crop_size(preprocessor) or native
    if native and size and native != size:
        notes.append(f"position embeddings for {native} px, resampled to the {size} px input")
    return Description(
        vit_name(family, width, patch, suffix), "vit", "Hugging Face folder", params, size, patch,
        _int(vision.get("num_hidden_layers")), width, classes, vocabulary, towers, tuple(notes),
    )


def _describe_captioner(config, model_type, architectures, tensors, params, preprocessor) -> Description:
    family = CAPTION_TYPES[model_type]
    notes: list[str] = []
    towers: tuple[tuple[str, int], ...] = ()
    if model_type == "vision-encoder-decoder":
        encoder = config.get("encoder") if isinstance(config.get("encoder"), dict) else {}
        decoder = config.get("decoder") if isinstance(config.get("decoder"), dict) else {}
        enc_name = vit_name(VIT_TYPES.get(str(encoder.get("model_type")), str(encoder.get("model_type", "?"))),
                            _int(encoder.get("hidden_size")), _int(encoder.get("patch_size")))
        family = f"{family}: {enc_name} → {decoder.get('model_type', '?')}"
        vocabulary = _int(decoder.get("vocab_size"))
        size = _crop_size(preprocessor) or _int(encoder.get("image_size"))
        if tensors is not None:
            towers = (("encoder", tensors.parameters_under("encoder.")), ("decoder", tensors.parameters_under("decoder.")))
    else:
        vision = config.get("vision_config") if isinstance(config.get("vision_config"), dict) else {}
        text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
        vocabulary = _int(text.get("vocab_size")) or _int(config.get("vocab_size"))
        size = _crop_size(preprocessor) or _int(vision.get("image_size"))
        family = f"{family} ({', '.join(architectures)})" if architectures else family
        if tensors is not None and vision:
            towers = (("vision", tensors.parameters_under("vision_model.")), ("text", tensors.parameters_under("text_decoder.")))
    if model_type == "blip" and architectures and not any("ConditionalGeneration" in a for a in architectures):
        return Description(family, None, "Hugging Face folder", params, size, vocabulary=vocabulary,
                           reason="a BLIP for retrieval or question answering, not captioning: "
                           "captioners are BlipForConditionalGeneration.")
    return Description(family, "captioning", "Hugging Face folder", params, size, vocabulary=vocabulary,
                       towers=towers, notes=tuple(notes))


def _describe_timm(config: dict[str, Any], params: int | None) -> Description:
    arch = str(config.get("architecture"))
    pretrained = config.get("pretrained_cfg") if isinstance(config.get("pretrained_cfg"), dict) else {}
    size = pretrained.get("input_size")
    side = _int(size[-1]) if isinstance(size, list) and size else None
    classes = _int(config.get("num_classes")) or _int(pretrained.get("num_classes"))
    tag = f".{pretrained['tag']}" if pretrained.get("tag") else ""
    match = re.search(r"patch(\d+)", arch)
    patch = int(match.group(1)) if match else None
    if not arch.startswith(TIMM_VIT_PREFIXES):
        return Description(f"timm {arch}{tag}", None, "timm folder", params, side, classes=classes,
                           reason=f"timm's {arch} is not a Vision Transformer; the ViT panel opens ViTs only.")
    notes = []
    if pretrained.get("mean"):
        notes.append(f"normalised with mean {tuple(pretrained['mean'])}, std {tuple(pretrained.get('std', ()))} (its pretrained tag's)")
    return Description(f"timm {arch}{tag}", "vit", "timm folder", params, side, patch, classes=classes or None,
                       notes=tuple(notes))


# -- single weight files -------------------------------------------------------------------------
def describe_tensors(tensors: Tensors) -> Description:
    """A single weight file: this app's own format (config in the header) or a plain state dict."""
    stored = tensors.stored_config()
    if stored.get("task") or stored.get("format"):
        return _describe_own(stored, tensors)
    shapes = _strip(tensors.shapes)
    params = tensors.parameters
    if "patch_embed.proj.weight" in shapes:
        return _describe_timm_layout(shapes, params)
    if "conv_proj.weight" in shapes:
        return _describe_torchvision_layout(shapes, params)
    if "embeddings.patch_embeddings.projection.weight" in shapes or "vit.embeddings.patch_embeddings.projection.weight" in shapes:
        return Description("ViT (Hugging Face tensor names)", "vit", "state dict", params)
    sample = ", ".join(sorted(shapes)[:4])
    conv = any(name.startswith(("conv1.", "layer1.", "features.")) for name in shapes)
    what = "a convolutional network" if conv else "not a Vision Transformer"
    return Description("unknown", None, "state dict", params,
                       reason=f"{what} (tensors like {sample}); the ViT panel opens Vision Transformers only.")


def _describe_timm_layout(shapes: dict[str, tuple[int, ...]], params: int) -> Description:
    width, _c, patch, _ = shapes["patch_embed.proj.weight"]
    layers = _count_blocks(shapes, r"^blocks\.(\d+)\.")
    extra = 1 if "cls_token" in shapes else 0
    family, suffix, notes = "ViT", "", []
    if "dist_token" in shapes:
        family, suffix, extra = "DeiT", " distilled", extra + 1
        notes.append("a distillation token after [CLS] (DeiT)")
    if "blocks.0.ls1.gamma" in shapes or "mask_token" in shapes:
        family = "DINOv2"
    if "register_tokens" in shapes:
        family, suffix = "DINOv2", " with registers"
        notes.append(f"{shapes['register_tokens'][1]} register tokens (no position embedding of their own)")
    size = _side_from_positions(shapes.get("pos_embed"), patch, extra)
    head = shapes.get("head.weight")
    classes = head[0] if head is not None and len(head) == 2 else None
    if classes is None:
        notes.append("no classification head (a backbone: features, no class names)")
    return Description(vit_name(family, width, patch, suffix), "vit", "timm / DINO state dict", params, size, patch, layers,
                       width, classes, notes=tuple(notes))


def _describe_torchvision_layout(shapes: dict[str, tuple[int, ...]], params: int) -> Description:
    width, _c, patch, _ = shapes["conv_proj.weight"]
    layers = _count_blocks(shapes, r"^encoder\.layers\.encoder_layer_(\d+)\.")
    size = _side_from_positions(shapes.get("encoder.pos_embedding"), patch, 1)
    head = shapes.get("heads.head.weight")
    return Description(vit_name("ViT", width, patch), "vit", "torchvision state dict", params, size, patch, layers,
                       width, head[0] if head else None)


def _describe_own(stored: dict[str, Any], tensors: Tensors) -> Description:
    task = str(stored.get("task", ""))
    model = stored.get("model") if isinstance(stored.get("model"), dict) else {}
    params = tensors.parameters
    kind = "this app's format"
    if stored.get("format") == "sat-tutorial":
        return Description("Show, Attend and Tell (converted tutorial checkpoint)", "captioning", kind, params,
                           vocabulary=_int(model.get("vocab_size")))
    if task.startswith("caption-"):
        family = "attention decoder (Show, Attend and Tell)" if model.get("kind") == "attention" else "classic CNN→RNN decoder"
        return Description(family, "captioning", kind, params, _int(model.get("image_size")),
                           vocabulary=_int(model.get("vocab_size")) or _len(model.get("vocabulary")))
    if task.startswith("vit"):
        return Description(vit_name("ViT", _int(model.get("dim")), _int(model.get("patch_size"))), "vit", kind, params,
                           _int(model.get("image_size")), _int(model.get("patch_size")), _int(model.get("depth")),
                           _int(model.get("dim")), _int(model.get("num_classes")))
    if task.startswith("video"):
        arch = "CNN + temporal transformer" if model.get("arch") == "transformer" else f"CNN + {str(model.get('arch', '?')).upper()}"
        return Description(arch, "video", kind, params, _int(model.get("frame_size")), classes=_len(model.get("classes")))
    return Description(task or "unknown", None, kind, params,
                       reason=f"saved for the task {task!r}, which the ViT, Captioning and Video panels do not run"
                       + (" (open it in the RNN panel)." if task.startswith("rnn") else "."))


# -- helpers --------------------------------------------------------------------------------------
def _strip(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    for prefix in ("module.", "backbone.", "model."):
        if shapes and all(name.startswith(prefix) for name in shapes):
            shapes = {name[len(prefix):]: shape for name, shape in shapes.items()}
    return shapes


def _count_blocks(shapes: dict[str, tuple[int, ...]], pattern: str) -> int | None:
    found = {int(m.group(1)) for name in shapes if (m := re.match(pattern, name))}
    return max(found) + 1 if found else None


def _side_from_positions(shape: tuple[int, ...] | None, patch: int, extra: int) -> int | None:
    """(1, extra + g², D) position embeddings → the square input side g · patch they were trained for."""
    if not shape or len(shape) != 3:
        return None
    grid = round((shape[1] - extra) ** 0.5)
    return grid * patch if grid * grid == shape[1] - extra else None


def _crop_size(preprocessor: dict[str, Any] | None) -> int | None:
    """The side of the square the preprocessor hands the model (crop if it crops, else its resize)."""
    if not preprocessor:
        return None
    if preprocessor.get("do_center_crop", True) and preprocessor.get("crop_size"):
        return _side(preprocessor["crop_size"])
    return _side(preprocessor.get("size"))


def _side(value: Any) -> int | None:
    if isinstance(value, dict):
        return _int(value.get("height") or value.get("shortest_edge") or value.get("width"))
    return _int(value)


def _image_size(config: dict[str, Any], preprocessor: dict[str, Any] | None) -> int | None:
    return _crop_size(preprocessor) or _int(config.get("image_size"))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (list, tuple)) and value:
        value = value[-1]
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _len(value: Any) -> int | None:
    return len(value) if isinstance(value, (list, tuple, dict)) else None
