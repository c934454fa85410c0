"""The tutorial's snippet: the simplified MiDaS inference code of a popular tutorial, kept as a reference for the
lessons and benchmarks.

A common simplified snippet feeds the photo straight into the network::

    x = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).float()   # no resize, no /255, no normalisation
    inverse_depth = model(x)

It fails on photos whose sides are not multiples of 32 and, where it runs, gives a different map from the
official pipeline (the network was trained on 256-pixel, ImageNet-normalised inputs). Use
:func:`depthkit.estimate_depth` instead.
"""

from __future__ import annotations

import numpy as np

__all__ = ["snippet_predict"]


def snippet_predict(image: np.ndarray, model) -> np.ndarray:
    """Run the tutorial's snippet: full resolution, raw 0-255 values, no normalisation.

    Args:
        image: (H, W, 3) uint8 RGB.
        model: a :class:`~depthkit.model.MidasSmall`.

    Returns:
        (H, W) float32 network output, relative inverse depth with no unit (only when H and W are multiples of 32).

    Raises:
        InputError: when H or W is not a multiple of 32 (the original snippet crashes inside the decoder).

    Example:
        >>> import depthkit as dk
        >>> snippet_predict(np.zeros((64, 96, 3), np.uint8), dk.load_model("random")).shape
        (64, 96)
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0).float()
    with torch.inference_mode():
        return model(x)[0].numpy()
