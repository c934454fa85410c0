"""Ways to run the same MiDaS_small network on the CPU ("backends"), and how closely they agree.

================  ======================================================================================
``"eager"``       plain PyTorch, fp32: the reference. It runs in the channels_last (NHWC) memory format,
                  which CPU convolution libraries prefer; the format is an implementation detail
                  (:func:`eager_forward` lets a lesson compare it with the contiguous NCHW format).
``"onnx"``        exported once to ONNX (sizes dynamic) and run with ONNX Runtime, fp32.
``"openvino"``    the same ONNX graph compiled by OpenVINO for the CPU, per input size, fp32.
``"bf16"``        OpenVINO with bfloat16 inference precision (``INFERENCE_PRECISION_HINT``). Fast only on CPUs
                  with bf16 hardware (AVX-512-BF16 or AMX, see :func:`depthkit.runtime.cpu_features`); where
                  there is none, OpenVINO computes in fp32 instead, so ``"bf16"`` is then ``"openvino"``.
``"int8"``        OpenVINO running the network quantised to int8 by NNCF, calibrated on the bundled photos
                  (:mod:`depthkit.quantization`). Fast on CPUs with VNNI or AMX-INT8.
``"compile"``     ``torch.compile`` (inductor; needs a C++ compiler). The first call per input size compiles
                  for minutes on a small CPU, so ``"auto"`` never picks it.
``"auto"``        the default: the fastest backend that agrees with eager fp32 for *these* weights, measured
                  once per machine and weights by :mod:`depthkit.backend_choice` and cached.
================  ======================================================================================

``onnx``, ``openvino``, ``bf16`` and ``int8`` need ``pip install "depthkit[fast]"`` (onnx, onnxruntime,
openvino, nncf). They are made for MiDaS_small (its TF-"same" padding is fixed for export, and int8 is
calibrated with its preprocessing); ``"auto"`` uses them for MiDaS_small only, and other networks run with
``"eager"``.

Every backend takes the (N, 3, h, w) float32 tensor that :func:`depthkit.prepare` makes and returns (N, h, w)
float32 relative inverse depth (larger = nearer), like ``model(x)``. Each is made by one builder in a table
(``_BUILDERS``). Runners are cached in memory per model, input size and thread count, and rebuilt when the
model's weights change; the exported ONNX graph and the int8 model are cached on disk
(:mod:`depthkit.artifact_cache`, keyed by the weights' SHA-256 and the library versions), and OpenVINO keeps
its compiled kernels there too, so a new notebook does not pay the export again.

**Agreement.** :func:`agreement` compares a backend's output with the eager fp32 output of the *same weights*:
Pearson r, and the largest absolute difference after the best scale and shift
(:func:`depthkit.alignment.fit_scale_shift` of the backend output onto the reference), divided by the reference's
value range. Scale and shift are removed because MiDaS's output is only defined up to them. Agreement depends on
the weights: reduced precision (bf16, int8) keeps a trained network's map but can scramble a random network's,
whose activations have wild ranges. :func:`depthkit.bench.compare_backends` times backends and tabulates their
agreement.

For export, the five TF-"same" convolutions of the EfficientNet encoder (timm's ``Conv2dSame``, which compute
their padding at every call) are swapped, in a copy, for convolutions with the fixed asymmetric padding that
the same rule gives for inputs whose sides are multiples of 32; the state_dict is unchanged.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .alignment import align, is_degenerate
from .artifact_cache import artifact_dir, build_once, weights_version
from .checks import check_choice, check_finite, check_same_shape
from .errors import DepthkitError, InputError
from .runtime import cpu_features

if TYPE_CHECKING:
    import torch

__all__ = [
    "ACCELERATED",
    "BACKENDS",
    "DEFAULT_BACKEND",
    "INSTALL_HINTS",
    "MEMORY_FORMATS",
    "ONNX_FILE",
    "Agreement",
    "agreement",
    "available_backends",
    "check_backend",
    "clear_cache",
    "eager_forward",
    "export_onnx",
    "get_runner",
    "has_bf16_hardware",
    "run_backend",
    "static_same_padding",
]

#: All backend names: the fp32 reference, then the exported engines, then torch.compile.
BACKENDS = ("eager", "onnx", "openvino", "bf16", "int8", "compile")
#: The backend :func:`depthkit.estimate_depth`, ``predict``, the app and the CLI use unless told otherwise.
DEFAULT_BACKEND = "auto"
#: Backends that run an exported copy of MiDaS_small (the candidates of ``"auto"`` besides eager).
ACCELERATED = ("onnx", "openvino", "bf16", "int8")
#: Python packages each optional backend needs, and the pip command that installs them.
INSTALL_HINTS = {
    "onnx": (("onnx", "onnxruntime"), 'pip install "depthkit[fast]"  (or: pip install onnx onnxruntime)'),
    "openvino": (("onnx", "openvino"), 'pip install "depthkit[fast]"  (or: pip install onnx openvino)'),
    "bf16": (("onnx", "openvino"), 'pip install "depthkit[fast]"  (or: pip install onnx openvino)'),
    "int8": (("onnx", "openvino", "nncf"), 'pip install "depthkit[fast]"  (or: pip install onnx openvino nncf)'),
}
#: Memory formats :func:`eager_forward` can run in: NHWC (``"channels_last"``, the default) or NCHW.
MEMORY_FORMATS = ("channels_last", "contiguous")
#: Names that used to be backends, and what to use instead.
_RENAMED = {"channels_last": "eager"}

#: ``run(x) -> (N, h, w) tensor``.
Runner = Callable[["torch.Tensor"], "torch.Tensor"]


def _missing(packages: tuple[str, ...]) -> list[str]:
    return [p for p in packages if importlib.util.find_spec(p) is None]


def check_backend(backend: str) -> str:
    """Validate a backend name and that what it needs is installed; returns the name.

    ``"auto"`` is valid and returned as it is: which backend it means depends on the model and is decided by
    :func:`depthkit.backend_choice.resolve_backend`.

    Raises:
        InputError: unknown name.
        DepthkitError: an optional package is missing (the message names the pip command).

    Example:
        >>> check_backend("eager")
        'eager'
        >>> check_backend("tensorrt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        depthkit.errors.InputError: unknown backend 'tensorrt'; use one of: eager, onnx, openvino, ... (or 'auto').
    """
    if backend == "auto":
        return backend
    if isinstance(backend, str) and backend in _RENAMED:
        raise InputError(f"backend {backend!r} is now called {_RENAMED[backend]!r} (fp32 PyTorch, which runs in the "
                         f"channels_last memory format by itself); use backend={_RENAMED[backend]!r}.")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)} (or 'auto').")
    if backend in INSTALL_HINTS:
        packages, command = INSTALL_HINTS[backend]
        missing = _missing(packages)
        if missing:
            raise DepthkitError(f"the {backend!r} backend needs {', '.join(missing)}, which is not installed; "
                                f"run `{command}` (or use backend='eager').")
    if backend == "compile" and shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        raise DepthkitError("the 'compile' backend needs a C++ compiler for torch.compile's inductor; install one "
                            "(e.g. `apt-get install g++`) or use backend='eager'.")
    return backend


def available_backends() -> list[str]:
    """Backends whose packages (and, for ``compile``, a C++ compiler) are present on this machine."""
    out = []
    for name in BACKENDS:
        try:
            check_backend(name)
        except DepthkitError:
            continue
        out.append(name)
    return out


# ------------------------------------------------------------------------------------------------ structure
def static_same_padding(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` whose TF-"same" convolutions use a fixed padding; valid for sides that are multiples of 32.

    timm's ``Conv2dSame`` pads by ``max((ceil(n / s) - 1) * s + k - n, 0)`` pixels per side length ``n``, split
    as ``(total // 2, total - total // 2)``. When ``n`` is a multiple of the stride ``s`` this is
    ``max(k - s, 0)``: (0, 1) for the 3x3 stride-2 convolutions and (1, 2) for the 5x5 ones, whatever ``n`` is.
    The copy pads by those constants (``torch.nn.functional.pad``), so the graph has no size arithmetic, which
    exporters and compilers handle better. Parameter names, shapes and values are unchanged.

    Args:
        model: a :class:`~depthkit.model.MidasSmall` (not modified).

    Returns:
        The modified deep copy (eval mode), with ``weights_info`` kept.
    """
    import torch
    from torch.nn import functional as F

    class _FixedPadConv2d(torch.nn.Conv2d):
        """Conv2d with a constant (left, right, top, bottom) zero padding applied before it."""

        fixed_pad: tuple[int, int, int, int] = (0, 0, 0, 0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.conv2d(F.pad(x, self.fixed_pad), self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)

    new = copy.deepcopy(model)
    for module in new.modules():
        if type(module).__name__ == "Conv2dSame":
            (kh, kw), (sh, sw), (dh, dw) = module.kernel_size, module.stride, module.dilation
            th, tw = max((kh - 1) * dh + 1 - sh, 0), max((kw - 1) * dw + 1 - sw, 0)
            module.__class__ = _FixedPadConv2d
            module.fixed_pad = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    new.weights_info = getattr(model, "weights_info", None)
    return new.eval()


# ------------------------------------------------------------------------------------------ memory format
def _torch_format(memory_format: str) -> Any:
    import torch

    check_choice(memory_format, "memory_format", MEMORY_FORMATS)
    return torch.channels_last if memory_format == "channels_last" else torch.contiguous_format


#: model -> its largest 4-D weight: the one probe of the weights' memory format.
_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _use_memory_format(model: torch.nn.Module, fmt: Any) -> None:
    """Convert ``model``'s weights to memory format ``fmt`` in place, once ("convert the weights once").

    ``model.to(memory_format=...)`` walks every parameter (about 7 ms even when nothing changes), so one large
    convolution weight is tested and the model converted only when its format differs (another backend, or a
    lesson, may have changed it).
    """
    if model not in _PROBES:
        _PROBES[model] = max((p for p in model.parameters() if p.dim() == 4), key=lambda p: p.numel(), default=None)
    probe = _PROBES[model]
    if probe is None or not probe.is_contiguous(memory_format=fmt):
        model.to(memory_format=fmt)


def eager_forward(model: torch.nn.Module, x: torch.Tensor, *, memory_format: str = "channels_last") -> torch.Tensor:
    """Plain PyTorch fp32 forward pass without autograd, in a given memory format (``"eager"`` runs channels_last).

    Args:
        model: a :class:`~depthkit.model.MidasSmall` (its weights are converted to ``memory_format`` in place).
        x: (N, 3, h, w) float32 tensor, h and w multiples of 32 (see :func:`depthkit.prepare`).
        memory_format: ``"channels_last"`` (NHWC, the default: faster for convolutions on CPUs) or
            ``"contiguous"`` (NCHW, PyTorch's usual layout). The values agree to float rounding.

    Returns:
        (N, h, w) float32 contiguous tensor of relative inverse depth.

    Example:
        >>> import torch, depthkit as dk
        >>> eager_forward(dk.load_model("random"), torch.zeros(1, 3, 64, 64), memory_format="contiguous").shape
        torch.Size([1, 64, 64])
    """

    from .model_registry import spec_for

    fmt = _torch_format(memory_format)
    spec_for(model).check_input(x)  # the network's own input rule (e.g. multiples of 32; 14 for Depth Anything V2)
    return _forward_in_format(model, x, fmt)


def _forward_in_format(model: torch.nn.Module, x: torch.Tensor, fmt: Any) -> torch.Tensor:
    """The fp32 forward pass itself (no checks): weights and input in memory format ``fmt``, no autograd."""
    import torch

    _use_memory_format(model, fmt)
    with torch.inference_mode():
        return model(x.contiguous(memory_format=fmt)).contiguous()


# --------------------------------------------------------------------------------------------------- cache
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def clear_cache() -> None:
    """Forget every runner built in this process (the files cached on disk stay; see :mod:`depthkit.artifact_cache`)."""
    _CACHE.clear()


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, example_size: tuple[int, int] = (256, 256)) -> str:
    """Export MiDaS_small to an ONNX file with dynamic batch, height and width.

    Uses the TorchScript-based exporter (``dynamo=False``), which handles the dynamic sizes in seconds, on a
    :func:`static_same_padding` copy of the model.

    Args:
        model: a :class:`~depthkit.model.MidasSmall`.
        path: the ``.onnx`` file to write.
        example_size: (h, w) of the tracing input; both multiples of 32.

    Returns:
        The path written, as a string.
    """
    import torch

    check_backend("onnx")
    net = static_same_padding(model)
    x = torch.zeros(1, 3, *example_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings: the checks they mention are constant
        torch.onnx.export(net, (x,), str(path), dynamo=False, opset_version=17, input_names=["image"],
                          output_names=["inverse_depth"],
                          dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "inverse_depth": {0: "n", 1: "h", 2: "w"}})
    return str(path)


#: File name of the exported fp32 graph inside its cache folder.
ONNX_FILE = "midas_small.onnx"


def _export_into(model: torch.nn.Module, folder: Path) -> None:
    try:
        export_onnx(model, folder / ONNX_FILE)
    except (RuntimeError, TypeError, ValueError) as e:  # the exporter's own errors, e.g. an unsupported operator
        raise DepthkitError(f"could not export this {type(model).__name__} to ONNX ({str(e).splitlines()[0][:150]}); "
                            "use backend='eager'.") from e


def _onnx_file(model: torch.nn.Module, entry: dict) -> str:
    """The model's ONNX graph in the disk cache (exported on first use), remembered in this model's entry."""
    if "onnx_path" not in entry:
        folder = build_once(artifact_dir(model, type(model).__name__), lambda tmp: _export_into(model, tmp))
        entry["onnx_path"] = str(folder / ONNX_FILE)
    return entry["onnx_path"]


# ------------------------------------------------------------------------------------------------ builders
@dataclass
class _Build:
    """What a backend builder gets: the model, the runner's thread count and input shape, and its cache entries.

    ``entry`` is this backend's own cache entry; ``shared`` is the model's, where the ONNX path is kept once for
    every backend that reads it.
    """

    model: Any
    threads: int
    shape: tuple[int, ...]
    entry: dict
    shared: dict


def _build_eager(b: _Build) -> Runner:
    import torch

    def run(x: torch.Tensor) -> torch.Tensor:
        return _forward_in_format(b.model, x, torch.channels_last)
    return run


def _build_compile(b: _Build) -> Runner:
    import torch

    if "compiled" not in b.entry:
        net = static_same_padding(b.model).to(memory_format=torch.channels_last)
        b.entry["compiled"] = torch.compile(net, dynamic=False)
    compiled = b.entry["compiled"]

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return compiled(x.contiguous(memory_format=torch.channels_last)).contiguous()
    return run


def _as_numpy(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)


def _build_onnx(b: _Build) -> Runner:
    import onnxruntime as ort
    import torch

    key = ("ort", b.threads)
    if key not in b.entry:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = b.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        b.entry[key] = ort.InferenceSession(_onnx_file(b.model, b.shared), opts, providers=["CPUExecutionProvider"])
    session = b.entry[key]

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"image": _as_numpy(x)})[0])
    return run


def has_bf16_hardware() -> bool:
    """True when the CPU computes bfloat16 natively (AVX-512-BF16 or AMX-BF16; see :func:`~.runtime.cpu_features`)."""
    features = cpu_features()
    return bool(features.avx512_bf16 or features.amx_bf16)


def _openvino_runner(b: _Build, model_file: str, precision: str) -> Runner:
    """An OpenVINO runner of ``model_file`` (ONNX or OpenVINO XML) compiled for ``b.shape`` at ``precision``."""
    import openvino as ov
    import torch

    key = ("ov", model_file, precision, b.threads, b.shape)
    if key not in b.entry:
        core = ov.Core()
        core.set_property({"CACHE_DIR": str(Path(model_file).parent / "openvino-kernels")})
        net = core.read_model(model_file)
        net.reshape({net.inputs[0]: ov.PartialShape(list(b.shape))})
        compiled = core.compile_model(net, "CPU", {"INFERENCE_NUM_THREADS": b.threads, "PERFORMANCE_HINT": "LATENCY",
                                                   "INFERENCE_PRECISION_HINT": precision})
        b.entry[key] = (compiled.create_infer_request(), threading.Lock())
    request, lock = b.entry[key]

    def run(x: torch.Tensor) -> torch.Tensor:
        with lock:  # one infer request is not safe to share between threads (the webcam runs in its own)
            request.infer({0: _as_numpy(x)})
            return torch.from_numpy(request.get_output_tensor(0).data.copy())
    return run


def _build_openvino(b: _Build) -> Runner:
    return _openvino_runner(b, _onnx_file(b.model, b.shared), "f32")


def _build_bf16(b: _Build) -> Runner:
    return _openvino_runner(b, _onnx_file(b.model, b.shared), "bf16")


def _build_int8(b: _Build) -> Runner:
    from .quantization import int8_model

    if "int8_path" not in b.shared:
        b.shared["int8_path"] = str(int8_model(b.model, lambda: _onnx_file(b.model, b.shared)))
    # the layers NNCF leaves in floating point run in bf16 where the CPU has it (faster, r unchanged in tests)
    return _openvino_runner(b, b.shared["int8_path"], "bf16" if has_bf16_hardware() else "f32")


#: Backend name -> builder of its runner. Every name in BACKENDS has exactly one.
_BUILDERS: dict[str, Callable[[_Build], Runner]] = {
    "eager": _build_eager,
    "onnx": _build_onnx,
    "openvino": _build_openvino,
    "bf16": _build_bf16,
    "int8": _build_int8,
    "compile": _build_compile,
}
#: Backends whose runner holds no copy of the weights: built on every call, no cache and no fingerprint needed.
_STATELESS = frozenset({"eager"})


def _check_network(model: Any, backend: str) -> None:
    """A torch network, and for the exported backends not one of the transformer models (one sentence each)."""
    import torch

    from .model_registry import spec_for

    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a network from depthkit.load_model(), got {type(model).__name__}.")
    spec = spec_for(model)
    if backend in ACCELERATED and spec.name != "midas_small":
        raise InputError(f"the {backend!r} backend is not available for {spec.title}: its export is made for "
                         "MiDaS_small's convolutions and would fix the transformer's input size; use "
                         "backend='eager' (or 'auto', which does so).")


def get_runner(model: torch.nn.Module, backend: str, shape: tuple[int, ...] = (1, 3, 256, 256),
               threads: int | None = None) -> Runner:
    """A function ``run(x) -> (N, h, w) tensor`` that runs ``model`` with ``backend``; built once and cached.

    Args:
        model: a :class:`~depthkit.model.MidasSmall` (e.g. from :func:`depthkit.load_model`); ``"eager"`` and
            ``"compile"`` also take other networks.
        backend: one of :data:`BACKENDS` (resolve ``"auto"`` first with
            :func:`depthkit.backend_choice.resolve_backend`).
        shape: (N, 3, h, w) of the inputs it will get (OpenVINO compiles per shape; others ignore it).
        threads: CPU threads the runner uses (``None``: torch's current setting). ONNX Runtime and OpenVINO fix
            their thread count when built, so it is part of the cache key.

    Returns:
        ``run(x)``: x (N, 3, h, w) float32 tensor -> (N, h, w) float32 tensor of relative inverse depth.
    """
    import torch

    backend = check_backend(backend)
    if backend == "auto":
        raise InputError("get_runner needs a concrete backend; resolve 'auto' first with "
                         "depthkit.backend_choice.resolve_backend(model), or call depthkit.inference.predict.")
    _check_network(model, backend)
    threads = int(threads) if threads is not None else torch.get_num_threads()
    if backend in _STATELESS:
        return _BUILDERS[backend](_Build(model, threads, tuple(shape), {}, {}))
    per_model = _CACHE.setdefault(model, {})
    fp = weights_version(model)
    if per_model.get("fingerprint") != fp:  # weights changed: exported/compiled copies are stale
        per_model.clear()
        per_model["fingerprint"] = fp
    shared = per_model.setdefault("shared", {})
    entry = per_model.setdefault(backend, {})
    key = ("runner", threads, tuple(shape))
    if key not in entry:
        entry[key] = _BUILDERS[backend](_Build(model, threads, tuple(shape), entry, shared))
    return entry[key]


def run_backend(model: torch.nn.Module, x: torch.Tensor, backend: str = "eager") -> torch.Tensor:
    """Forward pass of ``model`` on ``x`` with a concrete ``backend`` (no autograd).

    Args:
        model: a :class:`~depthkit.model.MidasSmall`.
        x: (N, 3, h, w) float32 tensor, h and w multiples of 32 (see :func:`depthkit.prepare`).
        backend: one of :data:`BACKENDS` (default ``"eager"``); for ``"auto"`` use
            :func:`depthkit.inference.predict`.

    Returns:
        (N, h, w) float32 tensor of relative inverse depth.

    Example:
        >>> import torch, depthkit as dk
        >>> run_backend(dk.load_model("random"), torch.zeros(1, 3, 64, 64), "eager").shape
        torch.Size([1, 64, 64])
    """
    from .model_registry import spec_for

    spec_for(model).check_input(x)  # the network's own input rule (e.g. multiples of 32; 14 for Depth Anything V2)
    return get_runner(model, backend, tuple(x.shape))(x)


# ----------------------------------------------------------------------------------------------- agreement
@dataclass(frozen=True)
class Agreement:
    """How closely an output matches a reference output.

    Attributes:
        pearson_r: correlation coefficient (1 = identical up to scale and shift).
        max_rel_err: max |aligned - reference| / (max(reference) - min(reference)), after scale-shift alignment.
        scale: ``a`` of the least-squares alignment ``aligned = a * output + b``.
        shift: ``b`` of that alignment.
    """

    pearson_r: float
    max_rel_err: float
    scale: float
    shift: float


def agreement(pred: Any, reference: Any) -> Agreement:
    """Pearson r and the max relative error after scale-shift alignment of ``pred`` onto ``reference``.

    The alignment is :func:`depthkit.alignment.align` (least squares, :func:`~depthkit.alignment.fit_scale_shift`);
    a constant ``pred`` (:func:`~depthkit.alignment.is_degenerate`) has Pearson r 0.

    Args:
        pred: backend output, any shape (e.g. (h, w) relative inverse depth).
        reference: eager fp32 output of the same shape.

    Raises:
        InputError: different shapes, NaN or inf, or a constant reference (agreement is then undefined).

    Example:
        >>> ref = np.array([0.0, 1.0, 2.0, 4.0])
        >>> a = agreement(3 * ref + 1, ref)
        >>> a.pearson_r, a.max_rel_err, round(a.scale, 6), round(a.shift, 6)
        (1.0, 0.0, 0.333333, -0.333333)
    """
    p = np.asarray(pred, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    check_same_shape(p, r, ("pred", "reference"), hint="compare outputs of the same shape")
    check_finite(p, "pred", hint="agreement needs finite outputs; check the backend")
    check_finite(r, "reference", hint="agreement needs finite outputs; check the model")
    span = float(r.max() - r.min()) if r.size else 0.0
    if span == 0:
        raise InputError("the reference output is constant, so agreement is undefined; use a real image.")
    aligned, a, b = align(p, r)
    err = float(np.abs(aligned - r).max() / span)
    pearson = 0.0 if is_degenerate(p) else float(np.corrcoef(p.ravel(), r.ravel())[0, 1])
    return Agreement(round(pearson, 12), round(err, 12), a, b)
