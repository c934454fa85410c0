"""Preprocessing exactly like the official MiDaS_small transform.

The official pipeline (``midas/transforms.py`` with the ``small_transform`` settings) is:

1. RGB uint8 -> float64 in [0, 1] (divide by 255);
2. resize with ``cv2.INTER_CUBIC`` keeping the aspect ratio so that both sides are <= 256 ("upper_bound"), each
   side rounded to a multiple of 32 with ``np.round`` (halves round to even) and floored instead if rounding would
   exceed 256;
3. subtract the ImageNet mean and divide by its std, per channel;
4. HWC -> CHW, float32, add a batch axis.

Examples (W x H in -> W x H network input): 640x480 -> 256x192, 1920x1080 -> 256x128, 300x200 -> 256x160.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .network_resize import fit_size, resize_normalize

if TYPE_CHECKING:
    import torch

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "MULTIPLE_OF", "NET_SIZE", "network_size", "prepare", "prepare_array"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
#: MiDaS_small's nominal input size in pixels (both sides are at most this).
NET_SIZE = 256
#: Both sides of the network input are multiples of this (the encoder's total stride).
MULTIPLE_OF = 32


def network_size(width: int, height: int, size: int = NET_SIZE, multiple: int = MULTIPLE_OF) -> tuple[int, int]:
    """Network input size for a photo of ``width`` x ``height`` pixels, as MiDaS's "upper_bound" resize.

    Args:
        width: photo width in pixels (> 0).
        height: photo height in pixels (> 0).
        size: the bound in pixels for both sides (256 for MiDaS_small).
        multiple: both sides are multiples of this.

    Returns:
        (net_width, net_height) in pixels.

    Example:
        >>> network_size(640, 480), network_size(1920, 1080), network_size(300, 200)
        ((256, 192), (256, 128), (256, 160))
    """
    return fit_size(width, height, size=size, multiple=multiple, method="upper_bound")


def prepare_array(image: np.ndarray, size: int = NET_SIZE) -> np.ndarray:
    """Preprocess an RGB image into a normalised (3, h, w) float32 array.

    Args:
        image: (H, W, 3) uint8 RGB.
        size: upper bound for both sides in pixels.

    Returns:
        (3, h, w) float32, ImageNet-normalised, h and w multiples of 32 and <= ``size``.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3:  # not an (H, W, 3) image: refused in one sentence
        return resize_normalize(image, (MULTIPLE_OF, MULTIPLE_OF), IMAGENET_MEAN, IMAGENET_STD)
    h, w = image.shape[:2]
    return resize_normalize(image, network_size(w, h, size), IMAGENET_MEAN, IMAGENET_STD)


def prepare(image: Any, size: int = NET_SIZE) -> torch.Tensor:
    """Turn a photo into MiDaS_small's input tensor, exactly like the official transform.

    Args:
        image: anything :func:`depthkit.io.read_image` accepts (path, bytes, PIL image, (H, W[, C]) array).
        size: upper bound for both sides in pixels (256 for MiDaS_small).

    Returns:
        torch.Tensor (1, 3, h, w) float32, ImageNet-normalised, h and w multiples of 32.

    Example:
        >>> import numpy as np
        >>> prepare(np.zeros((480, 640, 3), np.uint8)).shape
        torch.Size([1, 3, 192, 256])
    """
    import torch

    from .io import read_image

    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        image = read_image(image)
    return torch.from_numpy(prepare_array(image, size)).unsqueeze(0)
