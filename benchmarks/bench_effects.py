"""Benchmark depthkit.effects at 1 megapixel: the vectorised parallax against the naive per-pixel loop,
and the frame time of every effect.

Run:  python benchmarks/bench_effects.py [--repeats 7] [--crop 160x100]

The image is a synthetic 1280x800 RGB texture (checkerboard + colour gradients + noise) and the inverse
depth a smooth synthetic map (a tilted ground plane plus two near blobs), both deterministic. The naive
loop needs on the order of a minute at 1 MP, so it is timed on a centre crop and its time scaled by the
pixel count (it is linear in the number of pixels); the table says so. All numbers come from this one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from depthkit import effects, viz

WIDTH, HEIGHT = 1280, 800


def synthetic_scene(width: int = WIDTH, height: int = HEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 textured image and (H, W) float32 smooth inverse depth (larger = nearer)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    checker = ((xx // 32 + yy // 32) % 2) * 60.0
    image = np.dstack([
        60 + checker + 100 * xx / width,
        40 + checker + 120 * yy / height,
        150 - checker / 2 + 50 * np.sin(xx / 50.0),
    ])
    image += rng.normal(0, 12, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    inverse_depth = 0.2 + 0.5 * yy / height  # ground plane: nearer towards the bottom
    for cx, cy, r, lift in ((0.35, 0.55, 0.15, 0.8), (0.7, 0.45, 0.1, 0.5)):
        d2 = ((xx - cx * width) ** 2 + (yy - cy * height) ** 2) / (r * width) ** 2
        inverse_depth += lift * np.exp(-d2 * 2.0)
    return image, inverse_depth.astype(np.float32)


def time_ms(fn, repeats: int) -> tuple[float, float, float]:
    """(median wall, min wall, median process CPU) time of ``fn()`` in milliseconds, after one warm-up.

    Process CPU time is summed over all threads (OpenCV may use several) and is not inflated when other
    programs compete for the cores; wall time is what a user waits.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per row (after one warm-up)")
    parser.add_argument("--crop", default="160x100", help="WxH crop for the naive loop")
    args = parser.parse_args(argv)
    crop_w, crop_h = (int(v) for v in args.crop.lower().split("x"))

    image, inverse_depth = synthetic_scene()
    pixels = WIDTH * HEIGHT
    shift = (24.0, 8.0)
    y0, x0 = (HEIGHT - crop_h) // 2, (WIDTH - crop_w) // 2
    crop_img = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    crop_inv = inverse_depth[y0 : y0 + crop_h, x0 : x0 + crop_w]
    scale = pixels / (crop_w * crop_h)

    naive = time_ms(lambda: effects.parallax_naive(crop_img, crop_inv, shift), max(3, args.repeats // 2))
    naive = tuple(t * scale for t in naive)
    rows = [("parallax_naive (per-pixel Python loop, no hole filling)",
             f"{crop_w}x{crop_h} crop, times x{scale:.0f} to 1 MP", *naive)]
    full = f"{WIDTH}x{HEIGHT}"
    cases = [
        ("parallax_view, fill_holes=False (same output as naive)",
         lambda: effects.parallax_view(image, inverse_depth, shift, fill_holes=False)),
        ("parallax_view, background hole filling (default)",
         lambda: effects.parallax_view(image, inverse_depth, shift)),
        ("parallax_view, fill_method='inpaint'",
         lambda: effects.parallax_view(image, inverse_depth, shift, fill_method="inpaint")),
        ("portrait_blur (6 layers, aperture 12 px)", lambda: effects.portrait_blur(image, inverse_depth)),
        ("portrait_blur_threshold (the tutorial's one-threshold blur)",
         lambda: effects.portrait_blur_threshold(image, inverse_depth)),
        ("obstacle_warning", lambda: effects.obstacle_warning(inverse_depth)),
        ("obstacle_warning + draw_obstacle_overlay",
         lambda: effects.draw_obstacle_overlay(image, effects.obstacle_warning(inverse_depth))),
        ("anaglyph (two parallax views)", lambda: effects.anaglyph(image, inverse_depth)),
        ("viz.colorize (inferno, percentile)", lambda: viz.colorize(inverse_depth)),
    ]
    for name, fn in cases:
        rows.append((name, full, *time_ms(fn, args.repeats)))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"depthkit effects benchmark: {WIDTH}x{HEIGHT} = {pixels / 1e6:.2f} MP synthetic image, parallax shift "
          f"{shift} px, {args.repeats} timed runs per row, {os.cpu_count()} CPUs, load average {load:.1f} at the "
          "end of the run (wall times grow with competing load; CPU time does not)\n")
    print("| operation | measured on | median ms (wall) | min ms (wall) | median ms (CPU) | speed-up vs naive |")
    print("|---|---|---:|---:|---:|---:|")
    for name, where, med, best, cpu in rows:
        if name.startswith("parallax_view"):
            speedup = f"{naive[0] / med:,.0f}x (CPU {naive[2] / cpu:,.0f}x)"
        else:
            speedup = "1x" if "naive" in name else ""
        print(f"| {name} | {where} | {med:,.1f} | {best:,.1f} | {cpu:,.1f} | {speedup} |")


if __name__ == "__main__":
    main()
