"""MiDaS_small, DPT-Hybrid and Depth Anything V2 Small side by side: cost at each model's native input, one table.

    python benchmarks/bench_models.py [--weights auto|random|PATH] [--threads 1 2] [--repeats 7]
                                      [--models midas_small dpt_hybrid depth_anything_v2_small]

One table, all numbers from this run, one row per model at its native input (256x256, 384x384, 518x518):

* parameters (millions) and GFLOP of one forward pass (``depthkit.bench.count_flops``: matrix products and
  convolutions, one multiply-add = 2 FLOPs; counted on the meta device, from shapes alone);
* the forward median in ms with ``backend="eager"`` (fp32 PyTorch) at each ``--threads`` count
  (``depthkit.bench.time_call``: one warm-up call, then ``--repeats`` timed calls);
* "auto": for MiDaS_small what ``backend="auto"`` chooses on this machine
  (``depthkit.backend_choice.resolve_backend``), timed the same way; for the two transformer models it is eager,
  because the exported backends (ONNX, OpenVINO, bf16, int8) are MiDaS_small-only;
* peak resident memory (``depthkit.bench.peak_rss_of``): a fresh Python process that imports depthkit, loads the
  model and runs two forward passes at the largest ``--threads``; it includes the Python interpreter and torch.

All of it is ``depthkit.bench.compare_models(..., memory="process")`` (the same function lesson 05 uses).

Offline there is no checkpoint, so the networks have random weights: the table measures speed and memory only,
never depth quality (time and memory do not depend on the weights' values; "auto" for MiDaS_small may choose
differently with trained weights, since reduced precision must agree with fp32 to be chosen).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: The encoder of each model, for the table.
ENCODERS = {"midas_small": "EfficientNet-Lite3", "dpt_hybrid": "ResNet-50 stem + ViT-B/16",
            "depth_anything_v2_small": "DINOv2 ViT-S/14"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="auto", help="auto (offline: random), random or a checkpoint path "
                                                      "(a path only makes sense with one --models entry)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--models", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    return p.parse_args(argv)


def with_encoders(table: Any, names: list[str]) -> Any:
    """The same table with an ``encoder`` column after ``model`` (rows in ``names`` order)."""
    from depthkit.bench import ResultsTable

    out = ResultsTable([table.columns[0], "encoder", *table.columns[1:]], title=table.title, notes=list(table.notes))
    for name, row in zip(names, table.rows, strict=True):
        out.add(**row, encoder=ENCODERS[name])
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    from depthkit.bench import BenchmarkRun, compare_models

    run = BenchmarkRun()
    threads = sorted(set(args.threads))  # compare_models measures memory at the last (largest) count
    with contextlib.redirect_stdout(sys.stderr):  # "auto"'s one-line "Choosing ..." message: not part of the table
        table = compare_models(args.models, weights=args.weights, threads=threads, warmup=1, repeats=args.repeats,
                               auto=True, memory="process")
    table = with_encoders(table, args.models)
    table.title = "Three depth networks at their native inputs (forward only, CPU)"
    table.notes += [
        f"Forward medians of {args.repeats} timed calls after one warm-up, (1, 3, H, W) float32 input; peak RSS "
        "of a fresh process (Python + torch + the model + two forward passes).",
        "auto: what backend='auto' chooses for MiDaS_small on this machine and these weights; the exported "
        "backends (ONNX, OpenVINO, bf16, int8) are MiDaS_small-only, so for DPT-Hybrid and Depth Anything V2 Small "
        "it is eager.",
        run.notes(None)[1],  # torch, CPU, load, wall time (the weights are named per model above)
    ]
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
