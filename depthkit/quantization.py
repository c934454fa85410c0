"""Post-training int8 quantisation of MiDaS_small with OpenVINO's NNCF, calibrated on the bundled photos.

**What it does.** Static post-training quantisation: every convolution's weights are stored as int8 (one scale
per output channel), and its inputs are quantised to int8 too, with ranges measured once by running the network
on *calibration* inputs. On CPUs with VNNI (AVX-512 VNNI, AVX-VNNI) or AMX-INT8, int8 multiply-accumulates run
several times faster than fp32 ones. The calibration inputs are the bundled sample photos
(:func:`depthkit.samples.list_samples`), each prepared at its own network input size (e.g. 256x256 and 256x160),
exactly as :func:`depthkit.prepare` feeds them.

**Why NNCF with OpenVINO rather than ONNX Runtime's QDQ quantiser.** Measured on one machine (Intel Xeon with
AVX-512 VNNI and AMX, 2 threads, MiDaS_small at 256x256, the test suite's trained checkpoint), the OpenVINO int8
model ran in 17.7 ms with Pearson r 0.995 against fp32, and ONNX Runtime's QDQ model in 22.9 ms with r 0.994
(per-channel weights) — NNCF's was both faster and closer. ``benchmarks/bench_backends.py`` measures it again on
yours.

**Accuracy must be measured, not assumed.** Quantisation error depends on the weights: a trained network's
activations have tame ranges, a *random* network's do not (on the same machine the random MiDaS_small reached only
r 0.86-0.88). :mod:`depthkit.backend_choice` therefore measures int8's agreement with fp32 for the weights at hand and
never chooses it automatically when r < 0.99.

The quantised model is written once per machine into the cache of :mod:`depthkit.artifact_cache` (keyed by the
weights' SHA-256 and the library versions), so later sessions load it in about a second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .artifact_cache import artifact_dir, build_once

if TYPE_CHECKING:
    import torch

__all__ = ["INT8_FILE", "calibration_inputs", "int8_model", "quantize_onnx_int8"]

#: File name of the quantised OpenVINO model inside its cache folder (with a ``.bin`` beside it).
INT8_FILE = "midas_small_int8.xml"


def calibration_inputs(prepare: Callable[[np.ndarray], np.ndarray] | None = None) -> list[np.ndarray]:
    """The calibration batch: every bundled sample photo, prepared at its own network input size.

    Args:
        prepare: (H, W, 3) uint8 -> (3, h, w) float32 network input; default MiDaS_small's
            :func:`depthkit.transforms.prepare_array`.

    Returns:
        One (1, 3, h, w) float32 array per sample, in :func:`depthkit.samples.list_samples` order.

    Example:
        >>> [x.shape for x in calibration_inputs()][:2]
        [(1, 3, 256, 256), (1, 3, 160, 256)]
    """
    from .samples import list_samples, load_sample
    from .transforms import prepare_array

    prepare = prepare_array if prepare is None else prepare
    return [prepare(load_sample(name))[None] for name in list_samples()]


def quantize_onnx_int8(onnx_path: str | Path, out_xml: str | Path, inputs: Sequence[np.ndarray]) -> Path:
    """Quantise an ONNX graph of the network to int8 with NNCF and save it as an OpenVINO model.

    Args:
        onnx_path: the fp32 ONNX file (see :func:`depthkit.backends.export_onnx`), sizes dynamic.
        out_xml: the ``.xml`` file to write (its weights go to the ``.bin`` beside it).
        inputs: calibration inputs, each (1, 3, h, w) float32 (see :func:`calibration_inputs`).

    Returns:
        ``out_xml`` as a :class:`~pathlib.Path`.
    """
    # NNCF imports torch's C++-extension helper, which logs "No CUDA runtime is found" on every CPU machine
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    import nncf
    import openvino as ov

    nncf.set_log_level(logging.ERROR)  # its INFO lines; the statistics progress bar stays
    fp32 = ov.Core().read_model(str(onnx_path))
    quantized = nncf.quantize(fp32, nncf.Dataset(list(inputs)), preset=nncf.QuantizationPreset.PERFORMANCE,
                              subset_size=len(inputs))
    ov.save_model(quantized, str(out_xml))
    return Path(out_xml)


def int8_model(model: torch.nn.Module, onnx_path: Callable[[], str]) -> Path:
    """The cached int8 OpenVINO model of ``model``'s weights, quantised on first use (with a progress message).

    Args:
        model: a :class:`~depthkit.model.MidasSmall` (calibrated with its preprocessing).
        onnx_path: returns its fp32 ONNX file (called only when the int8 model must be built).

    Returns:
        Path of the ``.xml`` file in the cache.
    """
    folder = artifact_dir(model, type(model).__name__ + "-int8")

    def build(tmp: Path) -> None:
        quantize_onnx_int8(onnx_path(), tmp / INT8_FILE, calibration_inputs())

    message = ("Quantising MiDaS_small to int8 (NNCF, calibrated on the bundled photos); once per machine and "
               f"weights, about 10 s. Cached in {folder.parent}.")
    return build_once(folder, build, message=message) / INT8_FILE
