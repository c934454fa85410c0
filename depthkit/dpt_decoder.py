"""The DPT decoder shared by DPT-Hybrid and Depth Anything V2 (Ranftl et al. 2021, arXiv:2103.13413).

A vision transformer turns an image into tokens: one class token and one token per patch (16x16 or 14x14 pixels).
DPT reassembles the tokens of four transformer blocks (or, for the hybrid, of two ResNet stages and two blocks)
into feature maps at strides 4, 8, 16 and 32, projects each to ``features`` channels (``scratch.layerN_rn``), and
fuses them coarse to fine (``scratch.refinenet4`` ... ``refinenet1``). The parameter names here are the official
ones, so the official checkpoints load with ``strict=True``:

* :class:`ProjectReadout`: the "project" readout, which folds the class token into every patch token;
* :func:`embed_tokens` and :func:`run_blocks`: patch embeddings -> tokens (class token first, position
  embeddings added) and the outputs of the transformer blocks the decoder reads;
* :func:`make_scratch` and :func:`fuse`: the four projections and the four fusion blocks
  (:class:`depthkit.model.FeatureFusionBlock` with ``expand=False``, i.e. DPT's ``FeatureFusionBlock_custom``,
  upsampling to the size of the next finer map), run coarse to fine;
* :func:`check_input`: the one input rule for the transformer models (a float (N, 3, H, W) tensor, H and W
  multiples of the model's stride);
* :func:`layer_shapes`: the shapes flowing through a DPT network, stage by stage (each network lists its stages
  in ``STAGES``), cheap on the meta device. MiDaS_small's counterpart is :func:`depthkit.model.layer_shapes`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .checks import check_positive_int
from .errors import InputError
from .model import FeatureFusionBlock

__all__ = ["ProjectReadout", "check_input", "embed_tokens", "fuse", "layer_shapes", "make_scratch", "run_blocks"]


def check_input(x: torch.Tensor, model: str, multiple: int, prepare: str) -> None:
    """Raise :class:`~depthkit.errors.InputError` unless ``x`` is a valid input of a DPT model.

    Args:
        x: (N, 3, H, W) float tensor; H and W must be positive multiples of ``multiple``.
        model: the model's name in the message, e.g. ``"DPT-Hybrid"``.
        multiple: the model's stride in pixels (32 for DPT-Hybrid, 14 for Depth Anything V2).
        prepare: the call that makes a valid input, quoted in the message, e.g.
            ``'depthkit.model_registry.prepare(image, "dpt_hybrid")'``.
    """
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{model} expects a torch.Tensor of shape (N, 3, H, W), got {type(x).__name__}; "
                         f"use {prepare} to make one.")
    if x.ndim != 4 or x.shape[1] != 3:
        raise InputError(f"{model} expects a tensor of shape (N, 3, H, W), got {tuple(x.shape)}; "
                         f"use {prepare} to make one.")
    if not x.is_floating_point():
        raise InputError(f"{model} expects a float tensor, got {x.dtype}; use {prepare}, which scales "
                         "to [0, 1] and normalises.")
    h, w = x.shape[-2:]
    if h < multiple or w < multiple or h % multiple or w % multiple:
        raise InputError(f"{model} needs H and W to be multiples of {multiple}, got {h}x{w}; "
                         f"resize with {prepare} first.")


class ProjectReadout(nn.Module):
    """The "project" readout: ``GELU(Linear([patch token, class token]))`` for every patch token.

    Shapes: (N, 1 + T, C) tokens (class token first) -> (N, T, C).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, 1:]
        readout = tokens[:, :1].expand_as(patches)
        return self.project(torch.cat((patches, readout), dim=-1))


def embed_tokens(patches: torch.Tensor, cls_token: torch.Tensor, pos_embed: torch.Tensor,
                 resize_pos: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor],
                 ) -> tuple[torch.Tensor, tuple[int, int]]:
    """Patch embeddings -> transformer input tokens, as a ViT does (class token first, position embeddings added).

    Args:
        patches: (N, C, rows, cols) patch embeddings.
        cls_token: (1, 1, C) class token.
        pos_embed: (1, 1 + S*S, C) position embeddings of the model's native S x S grid.
        resize_pos: ``(pos_embed, (rows, cols)) -> (1, 1 + rows*cols, C)``, the model's own resizing rule.

    Returns:
        ((N, 1 + rows*cols, C) tokens, (rows, cols)).
    """
    grid = (patches.shape[-2], patches.shape[-1])
    tokens = patches.flatten(2).transpose(1, 2)
    tokens = torch.cat((cls_token.expand(len(tokens), -1, -1), tokens), dim=1)
    return tokens + resize_pos(pos_embed, grid), grid


def run_blocks(blocks: Sequence[nn.Module], tokens: torch.Tensor, taps: Sequence[int]) -> list[torch.Tensor]:
    """Run transformer blocks ``0 ... max(taps)`` and return the outputs of the blocks in ``taps`` (0-based).

    Shapes: (N, T, C) tokens -> ``len(taps)`` tensors of shape (N, T, C), in block order.
    """
    out = []
    for i, block in enumerate(blocks[: max(taps) + 1]):
        tokens = block(tokens)
        if i in taps:
            out.append(tokens)
    return out


def make_scratch(in_channels: Sequence[int], features: int) -> nn.Module:
    """The decoder's ``scratch`` module: ``layer1_rn`` ... ``layer4_rn`` then ``refinenet1`` ... ``refinenet4``.

    Args:
        in_channels: channels of the four reassembled maps (strides 4, 8, 16, 32).
        features: decoder width (256 for DPT-Hybrid, 64 for Depth Anything V2 Small).

    Returns:
        An ``nn.Module``; the caller adds the head (``output_conv`` or ``output_conv1``/``output_conv2``).
    """
    scratch = nn.Module()
    for i, cin in enumerate(in_channels, start=1):
        setattr(scratch, f"layer{i}_rn", nn.Conv2d(cin, features, kernel_size=3, padding=1, bias=False))
    for i in range(1, 5):
        setattr(scratch, f"refinenet{i}", FeatureFusionBlock(features, expand=False))
    return scratch


def fuse(scratch: nn.Module, maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Project the four maps and fuse them coarse to fine.

    Args:
        scratch: a module made by :func:`make_scratch`.
        maps: four (N, C_i, h_i, w_i) maps at strides 4, 8, 16, 32 (finest first).

    Returns:
        (N, features, 2 h_1, 2 w_1): the fused map at stride 2.
    """
    rn = [getattr(scratch, f"layer{i}_rn")(m) for i, m in enumerate(maps, start=1)]
    path = scratch.refinenet4(rn[3], size=rn[2].shape[-2:])
    path = scratch.refinenet3(path, rn[2], size=rn[1].shape[-2:])
    path = scratch.refinenet2(path, rn[1], size=rn[0].shape[-2:])
    return scratch.refinenet1(path, rn[0])


def layer_shapes(network: nn.Module, height: int, width: int) -> list[tuple[str, str, tuple[int, ...]]]:
    """The shapes flowing through a DPT network (DPT-Hybrid, Depth Anything V2) for one (1, 3, height, width) input.

    Forward hooks record the output (or, where ``STAGES`` says ``"input"``, the input) of each stage the network
    lists in its ``STAGES``: patch embedding, tokens, the hooked transformer blocks, the four reassembled maps, the
    projections, the fusion blocks and the head. On the meta device (``with torch.device("meta"): net = ...``) this
    takes well under a second and no memory: only shapes are computed, no numbers.

    Args:
        network: a :class:`~depthkit.dpt_hybrid.DPTHybrid` or :class:`~depthkit.depth_anything.DepthAnythingV2Small`
            (any device, including ``"meta"``).
        height: input height in pixels (a multiple of the model's stride: 32 for DPT-Hybrid, 14 for DA-V2).
        width: input width in pixels (likewise).

    Returns:
        ``[(module name, what it is, shape), ...]`` in the order data flows; tokens are (N, 1 + rows*cols, C)
        with the class token first, maps (N, C, H, W), the output (N, H, W).

    Example:
        >>> from depthkit.depth_anything import DepthAnythingV2Small
        >>> with torch.device("meta"):
        ...     net = DepthAnythingV2Small()
        >>> [shape for name, _what, shape in layer_shapes(net, 518, 518) if name == "pretrained.blocks.11"]
        [(1, 1370, 384)]
    """
    stages = getattr(network, "STAGES", None)
    if not isinstance(network, nn.Module) or stages is None:
        raise InputError(f"layer_shapes needs a DPT network (DPT-Hybrid or Depth Anything V2), got "
                         f"{type(network).__name__}; for MiDaS_small use depthkit.model.layer_shapes.")
    height, width = check_positive_int(height, "height"), check_positive_int(width, "width")
    modules = dict(network.named_modules())
    shapes: dict[tuple[str, str], tuple[int, ...]] = {}

    def record(key: tuple[str, str], value) -> None:
        shapes[key] = tuple((value[0] if isinstance(value, (tuple, list)) else value).shape)

    hooks = []
    for name, kind, _what in stages:
        if kind == "input":
            hooks.append(modules[name].register_forward_pre_hook(lambda _m, args, key=(name, kind): record(key, args)))
        else:
            hooks.append(modules[name].register_forward_hook(lambda _m, _i, out, key=(name, kind): record(key, out)))
    try:
        with torch.inference_mode():
            network(torch.zeros(1, 3, height, width, device=next(network.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
    return [(name, what, shapes[(name, kind)]) for name, kind, what in stages]
