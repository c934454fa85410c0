"""The MiDaS_small network (MidasNet_small), built from timm parts.

The official MiDaS v2.1 small model is an EfficientNet-Lite3 encoder followed by a RefineNet-style fusion
decoder. This module builds exactly that network, with the same parameter names, so that the official
checkpoint ``midas_v21_small_256.pt`` loads into it with ``strict=True``:

* ``pretrained.layer1`` ... ``layer4``: the timm ``tf_efficientnet_lite3`` stem and blocks, regrouped as MiDaS
  does (outputs at strides 4, 8, 16 and 32 with 32, 48, 136 and 384 channels).
* ``scratch.layerN_rn``: 3x3 convolutions projecting the four encoder outputs to 64/128/256/512 channels.
* ``scratch.refinenet4`` ... ``refinenet1``: fusion blocks (residual conv units, bilinear x2 upsampling with
  ``align_corners=True``, a 1x1 conv halving the channels, except in refinenet1 which keeps 64).
* ``scratch.output_conv``: the head producing one non-negative channel at the input resolution.

The output is *relative inverse depth*: larger values are nearer, and scale and shift are unknown.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn import functional as F

from .errors import InputError

__all__ = [
    "DECODER_FEATURES", "ENCODER_CHANNELS", "FeatureFusionBlock", "MidasSmall", "ResidualConvUnit", "Upsample2x",
    "check_input", "depth_head", "layer_shapes",
]

#: Channels of the four encoder outputs (strides 4, 8, 16, 32) of tf_efficientnet_lite3.
ENCODER_CHANNELS = (32, 48, 136, 384)
#: Channels of the four projected decoder paths (``features * (1, 2, 4, 8)`` with ``features = 64``).
DECODER_FEATURES = (64, 128, 256, 512)


def check_input(x: torch.Tensor) -> None:
    """Raise :class:`~depthkit.errors.InputError` unless ``x`` is a valid network input.

    Args:
        x: (N, 3, H, W) float tensor; H and W must be positive multiples of 32.

    Example:
        >>> check_input(torch.zeros(1, 3, 64, 96))
        >>> check_input(torch.zeros(1, 3, 60, 96))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        depthkit.errors.InputError: MiDaS_small needs H and W to be multiples of 32, got 60x96; resize with ...
    """
    if not isinstance(x, torch.Tensor):
        raise InputError(f"MiDaS_small expects a torch.Tensor of shape (N, 3, H, W), got {type(x).__name__}; "
                         "use depthkit.prepare(image) to make one.")
    if x.ndim != 4 or x.shape[1] != 3:
        raise InputError(f"MiDaS_small expects a tensor of shape (N, 3, H, W), got {tuple(x.shape)}; "
                         "use depthkit.prepare(image) to make one.")
    if not x.is_floating_point():
        raise InputError(f"MiDaS_small expects a float tensor, got {x.dtype}; use depthkit.prepare(image), "
                         "which scales to [0, 1] and normalises with the ImageNet mean and std.")
    h, w = x.shape[-2:]
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise InputError(f"MiDaS_small needs H and W to be multiples of 32, got {h}x{w}; "
                         "resize with depthkit.prepare(image) first.")


class ResidualConvUnit(nn.Module):
    """Pre-activation residual block: ``x + conv2(relu(conv1(relu(x))))``; shape-preserving (N, C, H, W)."""

    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(features, features, kernel_size=3, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(x))
        out = self.conv2(F.relu(out))
        return out + x


class FeatureFusionBlock(nn.Module):
    """Fuse a coarser decoder path with a skip connection, upsample x2 and project with a 1x1 conv.

    Input (N, C, H, W) (plus an optional skip of the same shape); output (N, C // 2, 2H, 2W) when ``expand``
    (refinenet4 ... refinenet2), else (N, C, 2H, 2W) (refinenet1). With ``size=(h, w)`` the path is resized to that
    size instead of doubled (DPT decoders whose next finer map is not exactly twice as large).
    """

    def __init__(self, features: int, expand: bool = True):
        super().__init__()
        self.out_conv = nn.Conv2d(features, features // 2 if expand else features, kernel_size=1, bias=True)
        self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None,
                size: tuple[int, int] | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        else:
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)
        return self.out_conv(x)


class Upsample2x(nn.Module):
    """Bilinear x2 upsampling, no weights: MiDaS's ``Interpolate``; (N, C, H, W) -> (N, C, 2H, 2W).

    Args:
        align_corners: False in MidasNet_small's head, True in DPT's head.
    """

    def __init__(self, align_corners: bool = False):
        super().__init__()
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=self.align_corners)


def depth_head(features: int, align_corners: bool) -> nn.Sequential:
    """The MiDaS / DPT depth head ``output_conv`` (official indices; weights at 0, 2 and 4).

    ``[0]`` 3x3 conv to ``features // 2``, ``[1]`` :class:`Upsample2x`, ``[2]`` 3x3 conv to 32, ``[3]`` ReLU,
    ``[4]`` 1x1 conv to 1, ``[5]`` ReLU (``non_negative=True``: inverse depth is >= 0), ``[6]`` Identity.

    Args:
        features: channels of the fused decoder map (64 for MiDaS_small, 256 for DPT-Hybrid).
        align_corners: of the x2 upsampling (False for MiDaS_small, True for DPT-Hybrid).

    Returns:
        (N, features, H, W) -> (N, 1, 2H, 2W).
    """
    return nn.Sequential(
        nn.Conv2d(features, features // 2, kernel_size=3, padding=1),
        Upsample2x(align_corners),
        nn.Conv2d(features // 2, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 1, kernel_size=1),
        nn.ReLU(),
        nn.Identity(),
    )


def _efficientnet_lite3_layers() -> nn.Module:
    """The timm tf_efficientnet_lite3 encoder regrouped into MiDaS's ``layer1`` ... ``layer4``.

    ``layer1 = [conv_stem, bn1 (with ReLU6), act (here Identity), blocks[0], blocks[1]]``,
    ``layer2 = blocks[2]``, ``layer3 = blocks[3:5]``, ``layer4 = blocks[5:7]``. timm folds the stem activation
    into ``bn1``; the Identity keeps the official index layout (``layer1.3`` = ``blocks.0``).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the weights come from depthkit.weights
    import timm

    enc = timm.create_model("tf_efficientnet_lite3", pretrained=False, features_only=True,
                            out_indices=(1, 2, 3, 4))
    if tuple(enc.feature_info.channels()) != ENCODER_CHANNELS:  # pragma: no cover - guards a timm change
        raise RuntimeError(f"timm's tf_efficientnet_lite3 changed: channels {enc.feature_info.channels()}")
    blocks = list(enc.blocks)
    layers = nn.Module()
    layers.layer1 = nn.Sequential(enc.conv_stem, enc.bn1, nn.Identity(), *blocks[0:2])
    layers.layer2 = nn.Sequential(*blocks[2:3])
    layers.layer3 = nn.Sequential(*blocks[3:5])
    layers.layer4 = nn.Sequential(*blocks[5:7])
    return layers


class MidasSmall(nn.Module):
    """MiDaS v2.1 small (MidasNet_small, 21,320,545 parameters) with the official parameter names.

    Args:
        features: decoder width of the finest path (64 for the official model).

    Shapes:
        input: (N, 3, H, W) float32, ImageNet-normalised RGB (see :func:`depthkit.prepare`), H and W multiples
        of 32. output: (N, H, W) float32 relative inverse depth, >= 0, larger = nearer, no unit.

    Attributes:
        weights_info: where the weights came from (set by :func:`depthkit.load_model`); ``None`` for a bare
            network.

    Example:
        >>> net = MidasSmall().eval()
        >>> sum(p.numel() for p in net.parameters())
        21320545
    """

    def __init__(self, features: int = 64):
        super().__init__()
        f = (features, features * 2, features * 4, features * 8)
        self.pretrained = _efficientnet_lite3_layers()
        scratch = nn.Module()
        for i, (cin, cout) in enumerate(zip(ENCODER_CHANNELS, f, strict=True), start=1):
            setattr(scratch, f"layer{i}_rn", nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False))
        for i in range(4, 0, -1):
            setattr(scratch, f"refinenet{i}", FeatureFusionBlock(f[i - 1], expand=i > 1))
        scratch.output_conv = depth_head(features, align_corners=False)
        self.scratch = scratch
        self.weights_info = None

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run the encoder; returns the four feature maps at strides 4, 8, 16, 32 (channels 32, 48, 136, 384)."""
        p = self.pretrained
        l1 = p.layer1(x)
        l2 = p.layer2(l1)
        l3 = p.layer3(l2)
        l4 = p.layer4(l3)
        return [l1, l2, l3, l4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x)
        l1, l2, l3, l4 = self.encode(x)
        s = self.scratch
        path = s.refinenet4(s.layer4_rn(l4))
        path = s.refinenet3(path, s.layer3_rn(l3))
        path = s.refinenet2(path, s.layer2_rn(l2))
        path = s.refinenet1(path, s.layer1_rn(l1))
        return s.output_conv(path).squeeze(1)


#: The stages :func:`layer_shapes` reports, in the order data flows through them.
STAGES = (
    "pretrained.layer1", "pretrained.layer2", "pretrained.layer3", "pretrained.layer4",
    "scratch.layer4_rn", "scratch.refinenet4", "scratch.layer3_rn", "scratch.refinenet3",
    "scratch.layer2_rn", "scratch.refinenet2", "scratch.layer1_rn", "scratch.refinenet1", "scratch.output_conv",
)


def layer_shapes(model: MidasSmall, height: int = 256, width: int = 256) -> list[tuple[str, tuple[int, ...]]]:
    """The output shape of each stage of the network for one (1, 3, height, width) input.

    Args:
        model: a :class:`MidasSmall`.
        height: input height in pixels (multiple of 32).
        width: input width in pixels (multiple of 32).

    Returns:
        ``[(stage name, (N, C, H, W)), ...]`` in the order data flows (encoder, then decoder from coarse to fine).

    Example:
        >>> dict(layer_shapes(MidasSmall().eval(), 256, 256))["pretrained.layer4"]
        (1, 384, 8, 8)
    """
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [modules[name].register_forward_hook(
        lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape))) for name in STAGES]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, height, width))
    finally:
        for h in hooks:
            h.remove()
    return [(name, shapes[name]) for name in STAGES]
