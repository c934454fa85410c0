"""Video depth end to end: frames per second of decode -> depth -> colour -> encode, per backend and thread count.

    python benchmarks/bench_video.py [--threads 1 2] [--backends eager bf16 onnx openvino] [--frames 48]
                                     [--size 640x360] [--batch 4] [--compile]

One table, all numbers from this run. The input is an H.264 clip made here (a bundled sample panned across,
``--size`` at 24 fps, ``--frames`` frames); each row runs :func:`depthkit.video_depth.depth_video_file` on it
(decode with ffmpeg, MiDaS_small in batches, "align" stabilisation, colour, H.264 encode with ffmpeg) and
divides the frames by the wall time. A short warm-up run per row first builds the backend (ONNX export,
OpenVINO compile) so that one-time cost is not counted; it is reported separately. "vs eager" is the speed
ratio to eager fp32 at the same threads, "min r" the lowest Pearson correlation with eager fp32 of the raw
inverse depth over the warm-up frames (after least-squares scale and shift), so a fast but wrong backend shows.

Threads are torch's (and ONNX Runtime's / OpenVINO's) count; ffmpeg decodes and encodes in its own processes
with its own threads. Targets (2 cores): >= 15 frames/s with the fastest accurate backend,
>= 8 frames/s with eager PyTorch. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: The issue's targets in frames per second on 2 cores.
TARGET_FAST, TARGET_EAGER = 15.0, 8.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--backends", nargs="+", default=["eager", "bf16", "onnx", "openvino"])
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    p.add_argument("--frames", type=int, default=48, help="frames of the test clip (default 48 = 2 s at 24 fps)")
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the test clip (default 640x360)")
    p.add_argument("--batch", type=int, default=4, help="frames per forward pass")
    return p.parse_args(argv)


def make_clip(path: Path, frames: int, width: int, height: int) -> Path:
    """An H.264 clip of a bundled photo panned from left to right (the camera moves, the scene does not)."""
    import cv2
    import numpy as np

    from depthkit.samples import load_sample
    from depthkit.video import write_video

    photo = load_sample("motorcycle")
    scale = max(height / photo.shape[0], (width * 1.25) / photo.shape[1])
    big = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                     interpolation=cv2.INTER_AREA)
    span = big.shape[1] - width
    y0 = (big.shape[0] - height) // 2
    xs = np.linspace(0, span, frames).round().astype(int)
    return write_video((big[y0:y0 + height, x:x + width] for x in xs), path, fps=24.0)


def agreement_with_eager(model: Any, clip: Path, backend: str, n: int) -> float:
    """Lowest Pearson r (after scale-and-shift alignment) of ``backend``'s raw maps with eager's on n frames."""
    from depthkit.backends import agreement
    from depthkit.video import read_video
    from depthkit.video_depth import estimate_depth_video

    frames, _ = read_video(clip, max_frames=n)
    ref = estimate_depth_video(frames, model, batch=n, backend="eager", stabilize=None, progress=False)
    got = estimate_depth_video(frames, model, batch=n, backend=backend, stabilize=None, progress=False)
    return min(agreement(g, r).pearson_r for g, r in zip(got, ref, strict=True))


def time_row(model: Any, clip: Path, out: Path, backend: str, threads: int, args: argparse.Namespace) -> dict:
    """Warm-up (builds the backend) then one timed end-to-end run; returns the row's numbers."""
    from depthkit.runtime import num_threads
    from depthkit.video_depth import depth_video_file

    with num_threads(threads):
        t0 = time.perf_counter()
        depth_video_file(clip, out, model, backend=backend, batch=args.batch, max_frames=args.batch, progress=False)
        warmup = time.perf_counter() - t0
        r = agreement_with_eager(model, clip, backend, args.batch)
        t0 = time.perf_counter()
        depth_video_file(clip, out, model, backend=backend, batch=args.batch, progress=False)
        seconds = time.perf_counter() - t0
    return {"fps": args.frames / seconds, "ms/frame": seconds / args.frames * 1e3, "warm-up s": warmup, "r": r}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)


    from depthkit import backends as B
    from depthkit.bench import BenchmarkRun, ResultsTable

    width, height = (int(v) for v in args.size.lower().split("x"))
    run = BenchmarkRun()
    model = run.load_model()
    wanted = [*args.backends, *(["compile"] if args.compile else [])]
    missing = [b for b in wanted if b not in B.available_backends()]
    names = list(dict.fromkeys(["eager", *(b for b in wanted if b not in missing)]))
    table = ResultsTable(["backend", "threads", "frames/s", "ms/frame", "vs eager", "min r vs eager", "warm-up s",
                          "target met"], title=f"Video depth end to end at {width}x{height} "
                                               "(decode -> depth -> colour -> encode)")
    with tempfile.TemporaryDirectory(prefix="depthkit-bench-video-") as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", args.frames, width, height)
        for threads in args.threads:
            eager_fps = None
            for name in names:
                row = time_row(model, clip, Path(tmp) / "out.mp4", name, threads, args)
                eager_fps = row["fps"] if name == "eager" else eager_fps
                target = TARGET_EAGER if name == "eager" else TARGET_FAST
                table.add(backend=name, threads=threads, **{
                    "frames/s": row["fps"], "ms/frame": row["ms/frame"],
                    "vs eager": row["fps"] / eager_fps if eager_fps else float("nan"),
                    "min r vs eager": row["r"], "warm-up s": row["warm-up s"],
                    "target met": f"{'yes' if row['fps'] >= target else 'no'} (>= {target:g})"})
    table.notes += [
        f"Clip: {args.frames} frames, {width}x{height}, H.264 at 24 fps (bundled 'motorcycle' panned); batch "
        f"{args.batch}; stabilize='align'; output H.264 heat maps. min r over the first {args.batch} frames.",
        *run.notes(model),
    ]
    if missing:
        table.notes.append(f"Not installed, skipped: {', '.join(missing)}.")
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
