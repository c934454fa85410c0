"""The machine depthkit runs on: CPU threads, CPU features, and a honest wall-clock timer.

This is the bottom of depthkit (it imports only :mod:`depthkit.errors` and :mod:`depthkit.checks`), so every other
module may use it.

* :func:`num_threads` sets torch's CPU thread count for a ``with`` block and restores it afterwards.
* :func:`cpu_features` reports what the CPU can do (AVX2, AVX-512, VNNI, bf16, AMX), read from the flags the
  kernel lists in ``/proc/cpuinfo``; where that file is missing it falls back to what torch detected
  (``torch.backends.cpu.get_cpu_capability()``), and a feature neither source can tell is reported as ``None``
  (unknown), never guessed. CPUs differ between machines and even between runs on a cloud: detect, do not assume.
* :func:`time_call` times a function the careful way: untimed warm-up calls first, then the median of several
  timed repeats (wall-clock :func:`time.perf_counter`, seconds).
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from .checks import check_int, check_positive_int
from .errors import InputError

__all__ = ["CpuFeatures", "Timing", "cpu_features", "num_threads", "parse_cpuinfo", "time_call", "time_interleaved"]


# ------------------------------------------------------------------------------------------------- threads
@contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """Set ``torch.set_num_threads(threads)`` inside a ``with`` block and restore the previous count after it.

    Args:
        threads: CPU threads torch may use (>= 1), or ``None`` to leave torch's setting as it is.

    Raises:
        InputError: ``threads`` is not a positive integer.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with num_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    if threads is None:
        yield
        return
    n = check_positive_int(threads, "threads", hint="use e.g. threads=1, or None to keep torch's setting")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -------------------------------------------------------------------------------------------- CPU features
#: CpuFeatures field -> the flag Linux lists for it in /proc/cpuinfo.
_CPUINFO_FLAGS = {
    "avx2": "avx2",
    "avx512f": "avx512f",
    "avx512_vnni": "avx512_vnni",
    "avx512_bf16": "avx512_bf16",
    "amx_tile": "amx_tile",
    "amx_int8": "amx_int8",
    "amx_bf16": "amx_bf16",
}


@dataclass(frozen=True)
class CpuFeatures:
    """What the CPU offers for neural-network inference. ``None`` means "could not be detected", not "absent".

    Attributes:
        model_name: the CPU's name as the system reports it (``"unknown"`` if it does not).
        avx2: 256-bit vector instructions (every x86 CPU of the last decade).
        avx512f: the 512-bit AVX-512 foundation.
        avx512_vnni: AVX-512 int8 dot products (fast int8 inference).
        avx512_bf16: AVX-512 bfloat16 dot products (bf16 inference without emulation).
        amx_tile: Intel AMX tile registers (matrix units).
        amx_int8: AMX int8 matrix products.
        amx_bf16: AMX bfloat16 matrix products.
        torch_capability: the vector ISA torch's kernels were dispatched to (e.g. ``"AVX512"``), or ``None``.
        source: where the flags came from: ``"/proc/cpuinfo"``, ``"torch"`` or ``"none"``.
        logical_cores: logical CPUs the OS reports (``os.cpu_count()``; 0 if unknown).
    """

    model_name: str
    avx2: bool | None = None
    avx512f: bool | None = None
    avx512_vnni: bool | None = None
    avx512_bf16: bool | None = None
    amx_tile: bool | None = None
    amx_int8: bool | None = None
    amx_bf16: bool | None = None
    torch_capability: str | None = None
    source: str = "none"
    logical_cores: int = 0

    @property
    def fast_bf16(self) -> bool | None:
        """True when bf16 runs in hardware (AVX-512-BF16 or AMX-BF16), False when emulated, None when unknown."""
        if self.avx512_bf16 or self.amx_bf16:
            return True
        if self.avx512_bf16 is None or self.amx_bf16 is None:
            return None
        return False

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON, tables and ``doctor`` output)."""
        return asdict(self)

    def summary(self) -> str:
        """One line, e.g. ``"Intel(R) Xeon(R): AVX2 yes, AVX-512F yes, ..., AMX-INT8 no (from /proc/cpuinfo)"``."""

        def word(v: bool | None) -> str:
            return "unknown" if v is None else ("yes" if v else "no")

        names = {"avx2": "AVX2", "avx512f": "AVX-512F", "avx512_vnni": "AVX512-VNNI", "avx512_bf16": "AVX512-BF16",
                 "amx_tile": "AMX-TILE", "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16"}
        parts = ", ".join(f"{label} {word(getattr(self, field))}" for field, label in names.items())
        return f"{self.model_name}: {parts} (from {self.source})"


def parse_cpuinfo(text: str) -> CpuFeatures:
    """Read the CPU name and feature flags from the text of ``/proc/cpuinfo`` (first processor entry).

    Args:
        text: the file's content.

    Returns:
        :class:`CpuFeatures` with ``source="/proc/cpuinfo"``; every feature is True or False when a ``flags`` line
        exists, else ``None`` (e.g. on ARM, whose ``Features`` line lists no x86 flags).

    Example:
        >>> f = parse_cpuinfo("model name\\t: Demo CPU\\nflags\\t\\t: fpu sse2 avx2 avx512f\\n")
        >>> f.model_name, f.avx2, f.avx512f, f.avx512_vnni, f.amx_tile
        ('Demo CPU', True, True, False, False)
    """
    if not isinstance(text, str):
        raise InputError(f"parse_cpuinfo needs the text of /proc/cpuinfo, got {type(text).__name__}.")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key not in fields:
            fields[key] = value.strip()
    name = fields.get("model name") or fields.get("hardware") or fields.get("cpu model") or "unknown"
    flags = set(fields["flags"].split()) if "flags" in fields else None
    found = {f: (None if flags is None else flag in flags) for f, flag in _CPUINFO_FLAGS.items()}
    return CpuFeatures(model_name=name, source="/proc/cpuinfo", logical_cores=os.cpu_count() or 0, **found)


def _torch_capability() -> str | None:
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except (ImportError, AttributeError, RuntimeError):  # pragma: no cover - torch without the query
        return None


def _from_torch(capability: str | None) -> CpuFeatures:
    """What torch's dispatch level proves: AVX512 implies AVX2 and AVX-512F; nothing about VNNI, bf16 or AMX."""
    cap = (capability or "").upper()
    avx512 = True if cap.startswith("AVX512") else (False if cap in ("AVX2", "DEFAULT") else None)
    avx2 = True if cap.startswith(("AVX2", "AVX512")) else (False if cap == "DEFAULT" else None)
    import platform

    return CpuFeatures(model_name=platform.processor() or "unknown", avx2=avx2, avx512f=avx512,
                       torch_capability=capability, source="torch" if capability else "none",
                       logical_cores=os.cpu_count() or 0)


@functools.lru_cache(maxsize=1)
def cpu_features(cpuinfo: str = "/proc/cpuinfo") -> CpuFeatures:
    """The features of this machine's CPU, detected once per process.

    Args:
        cpuinfo: the file to read the kernel's flags from (Linux); when it cannot be read, torch's detected
            capability is used instead.

    Returns:
        :class:`CpuFeatures`; features that neither source reveals are ``None``.

    Example:
        >>> f = cpu_features()
        >>> f.source in ("/proc/cpuinfo", "torch", "none"), isinstance(f.summary(), str)
        (True, True)
    """
    capability = _torch_capability()
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 20)  # the first processor entry is near the top; never read without bound
    except OSError:
        return _from_torch(capability)
    features = parse_cpuinfo(text)
    if features.avx2 is None:  # no x86 flags line: fall back to torch's view, keep the name
        fallback = _from_torch(capability)
        return CpuFeatures(**{**fallback.as_dict(), "model_name": features.model_name})
    return CpuFeatures(**{**features.as_dict(), "torch_capability": capability})


# -------------------------------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated calls, in seconds.

    Attributes:
        times: the timed repeats in seconds (warm-up runs excluded), in the order they ran.
        warmup: how many untimed warm-up calls preceded them.

    Example:
        >>> t = Timing((0.3, 0.1, 0.2))
        >>> t.median, t.min, t.max, round(t.median_ms)
        (0.2, 0.1, 0.3, 200)
    """

    times: tuple[float, ...]
    warmup: int = 0

    def __post_init__(self) -> None:
        if len(self.times) == 0:
            raise InputError("Timing needs at least one measured time; use repeats >= 1.")

    @property
    def median(self) -> float:
        """Median time in seconds (the number to report)."""
        return float(statistics.median(self.times))

    @property
    def min(self) -> float:
        """Fastest time in seconds."""
        return float(min(self.times))

    @property
    def max(self) -> float:
        """Slowest time in seconds."""
        return float(max(self.times))

    @property
    def median_ms(self) -> float:
        """Median time in milliseconds."""
        return self.median * 1e3

    @property
    def n(self) -> int:
        """Number of timed repeats."""
        return len(self.times)

    def __str__(self) -> str:
        return (f"median {self.median * 1e3:.1f} ms (min {self.min * 1e3:.1f}, max {self.max * 1e3:.1f}, "
                f"{self.n} runs after {self.warmup} warm-up)")


def time_call(fn: Callable[..., Any], *args: Any, warmup: int = 2, repeats: int = 10, budget_s: float | None = None,
              **kwargs: Any) -> Timing:
    """Time ``fn(*args, **kwargs)``: ``warmup`` untimed calls, then ``repeats`` timed calls.

    Args:
        fn: the callable to time.
        *args: passed to ``fn`` on every call.
        warmup: untimed calls first (>= 0); their cost (allocation, lazy set-up) is not what you want to measure.
        repeats: timed calls (>= 1); report the median.
        budget_s: optional time budget in seconds: stop repeating once the timed calls took longer than this
            (after at least 3 of them, or all of ``repeats`` if fewer), so slow cases keep a benchmark short.
        **kwargs: passed to ``fn`` on every call.

    Returns:
        :class:`Timing` with up to ``repeats`` times in seconds.

    Example:
        >>> t = time_call(sum, range(1000), warmup=1, repeats=5)
        >>> t.n, t.warmup, t.min <= t.median <= t.max
        (5, 1, True)
    """
    if not callable(fn):
        raise InputError(f"time_call needs a callable, got {type(fn).__name__}; pass the function, not its result.")
    warmup = check_int(warmup, "warmup", minimum=0)
    repeats = check_int(repeats, "repeats", minimum=1)
    for _ in range(warmup):
        fn(*args, **kwargs)
    times: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
        if budget_s is not None and len(times) >= min(3, repeats) and sum(times) > budget_s:
            break
    return Timing(tuple(times), warmup)


def time_interleaved(fns: dict[str, Callable[..., Any]], *args: Any, warmup: int = 2, repeats: int = 7,
                     **kwargs: Any) -> dict[str, Timing]:
    """Time several callables on the same arguments in turns (round robin), so that they share the same conditions.

    One repeat runs every function once, in order. A burst of load from another program then slows each of them
    in some repeats instead of ruining one function's measurement, which makes ratios of their medians fair on a
    shared machine.

    Args:
        fns: name -> callable.
        *args: passed to every call.
        warmup: untimed rounds first (>= 0).
        repeats: timed rounds (>= 1).
        **kwargs: passed to every call.

    Returns:
        name -> :class:`Timing` (``repeats`` times each), in the order of ``fns``.

    Example:
        >>> t = time_interleaved({"short": sum, "long": sorted}, range(100), warmup=1, repeats=3)
        >>> list(t), t["short"].n
        (['short', 'long'], 3)
    """
    for name, fn in fns.items():
        if not callable(fn):
            raise InputError(f"time_interleaved needs callables, but {name!r} is a {type(fn).__name__} object; "
                             "pass the function, not its result.")
    warmup = check_int(warmup, "warmup", minimum=0)
    repeats = check_int(repeats, "repeats", minimum=1)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(warmup + repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(*args, **kwargs)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: Timing(tuple(t), warmup) for name, t in times.items()}
