"""``backend="auto"``: measure the installed backends once per machine and weights, and use the fastest that agrees.

The right backend depends on the CPU (AMX and AVX-512-BF16 make bf16 fast; VNNI and AMX-INT8 make int8 fast;
an AVX2-only CPU has neither) and, for reduced precision, on the weights (a trained network survives int8, a
random one does not). So nothing is assumed. The first time ``"auto"`` meets a network, :func:`choose_backend`:

1. times eager fp32 and each installed accelerated backend (:data:`depthkit.backends.ACCELERATED`) at 256x256,
   in turns (:func:`depthkit.runtime.time_interleaved`), median of 7 rounds after 2 warm-up rounds. Speed does
   not depend on the weights' values, so this is done once per machine and library versions;
2. from the fastest down, measures each faster-than-eager candidate's **agreement** with eager fp32 for *these*
   weights on every bundled photo at its own network input size (lowest Pearson r and largest max relative error
   after scale-and-shift alignment, :func:`depthkit.backends.agreement`);
3. chooses the first whose r reaches :data:`AGREEMENT_GATE` (0.99), else eager. bf16 is a candidate only on
   CPUs with bf16 hardware; ``"compile"`` never is (it compiles for minutes). A backend below the gate stays
   available by name, labelled *experimental* in the table, but is never chosen.

The choice is saved in the cache folder of :mod:`depthkit.artifact_cache` (``backend-choice.json``), keyed by what
it depends on: the model name, the weights' SHA-256, the CPU's features (model name, AVX2, AVX-512, VNNI, BF16,
AMX) and the library versions. The thread count the speeds were measured at is recorded but is not part of the
key: on the machines measured the order of the backends was the same at 1 and 2 threads
(``docs/results/benchmarks.md``); ``refresh=True`` (``python -m depthkit backends --refresh``) measures again, e.g.
on a machine with many more cores. Later calls and later sessions read the choice back in microseconds.
``python -m depthkit backends`` prints the table and the choice.

The agreement is measured on the same bundled photos the int8 model was calibrated on (there is no held-out
photo), so for int8 it is an optimistic check.
Networks other than MiDaS_small, and machines without the ``fast`` extra, run ``"eager"`` without measuring.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .artifact_cache import cache_root, library_versions, read_json, weights_digest, write_json
from .backends import ACCELERATED, agreement, available_backends, check_backend, get_runner, has_bf16_hardware
from .runtime import cpu_features, time_interleaved

if TYPE_CHECKING:
    import torch

__all__ = ["AGREEMENT_GATE", "CHOICE_FILE", "BackendChoice", "BackendMeasurement", "candidates", "choose_backend",
           "measure_backends", "resolve_backend"]

#: Lowest Pearson r with eager fp32 (over every bundled photo) that ``"auto"`` accepts.
AGREEMENT_GATE = 0.99
#: File in the cache folder that keeps the choices, one entry per model, weights, CPU and library versions.
CHOICE_FILE = "backend-choice.json"
#: The input the backends are timed at: MiDaS_small's native 256x256.
TIMING_SHAPE = (1, 3, 256, 256)

#: choice key -> BackendChoice, for this process.
_CHOSEN: dict[str, BackendChoice] = {}


@dataclass(frozen=True)
class BackendMeasurement:
    """One backend's row of the table.

    Attributes:
        backend: its name.
        median_ms: median forward time at 256x256 in milliseconds (``nan`` if it failed).
        speedup: eager's median / this median (same run).
        pearson_r: lowest Pearson r with eager fp32 over the bundled photos.
        max_rel_err: largest max relative error after scale-and-shift alignment over the photos.
        status: ``"reference"`` (eager), ``"verified"`` (r >= the gate), ``"experimental"`` (below the gate),
            ``"not a candidate"`` (e.g. bf16 without bf16 hardware) or ``"failed"``.
        note: why, in a few words ("" when nothing to add).
    """

    backend: str
    median_ms: float
    speedup: float
    pearson_r: float
    max_rel_err: float
    status: str
    note: str = ""


@dataclass(frozen=True)
class BackendChoice:
    """What ``"auto"`` chose, and the measurements it chose from.

    Attributes:
        backend: the chosen backend.
        rows: one :class:`BackendMeasurement` per backend measured (eager first).
        cpu: the CPU's features (:func:`depthkit.runtime.cpu_features` as a dict).
        threads: CPU threads the timings used.
        weights_sha256: :func:`depthkit.artifact_cache.weights_digest` of the network.
        versions: library versions (:func:`depthkit.artifact_cache.library_versions`).
        measured: ISO date and time of the measurement.
        from_cache: True when read back from the cache file instead of measured in this call.
    """

    backend: str
    rows: tuple[BackendMeasurement, ...]
    cpu: dict
    threads: int
    weights_sha256: str
    versions: dict
    measured: str
    from_cache: bool = False

    def to_markdown(self) -> str:
        """The table (one row per backend) and the choice, as Markdown."""
        lines = ["| backend | median ms (256x256) | speed-up vs eager | min Pearson r | max rel err | status |",
                 "|---|---:|---:|---:|---:|---|"]
        def cell(value: float, digits: int) -> str:
            return "–" if value != value else f"{value:.{digits}f}"  # nan: not measured

        for r in self.rows:
            status = r.status + (f" ({r.note})" if r.note else "")
            lines.append(f"| {r.backend} | {cell(r.median_ms, 1)} | {cell(r.speedup, 2)} | {cell(r.pearson_r, 4)} | "
                         f"{cell(r.max_rel_err, 4)} | {status} |")
        features = ", ".join(k for k in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8",
                                         "amx_bf16") if self.cpu.get(k)) or "none of AVX2/AVX-512/VNNI/AMX"
        return "\n".join([*lines, "", f"Chosen: **{self.backend}** (fastest with r >= {AGREEMENT_GATE}); CPU: "
                          f"{self.cpu.get('model_name', '?')} ({features}); {self.threads} thread(s); measured "
                          f"{self.measured}{', read from the cache' if self.from_cache else ''}."])

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def candidates() -> list[str]:
    """The accelerated backends installed here that ``"auto"`` may choose (bf16 only with bf16 hardware)."""
    installed = set(available_backends())
    return [b for b in ACCELERATED if b in installed and (b != "bf16" or has_bf16_hardware())]


class _Agreement:
    """Agreement with eager fp32 over the bundled photos; the eager references are computed once."""

    def __init__(self, model: torch.nn.Module) -> None:
        import torch

        from .quantization import calibration_inputs

        self.model = model
        self.inputs = [torch.from_numpy(x) for x in calibration_inputs()]
        self.refs = [get_runner(model, "eager", tuple(x.shape))(x).numpy() for x in self.inputs]

    def __call__(self, backend: str) -> tuple[float, float]:
        """(lowest Pearson r, largest max relative error) of ``backend`` over the photos; r is 0 (never
        chosen) when the backend fails on one of them or gives NaN or inf."""
        worst_r, worst_err = 1.0, 0.0
        for x, ref in zip(self.inputs, self.refs, strict=True):
            try:
                a = agreement(get_runner(self.model, backend, tuple(x.shape))(x).numpy(), ref)
            except Exception:  # noqa: BLE001 - a failure at another input size, or NaN output: disqualified
                return 0.0, float("inf")
            worst_r, worst_err = min(worst_r, a.pearson_r), max(worst_err, a.max_rel_err)
        return worst_r, worst_err


def _status(backend: str, r: float, slower_than_eager: bool = False) -> tuple[str, str]:
    if backend == "eager":
        return "reference", "plain fp32 PyTorch"
    if r != r:  # nan: not measured
        return "not checked", "slower than eager here" if slower_than_eager else "a faster backend passed first"
    if backend == "bf16" and not has_bf16_hardware():
        return "not a candidate", "no bf16 hardware: OpenVINO computes fp32"
    if r >= AGREEMENT_GATE:
        return "verified", ""
    return "experimental", f"r below {AGREEMENT_GATE}: never chosen automatically"


def _timings(model: torch.nn.Module, names: list[str], repeats: int, warmup: int) -> dict[str, float]:
    """Median ms at 256x256 per backend, timed in turns (:func:`~depthkit.runtime.time_interleaved`)."""
    import torch

    x = torch.zeros(TIMING_SHAPE).uniform_(-2, 2, generator=torch.Generator().manual_seed(0))
    runners = {name: get_runner(model, name, TIMING_SHAPE) for name in names}
    return {name: t.median_ms for name, t in time_interleaved(runners, x, warmup=warmup, repeats=repeats).items()}


def _failed(name: str, error: Exception) -> BackendMeasurement:
    nan = float("nan")
    return BackendMeasurement(name, nan, nan, nan, nan, "failed", str(error).splitlines()[0][:120])


def _rows(speeds: dict[str, float], agree: dict[str, tuple[float, float]],
          failed: list[BackendMeasurement]) -> list[BackendMeasurement]:
    nan = float("nan")
    rows = []
    for name, ms in speeds.items():
        r, err = (1.0, 0.0) if name == "eager" else agree.get(name, (nan, nan))
        status, note = _status(name, r, ms >= speeds["eager"])
        rows.append(BackendMeasurement(name, ms, speeds["eager"] / ms, r, err, status, note))
    return rows + failed


def _build_all(model: torch.nn.Module, names: list[str]) -> tuple[list[str], list[BackendMeasurement]]:
    """Build each backend's 256x256 runner (export, quantisation, compilation); those that fail become rows."""
    ok, failed = [], []
    for name in names:
        try:
            check_backend(name)
            get_runner(model, name, TIMING_SHAPE)
        except Exception as e:  # noqa: BLE001 - any engine's failure (NNCF, OpenVINO, ORT) must not stop "auto"
            failed.append(_failed(name, e))
            continue
        ok.append(name)
    return ok, failed


def measure_backends(model: torch.nn.Module, backends: list[str] | None = None, *, repeats: int = 7,
                     warmup: int = 2) -> list[BackendMeasurement]:
    """Agreement (every bundled photo) and speed (256x256, timed in turns) of eager fp32 and each backend.

    Args:
        model: a MiDaS_small network.
        backends: backend names to measure (default: every installed accelerated backend); eager is always first.
        repeats: timed rounds (the median is reported).
        warmup: untimed rounds before them.

    Returns:
        One :class:`BackendMeasurement` per backend, eager first, then failures.
    """
    wanted = backends if backends is not None else [b for b in ACCELERATED if b in available_backends()]
    names, failed = _build_all(model, ["eager", *(b for b in wanted if b != "eager")])
    agree_with = _Agreement(model)
    agree = {name: agree_with(name) for name in names if name != "eager"}
    return _rows(_timings(model, names, repeats, warmup), agree, failed)


def _key(*parts: Any) -> str:
    return json.dumps([*parts, dataclasses.asdict(cpu_features()), library_versions()], sort_keys=True)


def _from_json(data: dict) -> BackendChoice:
    rows = tuple(BackendMeasurement(**r) for r in data["rows"])
    return BackendChoice(data["backend"], rows, data["cpu"], data["threads"], data["weights_sha256"],
                         data["versions"], data["measured"], from_cache=True)


def _cached_speeds(model: torch.nn.Module, stored: dict) -> tuple[dict[str, float], int, list[BackendMeasurement]]:
    """Speeds of eager and the candidates on this machine: measured once (they do not depend on weight values)."""
    import torch

    key = "speeds " + _key("midas_small", sorted(candidates()))
    if key in stored:
        return stored[key]["ms"], stored[key]["threads"], []
    names, failed = _build_all(model, ["eager", *candidates()])
    speeds = _timings(model, names, repeats=7, warmup=2)
    if not failed:  # a failure may be passing (these weights, a full disk): measure again next time
        stored[key] = {"ms": speeds, "threads": torch.get_num_threads()}
    return speeds, torch.get_num_threads(), failed


def _choose(model: torch.nn.Module, stored: dict) -> BackendChoice:
    """Try the candidates from the fastest down; the first that agrees with fp32 (r >= the gate) is chosen."""
    speeds, threads, failed = _cached_speeds(model, stored)
    agree_with, agree, chosen = None, {}, "eager"
    for name in sorted((n for n in speeds if n != "eager" and speeds[n] < speeds["eager"]), key=speeds.get):
        agree_with = agree_with or _Agreement(model)
        agree[name] = agree_with(name)
        if agree[name][0] >= AGREEMENT_GATE:
            chosen = name
            break
    return BackendChoice(chosen, tuple(_rows(speeds, agree, failed)), dataclasses.asdict(cpu_features()),
                         threads, weights_digest(model), library_versions(),
                         datetime.datetime.now().isoformat(timespec="seconds"))


def choose_backend(model: torch.nn.Module, *, refresh: bool = False, quiet: bool = False) -> BackendChoice:
    """The fastest verified backend for ``model`` on this machine: read from the cache, or measured once.

    The speeds of the backends are measured once per machine and library versions (they do not depend on the
    weights' values); agreement is measured per weights, fastest candidate first, until one reaches
    :data:`AGREEMENT_GATE`.

    Args:
        model: a MiDaS_small network (e.g. from :func:`depthkit.load_model`).
        refresh: measure again (speeds too) even if a choice is cached.
        quiet: do not print the one-line message before measuring.

    Returns:
        A :class:`BackendChoice` (``.backend`` is the name; ``.to_markdown()`` the table).
    """
    key = _key("midas_small", weights_digest(model))
    if not refresh and key in _CHOSEN:
        return _CHOSEN[key]
    path = cache_root() / CHOICE_FILE
    stored = read_json(path)
    if not refresh and key in stored:
        try:
            _CHOSEN[key] = _from_json(stored[key])
            return _CHOSEN[key]
        except (KeyError, TypeError):  # an entry from another version of this file: measure again
            pass
    if refresh:
        stored = {k: v for k, v in stored.items() if not k.startswith("speeds ")}
    if not quiet:
        print("Choosing the fastest backend that agrees with fp32 for these weights (once per machine and weights; "
              "up to a minute the first time) ...", flush=True)
    t0 = time.perf_counter()
    choice = _choose(model, stored)
    latest = read_json(path)  # another process may have added entries meanwhile
    latest.update({k: v for k, v in stored.items() if k.startswith("speeds ")})
    latest[key] = {**dataclasses.asdict(choice), "seconds": round(time.perf_counter() - t0, 1)}
    latest[key].pop("from_cache")
    write_json(path, latest)
    _CHOSEN[key] = choice
    return choice


def resolve_backend(model: Any, backend: str = "auto") -> str:
    """The concrete backend ``model`` runs with: a checked name as it is, or what ``"auto"`` means for it.

    ``"auto"`` is ``"eager"`` for networks other than MiDaS_small and when no accelerated backend is installed;
    otherwise it is :func:`choose_backend`'s choice.

    Example:
        >>> import depthkit as dk
        >>> resolve_backend(dk.load_model("random"), "eager")
        'eager'
    """
    from .model import MidasSmall

    backend = check_backend(backend)
    if backend != "auto":
        return backend
    if not isinstance(model, MidasSmall) or not candidates():
        return "eager"
    return choose_backend(model).backend
