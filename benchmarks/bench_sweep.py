"""Sweep: input size x threads x backend, the 640x480 photo end to end, the tutorial's snippet, memory.

    python benchmarks/bench_sweep.py [--sizes 256 384 512] [--threads 1 2] [--backends eager auto]
                                     [--no-subprocess] [--no-dpt]

One table, all numbers from this run:

* forward medians for square inputs of each size (``prepare(image, size=S)``), per thread count and backend, with
  the ratio to the fp32 floor of that size and thread count (FLOPs / measured 2048² matmul GFLOP/s);
* end to end for a 640x480 photo (``depthkit.pipeline.photo_to_png``: JPEG bytes -> estimate_depth -> colorize ->
  PNG bytes, the path the app and the CLI run);
* the tutorial's snippet, which feeds the full-resolution photo to the network without resizing or normalising
  (``torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).float()``): it runs for 640x480 (both sides multiples
  of 32) and fails for 500x375;
* in fresh processes (so that the peak resident memory, VmHWM, belongs to that work alone, torch included):
  MiDaS_small end to end on the photo, the tutorial's snippet, and a DPT-Hybrid-like network built from timm parts
  (random weights, 384x384) — the tutorial's table claims MiDaS_small 1-3 s / < 2 GB and DPT-Hybrid 8-12 s / > 4 GB.

The model is ``load_model("auto")`` (offline: seeded random weights; speed and memory do not depend on them).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Code run in fresh interpreters; each prints one JSON line {"seconds": [...], ...}.
_CHILD_PRELUDE = f"""
import json, sys, time, warnings
sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(REPO / 'benchmarks')!r})
warnings.simplefilter("ignore")
import torch
torch.set_num_threads({{threads}})
import depthkit as dk
from depthkit.bench import photo_jpeg, time_call
"""
_CHILD_MIDAS = """
model = dk.load_model("auto")
jpeg = photo_jpeg(dk.samples.load_sample("motorcycle"), size=(640, 480))
from depthkit.pipeline import photo_to_png
t = time_call(photo_to_png, jpeg, model, warmup=1, repeats=3)
print(json.dumps({"seconds": list(t.times)}))
"""
_CHILD_SNIPPET = """
model = dk.load_model("auto")
img = dk.io.read_image(photo_jpeg(dk.samples.load_sample("motorcycle"), size=({w}, {h})))
def snippet():
    with torch.no_grad():
        return model(torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).float())
t = time_call(snippet, warmup=1, repeats=3)
print(json.dumps({{"seconds": list(t.times)}}))
"""
_CHILD_DPT = """
from _dpt_hybrid import DPTHybridLike
model = DPTHybridLike().eval()
x = torch.randn(1, 3, 384, 384)
def fwd():
    with torch.inference_mode():
        return model(x)
t = time_call(fwd, warmup=1, repeats=2)
print(json.dumps({"seconds": list(t.times), "params": sum(p.numel() for p in model.parameters())}))
"""


def _child(code: str, threads: int, timeout: float = 300.0) -> tuple[dict | None, float, str]:
    from depthkit.bench import peak_rss_of

    rc, peak_mb, out = peak_rss_of(_CHILD_PRELUDE.format(threads=threads) + code, timeout=timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if rc != 0 or not lines:
        return None, peak_mb, out.strip().splitlines()[-1] if out.strip() else f"exit code {rc}"
    return json.loads(lines[-1]), peak_mb, ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 384, 512])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--backends", nargs="+", default=["eager", "auto"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=2.5, help="seconds of timed runs per row before stopping early")
    p.add_argument("--no-subprocess", action="store_true", help="skip the fresh-process memory rows")
    p.add_argument("--no-dpt", action="store_true", help="skip the DPT-Hybrid-like row")
    return p.parse_args(argv)


@dataclass
class Sweep:
    """What every row needs: the arguments, the model and inputs, the FLOP counts, the measured ceilings."""

    args: argparse.Namespace
    model: Any
    backends: list[str]
    photo: Any
    jpeg: bytes
    flops: dict[int, int]
    flops_photo: int
    table: Any
    ceilings: dict[int, float] = field(default_factory=dict)

    def timed(self, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        from depthkit.bench import time_call

        return time_call(fn, *a, warmup=1, repeats=self.args.repeats, budget_s=self.args.budget, **kw)


def forward_rows(sw: Sweep, threads: int) -> None:
    import torch

    import depthkit as dk
    from depthkit import backends as B
    from depthkit.bench import fp32_floor_seconds

    for s in sw.args.sizes:
        x = torch.from_numpy(dk.transforms.prepare_array(sw.photo, size=s))[None]
        floor = fp32_floor_seconds(sw.flops[s], sw.ceilings[threads])
        for b in sw.backends:
            t = sw.timed(B.get_runner(sw.model, b, tuple(x.shape), threads=threads), x)
            sw.table.add(case="forward", **{"input (W x H px)": f"{s} x {s}", "threads": threads, "backend": b,
                         "median ms": t.median_ms, "min ms": t.min * 1e3, "x fp32 floor": t.median / floor})


def end_to_end_rows(sw: Sweep, threads: int) -> None:
    from depthkit.bench import fp32_floor_seconds
    from depthkit.pipeline import photo_to_png

    for b in sw.backends:
        t = sw.timed(photo_to_png, sw.jpeg, sw.model, backend=b)
        floor192 = fp32_floor_seconds(sw.flops[256] * 0.75, sw.ceilings[threads]) if 256 in sw.flops else math.nan
        sw.table.add(case="end to end: JPEG -> depth -> colorize -> PNG", threads=threads, backend=b,
                     **{"input (W x H px)": "640 x 480", "median ms": t.median_ms, "min ms": t.min * 1e3,
                        "x fp32 floor": t.median / floor192, "note": "network input 256x192; floor of 256x192"})


def _snippet_forward(model: Any, img: Any) -> Any:
    """The tutorial's snippet: the full-resolution photo, no resize, no normalisation."""
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).float())


def snippet_rows(sw: Sweep, threads: int) -> None:
    import depthkit as dk
    from depthkit.bench import fp32_floor_seconds, photo_jpeg
    from depthkit.errors import DepthkitError

    case = "the tutorial's snippet (full resolution, not normalised)"
    for w, h in [(640, 480), (500, 375)]:
        img = dk.io.read_image(photo_jpeg(sw.photo, size=(w, h)))
        try:
            t = sw.timed(functools.partial(_snippet_forward, sw.model, img))  # binds this img (no late-binding closure)
        except (DepthkitError, RuntimeError) as e:
            sw.table.add(case=case, threads=threads, backend="eager",
                         **{"input (W x H px)": f"{w} x {h}", "note": f"FAILS: {type(e).__name__}: {e}"})
            continue
        floor = fp32_floor_seconds(sw.flops_photo, sw.ceilings[threads])
        sw.table.add(case=case, threads=threads, backend="eager",
                     **{"input (W x H px)": f"{w} x {h}", "median ms": t.median_ms, "min ms": t.min * 1e3,
                        "x fp32 floor": t.median / floor,
                        "note": f"runs: {sw.flops_photo / 1e9:.1f} GFLOP, 4.7x the pixels of 256x256; output not "
                                "comparable (no normalisation)"})


def fresh_process_rows(sw: Sweep) -> None:
    import numpy as np

    threads = max(sw.args.threads)
    children = [("fresh process: MiDaS_small end to end (load + 640x480 photo)", "640 x 480", _CHILD_MIDAS),
                ("fresh process: the tutorial's snippet", "640 x 480", _CHILD_SNIPPET.format(w=640, h=480))]
    if not sw.args.no_dpt:
        children.append(("fresh process: DPT-Hybrid-like (timm vit_base_r50_s16_384 + DPT decoder), random "
                         "weights", "384 x 384", _CHILD_DPT))
    for case, size, code in children:
        res, peak, err = _child(code, threads)
        if res is None:
            sw.table.add(case=case, threads=threads, **{"input (W x H px)": size, "peak RSS MB": peak,
                                                        "note": f"FAILED: {err}"})
            continue
        secs = np.array(res["seconds"])
        note = f"{res['params'] / 1e6:.1f} M parameters" if "params" in res else ""
        sw.table.add(case=case, threads=threads, backend="eager",
                     **{"input (W x H px)": size, "median ms": float(np.median(secs)) * 1e3,
                        "min ms": float(secs.min()) * 1e3, "peak RSS MB": peak, "note": note})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    import torch

    import depthkit as dk
    from depthkit.backend_choice import resolve_backend
    from depthkit.bench import BenchmarkRun, ResultsTable, count_flops, matmul_gflops, photo_jpeg

    run = BenchmarkRun()
    model = run.load_model()
    table = ResultsTable(["case", "input (W x H px)", "threads", "backend", "median ms", "min ms", "x fp32 floor",
                          "peak RSS MB", "note"],
                         title="MiDaS_small: size x threads x backend, end to end, the tutorial's snippet")
    sw = Sweep(args, model, list(dict.fromkeys(resolve_backend(model, b) for b in args.backends)),  # auto may repeat
               dk.samples.load_sample("astronaut"),  # 512x512: square network inputs of every size
               photo_jpeg(dk.samples.load_sample("motorcycle"), size=(640, 480)),
               {s: count_flops(model, torch.zeros(1, 3, s, s)) for s in args.sizes},
               count_flops(model, torch.zeros(1, 3, 480, 640)), table)
    for threads in args.threads:
        torch.set_num_threads(threads)
        sw.ceilings[threads] = matmul_gflops(2048, threads=threads, repeats=3)
        forward_rows(sw, threads)
        end_to_end_rows(sw, threads)
        snippet_rows(sw, threads)
    if not args.no_subprocess:
        fresh_process_rows(sw)
    table.notes += [
        "fp32 ceiling (2048² torch.mm): " + ", ".join(f"{k} thread(s) {v:.0f} GFLOP/s" for k, v in sw.ceilings.items())
        + "; FLOPs (1 multiply-add = 2 FLOPs): " + ", ".join(f"{s}x{s} {f / 1e9:.2f} G" for s, f in sw.flops.items())
        + f", 640x480 {sw.flops_photo / 1e9:.2f} G.",
        "Peak RSS = VmHWM of a fresh Python process doing only that work (torch and depthkit included).",
        *run.notes(model),
    ]
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
