"""HTML reports over a folder of images: depth for every image, run through a parameterised notebook.

``python -m depthkit report IMAGES_DIR --out report.html`` calls :func:`make_report`, which

1. finds the images in the folder (:func:`find_images`);
2. loads the model once and estimates relative inverse depth for every image, with a tqdm progress bar in the
   terminal, saving each map (``.npy``) and a ``results.json`` with sizes, timings, statistics and the weights'
   provenance in a work folder (:func:`analyse_images`);
3. executes the report notebook ``depthkit/templates/report.ipynb`` with papermill (kernel ``python3``), passing
   the work folder as a parameter; the notebook draws the heat maps and tables (:func:`load_results`);
4. converts the executed notebook to a single self-contained HTML file with nbconvert (code cells hidden).

The template also runs on its own (``results_dir=""`` makes it compute the results itself), e.g.
``papermill depthkit/templates/report.ipynb out.ipynb -p images_dir data/samples``.

A report made with untrained (random) weights says so at the top and under every image: its maps are not
depth predictions.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DepthkitError, InputError

__all__ = ["IMAGE_EXTENSIONS", "analyse_images", "find_images", "load_results", "make_report", "map_stats",
           "template_path"]

#: File name endings (lower case) treated as images.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".heic", ".heif", ".avif")
_RESULTS = "results.json"


def template_path() -> Path:
    """Path of the report notebook template, ``depthkit/templates/report.ipynb``."""
    return Path(__file__).resolve().parent / "templates" / "report.ipynb"


def find_images(images_dir: str | os.PathLike, max_images: int | None = None) -> list[Path]:
    """The image files directly inside a folder, sorted by name.

    Args:
        images_dir: folder path.
        max_images: keep only the first this many (``None`` or 0: all).

    Returns:
        List of :class:`~pathlib.Path` whose suffix is in :data:`IMAGE_EXTENSIONS` (case-insensitive), folders
        left out (a FIFO or a link to a device with such a name is kept: the report says why it cannot be read).

    Raises:
        DepthkitError: the folder does not exist, is a file, or holds no image files.
    """
    if not isinstance(images_dir, (str, os.PathLike)):
        raise InputError(f"images_dir must be a folder path, got {type(images_dir).__name__}.")
    folder = Path(images_dir).expanduser()
    if not folder.exists():
        raise DepthkitError(f"the images folder '{folder}' does not exist; check the path.")
    if not folder.is_dir():
        raise DepthkitError(f"'{folder}' is a file, not a folder; pass the folder that holds the images.")
    # not only regular files: a FIFO or a link to a device named like an image is listed, and gets its one sentence
    # from read_image in the report; folders are not images
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir())
    if not paths:
        raise DepthkitError(f"the folder '{folder}' holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                            "put some photos in it or pass another folder.")
    if max_images:
        paths = paths[: int(max_images)]
    return paths


def map_stats(inverse_depth: np.ndarray) -> dict[str, float]:
    """Summary statistics of a relative inverse depth map (finite pixels only; no unit).

    Args:
        inverse_depth: (H, W) float array.

    Returns:
        dict with ``min``, ``p2``, ``median``, ``p98``, ``max``, ``mean``, ``std`` (floats) and ``finite``
        (fraction of finite pixels).

    Example:
        >>> s = map_stats(np.array([[0.0, 1.0], [2.0, np.inf]]))
        >>> s["min"], s["median"], s["max"], s["finite"]
        (0.0, 1.0, 2.0, 0.75)
    """
    a = np.asarray(inverse_depth, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise InputError(f"inverse_depth must be a non-empty (H, W) array, got shape {a.shape}.")
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        raise InputError("inverse_depth has no finite values; check the model output.")
    p2, med, p98 = np.percentile(finite, [2, 50, 98])
    return {"min": float(finite.min()), "p2": float(p2), "median": float(med), "p98": float(p98),
            "max": float(finite.max()), "mean": float(finite.mean()), "std": float(finite.std()),
            "finite": float(finite.size / a.size)}


def _weights_record(info: Any) -> dict[str, Any]:
    return {"kind": getattr(info, "kind", "unknown"), "pretrained": bool(getattr(info, "pretrained", False)),
            "label": str(getattr(info, "label", info)), "sha256": getattr(info, "sha256", None),
            "path": getattr(info, "path", None)}


def analyse_images(paths: Any, model: Any, out_dir: str | os.PathLike, *, backend: str | None = None,
                   threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Estimate depth for each image and save maps and a ``results.json`` into ``out_dir``.

    An image that cannot be read is recorded with its error message instead of stopping the run.

    Args:
        paths: image file paths.
        model: a model from :func:`depthkit.load_model`.
        out_dir: folder for ``<index>.npy`` maps (float32, (H, W) relative inverse depth) and ``results.json``.
        backend: inference backend (see :mod:`depthkit.backends`); ``None``: the default, ``"auto"``.
        threads: torch CPU threads (``None``: torch's setting).
        progress: show a tqdm progress bar over the images.

    Returns:
        The results dict also written to ``results.json``: ``{"weights": {...}, "threads": int,
        "backend": str, "images": [{"name", "path", "width", "height", "net_width", "net_height", "seconds",
        "stats", "map"} or {"name", "path", "error"}, ...]}``.
    """
    import torch
    from tqdm.auto import tqdm

    from .backend_choice import resolve_backend
    from .backends import DEFAULT_BACKEND
    from .inference import estimate_depth
    from .io import write_file, write_npy

    out = Path(out_dir)
    records = []
    used = resolve_backend(model, DEFAULT_BACKEND if backend is None else backend)  # "auto" chosen once, up front
    for i, path in enumerate(tqdm(list(paths), desc="depth", unit="image", disable=not progress)):
        path = Path(path).absolute()  # not resolve(): a symlink keeps its own name in the report
        try:
            r = estimate_depth(path, model, threads=threads, backend=used)
        except DepthkitError as e:
            records.append({"name": path.name, "path": str(path), "error": str(e)})
            continue
        map_file = f"{i:04d}.npy"
        write_npy(out / map_file, r.inverse_depth)
        h, w = r.inverse_depth.shape
        records.append({"name": path.name, "path": str(path), "width": w, "height": h, "net_width": r.net_size[0],
                        "net_height": r.net_size[1], "seconds": r.seconds, "stats": map_stats(r.inverse_depth),
                        "map": map_file})
    results = {"weights": _weights_record(getattr(model, "weights_info", None)),
               "threads": int(threads or torch.get_num_threads()),
               "backend": used if backend else f"{used} (chosen by {DEFAULT_BACKEND!r})", "images": records}
    write_file(out / _RESULTS, json.dumps(results, indent=1).encode("utf-8"), suffixes=(".json",),
               writer="analyse_images")
    return results


def load_results(results_dir: str | os.PathLike) -> dict[str, Any]:
    """Read what :func:`analyse_images` wrote; each image record gains ``inverse_depth`` ((H, W) float32) and
    ``image`` ((H, W, 3) uint8 RGB), except records with an ``error``."""
    from .io import read_photo

    folder = Path(results_dir)
    file = folder / _RESULTS
    if not file.is_file():
        raise DepthkitError(f"'{folder}' holds no {_RESULTS}; run depthkit.report.analyse_images first.")
    results = json.loads(file.read_text(encoding="utf-8"))
    for rec in results["images"]:
        if "error" not in rec:
            rec["inverse_depth"] = np.load(folder / rec["map"])
            rec["image"] = read_photo(rec["path"])  # as estimate_depth read it
    return results


def _execute(template: Path, executed: Path, parameters: dict[str, Any], timeout: float) -> Any:
    import papermill as pm

    package_parent = str(Path(__file__).resolve().parents[1])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = package_parent + (os.pathsep + old if old else "")  # the kernel imports this depthkit
    try:
        return pm.execute_notebook(str(template), str(executed), parameters=parameters, kernel_name="python3",
                                   progress_bar=False, execution_timeout=timeout, cwd=str(executed.parent))
    except pm.PapermillExecutionError as e:
        raise DepthkitError(f"the report notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}; "
                            f"see {executed}.") from None
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _check_request(images_dir: Any, out: Any, backend: str | None, cmap: str,
                   max_images: int | None) -> tuple[list[Path], Path]:
    """Every check that can fail before any work: the images, the output path (.html), the backend, the colour map."""
    from .backends import check_backend
    from .io import output_path
    from .viz import colorize

    paths = find_images(images_dir, max_images)
    if backend is not None:
        check_backend(backend)
    colorize(np.zeros((1, 2)), cmap=cmap)  # checks the colour map name before any work
    return paths, output_path(out, (".html", ".htm"), writer="the report")


def _quiet_model(weights: str | os.PathLike, threads: int | None) -> Any:
    """Load the model without the untrained-weights warning: the report itself flags untrained weights, loudly."""
    import warnings

    from .weights import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(weights, threads=threads)


def _to_html(executed: Path, title: str, show_code: bool) -> tuple[str, Any]:
    """The executed notebook as one self-contained HTML page (code cells hidden unless ``show_code``)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(exclude_input=not show_code, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body, nb


def make_report(images_dir: str | os.PathLike, out: str | os.PathLike = "report.html",
                weights: str | os.PathLike = "auto", *, threads: int | None = None, backend: str | None = None,
                cmap: str = "inferno", max_images: int | None = None, show_code: bool = False,
                keep_notebook: bool = False, progress: bool = True, timeout: float = 600.0) -> Path:
    """Make an HTML report of relative inverse depth for every image in a folder.

    Args:
        images_dir: folder with the images (see :data:`IMAGE_EXTENSIONS`).
        out: the HTML file to write (parent folders are created).
        weights: ``"auto"``, ``"pretrained"``, ``"random"`` or a checkpoint path (see :func:`depthkit.load_model`).
        threads: torch CPU threads (``None``: torch's default).
        backend: inference backend (``None``: the default, ``"auto"``; see :mod:`depthkit.backend_choice`).
        cmap: matplotlib colour map of the heat maps (near = bright for "inferno").
        max_images: only the first this many images (sorted by name); ``None``: all.
        show_code: include the notebook's code cells in the HTML.
        keep_notebook: also keep the executed notebook next to the HTML (``<out>.ipynb``).
        progress: tqdm progress bar over the images.
        timeout: seconds any one notebook cell may take.

    Returns:
        The path of the HTML file.

    Raises:
        DepthkitError: missing or empty folder, unknown weights or backend, or a failing notebook.
    """
    import nbformat

    from .io import write_file

    paths, out = _check_request(images_dir, out, backend, cmap, max_images)
    model = _quiet_model(weights, threads)
    with tempfile.TemporaryDirectory(prefix="depthkit-report-") as work:
        work = Path(work)
        analyse_images(paths, model, work, backend=backend, threads=threads, progress=progress)
        executed = work / "report.ipynb"
        params = {"images_dir": str(Path(images_dir).resolve()), "results_dir": str(work), "weights": str(weights),
                  "cmap": cmap, "max_images": int(max_images or 0)}
        _execute(template_path(), executed, params, timeout)
        body, nb = _to_html(executed, f"depthkit report: {out.stem}", show_code)
        write_file(out, body.encode("utf-8"), suffixes=(".html", ".htm"), writer="the report")
        if keep_notebook:
            nbformat.write(nb, out.with_suffix(".ipynb"))
    return out
