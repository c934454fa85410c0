"""Resizing between a photo and a network: the official MiDaS / DPT input resize and the way back.

Into the network: :func:`fit_size` (the input size) and :func:`resize_normalize` (resize, normalise, channels
first). Out of it: :func:`upsample_prediction` (the prediction back to the photo's size, with the model's own
interpolation: bicubic for MiDaS as in its ``run.py``, bilinear with aligned corners for Depth Anything V2).
:class:`ResizeRule` bundles one model's settings into its ``network_size``, ``prepare_array`` and ``upsample``.

The MiDaS and Depth Anything code prepares a photo with ``Resize(..., keep_aspect_ratio=True,
ensure_multiple_of=M, resize_method=...)``, then ``NormalizeImage(mean, std)`` and ``PrepareForNet``. The resize
scales both sides by the same factor and rounds each to a multiple of ``M`` (``np.round``, so halves go to even):

* ``"upper_bound"``: the largest size with both sides <= ``size`` (MiDaS_small, 256, M = 32); a side that rounds
  above ``size`` is floored instead;
* ``"lower_bound"``: the smallest size with both sides >= ``size`` (Depth Anything V2, 518, M = 14); a side that
  rounds below ``size`` is ceiled instead;
* ``"minimal"``: the factor closest to 1 that brings one side to ``size`` (DPT-Hybrid, 384, M = 32), so the photo
  is scaled as little as possible.

A side never collapses below one multiple. Examples (W x H -> network W x H): 640x480 -> "upper_bound" 256: 256x192,
"lower_bound" 518: 686x518, "minimal" 384: 512x384.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .checks import check_choice, check_positive_int
from .errors import InputError

if TYPE_CHECKING:
    import torch

__all__ = ["RESIZE_METHODS", "UPSAMPLE_MODES", "ResizeRule", "fit_size", "resize_normalize", "upsample_prediction"]

#: The resize methods of the official ``Resize`` transform.
RESIZE_METHODS = ("upper_bound", "lower_bound", "minimal")
#: Interpolation modes for :func:`upsample_prediction`.
UPSAMPLE_MODES = ("bicubic", "bilinear")


def _to_multiple(x: float, multiple: int, low: int | None, high: int | None) -> int:
    """Round ``x`` to a multiple; floor if that exceeds ``high``, ceil if it falls below ``low``."""
    y = int(np.round(x / multiple) * multiple)
    if high is not None and y > high:
        y = int(np.floor(x / multiple) * multiple)
    if low is not None and y < low:
        y = int(np.ceil(x / multiple) * multiple)
    return max(y, multiple)


def fit_size(width: int, height: int, *, size: int, multiple: int, method: str) -> tuple[int, int]:
    """Network input size for a ``width`` x ``height`` photo, as the official ``Resize`` with kept aspect ratio.

    Args:
        width: photo width in pixels (> 0).
        height: photo height in pixels (> 0).
        size: the target side in pixels (256, 384 or 518 for the three models).
        multiple: both sides become multiples of this (the network's stride).
        method: ``"upper_bound"``, ``"lower_bound"`` or ``"minimal"`` (see the module docstring).

    Returns:
        (net_width, net_height) in pixels.

    Example:
        >>> fit_size(640, 480, size=518, multiple=14, method="lower_bound")
        (686, 518)
        >>> fit_size(640, 480, size=384, multiple=32, method="minimal")
        (512, 384)
    """
    check_choice(method, "method", RESIZE_METHODS)
    check_positive_int(size, "size")
    check_positive_int(multiple, "multiple")
    if width <= 0 or height <= 0:
        raise InputError(f"image size must be positive, got {width}x{height}; pass a non-empty image.")
    sx, sy = size / width, size / height
    if method == "upper_bound":
        sx = sy = min(sx, sy)
    elif method == "lower_bound":
        sx = sy = max(sx, sy)
    else:  # "minimal": the scale closest to 1 (ties fit the height, as the official code)
        sx = sy = sx if abs(1 - sx) < abs(1 - sy) else sy
    low = size if method == "lower_bound" else None
    high = size if method == "upper_bound" else None
    return _to_multiple(sx * width, multiple, low, high), _to_multiple(sy * height, multiple, low, high)


def resize_normalize(image: np.ndarray, net_size: tuple[int, int], mean: Sequence[float],
                     std: Sequence[float]) -> np.ndarray:
    """Scale an RGB photo to [0, 1], resize it (bicubic), normalise per channel and put channels first.

    Args:
        image: (H, W, 3) uint8 RGB.
        net_size: (net_width, net_height) in pixels, e.g. from :func:`fit_size`.
        mean: per-channel mean subtracted after scaling to [0, 1] (R, G, B).
        std: per-channel std divided by (R, G, B).

    Returns:
        (3, net_height, net_width) float32, as the official ``NormalizeImage`` + ``PrepareForNet`` give it.
    """
    import cv2

    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"prepare expects an (H, W, 3) uint8 RGB image, got a {desc}; "
                         "read it with depthkit.io.read_image first.")
    # The official float64 arithmetic, with fewer passes: a 256-entry table gives exactly image / 255.0, and each
    # channel is normalised contiguously and rounded to float32 once, straight into the (3, h, w) result.
    x = cv2.resize(cv2.LUT(image, _UNIT_LEVELS), tuple(int(s) for s in net_size), interpolation=cv2.INTER_CUBIC)
    out = np.empty((3, *x.shape[:2]), np.float32)
    for c, (channel, m, s) in enumerate(zip(cv2.split(x), np.asarray(mean, np.float64), np.asarray(std, np.float64),
                                            strict=True)):
        np.subtract(channel, m, out=channel)
        np.divide(channel, s, out=out[c], casting="same_kind")
    return out


#: ``i / 255.0`` in float64 for every uint8 level i (the official scaling to [0, 1], as a lookup table).
_UNIT_LEVELS = np.arange(256, dtype=np.float64) / 255.0


def upsample_prediction(prediction: torch.Tensor, size: Sequence[int], *, mode: str,
                        align_corners: bool) -> torch.Tensor:
    """Resize a batch of predictions to the photo's size.

    Args:
        prediction: (N, h, w) float tensor (the network's output).
        size: (H, W) of the photo in pixels.
        mode: ``"bicubic"`` or ``"bilinear"``.
        align_corners: as in :func:`torch.nn.functional.interpolate` (True keeps the corner pixels).

    Returns:
        (N, H, W) float tensor (bicubic can overshoot slightly near sharp edges, as in the official code).
    """
    from torch.nn import functional as F

    check_choice(mode, "mode", UPSAMPLE_MODES)
    out = F.interpolate(prediction.unsqueeze(1), size=tuple(int(s) for s in size), mode=mode,
                        align_corners=align_corners)
    return out.squeeze(1)


@dataclass(frozen=True)
class ResizeRule:
    """One model's way between a photo and its network: input size and normalisation in, interpolation back out.

    Attributes:
        size: the target side in pixels (see :func:`fit_size`).
        multiple: the network's stride in pixels; both input sides become multiples of it.
        method: ``"upper_bound"``, ``"lower_bound"`` or ``"minimal"``.
        mean: per-channel (R, G, B) mean subtracted after scaling to [0, 1].
        std: per-channel (R, G, B) std divided by.
        upsample_mode: ``"bicubic"`` or ``"bilinear"`` (see :func:`upsample_prediction`).
        align_corners: of the upsampling back to the photo.

    Example:
        >>> rule = ResizeRule(384, 32, "minimal", (0.5,) * 3, (0.5,) * 3, "bicubic", align_corners=False)
        >>> rule.network_size(640, 480), rule.prepare_array(np.zeros((480, 640, 3), np.uint8)).shape
        ((512, 384), (3, 384, 512))
    """

    size: int
    multiple: int
    method: str
    mean: Sequence[float]
    std: Sequence[float]
    upsample_mode: str
    align_corners: bool

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(net_width, net_height) in pixels for a ``width`` x ``height`` photo (:func:`fit_size`)."""
        return fit_size(width, height, size=self.size, multiple=self.multiple, method=self.method)

    def prepare_array(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (3, h, w) float32 network input (:func:`resize_normalize`)."""
        h, w = image.shape[:2] if isinstance(image, np.ndarray) and image.ndim == 3 else (1, 1)
        return resize_normalize(image, self.network_size(w, h), self.mean, self.std)

    def upsample(self, prediction: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """(N, h, w) prediction -> (N, H, W) at the photo's ``size = (H, W)`` (:func:`upsample_prediction`)."""
        return upsample_prediction(prediction, size, mode=self.upsample_mode, align_corners=self.align_corners)
