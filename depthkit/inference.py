"""Run MiDaS_small on photos: preprocess, forward, upsample back to the photo's resolution.

The network's raw output is (N, h, w) at the input tensor's size (e.g. 256x192 for a 640x480 photo). Like the
official ``run.py``, :func:`estimate_depth` resizes it to the photo's size with bicubic interpolation
(``align_corners=False``). The values are *relative inverse depth*: larger = nearer, unknown scale and shift, no
unit. Bicubic interpolation may overshoot slightly below 0 next to sharp edges, as in the official code.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

__all__ = ["DepthResult", "estimate_depth", "predict", "upsample", "default_model", "num_threads"]

_DEFAULT_MODEL = None


@dataclass
class DepthResult:
    """The depth estimate of one photo.

    Attributes:
        inverse_depth: (H, W) float32 relative inverse depth at the photo's resolution (larger = nearer, no unit).
        image: (H, W, 3) uint8 RGB photo the estimate belongs to.
        weights_info: :class:`~depthkit.weights.WeightsInfo` of the model that made it.
        seconds: wall time of preprocessing + forward + upsampling, in seconds (a batch's time is shared equally).
        net_size: (width, height) of the network input in pixels.
    """

    inverse_depth: np.ndarray
    image: np.ndarray
    weights_info: object
    seconds: float
    net_size: tuple[int, int] = field(default=(0, 0))

    @property
    def pretrained(self) -> bool:
        """True when made with trained weights; False means the map is NOT a depth prediction."""
        return bool(getattr(self.weights_info, "pretrained", False))

    @property
    def caption(self) -> str:
        """A figure title that never passes off untrained output as depth."""
        if self.pretrained:
            return "relative inverse depth (bright = near)"
        return "UNTRAINED weights: not a depth prediction"

    def __repr__(self) -> str:
        h, w = self.inverse_depth.shape
        return (f"DepthResult({w}x{h} px, net {self.net_size[0]}x{self.net_size[1]}, {self.seconds * 1000:.0f} ms, "
                f"weights: {getattr(self.weights_info, 'label', self.weights_info)})")


@contextmanager
def num_threads(threads: int | None):
    """Temporarily set ``torch.set_num_threads`` (``None`` leaves it as it is)."""
    import torch

    if threads is None:
        yield
        return
    if int(threads) < 1:
        raise InputError(f"threads must be a positive integer, got {threads}.")
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_model():
    """The model used when ``estimate_depth(..., model=None)``: ``load_model("auto")``, built once per process."""
    global _DEFAULT_MODEL
    if _DEFAULT_MODEL is None:
        from .weights import load_model

        _DEFAULT_MODEL = load_model("auto")
    return _DEFAULT_MODEL


def predict(model, x, *, channels_last: bool = True, backend: str | None = None):
    """Forward pass without autograd.

    Args:
        model: a :class:`~depthkit.model.MidasSmall`.
        x: (N, 3, h, w) float32 normalised tensor, h and w multiples of 32 (see :func:`depthkit.prepare`).
        channels_last: run in the channels_last memory format (faster for convolutions on CPUs); the model's
            weights are converted in place, once.
        backend: ``None`` (default: plain PyTorch as chosen by ``channels_last``) or one of
            :data:`depthkit.backends.BACKENDS` (``"eager"``, ``"channels_last"``, ``"bf16"``, ``"compile"``,
            ``"onnx"``, ``"openvino"``) or ``"auto"``; a backend overrides ``channels_last``. See
            :mod:`depthkit.backends`.

    Returns:
        (N, h, w) float32 tensor of relative inverse depth.
    """
    import torch

    from .model import check_input

    check_input(x)
    if backend is not None:
        from .backends import run_backend

        return run_backend(model, x, backend)
    with torch.inference_mode():
        if channels_last:
            conv = next((p for p in model.parameters() if p.dim() == 4), None)
            if conv is not None and not conv.is_contiguous(memory_format=torch.channels_last):  # convert once
                model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        return model(x).contiguous()


def upsample(inverse_depth, size: tuple[int, int]):
    """Resize network output to a photo's size with bicubic interpolation (``align_corners=False``).

    Args:
        inverse_depth: (N, h, w) tensor.
        size: (H, W) target size in pixels.

    Returns:
        (N, H, W) tensor.
    """
    from torch.nn import functional as F

    return F.interpolate(inverse_depth.unsqueeze(1), size=size, mode="bicubic", align_corners=False).squeeze(1)


def estimate_depth(image, model=None, *, threads: int | None = None, channels_last: bool = True,
                   backend: str | None = None):
    """Estimate relative inverse depth for one photo or a list of photos.

    Args:
        image: a path, bytes, PIL image or (H, W[, C]) array — or a list of them. Photos of different sizes may
            be mixed; those sharing a network input size run as one batch.
        model: a model from :func:`depthkit.load_model`; ``None`` uses :func:`default_model`.
        threads: torch CPU threads for this call (``None``: leave torch's setting).
        channels_last: use the channels_last memory format.
        backend: ``None`` (plain PyTorch) or a backend name from :mod:`depthkit.backends` (e.g. ``"onnx"``);
            checked before any work is done.

    Returns:
        A :class:`DepthResult` (or a list of them, in input order).

    Example:
        >>> import numpy as np, depthkit as dk
        >>> r = estimate_depth(np.zeros((48, 64, 3), np.uint8), dk.load_model("random"))
        >>> r.inverse_depth.shape, r.inverse_depth.dtype, r.net_size, r.pretrained
        ((48, 64), dtype('float32'), (256, 192), False)
    """
    import torch

    from .io import read_image
    from .transforms import prepare_array

    single = not isinstance(image, (list, tuple))
    images = [image] if single else list(image)
    if not images:
        raise InputError("estimate_depth got an empty list; pass at least one image.")
    model = default_model() if model is None else model
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a network from depthkit.load_model(), got {type(model).__name__}.")
    info = getattr(model, "weights_info", None)
    if backend is not None:
        from .backends import check_backend

        check_backend(backend)

    results: list[DepthResult | None] = [None] * len(images)
    with num_threads(threads):
        t0 = time.perf_counter()
        photos = [read_image(im) for im in images]
        inputs = [prepare_array(p) for p in photos]
        prep_each = (time.perf_counter() - t0) / len(images)
        groups: dict[tuple, list[int]] = {}
        for i, x in enumerate(inputs):
            groups.setdefault(x.shape, []).append(i)
        for shape, idx in groups.items():
            t1 = time.perf_counter()
            batch = torch.from_numpy(np.stack([inputs[i] for i in idx]))
            out = predict(model, batch, channels_last=channels_last, backend=backend)
            maps = []
            with torch.inference_mode():
                for j, i in enumerate(idx):
                    h, w = photos[i].shape[:2]
                    maps.append(upsample(out[j:j + 1], (h, w))[0].numpy().astype(np.float32, copy=False))
            each = (time.perf_counter() - t1) / len(idx) + prep_each
            for j, i in enumerate(idx):
                results[i] = DepthResult(maps[j], photos[i], info, each, (shape[2], shape[1]))
    return results[0] if single else results
