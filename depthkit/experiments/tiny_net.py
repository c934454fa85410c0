"""A compact encoder-decoder CNN that predicts non-negative inverse depth, small enough to train on a CPU.

The network is a four-level U-Net: each encoder level halves the resolution with a strided 3x3 convolution,
each decoder level upsamples bilinearly, concatenates the skip connection and applies two 3x3 convolutions.
Group normalisation keeps training stable with small batches and makes train and eval mode identical. The
head ends in a softplus, so the output is a non-negative (B, H, W) inverse depth (larger = nearer). Any input
size works: the input is reflect-padded to a multiple of 16 px and the output cropped back.

Example:
    >>> import torch
    >>> from depthkit.experiments.tiny_net import TinyDepthNet
    >>> _ = torch.manual_seed(0)
    >>> net = TinyDepthNet()
    >>> out = net(torch.rand(2, 3, 20, 28))
    >>> tuple(out.shape), bool((out >= 0).all())
    ((2, 20, 28), True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

__all__ = ["TinyDepthNet", "count_parameters"]

# ImageNet statistics; inputs are RGB in [0, 1].
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    groups = 4 if c_out % 4 == 0 else 1
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(groups, c_out),
        nn.ReLU(inplace=True),
    )


class TinyDepthNet(nn.Module):
    """Encoder-decoder CNN: (B, 3, H, W) RGB in [0, 1] -> (B, H, W) non-negative inverse depth.

    Args:
        widths: channels of the five resolution levels (full, 1/2, 1/4, 1/8, 1/16). The default
            (16, 24, 48, 64, 96) gives 473,921 parameters.
    """

    def __init__(self, widths=(16, 24, 48, 64, 96)):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 5 or min(widths) < 1:
            raise InputError(f"widths must be five positive channel counts, got {widths!r}.")
        self.widths = widths
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.stem = nn.Sequential(_conv(3, widths[0]), _conv(widths[0], widths[0]))
        self.down = nn.ModuleList(
            nn.Sequential(_conv(widths[i], widths[i + 1], stride=2), _conv(widths[i + 1], widths[i + 1]))
            for i in range(4)
        )
        self.up = nn.ModuleList(
            nn.Sequential(_conv(widths[i + 1] + widths[i], widths[i]), _conv(widths[i], widths[i]))
            for i in reversed(range(4))
        )
        self.head = nn.Conv2d(widths[0], 1, 3, padding=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Predict inverse depth.

        Args:
            image: (B, 3, H, W) float tensor, RGB in [0, 1].

        Returns:
            (B, H, W) float tensor of non-negative relative inverse depth (larger = nearer).
        """
        if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise InputError(f"image must be a (B, 3, H, W) float tensor in [0, 1], got {shape}.")
        h, w = image.shape[-2:]
        pad_h, pad_w = (-h) % 16, (-w) % 16
        x = (image - self.mean) / self.std
        if pad_h or pad_w:
            mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        y = skips.pop()
        for block in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))
        out = F.softplus(self.head(y))[:, 0]
        return out[:, :h, :w]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``.

    Example:
        >>> count_parameters(TinyDepthNet())
        473921
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
