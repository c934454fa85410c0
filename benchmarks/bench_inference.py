"""The inference benchmark: the fp32 matmul-speed reference, the forward pass and the end-to-end path, one table.

    python benchmarks/bench_inference.py [--threads 2] [--repeats 7] [--backend auto|bf16|int8|onnx|...]

Everything in the printed table is measured in this one run (ratios included):

* the fp32 floor = FLOPs of MiDaS_small at 256x256 (FlopCounterMode, 1 multiply-add = 2 FLOPs) divided by the
  measured GFLOP/s of a 2048x2048 fp32 ``torch.mm`` on the same threads;
* forward medians at 256x256 of plain fp32 PyTorch in the contiguous (NCHW) format and of the ``"eager"`` backend
  (which runs in channels_last, NHWC), and at 256x192 (the network input of a 640x480 photo);
* end-to-end for a 640x480 photo: ``depthkit.pipeline.photo_to_png`` (JPEG bytes -> ``estimate_depth`` ->
  ``depthkit.viz.heatmap_png``, the paletted heat-map PNG), the path the app and the CLI run;
* with ``--backend NAME`` (default ``auto``, passed to depthkit unchanged, so ``auto`` is whatever depthkit
  chooses), the same forward and end-to-end rows for that backend;
* the end-to-end ratio = end-to-end median / forward median at 256x192 with the same backend, for eager and
  for ``--backend`` (also printed on its own lines after the table).

Targets on 2 cores: forward <= 1.15 x floor, end-to-end <= 1.25 x forward (same network input size).
The model is ``load_model("auto")``: offline that is the seeded random network; speed does not depend on the
weights' values, but the depth maps are meaningless (the table says which weights ran).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2 = all cores here)")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per row (median reported)")
    p.add_argument("--budget", type=float, default=12.0, help="seconds of timed runs per row before stopping early")
    p.add_argument("--backend", default="auto",
                   help="extra backend rows: a depthkit backend name (e.g. auto, bf16, int8, onnx), or none")
    return p.parse_args(argv)


def measure(args: argparse.Namespace, model: Any, x256: Any, x192: Any, jpeg: bytes, floor: float) -> dict:
    """Every timing of the table: forward rows, end-to-end rows, per backend (all from this run)."""
    from depthkit import backends as B
    from depthkit.bench import time_call
    from depthkit.pipeline import photo_to_png

    def timed(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        return time_call(fn, *a, warmup=2, repeats=args.repeats, budget_s=args.budget, **kw)

    rows, fwd, e2e = [], {}, {}
    t = timed(B.eager_forward, model, x256, memory_format="contiguous")
    rows.append(("forward 256x256, eager fp32, contiguous (NCHW) memory format", t, floor))
    for x in (x256, x192):
        t = timed(B.run_backend, model, x, "eager")
        fwd[("eager", x.shape[-2])] = t.median
        rows.append((f"forward {x.shape[-1]}x{x.shape[-2]}, eager fp32 (channels_last inside)", t,
                     floor * x.shape[-2] / 256))
    e2e["eager"] = timed(photo_to_png, jpeg, model, backend="eager")
    extra = args.backend
    if extra not in ("none", "eager"):
        from depthkit.backend_choice import resolve_backend

        extra = resolve_backend(model, extra)  # "auto" -> depthkit's own choice for this model; a name stays
    if extra not in ("none", "eager"):
        for x in (x256, x192):
            t = timed(B.run_backend, model, x, extra)
            fwd[(extra, x.shape[-2])] = t.median
            rows.append((f"forward {x.shape[-1]}x{x.shape[-2]}, {extra}", t, floor * x.shape[-2] / 256))
        e2e[extra] = timed(photo_to_png, jpeg, model, backend=extra)
    return {"rows": rows, "fwd": fwd, "e2e": e2e}


def make_table(args: argparse.Namespace, flops: float, gflops: float, floor: float, m: dict) -> Any:
    from depthkit.bench import ResultsTable

    table = ResultsTable(["quantity", "median", "min", "max", "unit", "ratio", "target", "met"],
                         title=f"MiDaS_small inference on {args.threads} thread(s)")
    table.add(quantity="FLOPs at 256x256 (1 multiply-add = 2 FLOPs)", median=flops / 1e9, unit="GFLOP")
    table.add(quantity="fp32 matmul ceiling (2048² torch.mm)", median=gflops, unit="GFLOP/s")
    table.add(quantity="fp32 floor at 256x256 = FLOPs / ceiling", median=floor * 1e3, unit="ms")
    for name, t, fl in m["rows"]:
        ratio = t.median / fl
        table.add(quantity=name, median=t.median_ms, min=t.min * 1e3, max=t.max * 1e3, unit="ms",
                  ratio=f"{ratio:.2f} x floor", target="<= 1.15 x floor", met=ratio <= 1.15)
    for backend, t in m["e2e"].items():
        ratio = t.median / m["fwd"][(backend, 192)]
        table.add(quantity=f"end-to-end 640x480 JPEG -> depth -> heat-map PNG ({backend}; depthkit.pipeline)",
                  median=t.median_ms, min=t.min * 1e3, max=t.max * 1e3, unit="ms",
                  ratio=f"{ratio:.2f} x forward 256x192", target="<= 1.25 x forward", met=ratio <= 1.25)
    return table


def e2e_ratio_lines(m: dict) -> list[str]:
    """One line per backend: end-to-end median / forward median at 256x192 (same backend), against 1.25."""
    lines = []
    for backend, t in m["e2e"].items():
        fwd = m["fwd"][(backend, 192)]
        ratio = t.median / fwd
        lines.append(f"end-to-end ratio ({backend}): {t.median_ms:.1f} ms / {fwd * 1e3:.1f} ms forward 256x192 = "
                     f"{ratio:.2f} x (target <= 1.25 x: {'met' if ratio <= 1.25 else 'NOT met'})")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    import torch

    import depthkit as dk
    from depthkit.bench import BenchmarkRun, count_flops, fp32_floor_seconds, matmul_gflops, photo_jpeg

    torch.set_num_threads(args.threads)
    run = BenchmarkRun()
    model = run.load_model()
    x256 = torch.from_numpy(dk.transforms.prepare_array(dk.samples.load_sample("astronaut")))[None]  # 512x512 -> 256
    assert tuple(x256.shape) == (1, 3, 256, 256)
    jpeg = photo_jpeg(dk.samples.load_sample("motorcycle"), size=(640, 480))
    x192 = dk.prepare(jpeg)  # (1, 3, 192, 256)

    flops = count_flops(model, x256)
    gflops = matmul_gflops(2048, threads=args.threads, repeats=5)
    floor = fp32_floor_seconds(flops, gflops)
    measured = measure(args, model, x256, x192, jpeg, floor)
    table = make_table(args, flops, gflops, floor, measured)
    table.notes += [
        "Speed does not depend on the weights' values. The floor of a 256x192 input is 0.75 x the 256x256 floor "
        "(FLOPs scale with pixels).",
        *run.notes(model),
    ]
    print(table.to_markdown())
    for line in e2e_ratio_lines(measured):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
