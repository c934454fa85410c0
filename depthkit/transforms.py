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

import numpy as np

from .errors import InputError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "NET_SIZE", "MULTIPLE_OF", "network_size", "prepare", "prepare_array"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
#: MiDaS_small's nominal input size in pixels (both sides are at most this).
NET_SIZE = 256
#: Both sides of the network input are multiples of this (the encoder's total stride).
MULTIPLE_OF = 32


def _constrain(x: float, max_val: int, multiple: int) -> int:
    y = int(np.round(x / multiple) * multiple)
    if y > max_val:
        y = int(np.floor(x / multiple) * multiple)
    if y < multiple:  # never let a side collapse to zero
        y = multiple
    return y


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
    if width <= 0 or height <= 0:
        raise InputError(f"image size must be positive, got {width}x{height}; pass a non-empty image.")
    scale = min(size / width, size / height)  # fit the longer side: both sides end up <= size
    return _constrain(scale * width, size, multiple), _constrain(scale * height, size, multiple)


def prepare_array(image: np.ndarray, size: int = NET_SIZE) -> np.ndarray:
    """Preprocess an RGB image into a normalised (3, h, w) float32 array.

    Args:
        image: (H, W, 3) uint8 RGB.
        size: upper bound for both sides in pixels.

    Returns:
        (3, h, w) float32, ImageNet-normalised, h and w multiples of 32 and <= ``size``.
    """
    import cv2

    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"prepare expects an (H, W, 3) uint8 RGB image, got a {desc}; "
                         "read it with depthkit.io.read_image first.")
    h, w = image.shape[:2]
    net_w, net_h = network_size(w, h, size)
    x = image.astype(np.float64) / 255.0
    x = cv2.resize(x, (net_w, net_h), interpolation=cv2.INTER_CUBIC)
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)).astype(np.float32)


def prepare(image, size: int = NET_SIZE):
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
