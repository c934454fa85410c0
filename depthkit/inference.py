"""Run a depth network on photos: preprocess, forward, upsample back to the photo's resolution.

Each network brings its own preprocessing and upsampling from :mod:`depthkit.model_registry`. For MiDaS_small the
raw output is (N, h, w) at the input tensor's size (e.g. 256x192 for a 640x480 photo), and, like the official
``run.py``, :func:`estimate_depth` resizes it to the photo's size with bicubic interpolation
(``align_corners=False``); Depth Anything V2 is upsampled bilinearly, as its ``infer_image``. The values are
*relative inverse depth*: larger = nearer, unknown scale and shift, no unit. Bicubic interpolation may overshoot
slightly below 0 next to sharp edges, as in the official code.

The forward pass runs on the backend ``backend=`` names; the default ``"auto"`` is the fastest backend that agrees
with fp32 on this machine for these weights (:mod:`depthkit.backend_choice`), and every :class:`DepthResult`
names the one used.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend_choice import resolve_backend
from .backends import DEFAULT_BACKEND, get_runner
from .errors import InputError
from .model_registry import get_spec, spec_for
from .runtime import num_threads
from .weights import WeightsInfo

if TYPE_CHECKING:
    import torch

__all__ = ["DepthResult", "default_model", "estimate_depth", "predict", "upsample"]

_DEFAULT_MODEL = None


@dataclass
class DepthResult:
    """The depth estimate of one photo.

    Attributes:
        inverse_depth: (H, W) float32 relative inverse depth at the photo's resolution (larger = nearer, no unit).
        image: (H, W, 3) uint8 RGB photo the estimate belongs to.
        weights_info: :class:`~depthkit.weights.WeightsInfo` of the model that made it (``None`` for a bare
            network that did not come from :func:`depthkit.load_model`).
        seconds: wall time of preprocessing + forward + upsampling, in seconds (a batch's time is shared equally).
        net_size: (width, height) of the network input in pixels.
        backend: the backend that ran the network (``"auto"`` resolved, e.g. ``"int8"``; see
            :mod:`depthkit.backend_choice`).
    """

    inverse_depth: np.ndarray
    image: np.ndarray
    weights_info: WeightsInfo | None
    seconds: float
    net_size: tuple[int, int] = field(default=(0, 0))
    backend: str = "eager"

    @property
    def pretrained(self) -> bool:
        """True when made with trained weights; False means the map is NOT a depth prediction."""
        return self.weights_info is not None and self.weights_info.pretrained

    @property
    def caption(self) -> str:
        """A figure title that never passes off untrained output as depth."""
        if self.pretrained:
            return "relative inverse depth (bright = near)"
        return "UNTRAINED weights: not a depth prediction"

    def __repr__(self) -> str:
        h, w = self.inverse_depth.shape
        label = self.weights_info.label if self.weights_info is not None else "unknown (bare network)"
        return (f"DepthResult({w}x{h} px, net {self.net_size[0]}x{self.net_size[1]}, {self.seconds * 1000:.0f} ms, "
                f"backend {self.backend}, weights: {label})")


def default_model() -> torch.nn.Module:
    """The model used when ``estimate_depth(..., model=None)``: ``load_model("auto")``, built once per process."""
    global _DEFAULT_MODEL
    if _DEFAULT_MODEL is None:
        from .weights import load_model

        _DEFAULT_MODEL = load_model("auto")
    return _DEFAULT_MODEL


def predict(model: torch.nn.Module, x: torch.Tensor, *, backend: str | None = DEFAULT_BACKEND) -> torch.Tensor:
    """Forward pass without autograd.

    Args:
        model: a network from :func:`depthkit.load_model` (any model of :mod:`depthkit.model_registry`).
        x: (N, 3, h, w) float32 normalised tensor at the network's own input rule, e.g. h and w multiples of 32
            for MiDaS_small, of 14 for Depth Anything V2 (see :func:`depthkit.prepare`).
        backend: how to run the network: ``"auto"`` (the default: the fastest backend that agrees with fp32,
            see :mod:`depthkit.backend_choice`), ``"eager"`` (plain fp32 PyTorch, the reference), ``"onnx"``,
            ``"openvino"``, ``"bf16"``, ``"int8"`` or ``"compile"`` (see :mod:`depthkit.backends`); ``None``
            means the default.

    Returns:
        (N, h, w) float32 tensor of relative inverse depth.
    """
    spec_for(model).check_input(x)  # the network's own input rule (e.g. multiples of 32; 14 for Depth Anything V2)
    return get_runner(model, resolve_backend(model, DEFAULT_BACKEND if backend is None else backend), tuple(x.shape))(x)


def upsample(inverse_depth: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize MiDaS_small's output to a photo's size with bicubic interpolation (``align_corners=False``).

    This is the ``"midas_small"`` entry's upsampling (:mod:`depthkit.model_registry`); :func:`estimate_depth` uses
    each model's own (``spec_for(model).upsample``, e.g. bilinear for Depth Anything V2).

    Args:
        inverse_depth: (N, h, w) tensor.
        size: (H, W) target size in pixels.

    Returns:
        (N, H, W) tensor.
    """
    return get_spec().upsample(inverse_depth, size)


def _check_model(model: Any) -> torch.nn.Module:
    import torch

    model = default_model() if model is None else model
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a network from depthkit.load_model(), got {type(model).__name__}.")
    return model


def _depth_maps(model: torch.nn.Module, inputs: list[np.ndarray], sizes: list[tuple[int, int]],
                backend: str) -> list[np.ndarray]:
    """Run one batch of same-size network inputs and upsample each output to its photo's (H, W)."""
    import torch

    out = predict(model, torch.from_numpy(np.stack(inputs)), backend=backend)
    resize = spec_for(model).upsample  # the model's own interpolation back to the photo
    with torch.inference_mode():
        return [resize(out[j:j + 1], size)[0].numpy().astype(np.float32, copy=False)
                for j, size in enumerate(sizes)]


def estimate_depth(image: Any, model: torch.nn.Module | None = None, *, threads: int | None = None,
                   backend: str | None = DEFAULT_BACKEND) -> DepthResult | list[DepthResult]:
    """Estimate relative inverse depth for one photo or a list of photos.

    Args:
        image: a path, bytes, PIL image or (H, W[, C]) array — or a list of them. Photos of different sizes may
            be mixed; those sharing a network input size run as one batch.
        model: a model from :func:`depthkit.load_model`; ``None`` uses :func:`default_model`.
        threads: torch CPU threads for this call only (``None``: leave torch's setting).
        backend: how to run the network (default ``"auto"``: the fastest backend that agrees with fp32 on this
            machine, see :mod:`depthkit.backend_choice`; ``"eager"`` is plain fp32 PyTorch; ``None`` means the
            default); checked before any work is done. ``DepthResult.backend`` names the one used.

    Returns:
        A :class:`DepthResult` (or a list of them, in input order).

    Example:
        >>> import numpy as np, depthkit as dk
        >>> r = estimate_depth(np.zeros((48, 64, 3), np.uint8), dk.load_model("random"))
        >>> r.inverse_depth.shape, r.inverse_depth.dtype, r.net_size, r.pretrained
        ((48, 64), dtype('float32'), (256, 192), False)
    """
    from .io import read_photo

    single = not isinstance(image, (list, tuple))
    images: Sequence[Any] = [image] if single else list(image)
    if not images:
        raise InputError("estimate_depth got an empty list; pass at least one image.")
    model = _check_model(model)
    backend = resolve_backend(model, DEFAULT_BACKEND if backend is None else backend)  # checks the name first
    info = getattr(model, "weights_info", None)
    results: dict[int, DepthResult] = {}
    with num_threads(threads):
        t0 = time.perf_counter()
        photos = [read_photo(im) for im in images]
        inputs = list(map(spec_for(model).prepare_array, photos))  # the model's own preprocessing
        prep_each = (time.perf_counter() - t0) / len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, x in enumerate(inputs):
            groups.setdefault(x.shape, []).append(i)
        for shape, idx in groups.items():
            t1 = time.perf_counter()
            maps = _depth_maps(model, [inputs[i] for i in idx], [photos[i].shape[:2] for i in idx], backend)
            each = (time.perf_counter() - t1) / len(idx) + prep_each
            for i, depth in zip(idx, maps, strict=True):
                results[i] = DepthResult(depth, photos[i], info, each, (shape[2], shape[1]), backend)
    return results[0] if single else [results[i] for i in range(len(images))]
