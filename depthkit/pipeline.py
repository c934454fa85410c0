"""The end-to-end path a user waits for: photo bytes in, a coloured depth PNG out.

This module is the top of depthkit: it glues the core (decoding, inference) to the colouring of
:mod:`depthkit.viz` and the in-memory encoders of :mod:`depthkit.io`. The notebook app and the CLI call it, and
``benchmarks/bench_inference.py`` measures exactly this function, so the benchmark times what users run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends import DEFAULT_BACKEND
from .inference import estimate_depth
from .io import encode_png
from .viz import colorize

if TYPE_CHECKING:
    import torch

__all__ = ["photo_to_png"]


def photo_to_png(data: Any, model: torch.nn.Module, *, backend: str = DEFAULT_BACKEND, cmap: str = "inferno") -> bytes:
    """Decode a photo, estimate its relative inverse depth, colour it and encode it as a PNG, all in memory.

    Args:
        data: encoded image bytes (e.g. an upload), or anything :func:`depthkit.estimate_depth` accepts.
        model: a model from :func:`depthkit.load_model`.
        backend: inference backend (default ``"eager"``: plain fp32 PyTorch; see :mod:`depthkit.backends`).
        cmap: matplotlib colour map of the heat map (near = bright with the default ``"inferno"``).

    Returns:
        PNG file content of the (H, W, 3) uint8 heat map at the photo's resolution, encoded by
        :func:`depthkit.io.encode_png` (lossless, fast zlib level).

    Raises:
        ImageError: ``data`` is not a readable photo.
        InputError: unknown backend or colour map, or a model that is not a depthkit network.

    Example:
        >>> import numpy as np, depthkit as dk
        >>> png = photo_to_png(np.zeros((48, 64, 3), np.uint8), dk.load_model("random"))
        >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    result = estimate_depth(data, model, backend=backend)
    return encode_png(colorize(result.inverse_depth, cmap=cmap))
