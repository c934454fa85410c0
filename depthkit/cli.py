"""Command line: ``python -m depthkit {predict,demo,weights,report}``.

* ``predict IMG... --out DIR`` writes, per image, a coloured heat map PNG (near = bright), a 16-bit PNG and a
  ``.npy`` of the relative inverse depth.
* ``demo --out DIR`` runs on every bundled sample and writes ``index.html`` with originals and heat maps, stating
  which weights were used — the kit's main job.
* ``weights info | download | install FILE`` manages the MiDaS_small checkpoint.
* ``report IMAGES_DIR --out report.html`` runs the parameterised report notebook with papermill.

Bad input ends with a one-line ``depthkit: error: ...`` message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import warnings
from pathlib import Path

from .errors import DepthkitError

__all__ = ["main", "build_parser"]


def _load_model(weights: str, threads: int | None):
    from .weights import UntrainedWeightsWarning, load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UntrainedWeightsWarning)
        model = load_model(weights, threads=threads)
    if not model.weights_info.pretrained or caught:
        print(f"WARNING: {model.weights_info.label}", file=sys.stderr)
    return model


def _write_outputs(result, out_dir: Path, stem: str, cmap: str) -> list[Path]:
    from .io import write_npy, write_png, write_png16
    from .viz import colorize

    return [
        write_png(out_dir / f"{stem}_inverse_depth.png", colorize(result.inverse_depth, cmap=cmap)),
        write_png16(out_dir / f"{stem}_inverse_depth16.png", result.inverse_depth),
        write_npy(out_dir / f"{stem}_inverse_depth.npy", result.inverse_depth),
    ]


def _cmd_predict(args) -> int:
    from .inference import estimate_depth

    model = _load_model(args.weights, args.threads)
    out = Path(args.out)
    failed = 0
    for img in args.images:
        try:
            result = estimate_depth(img, model)
            paths = _write_outputs(result, out, Path(img).stem, args.cmap)
        except DepthkitError as e:
            print(f"depthkit: error: {img}: {e}", file=sys.stderr)
            failed += 1
            continue
        h, w = result.inverse_depth.shape
        print(f"{img}: {w}x{h} px, {result.seconds * 1000:.0f} ms -> {', '.join(p.name for p in paths)}")
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


def _cmd_demo(args) -> int:
    from .inference import estimate_depth
    from .io import write_png
    from .samples import list_samples, load_sample

    model = _load_model(args.weights, args.threads)
    out = Path(args.out)
    rows = []
    for name in list_samples():
        result = estimate_depth(load_sample(name), model)
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
    (out / "index.html").write_text(page, encoding="utf-8")
    print(f"wrote {out / 'index.html'} ({len(rows)} samples; weights: {info.label})")
    return 0


def _cmd_weights(args) -> int:
    from . import weights as W

    if args.action == "info":
        path = W.cache_path()
        print(f"cache: {path}")
        if path.is_file():
            side = path.with_name(path.name + ".sha256")
            recorded = side.read_text().split()[0] if side.is_file() else "not recorded yet"
            print(f"present: yes ({path.stat().st_size / 1e6:.1f} MB, sha256 {recorded})")
        else:
            print("present: no — run `python -m depthkit weights download` (internet) or "
                  "`python -m depthkit weights install FILE`")
        env = os.environ.get(W.ENV_VAR)
        print(f"{W.ENV_VAR}: {env or '(not set)'}")
        return 0
    if args.action == "download":
        path = W.download(args.url)
    else:
        if not args.file:
            raise DepthkitError("weights install needs the checkpoint file: python -m depthkit weights install FILE.")
        path = W.install(args.file)
    print(f"verified and cached: {path}")
    return 0


def _cmd_report(args) -> int:
    from .report import make_report

    out = make_report(args.images_dir, args.out, weights=args.weights, threads=args.threads, backend=args.backend)
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m depthkit``."""
    p = argparse.ArgumentParser(prog="python -m depthkit", description="Monocular depth with MiDaS_small on the CPU.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--weights", default="auto", help="auto (default), pretrained, random, or a checkpoint path")
        sp.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        sp.add_argument("--cmap", default="inferno", help="matplotlib colormap of the heat maps")

    sp = sub.add_parser("predict", help="inverse depth for images: coloured PNG, 16-bit PNG and .npy each")
    sp.add_argument("images", nargs="+", help="image files")
    sp.add_argument("--out", required=True, help="output folder")
    common(sp)
    sp.set_defaults(func=_cmd_predict)

    sp = sub.add_parser("demo", help="run on every bundled sample and write an HTML page")
    sp.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    common(sp)
    sp.set_defaults(func=_cmd_demo)

    sp = sub.add_parser("weights", help="info | download | install FILE")
    sp.add_argument("action", choices=["info", "download", "install"])
    sp.add_argument("file", nargs="?", help="checkpoint file for install")
    sp.add_argument("--url", default=None, help="download from this URL instead of the official release")
    sp.set_defaults(func=_cmd_weights)

    sp = sub.add_parser("report", help="HTML report over a folder of images (papermill + nbconvert)")
    sp.add_argument("images_dir")
    sp.add_argument("--out", default="report.html")
    sp.add_argument("--weights", default="auto", help="auto (default), pretrained, random, or a checkpoint path")
    sp.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    sp.add_argument("--backend", default=None, help="inference backend, e.g. onnx (see depthkit.backends)")
    sp.set_defaults(func=_cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 some inputs failed, 2 error)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "action", None) == "download" and args.url is None:
        from .weights import CHECKPOINT_URL

        args.url = CHECKPOINT_URL
    try:
        return args.func(args)
    except DepthkitError as e:
        print(f"depthkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("depthkit: interrupted", file=sys.stderr)
        return 130
