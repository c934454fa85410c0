"""Backends x threads at 256x256: speed against eager fp32 and agreement with it on the bundled samples.

    python benchmarks/bench_backends.py [--threads 1 2] [--backends eager channels_last bf16 onnx openvino]
                                        [--compile] [--repeats 5]

One table, all numbers from this run: per backend and thread count the forward median at 256x256, the speed-up
over eager fp32 (same threads) and the ratio to the fp32 floor (FLOPs / measured 2048² matmul GFLOP/s on those
threads); per backend the agreement with eager fp32 over every bundled sample at its own network size (lowest
Pearson r and largest max-relative-error after least-squares scale and shift alignment).

One extra row, "eager + fixed same-padding", times a structural variant with the identical state_dict: timm's
``Conv2dSame`` layers replaced by a constant asymmetric padding (valid for sides that are multiples of 32).

``--compile`` adds torch.compile (inductor): its first call compiles for minutes on 2 cores, so it is opt-in.
The model is ``load_model("auto")`` (offline: seeded random weights): agreement then shows that a backend
computes the same function as eager fp32 on real photos; it says nothing about depth accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--backends", nargs="+", default=["eager", "channels_last", "bf16", "onnx", "openvino"])
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=6.0, help="seconds of timed runs per row before stopping early")
    args = p.parse_args(argv)

    import torch

    import depthkit as dk
    from depthkit import backends as B
    from depthkit.bench import ResultsTable, count_flops, fp32_floor_seconds, load_average, matmul_gflops, time_call

    t_start = time.perf_counter()
    load_before = load_average()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dk.load_model("auto")
    backends = list(args.backends) + (["compile"] if args.compile else [])
    missing = [b for b in backends if b not in B.available_backends()]
    backends = [b for b in backends if b not in missing]
    x = torch.from_numpy(dk.transforms.prepare_array(dk.samples.load_sample("astronaut")))[None]  # 1x3x256x256
    flops = count_flops(model, x)
    fixed = B.static_same_padding(model).to(memory_format=torch.channels_last)

    # agreement on every sample (at 2 threads; the function computed does not depend on threads)
    inputs = [torch.from_numpy(dk.transforms.prepare_array(dk.samples.load_sample(n)))[None]
              for n in dk.samples.list_samples()]
    refs = [B.run_backend(model, xi, "eager").numpy() for xi in inputs]
    agree = {}
    for b in backends + ["fixed"]:
        worst_r, worst_err = 1.0, 0.0
        for xi, ref in zip(inputs, refs):
            if b == "fixed":
                with torch.inference_mode():
                    out = fixed(xi.contiguous(memory_format=torch.channels_last)).numpy()
            else:
                out = B.run_backend(model, xi, b).numpy()
            a = B.agreement(out, ref)
            worst_r, worst_err = min(worst_r, a.pearson_r), max(worst_err, a.max_rel_err)
        agree[b] = (worst_r, worst_err)

    table = ResultsTable(["backend", "threads", "median ms", "min ms", "speed-up vs eager", "x fp32 floor",
                          "min r (samples)", "max rel err (samples)", ">= 2x and r >= 0.99"],
                         title="Backends at 256x256 (forward only)")
    floors = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        gflops = matmul_gflops(2048, threads=threads, repeats=3)
        floors[threads] = (gflops, fp32_floor_seconds(flops, gflops))
        eager_ms = None
        for b in backends + ["fixed"]:
            if b == "fixed":
                def fn():
                    with torch.inference_mode():
                        return fixed(x.contiguous(memory_format=torch.channels_last))
                name = "channels_last + fixed same-padding"
            else:
                runner = B.get_runner(model, b, tuple(x.shape), threads=threads)
                fn, name = (lambda r=runner: r(x)), b
            t = time_call(fn, warmup=2, repeats=args.repeats, budget_s=args.budget)
            if b == "eager":
                eager_ms = t.median_ms
            speedup = eager_ms / t.median_ms if eager_ms else float("nan")
            r, err = agree[b]
            table.add(backend=name, threads=threads, **{"median ms": t.median_ms, "min ms": t.min * 1e3,
                      "speed-up vs eager": speedup, "x fp32 floor": t.median / floors[threads][1],
                      "min r (samples)": r, "max rel err (samples)": err,
                      ">= 2x and r >= 0.99": bool(speedup >= 2 and r >= 0.99)})
    table.notes += [
        "FLOPs at 256x256: " + f"{flops / 1e9:.2f} GFLOP (1 multiply-add = 2 FLOPs). fp32 floor per thread count: "
        + ", ".join(f"{k} thread(s) {v[0]:.0f} GFLOP/s -> {v[1] * 1e3:.0f} ms" for k, v in floors.items()) + ".",
        f"Agreement over {len(inputs)} samples ({', '.join(dk.samples.list_samples())}) at their network sizes, "
        "against eager fp32 with the same weights; max rel err = max |aligned - eager| / (max - min of eager).",
        f"Weights: {model.weights_info.label}",
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; load average {load_before:.1f} before / "
        f"{load_average():.1f} after. Whole run: {time.perf_counter() - t_start:.0f} s.",
    ]
    if missing:
        table.notes.append(f"Not installed, skipped: {', '.join(missing)}.")
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
