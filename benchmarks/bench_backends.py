"""Backends x threads at 256x256: speed against eager fp32 and agreement with it on the bundled samples.

    python benchmarks/bench_backends.py [--threads 1 2] [--backends eager bf16 onnx openvino]
                                        [--compile] [--repeats 5]

One table, all numbers from this run: per backend and thread count the forward median at 256x256, the speed-up
over eager fp32 (same threads) and the ratio to the fp32 floor (FLOPs / measured 2048² matmul GFLOP/s on those
threads); per backend the agreement with eager fp32 over every bundled sample at its own network size (lowest
Pearson r and largest max-relative-error after least-squares scale and shift alignment).

Two extra rows that are not backends: plain fp32 PyTorch in the contiguous (NCHW) memory format (the ``"eager"``
backend runs in channels_last), and "eager + fixed same-padding", a structural variant with the identical
state_dict: timm's ``Conv2dSame`` layers replaced by a constant asymmetric padding (valid for sides that are
multiples of 32).

``--compile`` adds torch.compile (inductor): its first call compiles for minutes on 2 cores, so it is opt-in.
The model is ``load_model("auto")`` (offline: seeded random weights): agreement then shows that a backend
computes the same function as eager fp32 on real photos; it says nothing about depth accuracy.
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")


#: Rows that are not backends: plain fp32 in the contiguous (NCHW) format, and eager on the fixed-padding copy.
VARIANTS = ("contiguous", "fixed")
VARIANT_NAMES = {"contiguous": "eager fp32, contiguous (NCHW) memory format",
                 "fixed": "eager + fixed same-padding"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--backends", nargs="+", default=["eager", "bf16", "onnx", "openvino"])
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=6.0, help="seconds of timed runs per row before stopping early")
    return p.parse_args(argv)


def runner_for(model: Any, fixed: Any, name: str, shape: tuple[int, ...], threads: int | None) -> Callable:
    """``run(x)`` for a backend name or one of VARIANTS."""
    from depthkit import backends as B

    if name == "contiguous":
        return functools.partial(B.eager_forward, model, memory_format="contiguous")
    if name == "fixed":
        return functools.partial(B.eager_forward, fixed)
    return B.get_runner(model, name, shape, threads=threads)


def agreements(model: Any, fixed: Any, names: list[str]) -> tuple[dict[str, tuple[float, float]], int]:
    """Per name: (lowest Pearson r, largest max rel err) against eager fp32 over every bundled sample."""
    import torch

    import depthkit as dk
    from depthkit import backends as B

    inputs = [torch.from_numpy(dk.transforms.prepare_array(dk.samples.load_sample(n)))[None]
              for n in dk.samples.list_samples()]
    refs = [B.run_backend(model, xi, "eager").numpy() for xi in inputs]
    agree = {}
    for name in names:
        worst_r, worst_err = 1.0, 0.0
        for xi, ref in zip(inputs, refs, strict=True):
            a = B.agreement(runner_for(model, fixed, name, tuple(xi.shape), None)(xi).numpy(), ref)
            worst_r, worst_err = min(worst_r, a.pearson_r), max(worst_err, a.max_rel_err)
        agree[name] = (worst_r, worst_err)
    return agree, len(inputs)


def timing_rows(args: argparse.Namespace, model: Any, fixed: Any, names: list[str], x: Any, flops: int,
                agree: dict, table: Any) -> dict:
    """One row per name and thread count; returns the fp32 (GFLOP/s, floor seconds) per thread count."""
    import torch

    from depthkit.bench import fp32_floor_seconds, matmul_gflops, time_call

    floors = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        gflops = matmul_gflops(2048, threads=threads, repeats=3)
        floors[threads] = (gflops, fp32_floor_seconds(flops, gflops))
        eager_ms = None
        for name in names:
            t = time_call(runner_for(model, fixed, name, tuple(x.shape), threads), x, warmup=2,
                          repeats=args.repeats, budget_s=args.budget)
            if name == "eager":
                eager_ms = t.median_ms
            speedup = eager_ms / t.median_ms if eager_ms else float("nan")
            r, err = agree[name]
            table.add(backend=VARIANT_NAMES.get(name, name), threads=threads,
                      **{"median ms": t.median_ms, "min ms": t.min * 1e3, "speed-up vs eager": speedup,
                         "x fp32 floor": t.median / floors[threads][1], "min r (samples)": r,
                         "max rel err (samples)": err, ">= 2x and r >= 0.99": bool(speedup >= 2 and r >= 0.99)})
    return floors


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    import torch

    import depthkit as dk
    from depthkit import backends as B
    from depthkit.bench import BenchmarkRun, ResultsTable, count_flops

    run = BenchmarkRun()
    model = run.load_model()
    wanted = [*args.backends, *(["compile"] if args.compile else [])]
    missing = [b for b in wanted if b not in B.available_backends()]
    names = [*dict.fromkeys(["eager", *(b for b in wanted if b not in missing)]), *VARIANTS]
    x = torch.from_numpy(dk.transforms.prepare_array(dk.samples.load_sample("astronaut")))[None]  # 1x3x256x256
    flops = count_flops(model, x)
    fixed = B.static_same_padding(model)
    agree, n_samples = agreements(model, fixed, names)  # at the default threads: the function does not depend on them
    table = ResultsTable(["backend", "threads", "median ms", "min ms", "speed-up vs eager", "x fp32 floor",
                          "min r (samples)", "max rel err (samples)", ">= 2x and r >= 0.99"],
                         title="Backends at 256x256 (forward only)")
    floors = timing_rows(args, model, fixed, names, x, flops, agree, table)
    table.notes += [
        "FLOPs at 256x256: " + f"{flops / 1e9:.2f} GFLOP (1 multiply-add = 2 FLOPs). fp32 floor per thread count: "
        + ", ".join(f"{k} thread(s) {v[0]:.0f} GFLOP/s -> {v[1] * 1e3:.0f} ms" for k, v in floors.items()) + ".",
        f"Agreement over {n_samples} samples ({', '.join(dk.samples.list_samples())}) at their network sizes, "
        "against eager fp32 with the same weights; max rel err = max |aligned - eager| / (max - min of eager).",
        *run.notes(model),
    ]
    if missing:
        table.notes.append(f"Not installed, skipped: {', '.join(missing)}.")
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
