"""Lesson glue: the picture and depth map a lesson works on, with or without trained weights.

:func:`demo_depth` runs the model on a bundled sample when it has trained weights, and otherwise hands back
the stereo ground truth of the Middlebury motorcycle, saying so in its description. It sits at the top of the
package (beside the app, CLI and reports) because it glues the model, the samples and the calibration; the
drawing modules (:mod:`depthkit.viz`, :mod:`depthkit.effects`) take arrays only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checks
from .errors import InputError
from .samples import StereoSample, check_name, load_sample, motorcycle
from .synthetic import DepthClip
from .viz import fill_invalid

__all__ = ["DemoDepth", "demo_depth", "motorcycle_clip"]


@dataclass(frozen=True)
class DemoDepth:
    """The picture and depth map a lesson works on (see :func:`demo_depth`).

    Attributes:
        name: sample name, e.g. ``"motorcycle"``.
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) float32 inverse depth, larger = nearer: true 1/metres for ground truth,
            relative (no unit) for a model prediction. Unmeasured ground-truth pixels are filled or 0.
        description: one line saying where the map comes from; print it.
        ground_truth: True when ``inverse_depth`` is the stereo ground truth, not a prediction.
        valid: (H, W) bool, True where the map holds a measurement or a prediction (False = filled or 0).
        depth_m: (H, W) float32 depth in metres of ``inverse_depth`` (ground truth, or a prediction calibrated
            with two ground-truth distances), or None when no metric scale is known.
        ground_truth_m: (H, W) float32 ground-truth depth in metres (+inf unmeasured) for the motorcycle,
            else None.
        fov_deg: horizontal field of view of the camera in degrees if known (motorcycle), else None.
    """

    name: str
    image: np.ndarray
    inverse_depth: np.ndarray
    description: str
    ground_truth: bool
    valid: np.ndarray
    depth_m: np.ndarray | None = None
    ground_truth_m: np.ndarray | None = None
    fov_deg: float | None = None


def demo_depth(model: Any = None, name: str = "motorcycle", max_width: int | None = None,
               fill: bool = True) -> DemoDepth:
    """The image and inverse depth a lesson should show: a real prediction if possible, else ground truth.

    With a model that has trained weights (``model.weights_info.pretrained``) this runs it on the sample
    ``name``. Otherwise a map from random weights would be meaningless, so it returns the *ground-truth*
    depth of the Middlebury motorcycle (whatever ``name`` says) and the description says so. For the
    motorcycle, a prediction is also converted to metres with two ground-truth distances
    (:func:`depthkit.calibration.calibrate_from_points`, the pixels at the 10th and 90th depth percentile).

    Args:
        model: a model from :func:`depthkit.load_model`, or None (ground truth).
        name: sample name (see :func:`depthkit.samples.list_samples`).
        max_width: if given and smaller than the image, shrink to this width in pixels first (image with
            area averaging, ground truth with nearest neighbour so no depths are mixed).
        fill: fill unmeasured ground-truth pixels with :func:`depthkit.viz.fill_invalid` (True, for effects)
            or leave them at inverse depth 0 and depth +inf (False).

    Returns:
        A :class:`DemoDepth`.

    Raises:
        InputError: an unknown sample name or a ``max_width`` that is not an integer >= 8.
    """
    name = check_name(name)
    if max_width is not None and (int(max_width) != max_width or max_width < 8):
        raise InputError(f"max_width must be an integer number of pixels >= 8 or None, got {max_width!r}.")
    info = getattr(model, "weights_info", None)
    pretrained = bool(getattr(info, "pretrained", False))
    stereo = motorcycle() if name == "motorcycle" or not pretrained else None
    if not pretrained:
        return _ground_truth_demo(stereo, name, max_width, fill)
    return _predicted_demo(model, name, stereo, max_width)


def _shrink(array: np.ndarray, max_width: int | None, interpolation: int) -> np.ndarray:
    """``array`` shrunk to ``max_width`` pixels wide (aspect kept), or unchanged when it is narrower."""
    import cv2

    h, w = array.shape[:2]
    if max_width is None or w <= max_width:
        return array
    size = (int(max_width), max(round(h * max_width / w), 1))
    return cv2.resize(array, size, interpolation=interpolation)


def _ground_truth_m(stereo: StereoSample, max_width: int | None) -> tuple[np.ndarray, float]:
    """(ground-truth depth in metres at the demo size, horizontal field of view in degrees) of the stereo pair."""
    import cv2

    fov = math.degrees(2.0 * math.atan(stereo.shape[1] / 2.0 / stereo.focal_px))
    return _shrink(stereo.depth_m, max_width, cv2.INTER_NEAREST), fov


def _ground_truth_demo(stereo: StereoSample, name: str, max_width: int | None, fill: bool) -> DemoDepth:
    """The motorcycle's stereo ground truth as a :class:`DemoDepth` (no trained weights)."""
    import cv2

    gt_m, fov = _ground_truth_m(stereo, max_width)
    image = _shrink(stereo.left, max_width, cv2.INTER_AREA)
    valid = np.isfinite(gt_m)
    inverse = np.where(valid, 1.0 / np.where(valid, gt_m, 1.0), 0.0).astype(np.float32)
    missing = 100.0 * (1.0 - valid.mean())
    if fill:
        inverse = fill_invalid(inverse, valid)
        how = f"{missing:.1f}% unmeasured pixels filled with the farthest measured neighbour"
    else:
        how = f"{missing:.1f}% unmeasured pixels have inverse depth 0 (depth +inf)"
    instead = "" if name == "motorcycle" else f" (instead of '{name}', which has no ground truth)"
    description = (f"No pretrained MiDaS weights, so this is the GROUND-TRUTH depth of the Middlebury motorcycle "
                   f"(stereo, metres){instead}, NOT a MiDaS prediction; {how}.")
    depth = np.where(inverse > 0, 1.0 / np.maximum(inverse, 1e-12), np.inf).astype(np.float32)
    return DemoDepth("motorcycle", image, inverse, description, True, valid, depth, gt_m, fov)


def _predicted_demo(model: Any, name: str, stereo: StereoSample | None, max_width: int | None) -> DemoDepth:
    """The model's prediction on sample ``name`` (in metres too for the motorcycle) as a :class:`DemoDepth`."""
    import cv2

    from . import inference
    from .calibration import calibrate_from_points

    image = _shrink(load_sample(name), max_width, cv2.INTER_AREA)
    inverse = inference.estimate_depth(image, model).inverse_depth
    description = f"MiDaS_small prediction on '{name}' ({model.weights_info.label}): relative inverse depth, no unit"
    depth = gt_m = fov = None
    if stereo is not None:
        gt_m, fov = _ground_truth_m(stereo, max_width)
        depth = calibrate_from_points(inverse, _calibration_points(gt_m, np.isfinite(gt_m))).depth_m
        description += "; metres from two ground-truth distances (calibrate_from_points)"
    return DemoDepth(name, image, inverse, description + ".", False, np.ones(inverse.shape, bool), depth, gt_m, fov)


def _calibration_points(depth_m: np.ndarray, valid: np.ndarray) -> list[tuple[int, int, float]]:
    """Two measured pixels (x, y, metres) at the 10th and 90th percentile of the ground-truth depth."""
    rows, cols = np.nonzero(valid)
    order = np.argsort(depth_m[rows, cols], kind="stable")
    picks = order[[len(order) // 10, (9 * len(order)) // 10]]
    return [(int(cols[i]), int(rows[i]), float(depth_m[rows[i], cols[i]])) for i in picks]


def motorcycle_clip(n_frames: int = 24, size: tuple[int, int] = (120, 160), *, width: int = 240,
                    fps: float = 12.0) -> DepthClip:
    """A clip of the Middlebury motorcycle seen by a camera that slides sideways, with its ground-truth depth.

    The photo and its stereo ground truth are shrunk to ``width`` pixels (:func:`demo_depth`, unmeasured pixels
    filled with the farthest measured neighbour), and a ``size`` window moves from the left edge to the right edge
    at a constant rate, one crop per frame, the same crop of the image and of the depth.

    Args:
        n_frames: number of frames (2 to 500).
        size: (height, width) of the frames in px; at most the shrunk photo's size.
        width: width in px the photo is shrunk to before cropping (the window slides ``width - size[1]`` px).
        fps: playback rate in frames per second (> 0).

    Returns:
        A :class:`depthkit.synthetic.DepthClip` with the frames (T, H, W, 3) uint8 and the ground-truth inverse
        depth (T, H, W) float32 in 1/m.

    Raises:
        InputError: bad ``n_frames``, ``size``, ``width`` or ``fps``, or a window larger than the shrunk photo.
    """
    checks.check_int(n_frames, "n_frames", minimum=2, maximum=500)
    h, w = checks.as_size(size)
    checks.check_int(width, "width", minimum=8, maximum=4096)
    checks.check_positive(fps, "fps")
    demo = demo_depth(None, "motorcycle", max_width=width)
    big_h, big_w = demo.inverse_depth.shape
    if h > big_h or w > big_w:
        raise InputError(f"size {(h, w)} is larger than the motorcycle shrunk to {big_w}x{big_h} px; pass a smaller "
                         "size or a larger width.")
    top = (big_h - h) // 2
    lefts = np.rint(np.linspace(0, big_w - w, int(n_frames))).astype(int)
    frames = np.stack([demo.image[top : top + h, x : x + w] for x in lefts])
    inverse = np.stack([demo.inverse_depth[top : top + h, x : x + w] for x in lefts]).astype(np.float32)
    text = (f"the Middlebury motorcycle ({big_w}x{big_h} px) seen through a {w}x{h} window sliding {big_w - w} px "
            f"in {int(n_frames)} frames; stereo ground-truth inverse depth in 1/m "
            f"({100 * (1 - demo.valid.mean()):.1f}% unmeasured pixels filled)")
    return DepthClip(frames, inverse, float(fps), text)
