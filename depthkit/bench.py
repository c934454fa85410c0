"""Measuring speed and memory honestly: timers, peak memory, FLOP counts, the matmul ceiling, result tables.

How the numbers here are made:

* **Time** is wall-clock time from :func:`time.perf_counter`. :func:`time_call` runs the function a few times
  first (*warm-up*: lazy initialisation, memory allocation, weight re-packing and caches happen there) and then
  reports the **median** of the timed repeats, with the minimum and maximum. The median is robust against a
  few slow runs caused by other processes; the minimum is the best the machine did.
* **FLOPs** come from :class:`torch.utils.flop_counter.FlopCounterMode`. It counts matrix products and
  convolutions only, with the convention **one multiply-add = 2 FLOPs** (a (m, k) @ (k, n) product is
  ``2 m k n`` FLOPs); element-wise work (batch norm, activations, additions, interpolation) is not counted.
* **The fp32 floor** is ``flops / ceiling``: the time the network would take if every FLOP ran as fast as a big
  fp32 matrix product (:func:`matmul_gflops`, a 2048 x 2048 ``torch.mm``) on the same threads. Real networks stay
  above it: depthwise convolutions and element-wise layers move far more bytes per FLOP than a matmul.
* **Peak memory** is the *resident set size high-water mark* (``ru_maxrss`` from :mod:`resource`): the most
  physical memory the process ever held, including the torch library itself and every tensor. It cannot be
  reset inside a process, so :func:`peak_rss_of` runs code in a fresh child process and reads the child's own
  high-water mark (``VmHWM``). :mod:`tracemalloc` is *not* used for torch: it only sees memory allocated through
  Python's allocator (numpy arrays, Python objects), not torch's tensors; :func:`python_peak_mb` offers it for
  numpy-only code.
"""

from __future__ import annotations

import functools
import io
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import check_int
from .errors import InputError
from .runtime import Timing, num_threads, time_call  # re-exported: the timer lives at the bottom layer

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "MEMORY_MEASURES",
    "BenchmarkRun",
    "ResultsTable",
    "Timing",
    "compare_backends",
    "compare_models",
    "count_flops",
    "fp32_floor_seconds",
    "load_average",
    "matmul_gflops",
    "peak_rss_mb",
    "peak_rss_of",
    "photo_jpeg",
    "python_peak_mb",
    "time_call",
]


def count_flops(model: Callable[..., Any], x: torch.Tensor) -> int:
    """FLOPs of one forward pass, counted by :class:`torch.utils.flop_counter.FlopCounterMode`.

    Convention: one multiply-add = 2 FLOPs; only matrix products and convolutions are counted.

    Args:
        model: a ``torch.nn.Module`` (or any callable on tensors).
        x: its input tensor, e.g. (1, 3, 256, 256) float32.

    Returns:
        The FLOP count (int). MiDaS_small at 256 x 256: 9,190,336,512 (about 9.19 GFLOP).

    Example:
        >>> import torch
        >>> count_flops(torch.nn.Linear(4, 3, bias=False), torch.zeros(2, 4))  # 2 * 2 * 4 * 3
        48
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    if not callable(model):
        raise InputError(f"count_flops needs a model (callable), got {type(model).__name__}.")
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(x)
    return int(counter.get_total_flops())


def matmul_gflops(n: int = 2048, threads: int | None = None, repeats: int = 5) -> float:
    """Measured fp32 matrix-product speed: GFLOP/s of an ``n x n @ n x n`` ``torch.mm`` (2 n^3 FLOPs).

    This is the practical compute ceiling ("roofline" roof) of the CPU for fp32 on the current threads.

    Args:
        n: matrix side (2048: 17.2 GFLOP per product, large enough to run at full speed).
        threads: torch threads to use for the measurement (``None``: torch's current setting).
        repeats: timed products; the median time is used.

    Returns:
        GFLOP/s (1 GFLOP = 1e9 FLOPs).
    """
    import torch

    n = check_int(n, "n", minimum=1)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    with num_threads(threads):
        t = time_call(torch.mm, a, b, out=out, warmup=1, repeats=repeats)
    return 2.0 * n**3 / t.median / 1e9


def fp32_floor_seconds(flops: float, gflops: float) -> float:
    """The roofline floor: seconds needed if every FLOP ran at the matmul speed ``gflops``.

    Args:
        flops: FLOPs of the work (e.g. from :func:`count_flops`).
        gflops: compute speed in GFLOP/s (e.g. from :func:`matmul_gflops`).

    Example:
        >>> round(fp32_floor_seconds(9.19e9, 160.0) * 1000, 1)  # ms
        57.4
    """
    if not (flops >= 0 and gflops > 0 and math.isfinite(flops) and math.isfinite(gflops)):
        raise InputError(f"need flops >= 0 and gflops > 0, got flops={flops!r}, gflops={gflops!r}.")
    return float(flops) / (float(gflops) * 1e9)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (``ru_maxrss``), in MB (1 MB = 1e6 bytes).

    It only ever grows; to measure one piece of work, run it in a fresh process (:func:`peak_rss_of`).
    """
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux (bytes on macOS)
    return kib * (1.0 if sys.platform == "darwin" else 1024.0) / 1e6


_PEAK_WRAPPER = """
import atexit, runpy, sys

def _report_peak(path=sys.argv[2]):
    try:
        with open("/proc/self/status") as f:
            kib = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
        with open(path, "w") as out:
            out.write(kib)
    except (OSError, StopIteration):
        pass

atexit.register(_report_peak)
code_file = sys.argv[1]
sys.argv = ["-c"]
runpy.run_path(code_file, run_name="__main__")
"""


def peak_rss_of(code: str, timeout: float = 600.0, env: dict[str, str] | None = None) -> tuple[int, float, str]:
    """Run Python ``code`` in a fresh interpreter; return its exit code, peak resident memory and output.

    The peak is the child's own high-water mark ``VmHWM`` (Linux ``/proc/self/status``, read at exit), which
    starts from zero at ``exec``. (``ru_maxrss`` of a child is not usable here: Linux carries the *parent's*
    high-water mark over fork and exec.) Elsewhere the child's ``ru_maxrss`` is used.

    Args:
        code: Python source, run as a script (``__name__ == "__main__"``) by this interpreter.
        timeout: seconds before the child is killed.
        env: environment for the child (default: this process's).

    Returns:
        ``(returncode, peak_mb, stdout + stderr)``; peak in MB (1e6 bytes).

    Example:
        >>> rc, mb, out = peak_rss_of("print(6 * 7)")
        >>> rc, out.strip(), mb > 1
        (0, '42', True)
    """
    import tempfile

    if not isinstance(code, str):
        raise InputError(f"code must be Python source text, got {type(code).__name__}.")
    with tempfile.TemporaryDirectory(prefix="depthkit-peak-") as tmp:
        script, peak_file = os.path.join(tmp, "code.py"), os.path.join(tmp, "peak_kib")
        with open(script, "w", encoding="utf-8") as f:
            f.write(code)
        try:
            proc = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, script, peak_file], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env, timeout=timeout)
            rc, out = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as e:
            rc, out = -9, (e.stdout or b"") + f"\n[killed after {timeout} s]".encode()
        kib = None
        if os.path.exists(peak_file):
            with open(peak_file) as f:
                text = f.read().strip()
            kib = float(text) if text else None
        if kib is None:
            import resource

            kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # fallback: max over children
    return rc, kib * 1024.0 / 1e6, out.decode("utf-8", errors="replace")


def python_peak_mb(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Peak memory allocated through Python's allocator while ``fn`` runs (:mod:`tracemalloc`), in MB.

    Sees numpy arrays and Python objects, *not* torch tensors (torch has its own allocator).

    Returns:
        ``(fn's return value, peak MB)``.

    Example:
        >>> _, mb = python_peak_mb(np.zeros, (1000, 1000))  # 8 MB of float64
        >>> 7.9 < mb < 9
        True
    """
    import tracemalloc

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, (peak - base) / 1e6


class BenchmarkRun:
    """What every benchmark script does around its measurements: load the model, and state the conditions.

    Created at the start of a run, it records the time and the machine's load; :meth:`notes` gives the lines
    each table ends with (weights, torch, CPU features, load before and after, wall time), so that a reader can
    tell a contended measurement from a clean one.

    Example:
        >>> run = BenchmarkRun()
        >>> run.load_before >= 0.0
        True
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.load_before = load_average()

    @staticmethod
    def load_model(weights: str = "auto") -> Any:
        """``depthkit.load_model(weights)`` without the untrained-weights warning: the notes name the weights."""
        from .weights import load_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_model(weights)

    def notes(self, model: Any) -> list[str]:
        """Two lines for a table's notes: the weights' label, then torch, CPU, OMP policy, load and run time."""
        import torch

        from .runtime import cpu_features

        info = getattr(model, "weights_info", None)
        return [
            f"Weights: {info.label if info is not None else 'unknown (a bare network)'}",
            f"torch {torch.__version__}; CPU {cpu_features().summary()}; "
            f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; load average {self.load_before:.1f} "
            f"before / {load_average():.1f} after (above the core count, other processes competed for the CPU). "
            f"Whole run: {time.perf_counter() - self.started:.0f} s.",
        ]


def load_average() -> float:
    """1-minute load average of the machine (number of busy processes); > cores means timings are contended."""
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):  # pragma: no cover - not on Linux
        return float("nan")


def photo_jpeg(image: Any, size: tuple[int, int] = (640, 480), quality: int = 90) -> bytes:
    """A test photo as JPEG file content: ``image`` resized (bicubic) to ``size`` and encoded in memory.

    Args:
        image: (H, W, 3) uint8 RGB, e.g. ``depthkit.samples.load_sample("motorcycle")``.
        size: (width, height) in pixels.
        quality: JPEG quality (1-95).

    Returns:
        The bytes of a baseline JPEG file.

    Example:
        >>> data = photo_jpeg(np.zeros((10, 20, 3), np.uint8), size=(64, 48))
        >>> data[:2] == b"\\xff\\xd8"
        True
    """
    from PIL import Image

    from .io import read_image

    rgb = read_image(image)
    buf = io.BytesIO()
    Image.fromarray(rgb).resize(tuple(size), Image.BICUBIC).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return "–"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.4g}" if abs(v) < 10 else f"{v:.1f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


@dataclass
class ResultsTable:
    """Rows of measurements that render as a markdown table (and a bar plot).

    Args:
        columns: column names in display order; a row may leave any of them out (shown empty).
        title: optional heading printed above the table.
        notes: lines printed under the table (conventions, machine, caveats).

    Example:
        >>> t = ResultsTable(["path", "ms"], title="demo")
        >>> t.add(path="eager", ms=123.456)
        >>> t.add(path="onnx", ms=50.0)
        >>> print(t.to_markdown())
        ### demo
        <BLANKLINE>
        | path | ms |
        | --- | --- |
        | eager | 123.5 |
        | onnx | 50.0 |
        >>> t.column("ms")
        [123.456, 50.0]
    """

    columns: list[str]
    title: str = ""
    notes: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.columns or not all(isinstance(c, str) for c in self.columns):
            raise InputError("ResultsTable needs a non-empty list of column names (strings).")
        self.columns = list(self.columns)

    def add(self, **row: Any) -> None:
        """Append a row given as ``column=value``; unknown column names raise :class:`InputError`."""
        unknown = [k for k in row if k not in self.columns]
        if unknown:
            raise InputError(f"unknown column(s) {unknown}; the table has {self.columns}.")
        self.rows.append(dict(row))

    def column(self, name: str) -> list[Any]:
        """The values of one column, in row order (``None`` where a row has none)."""
        if name not in self.columns:
            raise InputError(f"unknown column {name!r}; the table has {self.columns}.")
        return [r.get(name) for r in self.rows]

    def to_markdown(self) -> str:
        """The table as GitHub markdown (title as ``###`` heading, notes as lines after it)."""
        lines = [f"### {self.title}", ""] if self.title else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("| " + " | ".join("---" for _ in self.columns) + " |")
        for r in self.rows:
            lines.append("| " + " | ".join(_fmt(r.get(c)) for c in self.columns) + " |")
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_markdown()

    def plot(self, value: str, label: str | None = None, ax: Any = None, reference: float | None = None,
             reference_label: str = "reference") -> Any:
        """Horizontal bar plot of one numeric column (one bar per row).

        Args:
            value: the numeric column to plot (e.g. ``"median ms"``).
            label: the column naming the bars (default: the first column).
            ax: matplotlib axes to draw on (default: a new figure).
            reference: draw a vertical dashed line at this value (e.g. the fp32 floor in ms).
            reference_label: legend text of that line.

        Returns:
            The matplotlib Figure.
        """
        label = label or self.columns[0]
        values = self.column(value)
        names = [str(v) for v in self.column(label)]
        if not values or any(not isinstance(v, (int, float, np.number)) for v in values):
            raise InputError(f"column {value!r} must hold a number in every row to be plotted.")
        if ax is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(6, 0.45 * len(values) + 1.2), layout="constrained")
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        y = np.arange(len(values))
        ax.barh(y, values, color="tab:blue")
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlabel(value)
        if reference is not None:
            ax.axvline(reference, color="tab:red", linestyle="--", label=reference_label)
            ax.legend(loc="lower right")
        if self.title:
            ax.set_title(self.title)
        return fig


def compare_backends(model: torch.nn.Module, x: torch.Tensor, backends: Sequence[str] = ("eager", "auto"), *,
                     threads: int | None = None, warmup: int = 1, repeats: int = 5) -> ResultsTable:
    """Time each backend on one input and measure its agreement with eager fp32.

    Args:
        model: a :class:`~depthkit.model.MidasSmall`.
        x: (1, 3, h, w) float32 input (see :func:`depthkit.prepare`).
        backends: names from :data:`depthkit.backends.BACKENDS` (or ``"auto"``); eager fp32 is always the reference.
        threads: torch / runtime CPU threads (``None``: torch's current setting).
        warmup: untimed calls before the timed ones (see :func:`time_call`); the first call of an exported
            backend (export, compilation) happens before the warm-up and is not timed.
        repeats: timed calls per backend; the median is reported.

    Returns:
        :class:`ResultsTable` with columns backend, median ms, min ms, speed-up vs eager, pearson r, max rel err
        (one row per backend, in the given order; "auto" shows the backend it chose).
    """
    from .backend_choice import resolve_backend
    from .backends import agreement, get_runner
    from .model import check_input

    check_input(x)
    names = list(dict.fromkeys(resolve_backend(model, b) for b in backends))
    table = ResultsTable(["backend", "median ms", "min ms", "speed-up vs eager", "pearson r", "max rel err"],
                         title=f"Backends at {x.shape[-1]}x{x.shape[-2]}")
    shape = tuple(x.shape)
    with num_threads(threads):
        timings, reference = {}, None
        for name in dict.fromkeys(["eager", *names]):  # eager first: the reference every backend is compared with
            run = get_runner(model, name, shape, threads=threads)
            out = run(x).numpy()  # builds / compiles on first use: not timed
            reference = out if reference is None else reference
            timings[name] = (time_call(run, x, warmup=warmup, repeats=repeats), agreement(out, reference))
    eager_ms = timings["eager"][0].median_ms
    for name in names:
        t, a = timings[name]
        table.add(backend=name, **{"median ms": t.median_ms, "min ms": t.min * 1e3,
                                   "speed-up vs eager": eager_ms / t.median_ms, "pearson r": a.pearson_r,
                                   "max rel err": a.max_rel_err})
    return table


# ------------------------------------------------------------------------------------- several networks, one table
#: What :func:`compare_models` can measure as memory (see its docstring).
MEMORY_MEASURES = ("forward", "process", "none")

#: The child process of ``memory="process"``: load one model, run one backend twice (filled in with repr() values).
_MODEL_PEAK_CODE = """
import sys, warnings
sys.path[:0] = {paths!r}
import torch
import depthkit as dk
from depthkit.backends import get_runner
torch.set_num_threads({threads})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = dk.load_model({weights!r}, model={name!r}, seed={seed})
x = torch.zeros(1, 3, {h}, {w})
run = get_runner(model, {backend!r}, tuple(x.shape), threads={threads})
run(x)
run(x)
"""


@functools.cache
def _model_cost(name: str) -> tuple[int, int]:
    """(parameters, FLOPs of one forward at the native input) of a registry model, built on the meta device."""
    import torch

    from .model_registry import get_spec

    spec = get_spec(name)
    with torch.device("meta"):
        net = spec.build()
    w, h = spec.native_size
    return sum(p.numel() for p in net.parameters()), count_flops(net, torch.zeros(1, 3, h, w, device="meta"))


def _status_kib(key: str) -> float:
    with open("/proc/self/status") as f:
        return float(next(line.split()[1] for line in f if line.startswith(key + ":")))


def _rss_rise_mb(fn: Callable[..., Any], *args: Any) -> float | None:
    """Run ``fn(*args)``; the rise of this process's peak resident memory over its level before, in MB.

    Linux only (``None`` elsewhere): writing 5 to ``/proc/self/clear_refs`` resets the high-water mark ``VmHWM``
    to the current ``VmRSS`` (so :func:`peak_rss_mb` afterwards reports the peak since then). Memory the allocator
    already holds from earlier work is reused without a rise, so this is a lower bound of the call's working memory.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_kib("VmRSS")
    except (OSError, StopIteration):
        fn(*args)
        return None
    fn(*args)
    return (_status_kib("VmHWM") - before) * 1024.0 / 1e6


def _process_peak_mb(model: nn.Module, backend: str, shape: tuple[int, ...], threads: int) -> float | str:
    """Peak resident memory (MB) of a fresh process that loads the same weights and runs ``backend`` twice."""
    from .model_registry import spec_for

    info = model.weights_info
    weights = info.path if info.kind == "file" else info.kind
    code = _MODEL_PEAK_CODE.format(paths=[os.path.dirname(os.path.dirname(os.path.abspath(__file__)))],
                                   threads=threads, weights=weights, name=spec_for(model).name, seed=info.seed or 0,
                                   h=shape[2], w=shape[3], backend=backend)
    rc, mb, out = peak_rss_of(code)
    return mb if rc == 0 else f"failed: {out.strip().splitlines()[-1] if out.strip() else rc}"


def _time_backend(model: nn.Module, backend: str, shape: tuple[int, ...], threads: Sequence[int], warmup: int,
                  repeats: int, rise: bool) -> tuple[list[float], float | None]:
    """Median ms per thread count and the forward's memory rise (MB, at the last thread count, if ``rise``)."""
    import torch

    from .backends import get_runner

    x = torch.zeros(shape).uniform_(-2, 2, generator=torch.Generator().manual_seed(0))
    medians, mb = [], None
    for i, t in enumerate(threads):
        with num_threads(t):
            run = get_runner(model, backend, shape, threads=t)
            if rise and i == len(threads) - 1:
                mb = _rss_rise_mb(run, x)  # the first call (export / compilation) is never timed
            else:
                run(x)
            medians.append(time_call(run, x, warmup=max(warmup - 1, 0), repeats=repeats).median_ms)
    return medians, mb


def _accuracy(model: nn.Module, image: np.ndarray, gt_depth: np.ndarray) -> dict[str, Any]:
    """AbsRel and delta > 1.25 (%) of eager fp32 on one photo, aligned in disparity space; blanks without weights."""
    from .inference import estimate_depth
    from .metrics import evaluate

    if not model.weights_info.pretrained:
        return {"AbsRel": "needs weights", "δ>1.25 (%)": "needs weights"}
    scores = evaluate(estimate_depth(image, model, backend="eager").inverse_depth, gt_depth)
    return {"AbsRel": scores["abs_rel"], "δ>1.25 (%)": scores["bad_1_25"]}


def _model_columns(threads: Sequence[int], auto: bool, memory: str, accuracy: bool) -> list[str]:
    top = threads[-1]
    memory_columns = {"forward": [f"forward RSS rise MB ({top} thr)"],
                      "process": [f"peak RSS MB, eager ({top} thr)", *([f"peak RSS MB, auto ({top} thr)"] * auto)],
                      "none": []}[memory]
    return ["model", "input", "params (M)", "weights MB", "GFLOP", *(f"eager ms ({t} thr)" for t in threads),
            *(["auto", *(f"auto ms ({t} thr)" for t in threads)] if auto else []), *memory_columns,
            *(["AbsRel", "δ>1.25 (%)"] if accuracy else [])]


def _weights_note(title: str, info: Any) -> str:
    if info.pretrained:
        return f"{title}: {info.label}."
    return f"{title}: random weights (seed {info.seed}), no checkpoint installed: cost only, no accuracy."



def _memory_cells(model: nn.Module, memory: str, rise: float | None, best: str | None, shape: tuple[int, ...],
                  threads: int) -> dict[str, Any]:
    if memory == "forward":
        return {f"forward RSS rise MB ({threads} thr)": "n/a (Linux only)" if rise is None else rise}
    if memory == "none":
        return {}
    eager = _process_peak_mb(model, "eager", shape, threads)
    cells = {f"peak RSS MB, eager ({threads} thr)": eager}
    if best is not None:
        cells[f"peak RSS MB, auto ({threads} thr)"] = eager if best == "eager" else _process_peak_mb(
            model, best, shape, threads)
    return cells


def _model_row(name: str, model: nn.Module, threads: list[int], warmup: int, repeats: int, auto: bool,
               memory: str) -> dict[str, Any]:
    """One row of :func:`compare_models` without the accuracy columns."""
    from .backend_choice import resolve_backend
    from .model_registry import get_spec, spec_for

    spec = get_spec(name)
    if spec_for(model) is not spec:
        raise InputError(f"the network given for {name!r} is a {type(model).__name__}, not {spec.title}; pass "
                         "networks under their registry names (depthkit.model_registry.MODELS).")
    (w, h), (params, flops) = spec.native_size, _model_cost(name)
    shape = (1, 3, h, w)
    row = {"model": spec.title, "input": f"{w}x{h}", "params (M)": params / 1e6, "weights MB": params * 4 / 1e6,
           "GFLOP": flops / 1e9}
    eager, rise = _time_backend(model, "eager", shape, threads, warmup, repeats, memory == "forward")
    row.update({f"eager ms ({t} thr)": ms for t, ms in zip(threads, eager, strict=True)})
    best = None
    if auto:
        best = resolve_backend(model, "auto")
        best_ms = eager if best == "eager" else _time_backend(model, best, shape, threads, warmup, repeats, False)[0]
        row.update({"auto": best, **{f"auto ms ({t} thr)": ms for t, ms in zip(threads, best_ms, strict=True)}})
    row.update(_memory_cells(model, memory, rise, best, shape, threads[-1]))
    return row


def compare_models(models: Sequence[str] | Mapping[str, nn.Module] = ("midas_small", "dpt_hybrid",
                                                                      "depth_anything_v2_small"), *,
                   weights: str = "auto", threads: int | Sequence[int] = 1, warmup: int = 1, repeats: int = 2,
                   auto: bool = True, memory: str = "forward", image: np.ndarray | None = None,
                   gt_depth: np.ndarray | None = None) -> ResultsTable:
    """Cost (and, with weights, accuracy) of several depth networks at their native inputs, one row per model.

    * **params (M)**, **weights MB** (the parameters as float32, 4 bytes each; 1 MB = 1e6 bytes) and **GFLOP** of
      one forward at the model's native input (:func:`count_flops`), from a network built on the meta device;
    * **eager ms**: median forward time in ms with ``backend="eager"`` (fp32 PyTorch), (1, 3, h, w) input, per
      thread count; with ``auto``, the backend ``"auto"`` chooses (eager for the transformer models, then not
      timed twice) and its median;
    * memory: ``"forward"``, how much this process's peak resident memory rose during the first eager forward
      (Linux; a lower bound: memory the allocator already held is reused without a rise); ``"process"``, the peak
      resident memory of a fresh process that loads the same weights and runs two forwards (:func:`peak_rss_of`;
      interpreter and torch included; seconds per model and backend); ``"none"``;
    * with ``image`` and ``gt_depth``: **AbsRel** and **δ>1.25 (%)** of eager fp32 after the disparity-space
      alignment of :func:`depthkit.metrics.evaluate`, for trained weights; ``"needs weights"`` for random ones.

    Args:
        models: registry names (loaded with ``weights``, the random-weights warning silenced: the notes name the
            weights), or a mapping registry name -> network from :func:`depthkit.load_model`.
        weights: for names: ``"auto"``, ``"pretrained"``, ``"random"`` or a path (see :mod:`depthkit.weights`).
        threads: CPU thread count(s); memory is measured at the last one.
        warmup: untimed calls before the timed ones, per backend and thread count; the first (one always runs)
            builds the runner (export, compilation) and is the forward whose memory ``"forward"`` measures.
        repeats: timed calls (see :func:`time_call`).
        auto: also time the backend ``"auto"`` chooses.
        memory: one of :data:`MEMORY_MEASURES`.
        image: (H, W, 3) uint8 photo for the accuracy columns; ``gt_depth``: its (H, W) depth in metres (inf,
            NaN or <= 0 where unknown). Both or neither.

    Returns:
        :class:`ResultsTable`: ``model, input, params (M), weights MB, GFLOP``, ``eager ms (T thr)`` per thread
        count, with ``auto`` then ``auto, auto ms (T thr)``, the memory column(s), and ``AbsRel, δ>1.25 (%)``
        with ground truth; one note per model naming its weights.
    """
    from .checks import check_choice
    from .weights import load_model

    check_choice(memory, "memory", MEMORY_MEASURES)
    threads = [check_int(t, "threads", minimum=1) for t in ([threads] if isinstance(threads, int) else threads)]
    if not threads or (image is None) != (gt_depth is None):
        raise InputError("compare_models needs at least one thread count, and image and gt_depth together or not "
                         "at all.")
    if not isinstance(models, Mapping):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models = {name: load_model(weights, model=name) for name in models}
    table = ResultsTable(_model_columns(threads, auto, memory, image is not None),
                         title="Depth networks at their native inputs (one forward pass, CPU)")
    for name, model in models.items():
        row = _model_row(name, model, threads, warmup, repeats, auto, memory)
        if image is not None:
            row.update(_accuracy(model, image, gt_depth))
        table.add(**row)
        table.notes.append(_weights_note(row["model"], model.weights_info))
    return table
