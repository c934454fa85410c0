"""Ways to run the same MiDaS_small network on the CPU ("backends"), and how closely they agree.

===================  ===================================================================================
``"eager"``          plain PyTorch, fp32, contiguous (NCHW) memory format: the reference.
``"channels_last"``  plain PyTorch, fp32, channels_last (NHWC) memory format (``predict``'s default).
``"bf16"``           channels_last under ``torch.autocast`` with bfloat16. Fast only on CPUs with bf16 hardware
                     (AVX-512-BF16 or AMX); elsewhere it is emulated and *much slower*.
``"compile"``        ``torch.compile`` (inductor; needs a C++ compiler). The first call per input size compiles
                     for minutes on a small CPU.
``"onnx"``           exported once to ONNX (sizes dynamic) and run with ONNX Runtime
                     (``pip install onnx onnxruntime``).
``"openvino"``       the same ONNX file compiled by OpenVINO for the CPU, per input size
                     (``pip install onnx openvino``).
``"auto"``           the fastest verified backend that is installed: ``onnx``, else ``openvino``, else
                     ``channels_last`` (see :func:`resolve_backend`).
===================  ===================================================================================

Every backend takes the (N, 3, h, w) float32 tensor that :func:`depthkit.prepare` makes and returns (N, h, w)
float32 relative inverse depth (larger = nearer), like ``model(x)``. Exported and compiled versions are built on
first use and cached per model, input size and thread count; they are rebuilt when the model's weights change.

**Agreement.** :func:`agreement` compares a backend's output with the eager fp32 output of the *same weights*:
Pearson r, and the largest absolute difference after the best scale and shift (least squares of the backend
output onto the reference), divided by the reference's value range. Scale and shift are removed because
MiDaS's output is only defined up to them. Note that offline the model is usually the seeded *random* network
(no checkpoint here): agreement then shows that a backend computes the same function, which is what matters
for speed, but accuracy against real depth needs the pretrained weights.

For export, the five TF-"same" convolutions of the EfficientNet encoder (timm's ``Conv2dSame``, which compute
their padding at every call) are swapped, in a copy, for convolutions with the fixed asymmetric padding that
the same rule gives for inputs whose sides are multiples of 32; the state_dict is unchanged.
"""

from __future__ import annotations

import atexit
import copy
import importlib.util
import os
import shutil
import tempfile
import warnings
import weakref
from dataclasses import dataclass

import numpy as np

from .errors import DepthkitError, InputError

__all__ = [
    "BACKENDS",
    "INSTALL_HINTS",
    "Agreement",
    "agreement",
    "compare_backends",
    "align_scale_shift",
    "available_backends",
    "check_backend",
    "resolve_backend",
    "get_runner",
    "run_backend",
    "static_same_padding",
    "export_onnx",
    "clear_cache",
]

#: All backend names, fastest-to-set-up first.
BACKENDS = ("eager", "channels_last", "bf16", "compile", "onnx", "openvino")
#: Order in which ``"auto"`` picks a backend: fastest verified first (see docs/results/benchmarks.md).
AUTO_ORDER = ("onnx", "openvino", "channels_last")
#: Python packages each optional backend needs, and the pip command that installs them.
INSTALL_HINTS = {
    "onnx": (("onnx", "onnxruntime"), "pip install onnx onnxruntime"),
    "openvino": (("onnx", "openvino"), "pip install onnx openvino"),
}


def _missing(packages) -> list[str]:
    return [p for p in packages if importlib.util.find_spec(p) is None]


def check_backend(backend: str) -> str:
    """Validate a backend name and that what it needs is installed; returns the name.

    Raises:
        InputError: unknown name.
        DepthkitError: an optional package is missing (the message names the pip command).

    Example:
        >>> check_backend("eager")
        'eager'
        >>> check_backend("tensorrt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        depthkit.errors.InputError: unknown backend 'tensorrt'; use one of: eager, channels_last, bf16, ... (or 'auto').
    """
    if backend == "auto":
        return resolve_backend("auto")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)} (or 'auto').")
    if backend in INSTALL_HINTS:
        packages, command = INSTALL_HINTS[backend]
        missing = _missing(packages)
        if missing:
            raise DepthkitError(f"the {backend!r} backend needs {', '.join(missing)}, which is not installed; "
                                f"run `{command}` (or use backend='channels_last').")
    if backend == "compile" and shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        raise DepthkitError("the 'compile' backend needs a C++ compiler for torch.compile's inductor; install one "
                            "(e.g. `apt-get install g++`) or use backend='channels_last'.")
    return backend


def resolve_backend(backend: str = "auto") -> str:
    """The concrete backend for a name: ``"auto"`` becomes the first installed of :data:`AUTO_ORDER`.

    Example:
        >>> resolve_backend("eager")
        'eager'
        >>> resolve_backend("auto") in AUTO_ORDER
        True
    """
    if backend != "auto":
        return check_backend(backend)
    for name in AUTO_ORDER:
        try:
            return check_backend(name)
        except DepthkitError:
            continue
    return "channels_last"  # pragma: no cover - channels_last never fails the check


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
def static_same_padding(model):
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

        fixed_pad: tuple = (0, 0, 0, 0)

        def forward(self, x):
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


# --------------------------------------------------------------------------------------------------- cache
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_TMPDIRS: list[str] = []


def _fingerprint(model) -> tuple:
    """Changes whenever a parameter or buffer is modified in place (load_state_dict, training steps)."""
    return tuple(t._version for t in model.state_dict(keep_vars=True).values())


def clear_cache() -> None:
    """Forget every exported / compiled model (their temporary files are deleted at interpreter exit)."""
    _CACHE.clear()


def _cleanup_tmpdirs():  # pragma: no cover - runs at exit
    for d in _TMPDIRS:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_tmpdirs)


def export_onnx(model, path: str | os.PathLike, example_size: tuple[int, int] = (256, 256)) -> str:
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


def _onnx_file(model, entry: dict) -> str:
    if "onnx_path" not in entry:
        folder = tempfile.mkdtemp(prefix="depthkit-onnx-")
        _TMPDIRS.append(folder)
        entry["onnx_path"] = export_onnx(model, os.path.join(folder, "midas_small.onnx"))
    return entry["onnx_path"]


def _make_runner(model, backend: str, threads: int, entry: dict, shape: tuple):
    import torch

    if backend in ("eager", "channels_last", "bf16"):
        fmt = torch.contiguous_format if backend == "eager" else torch.channels_last
        # model.to(memory_format=...) walks every parameter (about 7 ms even when nothing changes), so test one
        # large convolution weight and convert only when the format differs (another backend may have changed it)
        probe = max((p for p in model.parameters() if p.dim() == 4), key=lambda p: p.numel(), default=None)

        def run(x):
            if probe is None or not probe.is_contiguous(memory_format=fmt):
                model.to(memory_format=fmt)
            x = x.contiguous(memory_format=fmt)
            with torch.inference_mode():
                if backend == "bf16":
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        return model(x).float().contiguous()
                return model(x).contiguous()
        return run

    if backend == "compile":
        if "compiled" not in entry:
            net = static_same_padding(model).to(memory_format=torch.channels_last)
            entry["compiled"] = torch.compile(net, dynamic=False)
        compiled = entry["compiled"]

        def run(x):
            with torch.inference_mode():
                return compiled(x.contiguous(memory_format=torch.channels_last)).contiguous()
        return run

    if backend == "onnx":
        import onnxruntime as ort

        key = ("ort", threads)
        if key not in entry:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3
            entry[key] = ort.InferenceSession(_onnx_file(model, entry), opts, providers=["CPUExecutionProvider"])
        session = entry[key]

        def run(x):
            out = session.run(None, {"image": np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)})[0]
            return torch.from_numpy(out)
        return run

    if backend == "openvino":
        import openvino as ov

        key = ("ov", threads, shape)
        if key not in entry:
            core = ov.Core()
            net = core.read_model(_onnx_file(model, entry))
            net.reshape({net.inputs[0]: ov.PartialShape(list(shape))})
            compiled = core.compile_model(net, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                       "PERFORMANCE_HINT": "LATENCY",
                                                       "INFERENCE_PRECISION_HINT": "f32"})
            entry[key] = compiled.create_infer_request()
        request = entry[key]

        def run(x):
            request.infer({0: np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)})
            return torch.from_numpy(request.get_output_tensor(0).data.copy())
        return run
    raise AssertionError(backend)  # pragma: no cover - check_backend guards


def get_runner(model, backend: str, shape: tuple[int, int, int, int] = (1, 3, 256, 256), threads: int | None = None):
    """A function ``run(x) -> (N, h, w) tensor`` that runs ``model`` with ``backend``; built once and cached.

    Args:
        model: a :class:`~depthkit.model.MidasSmall` (e.g. from :func:`depthkit.load_model`).
        backend: one of :data:`BACKENDS`, or ``"auto"``.
        shape: (N, 3, h, w) of the inputs it will get (OpenVINO compiles per shape; others ignore it).
        threads: CPU threads the runner uses (``None``: torch's current setting). ONNX Runtime and OpenVINO fix
            their thread count when built, so it is part of the cache key.

    Returns:
        ``run(x)``: x (N, 3, h, w) float32 tensor -> (N, h, w) float32 tensor of relative inverse depth.
    """
    import torch

    backend = check_backend(backend)
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a network from depthkit.load_model(), got {type(model).__name__}.")
    threads = int(threads) if threads is not None else torch.get_num_threads()
    per_model = _CACHE.setdefault(model, {})
    fp = _fingerprint(model)
    if per_model.get("fingerprint") != fp:  # weights changed: exported/compiled copies are stale
        per_model.clear()
        per_model["fingerprint"] = fp
    entry = per_model.setdefault(backend, {})
    key = ("runner", threads, tuple(shape))
    if key not in entry:
        entry[key] = _make_runner(model, backend, threads, entry, tuple(shape))
    return entry[key]


def run_backend(model, x, backend: str = "eager"):
    """Forward pass of ``model`` on ``x`` with ``backend`` (no autograd).

    Args:
        model: a :class:`~depthkit.model.MidasSmall`.
        x: (N, 3, h, w) float32 tensor, h and w multiples of 32 (see :func:`depthkit.prepare`).
        backend: one of :data:`BACKENDS`.

    Returns:
        (N, h, w) float32 tensor of relative inverse depth.

    Example:
        >>> import torch, depthkit as dk
        >>> run_backend(dk.load_model("random"), torch.zeros(1, 3, 64, 64), "eager").shape
        torch.Size([1, 64, 64])
    """
    from .model import check_input

    check_input(x)
    return get_runner(model, backend, tuple(x.shape))(x)


# ----------------------------------------------------------------------------------------------- agreement
def align_scale_shift(pred, reference) -> tuple[np.ndarray, float, float]:
    """Least-squares scale ``a`` and shift ``b`` minimising ``||a * pred + b - reference||``.

    Args:
        pred, reference: arrays of the same shape (any dims), finite floats.

    Returns:
        ``(a * pred + b, a, b)``; the aligned array is float64.

    Example:
        >>> aligned, a, b = align_scale_shift(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
        >>> round(a, 6), round(b, 6), aligned.tolist()
        (2.0, 1.0, [1.0, 3.0, 5.0])
    """
    p = np.asarray(pred, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if p.shape != r.shape:
        raise InputError(f"pred and reference must have the same shape, got {p.shape} and {r.shape}.")
    if p.size < 2 or not (np.isfinite(p).all() and np.isfinite(r).all()):
        raise InputError("pred and reference need at least 2 values, all finite; check the model output.")
    pc = p - p.mean()
    var = float((pc * pc).sum())
    a = float((pc * (r - r.mean())).sum() / var) if var > 0 else 0.0
    b = float(r.mean() - a * p.mean())
    return a * p + b, a, b


@dataclass(frozen=True)
class Agreement:
    """How closely an output matches a reference output.

    Attributes:
        pearson_r: correlation coefficient (1 = identical up to scale and shift).
        max_rel_err: max |aligned - reference| / (max(reference) - min(reference)), after scale-shift alignment.
        scale, shift: the least-squares alignment ``aligned = scale * output + shift``.
    """

    pearson_r: float
    max_rel_err: float
    scale: float
    shift: float


def agreement(pred, reference) -> Agreement:
    """Pearson r and the max relative error after scale-shift alignment of ``pred`` onto ``reference``.

    Args:
        pred: backend output, any shape (e.g. (h, w) relative inverse depth).
        reference: eager fp32 output of the same shape.

    Example:
        >>> ref = np.array([0.0, 1.0, 2.0, 4.0])
        >>> a = agreement(3 * ref + 1, ref)
        >>> a.pearson_r, a.max_rel_err, round(a.scale, 6), round(a.shift, 6)
        (1.0, 0.0, 0.333333, -0.333333)
    """
    aligned, a, b = align_scale_shift(pred, reference)
    r = np.asarray(reference, dtype=np.float64)
    span = float(r.max() - r.min())
    if span == 0:
        raise InputError("the reference output is constant, so agreement is undefined; use a real image.")
    p = np.asarray(pred, dtype=np.float64).ravel()
    if p.std() == 0:
        return Agreement(0.0, float(np.abs(aligned - r).max() / span), a, b)
    pearson = float(np.corrcoef(p, r.ravel())[0, 1])
    err = float(np.abs(aligned - r).max() / span)
    return Agreement(round(pearson, 12), round(err, 12), a, b)


def compare_backends(model, x, backends=("eager", "channels_last"), *, threads: int | None = None, warmup: int = 1,
                     repeats: int = 5):
    """Time each backend on one input and measure its agreement with eager fp32.

    Args:
        model: a :class:`~depthkit.model.MidasSmall`.
        x: (1, 3, h, w) float32 input (see :func:`depthkit.prepare`).
        backends: names from :data:`BACKENDS` (or ``"auto"``); eager fp32 is always the reference.
        threads: torch / runtime CPU threads (``None``: torch's current setting).
        warmup, repeats: see :func:`depthkit.bench.time_call`; the first call of an exported backend (export,
            compilation) happens before the warm-up and is not timed.

    Returns:
        :class:`~depthkit.bench.ResultsTable` with columns backend, median ms, min ms, speed-up vs eager,
        pearson r, max rel err (one row per backend, in the given order).
    """
    from .bench import ResultsTable, time_call
    from .inference import num_threads
    from .model import check_input

    check_input(x)
    names = [resolve_backend(b) for b in backends]
    table = ResultsTable(["backend", "median ms", "min ms", "speed-up vs eager", "pearson r", "max rel err"],
                         title=f"Backends at {x.shape[-1]}x{x.shape[-2]}")
    with num_threads(threads):
        reference = get_runner(model, "eager", tuple(x.shape))(x).numpy()
        timings = {}
        for name in dict.fromkeys(["eager", *names]):
            run = get_runner(model, name, tuple(x.shape), threads=threads)
            out = run(x).numpy()  # builds / compiles on first use: not timed
            timings[name] = (time_call(run, x, warmup=warmup, repeats=repeats), agreement(out, reference))
        eager_ms = timings["eager"][0].median_ms
        for name in names:
            t, a = timings[name]
            table.add(backend=name, **{"median ms": t.median_ms, "min ms": t.min * 1e3,
                                       "speed-up vs eager": eager_ms / t.median_ms, "pearson r": a.pearson_r,
                                       "max rel err": a.max_rel_err})
    return table
