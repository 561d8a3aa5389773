"""What rebuilds a ViT and prepares its input (:class:`ViTConfig`), and which token is which (:class:`TokenLayout`).

One internal model serves every family; the config says which of its optional
parts a checkpoint has: a class token, a distillation token (DeiT), register
tokens (DINOv2 with registers), a norm before the encoder (CLIP's ``ln_pre``),
layer scale (DINOv2), the activation, how the output is pooled (class token,
mean of patches, an attention-pooling probe as in SigLIP), and the rule that
resamples the position embeddings at other input sizes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from explorer.engine.vit.resample import RULES

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The MLP's non-linearity: exact GELU, its tanh approximation (SigLIP), CLIP's x·σ(1.702x), SwiGLU (DINOv2-g).
ACTIVATIONS = ("gelu", "gelu_tanh", "quick_gelu", "swiglu")
#: What the head reads: the class token, the mean of the patch tokens, an attention-pooling probe (SigLIP),
#: or the class token beside the patch mean (transformers' Dinov2ForImageClassification).
POOLS = ("cls", "avg", "map", "cls_avg")
RESIZE_MODES = ("short", "squash")  # shorter side to the size then centre crop / whole image to a square
INTERPOLATIONS = ("bilinear", "bicubic")


@dataclass
class ViTConfig:
    """Everything that rebuilds a ViT and prepares its input; read off checkpoints by :mod:`.formats`."""

    image_size: int = 224  # the side the position-embedding table was learned for
    patch_size: int = 16
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_dim: int = 3072
    num_classes: int = 1000  # 0: no classifier head (DINO, CLIP, SigLIP towers); logits are then (1, 0)
    channels: int = 3
    eps: float = 1e-6
    # -- the token sequence: [CLS] [DIST] [REG1 … REGr] patch 0 … patch N−1 -------------------------
    class_token: bool = True
    distillation_token: bool = False
    registers: int = 0
    #: How many leading tokens have a position embedding of their own (CLS, DIST); registers never do.
    pos_prefix: int = 1
    # -- blocks -------------------------------------------------------------------------------------
    act: str = "gelu"
    layer_scale: bool = False
    norm_pre: bool = False  # CLIP's ln_pre: a LayerNorm on the sequence before the first block
    # -- output -------------------------------------------------------------------------------------
    pool: str = "cls"
    fc_norm: bool = False  # timm's LayerNorm after pooling (with pool "avg")
    final_norm: bool = True
    head_bias: bool = True
    projection: int = 0  # width of CLIP's image-embedding projection (0: none)
    pool_latents: int = 1  # probe queries of the attention pool (pool "map")
    #: Rule that resamples the position embeddings to another grid (see :mod:`.resample`).
    pos_interpolation: str = "bicubic"
    # -- preprocessing ------------------------------------------------------------------------------
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    #: ``short``: shorter side to input / crop_pct, centre crop; ``squash``: whole image to that square, crop.
    crop_pct: float = 0.875
    resample: str = "bilinear"  # image interpolation: "bilinear" | "bicubic"
    resize_mode: str = "short"
    input_size: int = 0  # the input side the model's files ask for; 0: image_size
    #: Where mean, std, crop and interpolation came from; "" means assumed (the panel lets you change them).
    preprocessing_from: str = ""
    # -- provenance ---------------------------------------------------------------------------------
    family: str = "ViT"  # "ViT", "DeiT", "DINO", "DINOv2", "CLIP", "SigLIP"
    #: The weights' layout or origin: "bundled", "trained in this app", "timm", "torchvision",
    #: "huggingface", "original" (the family's own repository).
    source: str = "timm"
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mean = tuple(float(v) for v in self.mean)  # JSON gives lists
        self.std = tuple(float(v) for v in self.std)
        if self.dim % max(self.heads, 1):
            raise ValueError(f"width {self.dim} is not divisible by {self.heads} heads")
        for name, value, allowed in (("act", self.act, ACTIVATIONS), ("pool", self.pool, POOLS),
                                     ("resize_mode", self.resize_mode, RESIZE_MODES),
                                     ("resample", self.resample, INTERPOLATIONS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        if self.pos_interpolation not in RULES:
            raise ValueError(f"pos_interpolation must be one of {', '.join(RULES)} (got {self.pos_interpolation!r})")
        if not 0 <= self.pos_prefix <= int(self.class_token) + int(self.distillation_token):
            raise ValueError(f"pos_prefix {self.pos_prefix} exceeds the class/distillation tokens present")
        if self.pool in ("cls", "cls_avg") and not self.class_token:
            raise ValueError(f"pool {self.pool!r} reads the class token, but the model has none")
        if self.distillation_token and not self.class_token:
            raise ValueError("a distillation token needs a class token in front of it")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive (got {self.std})")
        if not 0.05 <= self.crop_pct <= 1.0:
            raise ValueError(f"crop_pct must be in [0.05, 1] (got {self.crop_pct})")

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """Names of the tokens in front of the patches, in order."""
        names = ["[CLS]"] if self.class_token else []
        names += ["[DIST]"] if self.distillation_token else []
        names += [f"[REG{i + 1}]" for i in range(self.registers)]
        return tuple(names)

    @property
    def default_input_size(self) -> int:
        return self.input_size or self.image_size

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mean"], out["std"] = list(self.mean), list(self.std)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViTConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        """One line for the UI: ``12 layers · width 768 · 12 heads · MLP 3072 · patch 16 · 224 px … · 1000 classes``."""
        classes = f"{self.num_classes} classes" if self.num_classes else "no classifier head"
        extra = f" · tokens {' '.join(self.special_tokens)}" if self.special_tokens != ("[CLS]",) else ""
        return (
            f"{self.depth} layers · width {self.dim} · {self.heads} heads · MLP {self.mlp_dim} · "
            f"patch {self.patch_size} · {self.image_size} px ({self.grid}×{self.grid} patches){extra} · {classes}"
        )


#: What each kind of special token is, for the sentences the panel writes.
TOKEN_KINDS = {
    "[CLS]": "the class token: a learned vector with no image content that gathers from the patches",
    "[DIST]": "DeiT's distillation token: trained to match a CNN teacher's prediction, read by its own head",
    "[REG": "a register: a learned token with no position embedding, dropped at the output (Darcet et al. 2024)",
}


@dataclass(frozen=True)
class TokenLayout:
    """The shape of a trace's token sequence: special tokens first, then the patches in raster order.

    ``depth`` × ``heads`` is the shape of its attention; every index rule
    (which row is patch i, what token 3 is called) follows from here.
    """

    special: tuple[str, ...]
    grid: tuple[int, int]
    depth: int
    heads: int

    @property
    def patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def leading(self) -> int:
        return len(self.special)

    @property
    def total(self) -> int:
        return self.leading + self.patches

    def token_of_patch(self, patch: int) -> int:
        return self.leading + patch

    def name_of(self, token: int) -> str:
        """'[CLS]', '[REG2]' or 'patch 5', for the sentences that say where attention comes from."""
        return self.special[token] if token < self.leading else f"patch {token - self.leading}"

    def kind_of(self, token: int) -> str:
        """What a token is, in a sentence."""
        if token >= self.leading:
            return "a patch of the image"
        name = self.special[token]
        return next(text for prefix, text in TOKEN_KINDS.items() if name.startswith(prefix))
