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
  chooses for these weights), the same forward and end-to-end rows for that backend;
* per backend, the steps around the forward pass timed alone: JPEG decode, prepare, upsample, colour + PNG;
* ``--weights fitted`` runs the tests' trained stand-in checkpoint, so that ``auto`` may choose bf16 or int8 (their
  agreement with fp32 depends on the weights).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _weights import CHOICES_HELP, load


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2 = all cores here)")
    p.add_argument("--repeats", type=int, default=9, help="timed repeats per row (median reported)")
    p.add_argument("--weights", default="auto", help=CHOICES_HELP)
    p.add_argument("--backend", default="auto",
                   help="extra backend rows: a depthkit backend name (e.g. auto, bf16, int8, onnx), or none")
    return p.parse_args(argv)


def _paths(model: Any, backend: str, x256: Any, x192: Any, jpeg: bytes) -> dict[str, Callable[[], Any]]:
    """The timed calls of one backend: forward at both sizes, the end-to-end path, and its steps one by one."""
    from depthkit import backends as B
    from depthkit.inference import upsample
    from depthkit.io import read_photo
    from depthkit.pipeline import photo_to_png
    from depthkit.transforms import prepare_array
    from depthkit.viz import heatmap_png

    photo = read_photo(jpeg)
    raw = B.run_backend(model, x192, backend)
    inverse_depth = upsample(raw, photo.shape[:2])[0].numpy()
    return {
        f"forward 256x256, {backend}": lambda: B.run_backend(model, x256, backend),
        f"forward 256x192, {backend}": lambda: B.run_backend(model, x192, backend),
        f"end-to-end, {backend}": lambda: photo_to_png(jpeg, model, backend=backend),
        f"  step: decode the JPEG ({backend} run)": lambda: read_photo(jpeg),
        f"  step: prepare (resize, normalise) ({backend} run)": lambda: prepare_array(photo),
        f"  step: upsample to 640x480 ({backend} run)": lambda: upsample(raw, photo.shape[:2]),
        f"  step: colour + paletted PNG ({backend} run)": lambda: heatmap_png(inverse_depth),
    }


def measure(args: argparse.Namespace, model: Any, x256: Any, x192: Any, jpeg: bytes) -> dict:
    """Every timing of the table, all from this run.

    Each call is timed on its own (warm-up, then repeats), one after the other: timing them in turns would put a
    PyTorch call (whose OpenMP threads keep spinning for a moment after it returns) right before an OpenVINO
    call and slow that one down, which a single photo's path does not do to its forward pass.
    """
    from depthkit import backends as B
    from depthkit.backend_choice import resolve_backend
    from depthkit.runtime import time_call

    backends = ["eager"]
    if args.backend != "none":
        extra = resolve_backend(model, args.backend)  # "auto" -> depthkit's own choice for these weights
        backends += [extra] if extra != "eager" else []
    times = {}
    for i, backend in enumerate(backends):
        calls = _paths(model, backend, x256, x192, jpeg)
        if i == 0:
            calls["forward 256x256, eager fp32, contiguous (NCHW) memory format"] = \
                lambda: B.eager_forward(model, x256, memory_format="contiguous")
        times.update({name: time_call(fn, warmup=2, repeats=args.repeats) for name, fn in calls.items()})
    return {"times": times, "backends": backends}


def make_table(args: argparse.Namespace, flops: float, gflops: float, floor: float, m: dict) -> Any:
    from depthkit.bench import ResultsTable

    table = ResultsTable(["quantity", "median", "min", "max", "unit", "ratio", "target", "met"],
                         title=f"MiDaS_small inference on {args.threads} thread(s)")
    table.add(quantity="FLOPs at 256x256 (1 multiply-add = 2 FLOPs)", median=flops / 1e9, unit="GFLOP")
    table.add(quantity="fp32 matmul ceiling (2048² torch.mm)", median=gflops, unit="GFLOP/s")
    table.add(quantity="fp32 matmul-speed reference at 256x256 = FLOPs / ceiling", median=floor * 1e3, unit="ms")
    for name, t in m["times"].items():
        backend = name.rsplit(", ", 1)[-1] if name.startswith(("forward 256x1", "end-to-end")) else None
        row = {"quantity": name, "median": t.median_ms, "min": t.min * 1e3, "max": t.max * 1e3, "unit": "ms"}
        if name.startswith("forward 256x256") or "contiguous" in name:
            row["ratio"] = f"{t.median / floor:.2f} x reference"
        elif name.startswith("end-to-end"):
            ratio = t.median / m["times"][f"forward 256x192, {backend}"].median
            row.update(quantity=f"end-to-end 640x480 JPEG -> depth -> heat-map PNG ({backend}; depthkit.pipeline)",
                       ratio=f"{ratio:.2f} x forward 256x192", target="<= 1.25 x forward", met=ratio <= 1.25)
        table.add(**row)
    return table


def e2e_ratio_lines(m: dict) -> list[str]:
    """One line per backend: end-to-end median / forward median at 256x192 (same backend), against 1.25."""
    lines = []
    for backend in m["backends"]:
        e2e, fwd = m["times"][f"end-to-end, {backend}"].median, m["times"][f"forward 256x192, {backend}"].median
        steps = sum(t.median for name, t in m["times"].items() if name.startswith("  step") and f"({backend} run)"
                    in name)
        lines.append(f"end-to-end ratio ({backend}): {e2e * 1e3:.1f} ms / {fwd * 1e3:.1f} ms forward 256x192 = "
                     f"{e2e / fwd:.2f} x (target <= 1.25 x: {'met' if e2e / fwd <= 1.25 else 'NOT met'}); the steps "
                     f"around the forward pass add up to {steps * 1e3:.1f} ms")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    import torch

    import depthkit as dk
    from depthkit.bench import BenchmarkRun, count_flops, fp32_floor_seconds, matmul_gflops, photo_jpeg

    torch.set_num_threads(args.threads)
    run = BenchmarkRun()
    model = load(args.weights)
    x256 = torch.from_numpy(dk.transforms.prepare_array(dk.samples.load_sample("astronaut")))[None]  # 512x512 -> 256
    assert tuple(x256.shape) == (1, 3, 256, 256)
    jpeg = photo_jpeg(dk.samples.load_sample("motorcycle"), size=(640, 480))
    x192 = dk.prepare(jpeg)  # (1, 3, 192, 256)

    flops = count_flops(model, x256)
    gflops = matmul_gflops(2048, threads=args.threads, repeats=5)
    floor = fp32_floor_seconds(flops, gflops)
    measured = measure(args, model, x256, x192, jpeg)
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
