"""Vision Transformer engine: load any ViT checkpoint, prepare an image, trace it.

::

    model = load("shapes")                 # the bundled model, or a file / folder path
    pixels = model.preprocess(pil_image)   # (1, 3, H, W), the model's own resize + normalisation
    trace = model.trace(pixels)            # patches, embeddings, tokens, attentions, logits

Weight files are read only through :func:`explorer.engine.infra.checkpoints.load_state_dict`
(safetensors, or ``torch.load(weights_only=True)``), so nothing opened runs code.
Folders: transformers (``config.json`` with ``model_type``), timm hub folders
(``config.json`` with ``architecture`` and ``pretrained_cfg``) and OpenCLIP
(``open_clip_config.json``). A weight file inside such a folder is read with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from explorer.assets import resource_path
from explorer.engine.infra.checkpoints import CheckpointError, load_config, load_state_dict
import explorer.engine.vit.preprocessing as prep
from explorer.engine.vit.families import MODEL_TYPES
from explorer.engine.vit.formats import Reading, ViTFormatError, build, fill_optional, infer_config, read
from explorer.engine.vit.hf_config import check_against_weights, hf_known, hf_vision_config
from explorer.engine.vit.model import VisionTransformer, ViTConfig, ViTTrace
from explorer.engine.vit.preprocessing import ResizePlan
from explorer.engine.vit.resample import RULES

__all__ = ["BUNDLED", "LoadedViT", "ResizePlan", "ViTConfig", "ViTFormatError", "ViTTrace", "imagenet_classes", "load"]

#: Bundled model names → file in resources/models.
BUNDLED = {"shapes": "vit_shapes.safetensors"}
DEFAULT_BUNDLED = "shapes"
#: The largest input side accepted (position embeddings are resampled to it).
MAX_INPUT = 1024
#: At most this many patches are traced (DINOv2 at 518 px has 37 × 37 = 1369).
MAX_PATCHES = 1600
#: What a training script of the DINO family pickles besides the weights.
DINO_FULL_CHECKPOINT = (
    "{name}: this looks like the full checkpoint DINO's main_dino.py writes: besides the weights it pickles the "
    "training arguments (an argparse.Namespace), and weights-only loading refuses pickled objects because "
    "unpickling can run code. Save the teacher alone, once, in a Python session where you trust this file:\n"
    "    ck = torch.load('{name}', map_location='cpu', weights_only=False)\n"
    "    torch.save(ck['teacher'], 'teacher.pth')\n"
    "and open teacher.pth (the backbone is read, the projection head dropped)."
)
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
OPEN_CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
SOURCES = {"timm": "timm", "dinov2": "original", "torchvision": "torchvision", "huggingface": "huggingface",
           "huggingface-clip": "huggingface", "openai-clip": "original"}


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in index order (resources/imagenet_classes.txt)."""
    path = resource_path("imagenet_classes.txt")
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) != 1000:
        raise RuntimeError(f"{path} should hold 1000 class names, has {len(names)}")
    return names


def available_devices() -> list[str]:
    """"cpu", and "cuda" / "mps" where this torch can use them."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def pick_device(choice: str = "auto") -> str:
    """"auto" → the GPU torch has (CUDA, then MPS), else the CPU; a named device must be available."""
    devices = available_devices()
    if choice == "auto":
        return "cuda" if "cuda" in devices else "mps" if "mps" in devices else "cpu"
    if choice not in devices:
        raise ValueError(f"device {choice!r} is not available here (torch sees: {', '.join(devices)})")
    return choice


@dataclass
class LoadedViT:
    """A ViT ready to run: the network, its config, class names, where it came from and where it runs."""

    net: VisionTransformer
    config: ViTConfig
    name: str
    notes: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def class_names(self) -> list[str]:
        k = self.config.num_classes
        if self.config.class_names and len(self.config.class_names) == k:
            return list(self.config.class_names)
        if k == 1000:
            return list(imagenet_classes())
        return [f"class {i}" for i in range(k)]

    @property
    def generated_only(self) -> bool:
        """Trained only on this project's generated scenes (bundled or retrained): meaningless on photos."""
        return self.config.source in ("bundled", "trained in this app") or self.metrics.get("task") == "vit-shapes"

    @property
    def preprocessing_assumed(self) -> bool:
        return not self.config.preprocessing_from

    def describe(self) -> str:
        return f"{self.name}: {self.config.family}, {self.config.describe()} ({self.config.source}) on {self.device}"

    def to(self, device: str) -> LoadedViT:
        """This model on ``device`` ("cpu", "cuda", "mps" or "auto")."""
        device = pick_device(device)
        self.net.to(device)
        self.device = device
        return self

    def with_preprocessing(self, **fields_: Any) -> LoadedViT:
        """The same network with other preprocessing (mean, std, crop_pct, resample, resize_mode), said to be yours."""
        config = replace(self.config, **fields_, preprocessing_from="set by you")
        return replace(self, config=config)

    # -- input -----------------------------------------------------------------------------
    def input_side(self, input_size: int | None = None) -> int:
        side = int(input_size or self.config.default_input_size)
        p = self.config.patch_size
        if not p <= side <= MAX_INPUT:
            raise ValueError(f"input size must be between {p} and {MAX_INPUT} pixels (got {side})")
        side -= side % p
        if (side // p) ** 2 > MAX_PATCHES:
            raise ValueError(f"input size {side} px gives {(side // p) ** 2} patches of {p}×{p}; at most "
                             f"{MAX_PATCHES} are traced. Choose at most {int(MAX_PATCHES ** 0.5) * p} px.")
        return side

    def resize_plan(self, width: int, height: int, input_size: int | None = None) -> ResizePlan:
        return prep.resize_plan(self.config, width, height, self.input_side(input_size))

    def preprocess(self, image: Image.Image, input_size: int | None = None) -> torch.Tensor:
        """An image of any mode and size → normalised pixels (1, C, S, S) as this model expects."""
        return prep.preprocess(self.config, image, self.input_side(input_size))[0]

    def unnormalise(self, pixels: torch.Tensor):
        return prep.unnormalise(self.config, pixels)

    # -- run -------------------------------------------------------------------------------
    def trace(self, pixels: torch.Tensor, head_mask: torch.Tensor | None = None) -> ViTTrace:
        return self.net.trace(pixels, head_mask)

    def run(self, image: Image.Image, input_size: int | None = None) -> ViTTrace:
        """preprocess + trace in one call."""
        return self.trace(self.preprocess(image, input_size))

    def top_k(self, trace: ViTTrace, k: int = 5) -> list[tuple[str, float, int]]:
        """[(class name, probability, index)] of the k most probable classes."""
        if trace.logits.shape[-1] == 0:
            return []
        probs = trace.probabilities[0]
        values, indices = probs.topk(min(k, probs.numel()))
        names = self.class_names
        return [(names[i], float(v), int(i)) for v, i in zip(values, indices.tolist())]


# -- loading ---------------------------------------------------------------------------------------
def bundled_path(name: str = DEFAULT_BUNDLED) -> Path:
    if name not in BUNDLED:
        raise ValueError(f"no bundled ViT called {name!r}; choose one of: {', '.join(BUNDLED)}")
    return resource_path("models", BUNDLED[name])


def load(path_or_name: str | Path, device: str = "cpu") -> LoadedViT:
    """A ViT from a bundled name, a weight file, or a transformers / timm / OpenCLIP folder, on ``device``.

    Raises:
        ViTFormatError / CheckpointError (both ValueError): unreadable file, not a ViT,
        or shapes that do not fit; the message names the keys involved.
    """
    text = str(path_or_name)
    if text in BUNDLED:
        model = _load_file(bundled_path(text), display=f"bundled '{text}'", bundled=True)
    else:
        path = Path(path_or_name)
        if path.is_dir():
            model = _load_folder(path)
        elif not path.exists():
            raise CheckpointError(f"{path.name or text}: no such file or folder.")
        elif path.name in HF_WEIGHTS + OPEN_CLIP_WEIGHTS and _folder_kind(path.parent):
            model = _load_folder(path.parent, weights=path)
        else:
            model = _load_file(path)
    return model.to(device)


def from_state_dict(state_dict: dict[str, Any], name: str = "state dict", device: str = "cpu", **known: Any) -> LoadedViT:
    """A ViT from tensors already in memory (any layout :func:`load` reads); ``known`` as a config.json would give."""
    return _finish(read(state_dict), name, **known).to(device)


def _read_weights(path: Path) -> dict[str, Any]:
    try:
        return load_state_dict(path)
    except CheckpointError as exc:
        if "argparse" in str(exc.__cause__ or "") or "Namespace" in str(exc.__cause__ or ""):
            raise CheckpointError(DINO_FULL_CHECKPOINT.format(name=path.name)) from exc
        raise


def configure(reading: Reading, **known: Any) -> tuple[ViTConfig, list[str]]:
    """The config for a reading: family defaults (ε, activation, resampling, assumed input) under ``known``."""
    family, layout = reading.family, reading.layout
    assumed = family.preprocessing_for(layout)
    whose = assumed.pop("_whose")
    defaults: dict[str, Any] = {"eps": family.eps, "pos_interpolation": family.pos_for(layout),
                                "family": family.name, "source": SOURCES[layout.name]}
    if family.key == "dino":
        defaults["source"] = "original"
    notes = list(reading.notes)
    if "preprocessing_from" not in known:
        defaults.update(assumed)
        notes.append(f"preprocessing assumed: {whose} — the file stores none; change it under step 1")
    config, more = infer_config(reading.sd, family, layout, **{**defaults, **known})
    if family.key == "clip" and layout.name != "huggingface-clip" and "act" not in known:
        notes.append(f"{config.act} assumed (OpenAI's CLIP uses quick-GELU, OpenCLIP's LAION models and timm's "
                     "non-quickgelu CLIP models exact GELU; the file does not say)")
    notes += more
    notes.append(f"position embeddings at other sizes: resampled {RULES[config.pos_interpolation].whose}")
    return config, notes


def _finish(reading: Reading, name: str, **known: Any) -> LoadedViT:
    config, notes = configure(reading, **known)
    return LoadedViT(build(fill_optional(reading.sd, config), config), config, name, notes)


def _load_file(path: Path, display: str | None = None, bundled: bool = False) -> LoadedViT:
    sd = _read_weights(path)
    stored: dict[str, Any] = {}
    if path.suffix.lower() == ".safetensors":
        try:
            stored = load_config(path)
        except CheckpointError:
            stored = {}
    model_config = stored.get("model") if isinstance(stored.get("model"), dict) else None
    if model_config is not None:  # this project's own format: the full config is stored with the weights
        source = "bundled" if bundled else "trained in this app" if stored.get("trained_in") == "app" else "this project's format"
        config = ViTConfig.from_dict({**model_config, "source": source, "preprocessing_from": "stored with the model"})
        net = build(fill_optional(read(sd).sd, config), config)
        metrics = {k: v for k, v in stored.items() if k not in ("model", "train")}
        return LoadedViT(net, config, display or path.name, [], metrics)
    return _finish(read(sd), display or path.name)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ViTFormatError(f"{path.parent.name}/{path.name} is not valid JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise ViTFormatError(f"{path.parent.name}/{path.name} does not hold a JSON object.")
    return data


def _folder_kind(folder: Path) -> str:
    if (folder / "open_clip_config.json").is_file():
        return "open_clip"
    if (folder / "config.json").is_file():
        return "config"
    return ""


def _weights_in(folder: Path, names: tuple[str, ...]) -> Path:
    for candidate in names:
        if (folder / candidate).is_file():
            return folder / candidate
    raise ViTFormatError(f"{folder.name}: no {' or '.join(names)} next to its config.")


def _load_folder(folder: Path, weights: Path | None = None) -> LoadedViT:
    kind = _folder_kind(folder)
    if not kind:
        raise ViTFormatError(f"{folder.name}: no config.json, so this is not a transformers or timm model folder.")
    if kind == "open_clip":
        known = prep.from_open_clip(_json(folder / "open_clip_config.json"))
        reading = read(_read_weights(weights or _weights_in(folder, OPEN_CLIP_WEIGHTS)))
        return _finish(reading, folder.name, **known)
    cfg = _json(folder / "config.json")
    if "architecture" in cfg and "model_type" not in cfg:  # a timm hub folder
        return _load_timm_folder(folder, cfg, weights)
    if cfg.get("model_type") not in MODEL_TYPES:
        raise ViTFormatError(f"{folder.name}: config.json says model_type {cfg.get('model_type')!r}; the ViT "
                             f"families read are: {', '.join(sorted(MODEL_TYPES))}.")
    vision = hf_vision_config(cfg, folder.name)
    reading = read(_read_weights(weights or _weights_in(folder, HF_WEIGHTS)), model_type=cfg.get("model_type"))
    known = hf_known(vision, folder.name)
    pre = folder / "preprocessor_config.json"
    if pre.is_file():
        known.update(prep.from_hf_preprocessor(_json(pre)))
    model = _finish(reading, folder.name, **known)
    check_against_weights(vision, model.config, folder.name)
    return model


def _load_timm_folder(folder: Path, cfg: dict[str, Any], weights: Path | None) -> LoadedViT:
    arch = str(cfg["architecture"])
    known: dict[str, Any] = {}
    pretrained = cfg.get("pretrained_cfg")
    if isinstance(pretrained, dict):
        known.update(prep.from_timm_pretrained_cfg(pretrained))
    if "quickgelu" in arch:
        known["act"] = "quick_gelu"
    names = cfg.get("label_names")
    if isinstance(names, list) and names:
        known["class_names"] = [str(n) for n in names]
    args = cfg.get("model_args") if isinstance(cfg.get("model_args"), dict) else {}
    if isinstance(args.get("num_heads"), int):
        known["heads"] = args["num_heads"]
    reading = read(_read_weights(weights or _weights_in(folder, HF_WEIGHTS)))
    reading.notes.append(f"timm architecture '{arch}'")
    return _finish(reading, folder.name, **known)


__all__ += ["available_devices", "bundled_path", "from_state_dict", "pick_device"]
