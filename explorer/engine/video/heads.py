"""One head of the video transformer on the current clip, as a RealHead for the Attention panel.

The video trace keeps each layer's weights but not the tokens entering it, so
:func:`video_head` runs the temporal transformer again up to that layer on the
trace's own frame features — the same written-out path :func:`~.analysis.analyse`
took — and projects the layer's input through the block's ``norm1`` and
``in_proj``. Tokens are the frames ("frame 1" …), the mask is causal, and the
picture is the strip of frames the model saw, one cell per frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from explorer.engine.attention.heads import RealHead
from explorer.engine.video.models import (
    LoadedModel,
    TemporalTransformer,
    VideoModelError,
)


@torch.no_grad()
def layer_qkv(model: Any, features: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(q, k, v), each (h, T, d_head) float32, of ``layer`` for frame features (T, F)."""
    net = model.model if isinstance(model, LoadedModel) else model
    temporal = net.temporal
    if not isinstance(temporal, TemporalTransformer):
        raise VideoModelError("this video model reads frames with a recurrent network: it has no attention heads")
    depth = len(temporal.blocks)
    if not 0 <= layer < depth:
        raise VideoModelError(f"layer {layer + 1} does not exist: the transformer has {depth} layers (1…{depth})")
    t = features.shape[0]
    x = temporal.inp(features[None]) + temporal.pos[:t]  # (1, T, D)
    for block in temporal.blocks[:layer]:
        x, _ = block(x, need_weights=True)  # the written-out path, as the trace was made
    block = temporal.blocks[layer]
    attn = block.attn
    qkv = F.linear(block.norm1(x), attn.in_proj_weight, attn.in_proj_bias)  # (1, T, 3D)
    width = x.shape[-1]
    q, k, v = qkv.reshape(1, t, 3, attn.heads, width // attn.heads).permute(2, 0, 3, 1, 4).unbind(0)  # (1, h, T, d_h)
    return q[0], k[0], v[0]


def frame_strip(inputs: torch.Tensor) -> np.ndarray:
    """The model-size frames (T, 3, S, S) in [0, 1] side by side: (S, T·S, 3) uint8."""
    frames = (inputs.clamp(0, 1) * 255).round().to(torch.uint8)  # (T, 3, S, S)
    return np.ascontiguousarray(frames.permute(2, 0, 3, 1).reshape(frames.shape[2], -1, 3).numpy())


def video_head(
    model: Any,
    trace: Any,
    layer: int,
    head: int,
    *,
    query: int = 0,
    model_name: str = "",
    input_name: str = "",
    back: Any = None,
) -> RealHead:
    """Head ``head`` of ``layer`` (0-based) on this clip's trace, frame ``query`` selected."""
    if not trace.attentions:
        raise VideoModelError("this clip was read by a recurrent model: there is no attention to open")
    q, k, v = layer_qkv(model, trace.features, layer)
    if not 0 <= head < q.shape[0]:
        raise VideoModelError(f"head {head + 1} does not exist: the layer has {q.shape[0]} heads (1…{q.shape[0]})")
    t = q.shape[1]
    return RealHead(
        q=q[head], k=k[head], v=v[head], weights=trace.attentions[layer][head],
        token_labels=tuple(f"frame {i + 1}" for i in range(t)), scale=q.shape[-1] ** -0.5, query=query,
        allowed=torch.ones(t, t, dtype=torch.bool).tril(), grid=(1, t), first_patch=0,
        image=frame_strip(trace.inputs), model=model_name, input_name=input_name, layer=layer, head=head, back=back,
    )
