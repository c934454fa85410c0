"""The end-to-end path a user waits for: photo bytes in, a coloured depth PNG out.

This module is the top of depthkit: it glues the core (decoding, inference) to :func:`depthkit.viz.heatmap_png`,
the one heat-map encoder (colour-map levels as a paletted PNG, pixel-identical to :func:`depthkit.viz.colorize`).
The notebook app and the CLI write their heat maps with that same function, and ``benchmarks/bench_inference.py``
measures exactly :func:`photo_to_png`, so the benchmark times what users run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends import DEFAULT_BACKEND
from .inference import estimate_depth
from .viz import heatmap_png

if TYPE_CHECKING:
    import torch

__all__ = ["photo_to_png"]


def photo_to_png(data: Any, model: torch.nn.Module, *, backend: str = DEFAULT_BACKEND, cmap: str = "inferno") -> bytes:
    """Decode a photo, estimate its relative inverse depth, colour it and encode it as a PNG, all in memory.

    Args:
        data: encoded image bytes (e.g. an upload), or anything :func:`depthkit.estimate_depth` accepts.
        model: a model from :func:`depthkit.load_model`.
        backend: inference backend (default ``"auto"``: the fastest that agrees with fp32 here, see
            :mod:`depthkit.backend_choice`; ``"eager"`` is plain fp32 PyTorch).
        cmap: matplotlib colour map of the heat map (near = bright with the default ``"inferno"``).

    Returns:
        PNG file content of the heat map at the photo's resolution: :func:`depthkit.viz.heatmap_png`, which
        decodes to exactly ``colorize(inverse_depth, cmap=cmap)`` (a paletted PNG, fast zlib level).

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
    return heatmap_png(result.inverse_depth, cmap=cmap)
