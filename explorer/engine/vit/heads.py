"""A ViT's attention on the current image, handed to the Attention panel: one head, or one layer's projections.

:func:`vit_head` packs one head of one layer into a
:class:`~explorer.engine.attention.heads.RealHead`: its Q, K and V for every token,
recomputed from the tokens entering the layer through the block's own ``norm1``
and ``attn.qkv`` — exactly the float32 operations of the model's forward — plus the
model's own weights from the trace, so the panel can show that its recomputation
agrees. :func:`vit_layer` gives the From-input tab the same layer as tokens X and
projections W_Q, W_K, W_V, W_O (with their biases): real projections turning real
tokens into Q, K and V.

Only the trace's ``tokens`` are read for the inputs (not how attention is stored),
and the token layout is read from the model: [CLS] (if any), a distillation token,
registers, then the patches in raster order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from explorer.engine.attention.heads import RealHead

SOURCES = ("tokens", "embeddings")
#: Where families keep register tokens (timm ``reg_token``, DINOv2 ``register_tokens``).
REGISTER_NAMES = ("reg_token", "register_tokens", "registers")


def _net(model: Any) -> Any:
    """The network of a :class:`~explorer.engine.vit.loading.LoadedViT`, or the network itself."""
    return getattr(model, "net", model)


def token_labels(model: Any, trace: Any) -> tuple[str, ...]:
    """Every token's name: "[CLS]", "dist", "reg 1", …, then "(row, col)" for each patch (0-based)."""
    gh, gw = trace.grid
    total = int(trace.tokens[0].shape[0])
    leading = total - gh * gw
    if leading < 0:
        raise ValueError(f"the trace has {total} tokens, fewer than its {gh}×{gw} patches")
    net = _net(model)
    names = ["[CLS]"] if getattr(net, "cls_token", None) is not None else []
    if getattr(net, "dist_token", None) is not None:
        names.append("dist")
    config = getattr(net, "config", None)
    registers = any(getattr(net, name, None) is not None for name in REGISTER_NAMES) or any(
        getattr(config, name, 0) for name in ("registers", "num_registers", "reg_tokens"))
    if registers:
        names += [f"reg {i + 1}" for i in range(max(leading - len(names), 0))]
    if len(names) != leading:  # a layout this reading does not know: say what the tokens are, not guess
        names = [f"token {i}" for i in range(leading)]
    return (*names, *(f"({r}, {c})" for r in range(gh) for c in range(gw)))


def _block(model: Any, trace: Any, layer: int) -> Any:
    net = _net(model)
    depth = len(net.blocks)
    if not 0 <= layer < depth:
        raise ValueError(f"layer {layer + 1} does not exist: the model has {depth} layers (1…{depth})")
    if layer >= len(trace.tokens):
        raise ValueError(f"this trace keeps no tokens entering layer {layer + 1}")
    return net.blocks[layer]


def _heads(attn: Any) -> int:
    return int(getattr(attn, "heads", None) or attn.num_heads)


@torch.no_grad()
def layer_qkv(model: Any, trace: Any, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """(q, k, v) of every head, each (h, T, d_head) float32, and the scale, for ``layer`` on this trace."""
    block = _block(model, trace, layer)
    attn = block.attn
    x = trace.tokens[layer].unsqueeze(0)  # (1, T, D): the tokens entering the layer
    qkv = attn.qkv(block.norm1(x))  # (1, T, 3D): the model's own operations, in its own float32
    t, width = x.shape[1], x.shape[2]
    h = _heads(attn)
    q, k, v = qkv.reshape(1, t, 3, h, width // h).permute(2, 0, 3, 1, 4).unbind(0)  # each (1, h, T, d_head)
    if hasattr(attn, "q_norm"):  # families that normalise q and k per head
        q, k = attn.q_norm(q), attn.k_norm(k)
    return q[0], k[0], v[0], float(getattr(attn, "scale", (width // h) ** -0.5))


def model_attention(trace: Any, layer: int) -> torch.Tensor:
    """The model's own weights of ``layer`` from the trace, (h, T, T)."""
    weights = trace.attentions[layer]
    return weights[0] if weights.ndim == 4 else weights


@dataclass(frozen=True)
class ViTInput:
    """A ViT and its trace on one image: what From input reads a layer of."""

    model: Any  # a LoadedViT
    trace: Any  # its ViTTrace on the image
    picture: np.ndarray | None = None  # (H, W, 3) uint8, what the model saw
    model_name: str = ""
    input_name: str = ""

    @property
    def depth(self) -> int:
        return len(_net(self.model).blocks)


def vit_head(
    model: Any,
    trace: Any,
    layer: int,
    head: int,
    *,
    query: int = 0,
    picture: np.ndarray | None = None,
    model_name: str = "",
    input_name: str = "",
    back: Any = None,
) -> RealHead:
    """Head ``head`` of layer ``layer`` (0-based) on this trace, with ``query`` (a token index) selected.

    ``picture`` is what the model saw, (H, W, 3) uint8; it is cut to the patch grid.
    """
    q, k, v, scale = layer_qkv(model, trace, layer)
    if not 0 <= head < q.shape[0]:
        raise ValueError(f"head {head + 1} does not exist: layer {layer + 1} has {q.shape[0]} heads (1…{q.shape[0]})")
    labels = token_labels(model, trace)
    gh, gw = trace.grid
    if picture is not None:
        p = trace.patch_size
        picture = np.ascontiguousarray(np.asarray(picture)[: gh * p, : gw * p])
    return RealHead(
        q=q[head], k=k[head], v=v[head], weights=model_attention(trace, layer)[head], token_labels=labels,
        scale=scale, query=query, grid=(gh, gw), first_patch=len(labels) - gh * gw, image=picture,
        model=model_name, input_name=input_name, layer=layer, head=head, back=back,
        source=ViTInput(model, trace, picture, model_name, input_name),
    )


def run_vit(model_or_name: Any, image: Any, input_name: str = "", reporter: Any = None) -> ViTInput:
    """Load ``model_or_name`` if it is a name or path (:func:`explorer.engine.vit.load`) and trace ``image``."""
    from explorer.engine import vit
    from explorer.engine.infra.progress import report

    report(reporter, 0.05, "loading the ViT")
    model = vit.load(model_or_name) if isinstance(model_or_name, str) else model_or_name
    report(reporter, 0.3, "running the ViT on the image")
    pixels = model.preprocess(image)
    trace = model.trace(pixels)
    report(reporter, 1.0, "done")
    return ViTInput(model, trace, model.unnormalise(trace.pixels), f"{model.name} ({model.config.source})", input_name)


@dataclass(frozen=True)
class RealLayer:
    """One layer's attention as From input shows it: X, the projections (textbook orientation) and their biases.

    ``x`` is what the layer's attention reads: the tokens after the block's LayerNorm
    (``normalised``), so Q = X·W_Q + b_Q is exactly the model's Q.
    """

    x: torch.Tensor  # (n, D)
    w_q: torch.Tensor  # (D, D): Q = X·W_Q + b_Q
    w_k: torch.Tensor
    w_v: torch.Tensor
    w_o: torch.Tensor  # (D, D): out = concat(heads)·W_O + b_O
    b_q: torch.Tensor | None
    b_k: torch.Tensor | None
    b_v: torch.Tensor | None
    b_o: torch.Tensor | None
    heads: int
    token_labels: tuple[str, ...]
    source: str  # "tokens" (entering the layer) or "embeddings" (patch embeddings + positions, no [CLS])
    layer: int
    model: str = ""
    input_name: str = ""
    normalised: bool = True
    model_weights: torch.Tensor | None = None  # (h, n, n): the model's own, when X is exactly what its layer read
    picture: np.ndarray | None = None  # what the model saw, cut to the patch grid
    grid: tuple[int, int] | None = None
    first_patch: int = 0  # the row of the first patch in X

    @property
    def title(self) -> str:
        what = "tokens entering" if self.source == "tokens" else "patch embeddings + positions, through"
        parts = [p for p in (self.model, self.input_name) if p]
        return " · ".join([*parts, f"{what} layer {self.layer + 1}"])


@torch.no_grad()
def vit_layer(
    model: Any, trace: Any, layer: int, *, source: str = "tokens", normalise: bool = True,
    model_name: str = "", input_name: str = "", picture: np.ndarray | None = None,
) -> RealLayer:
    """X and W_Q, W_K, W_V, W_O of ``layer`` for From input.

    ``source`` "tokens": the tokens entering the layer ([CLS], …, patches); "embeddings":
    the patch embeddings plus their position embeddings (the patches entering layer 1,
    without [CLS]). ``normalise`` passes X through the layer's LayerNorm, as the model does.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    block = _block(model, trace, layer)
    labels = token_labels(model, trace)
    if source == "tokens":
        raw = trace.tokens[layer]  # (T, D)
    else:
        n = trace.patch_embeddings.shape[0]
        raw = trace.patch_embeddings + trace.pos_embed[-n:]  # (N, D): the patch rows of the position table
        labels = labels[len(labels) - n:]
    x = block.norm1(raw) if normalise else raw
    attn = block.attn
    w_q, w_k, w_v = attn.qkv.weight.detach().chunk(3, dim=0)  # each (D, D), applied as x @ Wᵀ
    b = attn.qkv.bias.detach().chunk(3) if attn.qkv.bias is not None else (None, None, None)
    proj = attn.proj
    gh, gw = trace.grid
    if picture is not None:
        picture = np.ascontiguousarray(np.asarray(picture)[: gh * trace.patch_size, : gw * trace.patch_size])
    exact = source == "tokens" and normalise
    return RealLayer(
        x=x.detach(), w_q=w_q.T, w_k=w_k.T, w_v=w_v.T, w_o=proj.weight.detach().T, b_q=b[0], b_k=b[1], b_v=b[2],
        b_o=None if proj.bias is None else proj.bias.detach(), heads=_heads(attn), token_labels=labels,
        source=source, layer=layer, model=model_name, input_name=input_name, normalised=normalise,
        model_weights=model_attention(trace, layer) if exact else None, picture=picture, grid=(gh, gw),
        first_patch=len(labels) - gh * gw,
    )
