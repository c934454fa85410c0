"""The interactive depth app for Jupyter: upload a photo (or pick a sample), see its depth, play with effects.

``dk.app()`` returns a :class:`DepthApp`; display it (make it the last expression of a cell) to get:

* a file upload button (images only), a drop zone and a sample picker (:mod:`depthkit.samples`);
* the photo and its heat map side by side (bright = near), a colour-map choice and a near/far legend;
* tabs for the effects of :mod:`depthkit.effects`: parallax (an animated GIF preview), portrait blur (focus
  and aperture sliders) and obstacle warning (threshold slider); a live webcam tab (the browser's camera and its
  stabilised heat map, :mod:`depthkit.webcam`; the camera runs only while the tab is open) and a rotatable 3-D
  point cloud of the photo (:func:`depthkit.viz.show_point_cloud`, plotly WebGL);
* download links for the heat map (PNG), the inverse depth as a 16-bit PNG and as float32 ``.npy``;
* a status line with the time taken and the weights in use (untrained weights are flagged in red, with how to
  get the real ones).

Every failure a user can cause (a text file renamed ``.jpg``, an empty file, a decompression bomb, ...) is shown
as one sentence above the pictures; the previous photo and its depth stay on screen, and the app keeps working
for the next upload. Very large photos are scaled down (longest side ``max_side`` px) while they are read, so
everything the app shows or offers for download is at that working resolution. Only the current photo and its
results are kept (while a new photo is processed, the previous one stays until the new one is ready).

The app has three parts:

* :class:`DepthPipeline`: photo in, :class:`DepthViews` out (read, scale down, estimate the depth, scale for
  display); no widgets, so it can be used and tested on its own;
* the widgets, attributes of :class:`DepthApp` (``upload``, ``sample``, ``cmap``, ``original``, ``heatmap``,
  ``message``, ``status``, ``tabs``, ``amplitude``, ``focus``, ``aperture``, ``threshold``, ``downloads``, ...),
  so a test or a notebook can drive them;
* the event handlers that connect the two. :meth:`DepthApp.run` processes an image without any widget events.

ipywidgets, OpenCV, PIL and torch are imported only when an app is created.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io as _stdio
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DepthkitError, InputError

if TYPE_CHECKING:
    import torch

    from .inference import DepthResult

__all__ = ["COLORMAPS", "DepthApp", "DepthPipeline", "DepthViews", "app", "describe_upload", "downscale", "fit_size",
           "focus_pixel"]

#: Colour maps offered in the app (all matplotlib names; bright = near for the first five).
COLORMAPS = ("inferno", "magma", "viridis", "plasma", "turbo", "gray")

_PLACEHOLDER = "— pick a sample —"
_RED = "#c62828"
_EFFECT_TITLES = ("parallax animation", "portrait blur", "obstacle warning", "3-D point cloud")
_TAB_TITLES = ("Parallax", "Portrait blur", "Obstacle warning", "3-D point cloud", "Webcam")
_WEBCAM_TAB = len(_EFFECT_TITLES)  # the tab after the effects
_CLOUD_POINTS = 20_000  # point budget of the 3-D tab (plotly WebGL stays fluid)


# ------------------------------------------------------------------------------------------------ helpers
def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """Size (H, W) in pixels that fits ``height`` x ``width`` into ``max_side`` keeping the aspect ratio.

    Images that already fit keep their size; nothing is ever enlarged.

    Args:
        height, width: image size in pixels (positive).
        max_side: largest allowed height or width in pixels (positive).

    Returns:
        (H, W) with ``max(H, W) <= max_side`` and ``H / W`` as close to ``height / width`` as rounding allows.

    Example:
        >>> fit_size(3000, 4000, 1000)
        (750, 1000)
        >>> fit_size(300, 451, 1000)
        (300, 451)
    """
    if min(height, width, max_side) < 1:
        raise InputError(f"fit_size needs positive sizes, got height={height}, width={width}, max_side={max_side}.")
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return int(height), int(width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink an image or map so that its longest side is at most ``max_side`` pixels (area averaging).

    Args:
        image: (H, W, 3) uint8 RGB or (H, W) float32 map.
        max_side: largest allowed side in pixels.

    Returns:
        The array itself if it already fits, else a resized copy of the same dtype.

    Example:
        >>> downscale(np.zeros((40, 100, 3), np.uint8), 50).shape
        (20, 50, 3)
    """
    h, w = image.shape[:2]
    new_h, new_w = fit_size(h, w, max_side)
    if (new_h, new_w) == (h, w):
        return image
    import cv2

    return cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)


def focus_pixel(inverse_depth: np.ndarray, focus: float) -> tuple[int, int]:
    """The pixel (x, y) whose depth best matches a focus setting, for :func:`depthkit.effects.portrait_blur`.

    portrait_blur focuses at the median normalised inverse depth of the 5 x 5 window around a pixel; this
    picks the pixel (at least 2 px from the border when the map allows it) whose window median is nearest to
    ``focus``, so a slider from far (0) to near (1) can drive the blur.

    Args:
        inverse_depth: (H, W) relative inverse depth (larger = nearer).
        focus: wanted normalised inverse depth in [0, 1] (0 = farthest, 1 = nearest; percentile normalisation
            like portrait_blur's default).

    Returns:
        (x, y) pixel coordinates.

    Example:
        >>> inv = np.tile(np.linspace(0.0, 1.0, 11, dtype=np.float32), (7, 1))  # nearer to the right
        >>> focus_pixel(inv, 0.0)[0], focus_pixel(inv, 1.0)[0]
        (2, 8)
    """
    import cv2

    from .viz import normalize

    if not (isinstance(focus, (int, float, np.number)) and 0.0 <= float(focus) <= 1.0):
        raise InputError(f"focus must be a number between 0 (far) and 1 (near), got {focus!r}.")
    unit = normalize(inverse_depth, mode="percentile").astype(np.float32)
    median = cv2.medianBlur(unit, 5)
    h, w = unit.shape
    y0, x0 = (2, 2) if h > 4 and w > 4 else (0, 0)
    inner = np.abs(median[y0:h - y0, x0:w - x0] - np.float32(focus))
    iy, ix = np.unravel_index(int(np.argmin(inner)), inner.shape)
    return int(ix + x0), int(iy + y0)


def describe_upload(source: Any) -> str | None:
    """A short note about an image whose format the app converts (16-bit, CMYK, animated), or None.

    Only the header is read (cheap); anything unreadable gives None (:func:`depthkit.io.read_image` reports it).

    Args:
        source: the encoded file content (bytes) or a file path.

    Returns:
        One sentence, or None for an ordinary 8-bit RGB / grayscale still image.

    Example:
        >>> describe_upload(b"not an image") is None
        True
    """
    from PIL import Image

    if isinstance(source, (bytes, bytearray, memoryview)):
        source = _stdio.BytesIO(bytes(source))
    elif not isinstance(source, (str, os.PathLike)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # size limits: read_image's job
            im = Image.open(source)
        with im:
            mode, frames, fmt = im.mode, getattr(im, "n_frames", 1), im.format
            rawmode = ""
            if im.tile:
                args = im.tile[0][3]
                rawmode = args if isinstance(args, str) else (args[0] if args else "")
    except Exception:  # noqa: BLE001 - unreadable files are reported by read_image
        return None
    if frames > 1:
        return f"animated {fmt} with {frames} frames: the depth is shown for the first frame."
    if mode.startswith("I;16") or mode == "I" or rawmode.endswith(";16B"):
        return "16-bit image: converted to 8 bits per channel for the network."
    if mode == "CMYK":
        return "CMYK image: converted to RGB (colours may differ slightly from a colour-managed viewer)."
    return None


_DROPZONE_ESM = """
function render({ model, el }) {
  const zone = document.createElement("div");
  zone.className = "depthkit-dropzone";
  zone.textContent = "⇩ or drop a photo here";
  const sync = () => zone.classList.toggle("disabled", model.get("disabled"));
  model.on("change:disabled", sync);
  sync();
  const stop = (event) => { event.preventDefault(); event.stopPropagation(); };
  zone.addEventListener("dragenter", (e) => { stop(e); zone.classList.add("over"); });
  zone.addEventListener("dragover", (e) => { stop(e); e.dataTransfer.dropEffect = "copy"; });
  zone.addEventListener("dragleave", (e) => { stop(e); zone.classList.remove("over"); });
  zone.addEventListener("drop", async (e) => {
    stop(e);
    zone.classList.remove("over");
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (!file || model.get("disabled")) return;
    const content = await file.arrayBuffer();
    model.send({ event: "drop", name: file.name, type: file.type, size: file.size }, undefined, [content]);
  });
  el.appendChild(zone);
}
export default { render };
"""

_DROPZONE_CSS = """
.depthkit-dropzone { border: 2px dashed #9e9e9e; border-radius: 6px; padding: 4px 14px; margin: 2px 6px;
  color: #616161; font-size: 13px; line-height: 20px; white-space: nowrap; user-select: none; }
.depthkit-dropzone.over { border-color: #1565c0; background: #e3f2fd; color: #1565c0; }
.depthkit-dropzone.disabled { opacity: 0.5; }
"""

_DROPZONE_CLASS = None


def _dropzone_class():
    """The drag-and-drop widget class (needs the optional package ``anywidget``), or None without it."""
    global _DROPZONE_CLASS
    if _DROPZONE_CLASS is None:
        try:
            import anywidget
            import traitlets
        except ImportError:
            return None

        class DropZone(anywidget.AnyWidget):
            """A dashed box that sends a file dropped on it to Python (content, then the bytes as one buffer)."""

            _esm = _DROPZONE_ESM
            _css = _DROPZONE_CSS
            disabled = traitlets.Bool(False).tag(sync=True)

        _DROPZONE_CLASS = DropZone
    return _DROPZONE_CLASS


def _set_image(widget, data: bytes) -> None:
    """Show encoded image bytes in an ipywidgets Image; hide the widget while it is empty (no broken icon)."""
    widget.value = data
    widget.layout.display = None if data else "none"


def _data_link(data: bytes, mime: str, filename: str, label: str) -> str:
    href = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return (f'<a download="{html.escape(filename)}" href="{href}" class="depthkit-download" '
            f'style="margin-right:1.2em" title="{html.escape(filename)}">⬇ {html.escape(label)}</a>')


def _safe_stem(name: str) -> str:
    stem = Path(name).stem or "photo"
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem)
    return cleaned[:60] or "photo"


# ---------------------------------------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class DepthViews:
    """One photo's depth and the arrays the app shows of it.

    Attributes:
        result: the :class:`~depthkit.inference.DepthResult` at the working resolution (longest side at most
            the pipeline's ``max_side`` px).
        original_size: (H, W) in pixels of the photo as stored in the file (upright), before any scaling.
        display_photo: (h, w, 3) uint8 RGB photo for display (longest side at most ``display_side``).
        display_inv: (h, w) float32 relative inverse depth for display (same size as ``display_photo``).
        effect_photo: (h', w', 3) uint8 RGB photo for the effect previews (longest side at most ``effect_side``).
        effect_inv: (h', w') float32 relative inverse depth for the effect previews.
        note: one sentence about a converted format (16-bit, CMYK, animated), or "".

    For a file object the original size is not known (it is read once): ``original_size`` is then the size read.
    """

    result: DepthResult
    original_size: tuple[int, int]
    display_photo: np.ndarray
    display_inv: np.ndarray
    effect_photo: np.ndarray
    effect_inv: np.ndarray
    note: str = ""


class DepthPipeline:
    """Photo in, depth out: read (scaled down while decoding), estimate, and scale for display. No widgets.

    Args:
        model: a model from :func:`depthkit.load_model`.
        max_side: longest side (px) of the working resolution: the photo is scaled down to it before the depth
            is estimated (photos that fit keep their size).
        display_side: longest side (px) of the photo and heat map shown.
        effect_side: longest side (px) of the effect previews.

    The backend is what ``backend="auto"`` means for ``model`` (:func:`depthkit.backend_choice.resolve_backend`),
    decided when the pipeline is made (attribute ``backend``).

    Example:
        >>> from depthkit.weights import load_model
        >>> views = DepthPipeline(load_model("random"), 64, 32, 16).process(np.zeros((48, 80, 3), np.uint8))
        >>> views.result.inverse_depth.shape, views.display_inv.shape, views.original_size
        ((38, 64), (19, 32), (48, 80))
    """

    def __init__(self, model: torch.nn.Module, max_side: int = 1024, display_side: int = 640,
                 effect_side: int = 512):
        from .backend_choice import resolve_backend

        self.model = model
        self.max_side, self.display_side, self.effect_side = max_side, display_side, effect_side
        # backend="auto" is chosen now, when the app is built (its one-time measurement prints a line in the
        # notebook cell), not silently during the first upload
        self.backend = resolve_backend(model)

    def process(self, source: Any) -> DepthViews:
        """Estimate the depth of one image and prepare what the app shows.

        Args:
            source: anything :func:`depthkit.io.read_image` accepts (path, encoded bytes, PIL image, array).

        Returns:
            The :class:`DepthViews` of the image.

        Raises:
            DepthkitError: the image cannot be used (one sentence saying why).
        """
        from .inference import estimate_depth
        from .io import image_size, read_image

        photo = read_image(source, max_size=self.max_side)  # big JPEGs are decoded at 1/2, 1/4 or 1/8 scale
        note = describe_upload(source)  # after read_image, which refuses FIFOs, devices and folders unopened
        original = photo.shape[:2] if hasattr(source, "read") else image_size(source)  # a file object is read once
        result = estimate_depth(photo, self.model, backend=self.backend)
        del photo  # only the working-resolution copy (in result.image) is kept
        inv = result.inverse_depth
        return DepthViews(result=result, original_size=(int(original[0]), int(original[1])),
                          display_photo=downscale(result.image, self.display_side),
                          display_inv=downscale(inv, self.display_side),
                          effect_photo=downscale(result.image, self.effect_side),
                          effect_inv=downscale(inv, self.effect_side), note=note or "")


# --------------------------------------------------------------------------------------------------- app
def _check_side(label: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{label} must be a positive integer, got {value!r}.")


class DepthApp:
    """Interactive depth estimation in Jupyter: upload or pick a photo, see its depth, try the effects.

    Args:
        model: a model from :func:`depthkit.load_model`; None uses :func:`depthkit.inference.default_model`
            (``load_model("auto")``, built once per process).
        sample: name of a sample to show at once (see :func:`depthkit.samples.list_samples`), or None.
        max_side: photos are scaled down to this longest side (px) before the depth is estimated; downloads
            are at this resolution.
        display_side: longest side (px) of the photo and heat map shown.
        effect_side: longest side (px) of the portrait-blur and obstacle previews.
        gif_side: longest side (px) of the parallax animation.
        gif_frames: frames of the parallax animation.

    Attributes:
        pipeline: the :class:`DepthPipeline` that turns a photo into what is shown.
        views: the current :class:`DepthViews`, or None.
        result: the current :class:`~depthkit.inference.DepthResult` (at the working resolution) or None.
        name: file name of the current photo (the one on screen).
        error: the last error message shown (one sentence) or "".
        note: the last information note shown (e.g. about a converted 16-bit image) or "".
        layout: the top-level ipywidgets box (what is displayed).
    """

    def __init__(self, model: torch.nn.Module | None = None, *, sample: str | None = None, max_side: int = 1024,
                 display_side: int = 640, effect_side: int = 512, gif_side: int = 320, gif_frames: int = 12):
        from .samples import list_samples

        for label, value in (("max_side", max_side), ("display_side", display_side), ("effect_side", effect_side),
                             ("gif_side", gif_side), ("gif_frames", gif_frames)):
            _check_side(label, value)
        if sample is not None and sample not in list_samples():
            raise InputError(f"Unknown sample {sample!r}; choose one of: {', '.join(list_samples())}.")
        if model is None:
            from .inference import default_model

            model = default_model()
        self.model = model
        self.pipeline = DepthPipeline(model, max_side, display_side, effect_side)
        self.gif_side, self.gif_frames = gif_side, gif_frames
        self.views: DepthViews | None = None
        self.name = self.error = self.note = ""
        self._effects_done: set[int] = set()
        self._busy_depth = 0
        info = getattr(model, "weights_info", None)
        self.pretrained = bool(getattr(info, "pretrained", False))
        self.weights_label = str(getattr(info, "label", "unknown weights"))

        self._build_widgets()
        self._wire_events()
        if sample is not None:
            self.sample.value = sample  # runs the sample through _on_sample

    @property
    def max_side(self) -> int:
        """Longest side (px) at which a photo is read and its depth computed (the pipeline's)."""
        return self.pipeline.max_side

    @property
    def display_side(self) -> int:
        """Longest side (px) of the photo and heat map shown (the pipeline's)."""
        return self.pipeline.display_side

    @property
    def effect_side(self) -> int:
        """Longest side (px) at which the effects are computed (the pipeline's)."""
        return self.pipeline.effect_side

    @property
    def result(self) -> DepthResult | None:
        """The current :class:`~depthkit.inference.DepthResult` (working resolution), or None."""
        return self.views.result if self.views is not None else None

    # -------------------------------------------------------------------------------------- widgets
    def _build_widgets(self) -> None:
        import ipywidgets as w

        self._build_inputs(w)
        self._build_outputs(w)
        self._build_tabs(w)
        for widget, css in ((self.upload, "upload"), (self.sample, "sample"), (self.cmap, "cmap"),
                            (self.original, "original"), (self.heatmap, "heatmap"), (self.message, "message"),
                            (self.status, "status"), (self.weights, "weights"), (self.downloads, "downloads"),
                            (self.parallax, "parallax"), (self.blur, "blur"), (self.obstacle, "obstacle")):
            widget.add_class(f"depthkit-{css}")
        self._inputs = (self.upload, self.sample, self.cmap, self.amplitude, self.focus, self.aperture, self.threshold,
                        *([self.dropzone] if self.dropzone is not None else []))
        self.layout = self._build_layout(w)
        self._update_legend()

    def _build_inputs(self, w) -> None:
        from .samples import list_samples

        self.upload = w.FileUpload(accept="image/*", multiple=False, description="Upload photo",
                                   tooltip="Choose a photo (JPEG, PNG, BMP, GIF, TIFF or WebP)")
        zone_class = _dropzone_class()
        self.dropzone = zone_class() if zone_class is not None else None
        self.sample = w.Dropdown(options=[_PLACEHOLDER, *list_samples()], value=_PLACEHOLDER, description="or sample:")
        self.cmap = w.Dropdown(options=list(COLORMAPS), value="inferno", description="colour map:")

    def _build_outputs(self, w) -> None:
        self._picture = {"max_width": "100%", "height": "auto", "align_self": "center", "display": "none"}
        self.original = w.Image(format="png", layout=w.Layout(**self._picture))  # hidden while empty
        self.heatmap = w.Image(format="png", layout=w.Layout(**self._picture))
        self.legend = w.Image(format="png", layout=w.Layout(width="160px", height="12px"))
        self.message = w.HTML("")
        self.status = w.HTML("Upload a photo or pick a sample.")
        self.weights = w.HTML(self._weights_html())
        self.download_heatmap = w.HTML("")
        self.download_data = w.HTML("")
        self.downloads = w.HBox([self.download_heatmap, self.download_data])

    def _build_tabs(self, w) -> None:
        initial = {"continuous_update": False, "style": {"description_width": "initial"}}
        self.amplitude = w.FloatSlider(value=8.0, min=1.0, max=20.0, step=1.0, description="motion (px)",
                                       continuous_update=False)
        self.parallax = w.Image(format="gif", layout=w.Layout(**self._picture))
        self.focus = w.FloatSlider(value=0.8, min=0.0, max=1.0, step=0.05, description="focus far↔near", **initial)
        self.aperture = w.FloatSlider(value=12.0, min=0.0, max=30.0, step=1.0, description="aperture (px)", **initial)
        self.blur = w.Image(format="png", layout=w.Layout(**self._picture))
        self.threshold = w.FloatSlider(value=0.75, min=0.05, max=1.0, step=0.05, description="near threshold",
                                       **initial)
        self.obstacle = w.Image(format="png", layout=w.Layout(**self._picture))
        self.obstacle_text = w.HTML("")
        self.tabs = w.Tab(children=[
            w.VBox([w.HTML("Camera moving on a small circle: near things move most."), self.amplitude, self.parallax]),
            w.VBox([w.HTML("Synthetic shallow depth of field: blur grows with the depth difference to the focus."),
                    w.HBox([self.focus, self.aperture]), self.blur]),
            w.VBox([w.HTML("Is something near in the lower centre (yellow box)? Red box: the nearest region."),
                    self.threshold, self.obstacle_text, self.obstacle]),
        ])
        self._build_live_tabs(w)
        for i, title in enumerate(_TAB_TITLES):
            self.tabs.set_title(i, title)

    def _build_live_tabs(self, w) -> None:
        """The "3-D point cloud" tab (plotly, rotatable) and the "Webcam" tab, after the three effect tabs."""
        self.cloud = w.Output(layout=w.Layout(min_height="120px"))  # the plotly figure of the current photo
        self.cloud_figure = None
        self.webcam = self._make_webcam()
        camera = (self.webcam.view if self.webcam is not None
                  else w.HTML("The live webcam needs the package anywidget: pip install anywidget."))
        self.tabs.children = (*self.tabs.children, w.VBox([
            w.HTML("The photo as points in 3-D (drag to rotate, scroll to zoom); relative depth, qualitative only "
                   "(not to scale: the network's inverse depth has no unit)."), self.cloud]), w.VBox([
            w.HTML("Your camera (320×240, nothing leaves this computer) and its inverse depth (bright = near), "
                   "stabilised frame to frame; frames that arrive while one is processed are dropped."), camera]))

    def _make_webcam(self):
        """The live webcam of the "Webcam" tab, or None without the package anywidget."""
        try:
            import anywidget  # noqa: F401
        except ImportError:
            return None
        from .webcam import Webcam

        return Webcam(self.model, on_error=self._camera_error)

    def _build_layout(self, w):
        half = w.Layout(width="50%", align_items="center")
        zone = [self.dropzone] if self.dropzone is not None else []
        layout = w.VBox([
            w.HTML("<b>depthkit</b>: relative depth from one photo (MiDaS_small on the CPU)"),
            self.weights,
            w.HBox([self.upload, *zone, self.sample, self.cmap],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.message,  # above the pictures: an error is read before the (previous) photo
            w.HBox([w.VBox([w.HTML("photo"), self.original], layout=half),
                    w.VBox([w.HTML("inverse depth (bright = near)"), self.heatmap], layout=half)]),
            w.HBox([w.HTML("far&nbsp;"), self.legend, w.HTML("&nbsp;near")],
                   layout=w.Layout(justify_content="flex-end")),
            self.tabs,
            self.downloads,
            self.status,
        ])
        layout.add_class("depthkit-app")
        return layout

    def _wire_events(self) -> None:
        if self.dropzone is not None:
            self.dropzone.on_msg(lambda _widget, content, buffers: self._on_drop(content, buffers))
        self.upload.observe(self._on_upload, names="value")
        self.sample.observe(self._on_sample, names="value")
        self.cmap.observe(self._on_cmap, names="value")
        self.tabs.observe(lambda _change: self._on_tab(), names="selected_index")
        self.amplitude.observe(lambda _change: self._refresh_effect(0, force=True), names="value")
        for slider in (self.focus, self.aperture):
            slider.observe(lambda _change: self._refresh_effect(1, force=True), names="value")
        self.threshold.observe(lambda _change: self._refresh_effect(2, force=True), names="value")

    # ---------------------------------------------------------------------------------------- display
    def _repr_mimebundle_(self, **kwargs):
        return self.layout._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        current = f"{self.name!r}" if self.views is not None else "no photo"
        return f"DepthApp({current}, weights: {'pretrained' if self.pretrained else 'UNTRAINED'})"

    # --------------------------------------------------------------------------------------- public API
    def run(self, source: Any, name: str = "photo") -> bool:
        """Estimate and show the depth of one image (what an upload or a sample choice does).

        Args:
            source: anything :func:`depthkit.io.read_image` accepts (path, encoded bytes, PIL image, array).
            name: file name shown in the status line and used for the download file names.

        Returns:
            True on success; False if the image was unusable: the reason (one sentence, also in :attr:`error`)
            is shown above the pictures, and the previous photo and its depth stay on screen.
        """
        with self._busy(f"working… estimating the depth of {html.escape(name)}"):
            t0 = time.perf_counter()
            try:
                views = self.pipeline.process(source)
            except DepthkitError as exc:
                sentence = str(exc)
            except MemoryError:
                sentence = "there was not enough memory to process this image; try a smaller photo."
            except Exception as exc:  # noqa: BLE001 - the app must survive anything and say what happened
                sentence = f"unexpected {type(exc).__name__} ({exc}); try another image and please report this."
            else:
                self._show(views, name)
                self._finish_status(time.perf_counter() - t0)
                return True
            self._fail(name, sentence)
            return False

    def clear(self) -> None:
        """Forget the current photo and all results (frees their memory)."""
        self.views = None
        self._effects_done = set()
        for image in (self.original, self.heatmap, self.parallax, self.blur, self.obstacle):
            _set_image(image, b"")
        self.download_heatmap.value = self.download_data.value = ""
        self.obstacle_text.value = ""
        self.cloud_figure = None
        self.cloud.clear_output()

    # ----------------------------------------------------------------------------------------- events
    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        content = item.get("content")
        data = bytes(content) if content is not None else b""
        self.upload.value = ()  # drop the widget's copy of the file at once: only the current result is kept
        self._receive(str(item.get("name") or "upload"), data)

    def _on_drop(self, content, buffers) -> None:
        """A file dropped on the drop zone: ``content`` has its name, ``buffers[0]`` its bytes."""
        if not isinstance(content, dict) or content.get("event") != "drop":
            return
        data = bytes(buffers[0]) if buffers else b""
        self._receive(str(content.get("name") or "dropped file"), data)

    def _receive(self, name: str, data: bytes) -> None:
        if self.run(data, name) and self.sample.value != _PLACEHOLDER:  # the picker no longer describes the photo
            self.sample.unobserve(self._on_sample, names="value")
            self.sample.value = _PLACEHOLDER
            self.sample.observe(self._on_sample, names="value")

    def _on_sample(self, change) -> None:
        name = change["new"]
        if not name or name == _PLACEHOLDER:
            return
        from .samples import sample_path

        try:
            path = sample_path(name)
        except DepthkitError as exc:
            with self._busy("working…"):
                self._fail(name, str(exc))
            return
        self.run(path, path.name)

    def _on_tab(self) -> None:
        """A tab was opened: compute its effect; the camera runs only while the webcam tab is open."""
        if self.webcam is not None:
            self.webcam.view.active = self.tabs.selected_index == _WEBCAM_TAB
        self._refresh_effect()

    def _camera_error(self, sentence: str) -> None:
        """Show a webcam problem (one sentence) above the pictures; "" (the camera started) clears an old one."""
        if not sentence:
            if self.error.startswith("Camera"):
                self.error, self.message.value = "", ""
            return
        self.error = sentence
        self.message.value = f'<span style="color:{_RED}" class="depthkit-error">⚠ {html.escape(sentence)}</span>'

    def _on_cmap(self, _change) -> None:
        self._update_legend()
        if self.views is None:
            return
        with self._busy("working… recolouring"):
            t0 = time.perf_counter()
            self._show_heatmap()
            self._update_downloads(data=False)
            self._finish_status(time.perf_counter() - t0, what="recoloured")

    # -------------------------------------------------------------------------------------- internals
    @contextlib.contextmanager
    def _busy(self, text: str) -> Iterator[None]:
        """While inside: inputs disabled (restored afterwards, also after an error) and ``text`` in the status."""
        outermost = self._busy_depth == 0
        self._busy_depth += 1
        saved = [widget.disabled for widget in self._inputs] if outermost else []
        if outermost:
            for widget in self._inputs:
                widget.disabled = True
        self.status.value = f'<span class="depthkit-busy">⏳ {text}</span>'
        try:
            yield
        finally:
            self._busy_depth -= 1
            if outermost:
                for widget, was in zip(self._inputs, saved, strict=True):
                    widget.disabled = was

    def _fail(self, name: str, sentence: str) -> None:
        """Show why ``name`` could not be used, above the pictures; whatever was on screen stays."""
        self.error = sentence
        self.note = ""
        self.message.value = (f'<span style="color:{_RED}" class="depthkit-error">⚠ Could not use '
                              f"<b>{html.escape(name)}</b>: {html.escape(sentence)}</span>")
        if self.views is None:
            self.status.value = "Nothing shown: upload another photo or pick a sample."
        else:
            self.status.value = (f'<span class="depthkit-kept">Still showing {html.escape(self.name)}: upload '
                                 "another photo or pick a sample.</span>")

    def _show(self, views: DepthViews, name: str) -> None:
        """Put a new photo's results on screen (replacing the previous ones)."""
        from .io import encode_png

        self.clear()
        self.views, self.name = views, name
        self.error, self.note = "", views.note
        self.message.value = (f'<span style="color:#1565c0">ℹ {html.escape(self.note)}</span>' if self.note else "")
        _set_image(self.original, encode_png(views.display_photo))
        self._show_heatmap()
        self._update_downloads()
        self._refresh_effect()

    def _show_heatmap(self) -> None:
        from .viz import heatmap_png

        _set_image(self.heatmap, heatmap_png(self.views.display_inv, cmap=self.cmap.value))

    def _update_legend(self) -> None:
        from .viz import heatmap_png

        ramp = np.tile(np.linspace(0.0, 1.0, 160, dtype=np.float32), (12, 1))
        self.legend.value = heatmap_png(ramp, cmap=self.cmap.value, mode="minmax")

    def _update_downloads(self, data: bool = True) -> None:
        """Refresh the download links: the heat map PNG (depends on the colour map) and, if ``data``, the
        16-bit PNG and .npy of the inverse depth (which do not)."""
        from .io import encode_npy, encode_png16
        from .viz import heatmap_png

        inv = self.result.inverse_depth
        stem, cmap = _safe_stem(self.name), self.cmap.value
        h, w = inv.shape
        heat = heatmap_png(inv, cmap=cmap)
        self.download_heatmap.value = (f"<b>Download</b> ({w}×{h} px): "
                                       + _data_link(heat, "image/png", f"{stem}_heatmap_{cmap}.png",
                                                    f"heat map PNG ({cmap})"))
        if data:
            self.download_data.value = (
                _data_link(encode_png16(inv), "image/png", f"{stem}_inverse_depth16.png",
                           "16-bit PNG (0 = far … 65535 = near)")
                + _data_link(encode_npy(inv), "application/octet-stream", f"{stem}_inverse_depth.npy",
                             ".npy (float32 relative inverse depth)"))

    def _refresh_effect(self, index: int | None = None, force: bool = False) -> None:
        """Compute the effect of the selected tab (only that one; the others wait until they are opened)."""
        selected = self.tabs.selected_index
        if self.views is None or selected is None or selected >= len(_EFFECT_TITLES) or (
                index is not None and index != selected):
            return
        if selected in self._effects_done and not force:
            return
        render = (self._render_parallax, self._render_blur, self._render_obstacle, self._render_cloud)[selected]
        t0 = time.perf_counter()
        with self._busy(f"working… {_EFFECT_TITLES[selected]}"):
            try:
                render(self.views)
            except DepthkitError as exc:
                self.message.value = f'<span style="color:{_RED}">⚠ {html.escape(str(exc))}</span>'
                return
        self._effects_done.add(selected)
        self._finish_status(time.perf_counter() - t0, what=_EFFECT_TITLES[selected])

    def _render_parallax(self, views: DepthViews) -> None:
        from .effects import parallax_frames
        from .io import encode_gif

        image, inv = downscale(views.effect_photo, self.gif_side), downscale(views.effect_inv, self.gif_side)
        frames = parallax_frames(image, inv, n_frames=self.gif_frames, amplitude_px=float(self.amplitude.value))
        _set_image(self.parallax, encode_gif(frames, fps=12))

    def _render_blur(self, views: DepthViews) -> None:
        from .effects import portrait_blur
        from .io import encode_png

        focus = focus_pixel(views.effect_inv, float(self.focus.value))
        blurred = portrait_blur(views.effect_photo, views.effect_inv, focus=focus, aperture=float(self.aperture.value))
        _set_image(self.blur, encode_png(blurred))

    def _render_obstacle(self, views: DepthViews) -> None:
        from .effects import draw_obstacle_overlay, obstacle_warning
        from .io import encode_png

        found = obstacle_warning(views.effect_inv, threshold=float(self.threshold.value))
        _set_image(self.obstacle, encode_png(draw_obstacle_overlay(views.effect_photo, found)))
        verdict, colour = ("OBSTACLE ahead", _RED) if found.alarm else ("clear", "#2e7d32")
        self.obstacle_text.value = (f'<b style="color:{colour}">{verdict}</b>: {100 * found.fraction:.0f}% '
                                    f"of the box is nearer than the threshold (relative, not metres).")

    def _render_cloud(self, views: DepthViews) -> None:
        from IPython.display import display

        from .viz import show_point_cloud

        self.cloud_figure = show_point_cloud(views.effect_photo, views.effect_inv, max_points=_CLOUD_POINTS)
        with self.cloud:
            self.cloud.clear_output(wait=True)
            display(self.cloud_figure)

    def _weights_html(self) -> str:
        if self.pretrained:
            return f'<span style="color:#2e7d32">✔ weights: {html.escape(self.weights_label)}</span>'
        return (f'<div class="depthkit-untrained" style="color:{_RED};font-weight:bold">'
                f"⚠ {html.escape(self.weights_label)}. The heat maps below only show that the app works; "
                "they are NOT depth predictions.</div>")

    def _finish_status(self, seconds: float, what: str | None = None) -> None:
        if self.views is None:
            return
        r, (oh, ow) = self.views.result, self.views.original_size
        h, w = r.inverse_depth.shape
        size = f"{ow}×{oh} px" + (f" (scaled to {w}×{h})" if (h, w) != (oh, ow) else "")
        weights = ("pretrained weights" if self.pretrained
                   else f'<b style="color:{_RED}">UNTRAINED weights: not a depth prediction</b>')
        done = f"{what} in {seconds:.2f} s" if what else f"depth in {r.seconds:.2f} s, total {seconds:.2f} s"
        self.status.value = (f'<span class="depthkit-done">✔ {html.escape(self.name)}: {size}, {done} '
                             f"(network input {r.net_size[0]}×{r.net_size[1]}, backend {r.backend}) · {weights}</span>")


def app(model: torch.nn.Module | None = None, **kwargs: Any) -> DepthApp:
    """Create the interactive depth app; display the returned object (last expression of a cell).

    ``dk.app(...)`` is this function.

    Args:
        model: a model from :func:`depthkit.load_model`, or None for the default ("auto" weights).
        **kwargs: passed to :class:`DepthApp` (``sample="chelsea"`` shows a sample at once, ``max_side``...).

    Returns:
        A :class:`DepthApp`; its widgets are attributes, its ipywidgets layout is ``.layout``.
    """
    return DepthApp(model, **kwargs)
