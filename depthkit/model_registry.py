"""The networks depthkit can run, one entry each: how to build it, where its weights live, how to feed it.

* ``"midas_small"`` (default): MiDaS v2.1 small, 21,320,545 parameters; "upper_bound" 256, multiples of 32,
  ImageNet mean/std; upsampled bicubically.
* ``"dpt_hybrid"``: MiDaS v3.0 DPT-Hybrid, 123,146,985 parameters; "minimal" 384, multiples of 32, mean = std =
  0.5; upsampled bicubically.
* ``"depth_anything_v2_small"``: Depth Anything V2 Small, 24,785,089 parameters; "lower_bound" 518, multiples of
  14, ImageNet mean/std; upsampled bilinearly.

Bilinear is ``align_corners=True``, as the official ``infer_image``; bicubic is ``align_corners=False`` as
MiDaS's ``run.py``. All three predict relative inverse depth (larger = nearer, unknown scale and shift, no unit).

Each :class:`ModelSpec` owns the network builder, the checkpoint's file name and URL, its cache file in torch's
hub checkpoint folder (``torch.hub.get_dir()/checkpoints/<file>``), the preprocessing and the upsampling back to
the photo, and the licence line. :func:`prepare` turns a photo into the input tensor of a named model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import depth_anything, dpt_decoder, dpt_hybrid, transforms
from .checks import check_choice
from .errors import InputError
from .model import MidasSmall
from .model import check_input as check_midas_input
from .network_resize import upsample_prediction

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "get_spec", "model_names", "prepare", "spec_for"]

DEFAULT_MODEL = "midas_small"


def _midas_upsample(prediction: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """MiDaS_small's upsampling back to the photo: bicubic, ``align_corners=False`` (as ``run.py``)."""
    return upsample_prediction(prediction, size, mode="bicubic", align_corners=False)


def _transformer_check(title: str, multiple: int, prepare_call: str) -> Callable[[torch.Tensor], None]:
    """The input rule of a transformer model (:func:`depthkit.dpt_decoder.check_input`) bound to its numbers."""

    def check(x: torch.Tensor) -> None:
        dpt_decoder.check_input(x, title, multiple, prepare_call)

    return check


@dataclass(frozen=True)
class ModelSpec:
    """One network of the registry.

    Attributes:
        name: the registry key, e.g. ``"dpt_hybrid"``.
        title: the network's name for captions, e.g. ``"MiDaS v3.0 DPT-Hybrid"``.
        build: makes the bare network (random weights, eval mode not set).
        checkpoint_name: the official checkpoint's file name.
        url: where the official checkpoint is published.
        licence: one line naming the licence of the weights and code.
        native_size: (width, height) in pixels of the input the network was trained at (for GFLOP figures).
        multiple: both input sides are multiples of this (the network's stride).
        network_size: ``(photo width, height) -> (input width, height)``.
        prepare_array: (H, W, 3) uint8 RGB -> (3, h, w) float32 normalised input.
        upsample: ``(prediction (N, h, w), (H, W)) -> (N, H, W)``, the model's own interpolation.
        check_input: raises :class:`~depthkit.errors.InputError` (one sentence) unless a (N, 3, h, w) tensor is a
            valid input of this network (float, both sides positive multiples of ``multiple``).
    """

    name: str
    title: str
    build: Callable[[], nn.Module]
    checkpoint_name: str
    url: str
    licence: str
    native_size: tuple[int, int]
    multiple: int
    network_size: Callable[[int, int], tuple[int, int]]
    prepare_array: Callable[[np.ndarray], np.ndarray]
    upsample: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]
    check_input: Callable[[torch.Tensor], None]

    def cache_path(self) -> Path:
        """Where the checkpoint is cached: ``torch.hub.get_dir()/checkpoints/<checkpoint_name>``."""
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints" / self.checkpoint_name


#: name -> :class:`ModelSpec`, in the order lessons show them (smallest first).
MODELS: dict[str, ModelSpec] = {
    "midas_small": ModelSpec(
        "midas_small", "MiDaS v2.1 small", MidasSmall, "midas_v21_small_256.pt",
        "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt",
        "MiDaS v2.1 small weights and code: MIT licence (Intel ISL, github.com/isl-org/MiDaS)",
        (256, 256), 32, transforms.network_size, transforms.prepare_array, _midas_upsample, check_midas_input),
    "dpt_hybrid": ModelSpec(
        "dpt_hybrid", "MiDaS v3.0 DPT-Hybrid", dpt_hybrid.DPTHybrid, dpt_hybrid.CHECKPOINT_NAME,
        dpt_hybrid.CHECKPOINT_URL, dpt_hybrid.LICENCE, (dpt_hybrid.NET_SIZE, dpt_hybrid.NET_SIZE),
        dpt_hybrid.MULTIPLE_OF, dpt_hybrid.network_size, dpt_hybrid.prepare_array, dpt_hybrid.upsample,
        _transformer_check("DPT-Hybrid", dpt_hybrid.MULTIPLE_OF, dpt_hybrid.PREPARE)),
    "depth_anything_v2_small": ModelSpec(
        "depth_anything_v2_small", "Depth Anything V2 Small", depth_anything.DepthAnythingV2Small,
        depth_anything.CHECKPOINT_NAME, depth_anything.CHECKPOINT_URL, depth_anything.LICENCE,
        (depth_anything.NET_SIZE, depth_anything.NET_SIZE), depth_anything.MULTIPLE_OF, depth_anything.network_size,
        depth_anything.prepare_array, depth_anything.upsample,
        _transformer_check("Depth Anything V2", depth_anything.MULTIPLE_OF, depth_anything.PREPARE)),
}


def model_names() -> tuple[str, ...]:
    """The registry's model names, default first: ``("midas_small", "dpt_hybrid", "depth_anything_v2_small")``."""
    return tuple(MODELS)


def get_spec(model: str = DEFAULT_MODEL) -> ModelSpec:
    """The :class:`ModelSpec` of a model name; one clear sentence for an unknown name.

    Example:
        >>> get_spec("dpt_hybrid").checkpoint_name
        'dpt_hybrid_384.pt'
    """
    check_choice(model, "model", tuple(MODELS), hint="see depthkit.model_registry.MODELS")
    return MODELS[model]


def spec_for(network: nn.Module) -> ModelSpec:
    """The entry whose builder made ``network`` (by its class), so a loaded model brings its own preprocessing.

    Args:
        network: a network, e.g. from ``get_spec(name).build()``.

    Returns:
        The :class:`ModelSpec` of DPT-Hybrid or Depth Anything V2 Small for those networks; the default
        (MiDaS_small) entry for any other network (MidasSmall and the small networks lessons train), as today.

    Example:
        >>> import torch
        >>> with torch.device("meta"):
        ...     spec_for(depth_anything.DepthAnythingV2Small()).name
        'depth_anything_v2_small'
    """
    if isinstance(network, dpt_hybrid.DPTHybrid):
        return MODELS["dpt_hybrid"]
    if isinstance(network, depth_anything.DepthAnythingV2Small):
        return MODELS["depth_anything_v2_small"]
    return MODELS[DEFAULT_MODEL]


def prepare(image: Any, model: str = DEFAULT_MODEL, *, size: int | None = None) -> torch.Tensor:
    """Turn a photo into the input tensor of ``model``, exactly like that model's official transform.

    This is ``depthkit.prepare``. For ``"midas_small"`` it is :func:`depthkit.transforms.prepare` (the same
    tensor, bit for bit), including its ``size``. The two transformer models have no ``size``: their official
    transforms fix the target side (384 px "minimal" for DPT-Hybrid, 518 px "lower_bound" for Depth Anything V2,
    which their position embeddings and training resolution are tied to), so ``size=`` with them is refused in
    one sentence rather than silently giving an input the official pipeline never makes.

    Args:
        image: anything :func:`depthkit.io.read_image` accepts (path, bytes, PIL image, (H, W[, C]) array).
        model: a registry name (see :data:`MODELS`).
        size: MiDaS_small only: the upper bound in pixels for both sides (``None``: 256, the official value).

    Returns:
        (1, 3, h, w) float32 tensor, e.g. for a 480 x 640 photo 192 x 256 (``"midas_small"``), 384 x 512
        (``"dpt_hybrid"``) or 518 x 686 (``"depth_anything_v2_small"``).

    Raises:
        InputError: for an unknown model name, or ``size`` given with a model other than ``"midas_small"``.

    Example:
        >>> photo = np.zeros((480, 640, 3), np.uint8)
        >>> [tuple(prepare(photo, name).shape[2:]) for name in model_names()]
        [(192, 256), (384, 512), (518, 686)]
        >>> tuple(prepare(photo, size=128).shape[2:])
        (96, 128)
    """
    import torch

    from .io import read_image

    spec = get_spec(model)
    if spec.name == DEFAULT_MODEL:
        return transforms.prepare(image, transforms.NET_SIZE if size is None else size)
    if size is not None:
        raise InputError(f"size= sets MiDaS_small's input bound and does not apply to {model!r}, whose official "
                         f"rule fixes the input at about {spec.native_size[0]} px in multiples of {spec.multiple}; "
                         "leave size out (for another size, build the tensor with "
                         "depthkit.network_resize.resize_normalize).")
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        image = read_image(image)
    return torch.from_numpy(spec.prepare_array(image)).unsqueeze(0)
