"""Command line: ``python -m depthkit {predict,demo,weights,report,video,doctor,backends}``.

* ``predict IMG... --out DIR [--max-size N]`` writes, per image, a coloured heat map PNG (near = bright), a 16-bit
  PNG and a ``.npy`` of the relative inverse depth, at the photo's resolution or scaled down to a longest side of
  ``N`` px (big phone photos are then decoded at reduced scale, which is much faster). Without ``--max-size``,
  photos over 40 megapixels (48-200 MP phone photos) give maps of :data:`depthkit.io.OVERSIZE_SIDE` px.
* ``demo --out DIR`` runs on every bundled sample and writes ``index.html`` with originals and heat maps, stating
  which weights were used — the kit's main job.
* ``weights info | download | install FILE``, each with ``[--model NAME]``, manages a network's checkpoint
  (default MiDaS_small; ``dpt_hybrid``, ``depth_anything_v2_small``: see :mod:`depthkit.model_registry`).
  ``predict --model NAME`` runs that network.
* ``report IMAGES_DIR --out report.html`` runs the parameterised report notebook with papermill.
* ``video IN --out OUT.mp4`` writes a browser-playable H.264 MP4 of stabilised depth heat maps
  (:mod:`depthkit.video_depth`).
* ``backends [--all] [--refresh]`` measures the inference backends on this machine (speed against eager fp32 and
  agreement with it) and prints the table and the backend that ``backend="auto"`` uses (:mod:`depthkit.backend_choice`).
* ``doctor`` checks Python, torch, the CPU, JupyterLab and its widgets, the weights, the internet and the backends,
  and names the command that fixes each problem (:mod:`depthkit.doctor`).

Bad input ends with a one-line ``depthkit: error: ...`` message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from .errors import DepthkitError

__all__ = ["build_parser", "main"]


def _model_name(name: str | None) -> str:
    """The ``--model`` value checked against the registry (``None``: the default model); one sentence if unknown."""
    from .checks import check_choice
    from .model_registry import DEFAULT_MODEL, model_names

    return DEFAULT_MODEL if name is None else check_choice(name, "--model", model_names())


def _load_model(weights: str, threads: int | None, model: str | None = None) -> Any:
    from .weights import UntrainedWeightsWarning, load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UntrainedWeightsWarning)
        net = load_model(weights, model=_model_name(model), threads=threads)
    if not net.weights_info.pretrained or caught:
        print(f"WARNING: {net.weights_info.label}", file=sys.stderr)
    return net


def _write_outputs(result: Any, out_dir: Path, stem: str, cmap: str) -> list[Path]:
    from .io import write_file, write_npy, write_png16
    from .viz import heatmap_png

    return [
        write_file(out_dir / f"{stem}_inverse_depth.png", heatmap_png(result.inverse_depth, cmap=cmap),
                   suffixes=(".png",), writer="predict"),
        write_png16(out_dir / f"{stem}_inverse_depth16.png", result.inverse_depth),
        write_npy(out_dir / f"{stem}_inverse_depth.npy", result.inverse_depth),
    ]


def _readable(images: list[str]) -> tuple[list[tuple[str, tuple[int, int]]], int]:
    """(image, (H, W)) for every input whose header reads; each other one gets its one-line error at once, before
    the model is loaded (so an empty file, a folder or a FIFO is refused in well under a second)."""
    from .io import image_size

    readable, failed = [], 0
    for img in images:
        try:
            readable.append((img, image_size(img)))
        except DepthkitError as e:
            print(f"depthkit: error: {img}: {e}", file=sys.stderr)
            failed += 1
    return readable, failed


def _cmd_predict(args: argparse.Namespace) -> int:
    from .inference import estimate_depth
    from .io import read_photo

    _model_name(args.model)  # an unknown --model fails before any work
    readable, failed = _readable(args.images)
    if not readable:
        return 1
    model = _load_model(args.weights, args.threads, args.model)
    out = Path(args.out)
    for img, size in readable:
        try:
            result = estimate_depth(read_photo(img, max_size=args.max_size), model, backend=args.backend)
            paths = _write_outputs(result, out, Path(img).stem, args.cmap)
        except DepthkitError as e:
            print(f"depthkit: error: {img}: {e}", file=sys.stderr)
            failed += 1
            continue
        h, w = result.inverse_depth.shape
        scaled = f" (photo {size[1]}x{size[0]} px, scaled down)" if (h, w) != size else ""
        print(f"{img}: {w}x{h} px{scaled}, {result.seconds * 1000:.0f} ms -> {', '.join(p.name for p in paths)}")
    print(f"weights: {model.weights_info.label}")
    return 1 if failed else 0


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>depthkit demo</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} .row{{display:flex;gap:1em;margin:1em 0}}
.row figure{{margin:0;flex:1}} img{{width:100%}} .warn{{background:#fee;border:2px solid #c00;padding:1em}}
.ok{{background:#efe;border:1px solid #393;padding:1em}}</style></head><body>
<h1>depthkit demo: MiDaS_small on the bundled samples</h1>
<p class="{cls}"><b>Weights:</b> {label}</p>
<p>Heat maps show relative <i>inverse</i> depth: bright = near, dark = far (colormap {cmap}; no unit, unknown
scale and shift).</p>
{rows}
</body></html>
"""


def _cmd_demo(args: argparse.Namespace) -> int:
    from .inference import estimate_depth
    from .io import write_file, write_png
    from .samples import list_samples, load_sample

    model = _load_model(args.weights, args.threads)
    out = Path(args.out)
    rows = []
    for name in list_samples():
        result = estimate_depth(load_sample(name), model, backend=args.backend)
        write_png(out / f"{name}.png", result.image)
        _write_outputs(result, out, name, args.cmap)
        h, w = result.inverse_depth.shape
        rows.append(f'<div class="row"><figure><img src="{name}.png" alt="{name}"><figcaption>{name} '
                    f"({w}x{h} px)</figcaption></figure><figure><img src=\"{name}_inverse_depth.png\" "
                    f'alt="{name} inverse depth"><figcaption>{html.escape(result.caption)}, '
                    f"{result.seconds * 1000:.0f} ms</figcaption></figure></div>")
        print(f"{name}: {w}x{h} px, {result.seconds * 1000:.0f} ms")
    info = model.weights_info
    page = _PAGE.format(cls="ok" if info.pretrained else "warn", label=html.escape(info.label),
                        cmap=html.escape(args.cmap), rows="\n".join(rows))
    write_file(out / "index.html", page.encode("utf-8"), suffixes=(".html",), writer="demo")
    print(f"wrote {out / 'index.html'} ({len(rows)} samples; weights: {info.label})")
    return 0


def _weights_info(model: str) -> None:
    """``weights info``: the model, its licence and URL, its cache file and whether it is there and verified."""
    from . import weights as W
    from .model_registry import DEFAULT_MODEL, get_spec

    spec = get_spec(model)
    option = "" if model == DEFAULT_MODEL else f" --model {model}"
    print(f"model: {model} ({spec.title}; {spec.licence})")
    print(f"official checkpoint: {spec.url}")
    path = W.cache_path(model)
    print(f"cache: {path}")
    if path.is_file():
        try:
            state = f"sha256 {W.verify_cached(path, model=model)}, unchanged since it was verified"
        except DepthkitError as e:
            state = f"NOT usable: {e}"
        print(f"present: yes ({path.stat().st_size / 1e6:.1f} MB, {state})")
    else:
        print(f"present: no — run `python -m depthkit weights download{option}` (internet) or "
              f"`python -m depthkit weights install FILE{option}`")
    if model == DEFAULT_MODEL:  # the variable selects MiDaS_small's weights only
        env = os.environ.get(W.ENV_VAR)
        print(f"{W.ENV_VAR}: {env or '(not set)'}")


def _cmd_weights(args: argparse.Namespace) -> int:
    from . import weights as W

    model = _model_name(args.model)
    if args.action == "info":
        _weights_info(model)
        return 0
    if args.action == "download":
        path = W.download(args.url, model=model)
    else:
        if not args.file:
            option = "" if args.model is None else f" --model {model}"
            raise DepthkitError(f"weights install needs the checkpoint file: python -m depthkit weights install "
                                f"FILE{option}.")
        path = W.install(args.file, model=model)
    print(f"verified and cached: {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import make_report

    out = make_report(args.images_dir, args.out, weights=args.weights, threads=args.threads, backend=args.backend)
    print(f"wrote {out}")
    return 0


def _cmd_video(args: argparse.Namespace) -> int:
    from .io import output_path
    from .video import probe_video
    from .video_depth import depth_video_file

    probe_video(args.input)  # an unreadable input or a bad output path fails in one line before the model loads
    output_path(args.out, (".mp4",), writer="video --out")
    if args.npy is not None:
        output_path(args.npy, (".npy",), writer="video --npy")
    model = _load_model(args.weights, args.threads)
    out = depth_video_file(args.input, args.out, model, stabilize=args.stabilize, side_by_side=args.side_by_side,
                           max_frames=args.max_frames, npy=args.npy, backend=args.backend, cmap=args.cmap)
    info = probe_video(out)
    extra = f" and {args.npy}" if args.npy else ""
    print(f"wrote {out}{extra} (H.264, {info.width}x{info.height} px, {info.duration:.1f} s at {info.fps:g} fps; "
          f"stabilize={args.stabilize}; weights: {model.weights_info.label})")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import main as doctor

    return doctor(url=args.url, timeout=args.timeout)


def _cmd_backends(args: argparse.Namespace) -> int:
    """The CPU's features, the installed backends, the measured table and the choice of ``backend="auto"``."""
    from .backend_choice import candidates, choose_backend, measure_backends
    from .backends import available_backends
    from .runtime import cpu_features

    model = _load_model(args.weights, args.threads)
    print(f"CPU: {cpu_features()}")
    none = 'none (pip install "depthkit[fast]")'
    print(f"installed backends: {', '.join(available_backends())}; candidates of 'auto': "
          f"{', '.join(candidates()) or none}")
    print(f"weights: {model.weights_info.label}")
    choice = choose_backend(model, refresh=args.refresh)
    if args.all:
        rows = measure_backends(model, [b for b in available_backends() if b not in ("eager", "compile")])
        choice = dataclasses.replace(choice, rows=tuple(rows), from_cache=False)  # the same choice, every row measured
    print(choice.to_markdown())
    return 0


def _max_size(text: str) -> int:
    """argparse type of --max-size: a positive whole number of pixels."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number of pixels, got {text!r}")
    return value


def _add_video_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``video`` subcommand's parser (without the common --weights/--threads/--cmap options)."""
    sp = sub.add_parser("video", help="depth video: an H.264 MP4 of heat maps that plays in browsers")
    sp.add_argument("input", help="video file (MP4, MOV, AVI, WebM, animated GIF)")
    sp.add_argument("--out", required=True, help="output .mp4 file")
    sp.add_argument("--stabilize", choices=["align", "shared", "none"], default="align",
                    help="align (default): fit each frame's scale and shift to the previous ones; shared: one range; "
                         "none: per-frame min-max (flickers)")
    sp.add_argument("--side-by-side", action="store_true", help="the input frame left of its heat map")
    sp.add_argument("--max-frames", type=_max_size, default=None, metavar="N", help="process at most N frames")
    sp.add_argument("--npy", default=None, metavar="FILE", help="also write the (T, H, W) float32 maps to FILE.npy")
    sp.add_argument("--backend", default="auto", help=_BACKEND_HELP)
    sp.set_defaults(func=_cmd_video)
    return sp


#: --backend's help (the names are checked by depthkit.backends.check_backend when the command runs).
_BACKEND_HELP = ("auto (default: the fastest that agrees with fp32 here, see `python -m depthkit backends`), eager "
                 "(plain fp32 PyTorch), onnx, openvino, bf16, int8 or compile")
#: --model's help (the parser imports no torch; tests check the names against depthkit.model_registry).
_MODEL_HELP = "network: midas_small (default), dpt_hybrid or depth_anything_v2_small"


def _add_weights_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``weights`` subcommand's parser: ``info | download | install FILE``, each with ``--model NAME``."""
    sp = sub.add_parser("weights", help="info | download | install FILE, each with [--model NAME]")
    sp.add_argument("action", choices=["info", "download", "install"])
    sp.add_argument("file", nargs="?", help="checkpoint file for install")
    sp.add_argument("--url", default=None, help="download from this URL instead of the official release")
    sp.add_argument("--model", default=None, metavar="NAME", help=_MODEL_HELP)
    sp.set_defaults(func=_cmd_weights)
    return sp


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m depthkit``."""
    p = argparse.ArgumentParser(prog="python -m depthkit", description="Monocular depth with MiDaS_small on the CPU.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--weights", default="auto", help="auto (default), pretrained, random, or a checkpoint path")
        sp.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        sp.add_argument("--cmap", default="inferno", help="matplotlib colormap of the heat maps")

    sp = sub.add_parser("predict", help="inverse depth for images: coloured PNG, 16-bit PNG and .npy each")
    sp.add_argument("images", nargs="+", help="image files")
    sp.add_argument("--out", required=True, help="output folder")
    sp.add_argument("--max-size", type=_max_size, default=None, metavar="N",
                    help="longest side in px of the written maps: larger photos are scaled down (JPEGs are decoded at "
                         "reduced scale, fast for phone photos); default: the photo's own size, except that photos "
                         "over 40 megapixels give maps of 4096 px")
    common(sp)
    sp.add_argument("--model", default=None, metavar="NAME", help=_MODEL_HELP)
    sp.add_argument("--backend", default="auto", help=_BACKEND_HELP)
    sp.set_defaults(func=_cmd_predict)

    sp = sub.add_parser("demo", help="run on every bundled sample and write an HTML page")
    sp.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    common(sp)
    sp.add_argument("--backend", default="auto", help=_BACKEND_HELP)
    sp.set_defaults(func=_cmd_demo)

    _add_weights_parser(sub)

    sp = sub.add_parser("report", help="HTML report over a folder of images (papermill + nbconvert)")
    sp.add_argument("images_dir")
    sp.add_argument("--out", default="report.html")
    sp.add_argument("--weights", default="auto", help="auto (default), pretrained, random, or a checkpoint path")
    sp.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    sp.add_argument("--backend", default=None, help=_BACKEND_HELP)
    sp.set_defaults(func=_cmd_report)

    common(_add_video_parser(sub))

    sp = sub.add_parser("doctor", help="check this machine for the kit: Python, torch, CPU, JupyterLab, weights, "
                                       "internet, backends (with the command that fixes each problem)")
    sp.add_argument("--timeout", type=float, default=5.0, help="seconds the internet check may take (default 5)")
    sp.add_argument("--url", default=None, help="check this download URL's host instead of the official release's")
    sp.set_defaults(func=_cmd_doctor)

    sp = sub.add_parser("backends", help="measure the inference backends here: speed, agreement with fp32, and "
                                         "the one backend='auto' uses")
    sp.add_argument("--weights", default="auto", help="auto (default), pretrained, random, or a checkpoint path")
    sp.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    sp.add_argument("--all", action="store_true", help="measure every installed backend's agreement, not only "
                                                        "until the fastest one passes")
    sp.add_argument("--refresh", action="store_true", help="measure again instead of reading the cached choice")
    sp.set_defaults(func=_cmd_backends)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 some inputs failed, 2 error)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DepthkitError as e:
        print(f"depthkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("depthkit: interrupted", file=sys.stderr)
        return 130
