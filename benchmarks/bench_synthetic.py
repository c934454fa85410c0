"""Benchmark: how many procedural scenes per second depthkit.synthetic renders on this machine.

Run: python benchmarks/bench_synthetic.py [--repeats N]

Prints one markdown table: milliseconds and scenes per second for a few sizes and options, each relative to
the default 128x128 scene measured in the same run. Textures are the sample photos (prepared once, as
render_scene does through its cache). Rendering is single-threaded numpy.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from depthkit.synthetic import TextureSet, render_scene  # after the sys.path tweak


def _time(fn, repeats: int) -> float:
    """Median seconds per call over `repeats` calls with different seeds (after one warm-up call)."""
    fn(10_000)
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        fn(seed)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="scenes rendered per configuration")
    args = parser.parse_args(argv)
    textures = TextureSet(None)  # the sample photos
    configs = [
        ("128x128, default (shadows, random haze)", {"size": (128, 128)}),
        ("128x128, no shadows", {"size": (128, 128), "shadows": False}),
        ("128x128, haze on", {"size": (128, 128), "haze": True}),
        ("64x64, default", {"size": (64, 64)}),
        ("256x256, default", {"size": (256, 256)}),
    ]
    rows = []
    for label, kw in configs:
        seconds = _time(lambda seed, kw=kw: render_scene(seed, textures=textures, **kw), args.repeats)
        rows.append((label, seconds))
    reference = rows[0][1]
    print(f"Synthetic scene rendering, median of {args.repeats} seeds per row, {os.cpu_count()} CPUs, "
          "numpy single thread\n")
    print("| configuration | ms / scene | scenes / s | time vs 128x128 default |")
    print("|---|---:|---:|---:|")
    for label, seconds in rows:
        print(f"| {label} | {1000 * seconds:.1f} | {1 / seconds:.1f} | {seconds / reference:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
