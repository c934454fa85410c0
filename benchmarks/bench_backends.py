"""Backends x threads at 256x256: speed against eager fp32, agreement with it, and what backend="auto" chooses.

    python benchmarks/bench_backends.py [--weights auto|random|fitted|PATH] [--threads 1 2]
                                        [--backends onnx openvino bf16 int8] [--compile] [--repeats 7]

One table, all numbers from this run:

* per backend and thread count, the forward median at 256x256, timed **in turns** with eager fp32 and the other
  backends (``depthkit.runtime.time_interleaved``: a burst of load from another program hits every row alike),
  the speed-up over eager fp32 (same threads, same rounds) and the ratio to the fp32 matmul-speed reference
  (FLOPs / measured 2048² matmul GFLOP/s on those threads; a yardstick, not a bound);
* per backend, the agreement with eager fp32 over every bundled photo at its own network input size (lowest
  Pearson r, largest max relative error after least-squares scale and shift alignment), which is what
  ``backend="auto"`` gates on (r >= 0.99);
* the backend ``"auto"`` chooses for these weights (:func:`depthkit.backend_choice.choose_backend`, measured anew).

Two extra rows that are not backends: plain fp32 PyTorch in the contiguous (NCHW) memory format (``"eager"`` runs
in channels_last), and "eager + fixed same-padding" (timm's ``Conv2dSame`` replaced by constant padding).

``--weights fitted`` uses the test suite's trained checkpoint (``tests/trained_checkpoint.py``, fitted here in
about 25 s), because agreement of reduced precision depends on the weights: a random network quantises much worse
than a trained one. Offline, ``auto`` means the seeded random network. ``--compile`` adds torch.compile (its first
call compiles for minutes on 2 cores). Targets on 2 cores of a CPU with VNNI or AMX, all at r >= 0.99: int8 >= 3x
eager, bf16 >= 2x, the auto choice >= 2x.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _weights import CHOICES_HELP, load

#: Rows that are not backends: plain fp32 in the contiguous (NCHW) format, and eager on the fixed-padding copy.
VARIANTS = ("contiguous", "fixed")
VARIANT_NAMES = {"contiguous": "eager fp32, contiguous (NCHW) memory format",
                 "fixed": "eager + fixed same-padding"}
#: Speed-up targets over eager fp32 (2 cores, a CPU with VNNI or AMX), each at r >= 0.99.
TARGETS = {"int8": 3.0, "bf16": 2.0, "auto": 2.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="auto", help=CHOICES_HELP)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--backends", nargs="+", default=["onnx", "openvino", "bf16", "int8"])
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    p.add_argument("--repeats", type=int, default=7)
    return p.parse_args(argv)


def runner_for(model: Any, fixed: Any, name: str, threads: int) -> Callable:
    """``run(x)`` at 256x256 for a backend name or one of VARIANTS."""
    from depthkit import backends as B

    if name == "contiguous":
        return functools.partial(B.eager_forward, model, memory_format="contiguous")
    if name == "fixed":
        return functools.partial(B.eager_forward, fixed)
    return B.get_runner(model, name, (1, 3, 256, 256), threads=threads)


def timing_rows(args: argparse.Namespace, model: Any, names: list[str], agree: dict, flops: int,
                table: Any) -> dict:
    """One row per name and thread count, timed in turns; returns the speed-up of every backend per thread count."""
    import torch

    from depthkit.backends import static_same_padding
    from depthkit.bench import fp32_floor_seconds, matmul_gflops
    from depthkit.runtime import time_interleaved

    fixed = static_same_padding(model)
    x = torch.zeros(1, 3, 256, 256).uniform_(-2, 2, generator=torch.Generator().manual_seed(0))
    speedups = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        gflops = matmul_gflops(2048, threads=threads, repeats=3)
        floor = fp32_floor_seconds(flops, gflops)
        times = time_interleaved({n: runner_for(model, fixed, n, threads) for n in [*names, *VARIANTS]}, x,
                                 warmup=2, repeats=args.repeats)
        eager = times["eager"].median
        for name, t in times.items():
            r, err = agree.get(name, (float("nan"), float("nan")))
            speedups[(name, threads)] = eager / t.median
            target = TARGETS.get(name)
            table.add(backend=VARIANT_NAMES.get(name, name), threads=threads,
                      **{"median ms": t.median_ms, "speed-up vs eager": eager / t.median,
                         "x fp32 reference": t.median / floor, "min r (photos)": r, "max rel err (photos)": err,
                         "target": "" if target is None else f">= {target:g}x, r >= 0.99",
                         "met": "" if target is None else bool(eager / t.median >= target and r >= 0.99)})
        table.notes.append(f"{threads} thread(s): torch.mm {gflops:.0f} GFLOP/s -> fp32 matmul-speed reference "
                           f"{floor * 1e3:.1f} ms at 256x256 ({flops / 1e9:.2f} GFLOP).")
    return speedups


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    import torch

    import depthkit as dk
    from depthkit import backends as B
    from depthkit.backend_choice import choose_backend, measure_backends
    from depthkit.bench import BenchmarkRun, ResultsTable, count_flops

    run = BenchmarkRun()
    model = load(args.weights)
    wanted = [*args.backends, *(["compile"] if args.compile else [])]
    missing = [b for b in wanted if b not in B.available_backends()]
    names = ["eager", *(b for b in wanted if b not in missing and b != "eager")]
    measured = measure_backends(model, names[1:], repeats=3)  # agreement over the photos (and builds every runner)
    agree = {m.backend: (m.pearson_r, m.max_rel_err) for m in measured}
    failed = {m.backend for m in measured if m.status == "failed"}
    names = [n for n in names if n not in failed]
    choice = choose_backend(model, refresh=True, quiet=True)
    flops = count_flops(model, torch.zeros(1, 3, 256, 256))
    table = ResultsTable(["backend", "threads", "median ms", "speed-up vs eager", "x fp32 reference",
                          "min r (photos)", "max rel err (photos)", "target", "met"],
                         title="Backends at 256x256 (forward only), timed in turns")
    speedups = timing_rows(args, model, names, agree, flops, table)
    threads = max(args.threads)
    auto = speedups.get((choice.backend, threads), float("nan"))
    table.notes += [
        f"backend='auto' chooses **{choice.backend}** for these weights: {auto:.2f}x eager at {threads} thread(s) in "
        f"this table (target >= {TARGETS['auto']:g}x: {'met' if auto >= TARGETS['auto'] else 'not met'}).",
        f"Agreement over {len(dk.samples.list_samples())} photos ({', '.join(dk.samples.list_samples())}) at their "
        "network sizes, against eager fp32 with the same weights; max rel err = max |aligned - eager| / (max - min "
        "of eager).",
        *[f"{m.backend}: {m.note}" for m in measured if m.status == "failed"],
        *run.notes(model),
    ]
    if missing:
        table.notes.append(f"Not installed, skipped: {', '.join(missing)} (pip install \"depthkit[fast]\").")
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
