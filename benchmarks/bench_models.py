"""MiDaS_small, DPT-Hybrid and Depth Anything V2 Small side by side: cost at each model's native input, one table.

    python benchmarks/bench_models.py [--weights auto|random|PATH] [--threads 1 2] [--repeats 7]
                                      [--models midas_small dpt_hybrid depth_anything_v2_small]

One table, all numbers from this run, one row per model at its native input (256x256, 384x384, 518x518):

* parameters (millions) and GFLOP of one forward pass (``depthkit.bench.count_flops``: matrix products and
  convolutions, one multiply-add = 2 FLOPs; counted on the meta device, from shapes alone);
* the forward median in ms with ``backend="eager"`` (fp32 PyTorch) at each ``--threads`` count
  (``depthkit.bench.time_call``: one warm-up call, then ``--repeats`` timed calls);
* the best backend: for MiDaS_small what ``backend="auto"`` chooses on this machine
  (``depthkit.backend_choice.resolve_backend``), timed the same way; for the two transformer models it is eager,
  because the exported backends (ONNX, OpenVINO, bf16, int8) are MiDaS_small-only;
* peak resident memory (``depthkit.bench.peak_rss_of``): a fresh Python process that imports depthkit, loads the
  model and runs two forward passes at the largest ``--threads``; it includes the Python interpreter and torch.

Offline there is no checkpoint, so the networks have random weights: the table measures speed and memory only,
never depth quality (time and memory do not depend on the weights' values; "auto" for MiDaS_small may choose
differently with trained weights, since reduced precision must agree with fp32 to be chosen).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: The encoder of each model, for the table.
ENCODERS = {"midas_small": "EfficientNet-Lite3", "dpt_hybrid": "ResNet-50 stem + ViT-B/16",
            "depth_anything_v2_small": "DINOv2 ViT-S/14"}

#: What the peak-memory child process runs (filled in with repr() values).
PEAK_CODE = """
import os, sys, warnings
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, {repo!r})
import torch
import depthkit as dk
from depthkit.backends import get_runner
torch.set_num_threads({threads})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = dk.load_model({weights!r}, model={name!r})
x = torch.zeros(1, 3, {h}, {w})
run = get_runner(model, {backend!r}, tuple(x.shape), threads={threads})
run(x)
run(x)
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="auto", help="auto (offline: random), random or a checkpoint path "
                                                      "(a path only makes sense with one --models entry)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--models", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    return p.parse_args(argv)


def load(name: str, weights: str) -> Any:
    """``depthkit.load_model(weights, model=name)`` without the untrained-weights warning (the notes name them)."""
    import depthkit as dk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dk.load_model(weights, model=name)


def cost(name: str) -> tuple[float, float]:
    """(parameters in millions, GFLOP at the native input), from a network built on the meta device."""
    import torch

    from depthkit.bench import count_flops
    from depthkit.model_registry import get_spec

    spec = get_spec(name)
    with torch.device("meta"):
        net = spec.build()
    w, h = spec.native_size
    flops = count_flops(net, torch.zeros(1, 3, h, w, device="meta"))
    return sum(p.numel() for p in net.parameters()) / 1e6, flops / 1e9


def medians_ms(model: Any, backend: str, shape: tuple[int, ...], threads: list[int], repeats: int) -> list[float]:
    """Forward median in ms per thread count: one warm-up call (after the runner is built), ``repeats`` timed."""
    import torch

    from depthkit.backends import get_runner
    from depthkit.bench import time_call
    from depthkit.runtime import num_threads

    x = torch.zeros(shape).uniform_(-2, 2, generator=torch.Generator().manual_seed(0))
    out = []
    for t in threads:
        with num_threads(t):
            run = get_runner(model, backend, shape, threads=t)
            out.append(time_call(run, x, warmup=1, repeats=repeats).median_ms)
    return out


def peak_mb(name: str, weights: str, backend: str, shape: tuple[int, ...], threads: int) -> float | str:
    """Peak resident memory in MB of a fresh process that loads ``name`` and runs ``backend`` twice."""
    from depthkit.bench import peak_rss_of

    code = PEAK_CODE.format(repo=str(REPO), threads=threads, weights=weights, name=name, h=shape[2], w=shape[3],
                            backend=backend)
    rc, mb, out = peak_rss_of(code)
    return mb if rc == 0 else f"failed: {out.strip().splitlines()[-1] if out.strip() else rc}"


def model_row(name: str, args: argparse.Namespace, table: Any) -> Any:
    """Measure one model and add its row; returns the loaded model (for the notes)."""
    from depthkit.backend_choice import resolve_backend
    from depthkit.model_registry import get_spec

    spec = get_spec(name)
    w, h = spec.native_size
    shape = (1, 3, h, w)
    model = load(name, args.weights)
    params, gflop = cost(name)
    eager = medians_ms(model, "eager", shape, args.threads, args.repeats)
    with contextlib.redirect_stdout(sys.stderr):  # its one-line "Choosing ..." message: not part of the table
        best = resolve_backend(model, "auto")  # eager for the transformer models
    best_ms = eager if best == "eager" else medians_ms(model, best, shape, args.threads, args.repeats)
    top = max(args.threads)
    eager_mb = peak_mb(name, args.weights, "eager", shape, top)
    best_mb = eager_mb if best == "eager" else peak_mb(name, args.weights, best, shape, top)
    row = {"model": spec.title, "encoder": ENCODERS[name], "input": f"{w}x{h}", "params (M)": params,
           "GFLOP": gflop, "best backend": best, f"peak RSS MB, eager ({top} thr)": eager_mb,
           f"peak RSS MB, best ({top} thr)": best_mb}
    for t, e, b in zip(args.threads, eager, best_ms, strict=True):
        row[f"eager ms ({t} thr)"] = e
        row[f"best ms ({t} thr)"] = b
    table.add(**row)
    return model


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    from depthkit.bench import BenchmarkRun, ResultsTable

    run = BenchmarkRun()
    top = max(args.threads)
    columns = ["model", "encoder", "input", "params (M)", "GFLOP",
               *(f"eager ms ({t} thr)" for t in args.threads), "best backend",
               *(f"best ms ({t} thr)" for t in args.threads),
               f"peak RSS MB, eager ({top} thr)", f"peak RSS MB, best ({top} thr)"]
    table = ResultsTable(columns, title="Three depth networks at their native inputs (forward only, CPU)")
    models = [model_row(name, args, table) for name in args.models]
    table.notes += [
        f"Forward medians of {args.repeats} timed calls after one warm-up, (1, 3, H, W) float32 input; peak RSS "
        "of a fresh process (Python + torch + the model + two forward passes).",
        "Best backend: what backend='auto' chooses for MiDaS_small on this machine and these weights; the exported "
        "backends (ONNX, OpenVINO, bf16, int8) are MiDaS_small-only, so the best for DPT-Hybrid and Depth Anything "
        "V2 Small is eager.",
        "Speed and memory only: without a checkpoint the networks have random weights, and these numbers say "
        "nothing about depth quality.",
        *(f"{m.weights_info.model}: {run.notes(m)[0]}" for m in models),
        run.notes(models[0])[1],
    ]
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
