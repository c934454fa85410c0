"""Evaluation metrics for depth maps, scale/shift alignment, and stereo disparity <-> depth conversion.

MiDaS predicts relative inverse depth (larger = nearer) with unknown scale and shift, so before comparing it
with metric ground truth it must be aligned: :func:`align_disparity` fits ``s * pred + t`` to ``1 / gt`` by
least squares (the MiDaS evaluation protocol) and converts the result to depth. The metrics then follow the
usual definitions, over the valid ground-truth pixels only (:func:`valid_mask`):

- :func:`abs_rel`: mean of ``|d - d*| / d*`` (relative error; lower is better);
- :func:`rmse`: root mean squared error, in the units of the ground truth (e.g. metres);
- :func:`delta_accuracy`: fraction with ``max(d / d*, d* / d) < 1.25 ** power`` (higher is better);
- :func:`bad_pixel_percent`: percentage with that ratio ``> 1.25``, the "delta > 1.25" column of the MiDaS
  tables (an error; lower is better).

:func:`evaluate` runs all of them. Everything takes numpy arrays and computes in float64.

Example:
    >>> import numpy as np
    >>> gt = np.array([1.0, 2.0, 4.0])              # metres
    >>> pred = 3.0 / gt + 1.0                         # inverse depth with unknown scale and shift
    >>> result = evaluate(pred, gt)
    >>> round(result["abs_rel"], 6), round(result["scale"], 6), round(result["shift"], 6)
    (0.0, 0.333333, -0.333333)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import checks
from .alignment import fit_scale_shift, is_degenerate
from .errors import InputError

__all__ = [
    "abs_rel",
    "align_depth",
    "align_disparity",
    "bad_pixel_percent",
    "delta_accuracy",
    "depth_to_disparity",
    "disparity_to_depth",
    "evaluate",
    "rmse",
    "valid_mask",
]

# ----------------------------------------------------------------------------------------------- checks


def _to_numpy(x):
    """A torch tensor as a numpy array (no torch import needed); anything else unchanged."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") and hasattr(x, "cpu") else x


def _as_array(x, name: str, allow_scalar: bool = False) -> np.ndarray:
    return checks.as_array(_to_numpy(x), name, allow_scalar=allow_scalar)


def _prepare(pred, gt, mask, pred_name: str = "pred", gt_name: str = "gt"):
    """Validate and return (pred, gt, valid) with valid = valid_mask(gt) & mask, which is never empty."""
    pred = _as_array(pred, pred_name)
    gt = _as_array(gt, gt_name)
    checks.check_same_shape(pred, gt, (pred_name, gt_name))
    valid = valid_mask(gt)
    if mask is not None:
        valid &= checks.as_mask(_to_numpy(mask), gt.shape)
    if not valid.any():
        raise InputError(
            f"{gt_name} has no valid pixel (finite and > 0) inside the mask; check the ground truth and the mask."
        )
    return pred, gt, valid


def _check_positive_depth(pred: np.ndarray, valid: np.ndarray) -> None:
    values = pred[valid]
    bad = int(np.count_nonzero(np.isnan(values) | (values <= 0)))
    if bad:
        raise InputError(
            f"pred must be a positive depth (inf allowed) at every valid pixel, but {bad} valid pixels are NaN, "
            "zero or negative; align the prediction with align_disparity() first."
        )


def _check_threshold(threshold) -> float:
    if not checks.is_number(threshold) or not threshold > 1:
        raise InputError(f"threshold must be a number > 1, got {threshold!r}; the usual value is 1.25.")
    return float(threshold)


def _check_cap(value, name: str) -> float:
    return checks.check_positive(value, name, unit="in the units of gt")


def _fit_or_raise(x: np.ndarray, y: np.ndarray, pred_name: str) -> tuple[float, float]:
    """Scale and shift of ``x`` to ``y`` (1-D, valid pixels) by depthkit.alignment, refusing degenerate input."""
    if x.size < 2:
        raise InputError(f"only {x.size} valid pixel; a scale and shift need at least 2 valid ground-truth pixels.")
    if is_degenerate(x):
        raise InputError(
            f"{pred_name} is constant over the valid pixels, so no scale and shift can be fitted; "
            "check that the prediction is not blank."
        )
    return fit_scale_shift(x, y)


def _max_ratio(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore"):
        return np.maximum(pred / gt, gt / pred)


# ----------------------------------------------------------------------------------------------- public


def valid_mask(gt: ArrayLike) -> np.ndarray:
    """Pixels where the ground-truth depth is usable: finite and strictly positive.

    Middlebury marks unknown disparity as +inf (which :func:`disparity_to_depth` keeps as inf); other
    datasets use 0 or NaN. All of these are invalid.

    Args:
        gt: array of ground-truth depth (any shape), e.g. (H, W) float metres.

    Returns:
        Bool array of the same shape.

    Example:
        >>> valid_mask(np.array([1.5, 0.0, -2.0, np.inf, np.nan]))
        array([ True, False, False, False, False])
    """
    gt = _as_array(gt, "gt")
    with np.errstate(invalid="ignore"):
        return np.isfinite(gt) & (gt > 0)


def _align_disparity(pred, gt, mask, max_depth):
    pred, gt, valid = _prepare(pred, gt, mask, "pred_inverse_depth", "gt_depth")
    checks.check_finite(pred, "pred_inverse_depth")
    scale, shift = _fit_or_raise(pred[valid], 1.0 / gt[valid], "pred_inverse_depth")
    max_depth = float(gt[valid].max()) if max_depth is None else _check_cap(max_depth, "max_depth")
    disparity = scale * pred + shift
    clamped = disparity < 1.0 / max_depth
    depth = 1.0 / np.maximum(disparity, 1.0 / max_depth)
    return depth, scale, shift, gt, valid, clamped


def align_disparity(
    pred_inverse_depth: ArrayLike, gt_depth: ArrayLike, mask: ArrayLike | None = None, max_depth: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Align a relative inverse depth to ground-truth depth in disparity space, then convert it to depth.

    Fits ``s * pred_inverse_depth + t`` to ``1 / gt_depth`` by least squares over the valid pixels (the
    MiDaS evaluation protocol; MiDaS predicts inverse depth up to scale and shift, so disparity is its native
    space). The aligned disparity can be zero or negative where the prediction is far off (often the sky);
    instead of turning that into an infinite or negative depth, the aligned disparity is clamped to at least
    ``1 / max_depth``, i.e. the aligned depth is capped at ``max_depth`` (MiDaS likewise caps at a
    per-dataset maximum depth, e.g. 10 m for NYU). :func:`evaluate` reports how many valid pixels were
    clamped as ``n_clamped``.

    Args:
        pred_inverse_depth: (H, W) (or any shape) float array, relative inverse depth, larger = nearer;
            must be finite everywhere.
        gt_depth: float array of the same shape, ground-truth depth (e.g. metres); invalid pixels are those
            failing :func:`valid_mask`.
        mask: optional bool array of the same shape; only pixels that are True (and valid) are fitted.
        max_depth: depth cap in the units of ``gt_depth``; default: the largest valid ground-truth depth.

    Returns:
        ``(aligned_depth, scale, shift)``: a float64 array of the input shape in the units of ``gt_depth``
        (positive and finite everywhere) and the fitted ``s`` and ``t`` as floats (units: 1 / gt units).

    Raises:
        InputError: mismatched shapes, a non-finite prediction, fewer than 2 valid pixels, or a prediction
            that is constant over the valid pixels.

    Example:
        >>> depth, s, t = align_disparity(np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.25]))
        >>> np.round(depth, 4).tolist(), round(s, 4), round(t, 4)  # 1.2 m capped at max_depth = 1 m
        ([1.0, 0.4286, 0.2609], 1.5, 0.8333)
    """
    depth, scale, shift, *_ = _align_disparity(pred_inverse_depth, gt_depth, mask, max_depth)
    return depth, scale, shift


def _align_depth(pred, gt, mask, min_depth, pred_name="pred_depth"):
    pred, gt, valid = _prepare(pred, gt, mask, pred_name, "gt_depth")
    checks.check_finite(pred, pred_name)
    scale, shift = _fit_or_raise(pred[valid], gt[valid], pred_name)
    min_depth = 1e-3 * float(gt[valid].min()) if min_depth is None else _check_cap(min_depth, "min_depth")
    depth = scale * pred + shift
    clamped = depth < min_depth
    return np.maximum(depth, min_depth), scale, shift, gt, valid, clamped


def align_depth(
    pred_depth: ArrayLike, gt_depth: ArrayLike, mask: ArrayLike | None = None, min_depth: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Align a depth prediction to ground-truth depth by least squares in depth space.

    Fits ``s * pred_depth + t`` to ``gt_depth`` directly. This gives different (usually worse) results than
    :func:`align_disparity` for two reasons. First, an unknown shift in inverse depth is not a shift in
    depth: ``1 / (s * d + t)`` is not an affine function of ``1 / d`` unless ``t = 0``, so no choice of
    scale and shift in depth space can undo the shift MiDaS leaves in its inverse depth. Second, least
    squares weights errors in the space where it is done: in depth space the far pixels (large depth, large
    absolute errors) dominate the fit; in disparity space the near pixels do. Aligned depths below
    ``min_depth`` (including negative ones) are clamped to ``min_depth``, a small positive depth, so such
    pixels show up as large errors instead of breaking the metrics.

    Args:
        pred_depth: float array, a depth prediction up to scale and shift (e.g. ``1 / inverse_depth``);
            must be finite everywhere.
        gt_depth: float array of the same shape, ground-truth depth (e.g. metres).
        mask: optional bool array of the same shape; only pixels that are True (and valid) are fitted.
        min_depth: smallest allowed aligned depth in the units of ``gt_depth``; default: 1/1000 of the
            smallest valid ground-truth depth.

    Returns:
        ``(aligned_depth, scale, shift)``: float64 array of the input shape (units of ``gt_depth``) and the
        fitted ``s`` (unitless) and ``t`` (units of ``gt_depth``) as floats.

    Raises:
        InputError: as for :func:`align_disparity`.

    Example:
        >>> depth, s, t = align_depth(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))
        >>> depth.tolist(), round(s, 6), round(t, 6)
        ([2.0, 3.0, 4.0], 1.0, 1.0)
    """
    depth, scale, shift, *_ = _align_depth(pred_depth, gt_depth, mask, min_depth)
    return depth, scale, shift


def abs_rel(pred: ArrayLike, gt: ArrayLike, mask: ArrayLike | None = None) -> float:
    """Mean absolute relative error ``mean(|d - d*| / d*)`` over the valid pixels (lower is better).

    Args:
        pred: float array, predicted depth (already aligned/metric), positive at every valid pixel.
        gt: float array of the same shape, ground-truth depth; invalid pixels (see :func:`valid_mask`) and
            pixels where ``mask`` is False are ignored.
        mask: optional bool array of the same shape.

    Returns:
        The error as a float (unitless; 0.1 means 10 % off on average).

    Example:
        >>> abs_rel(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0]))
        0.6666666666666666
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    _check_positive_depth(pred, valid)
    return float(np.mean(np.abs(pred[valid] - gt[valid]) / gt[valid]))


def rmse(pred: ArrayLike, gt: ArrayLike, mask: ArrayLike | None = None) -> float:
    """Root mean squared error ``sqrt(mean((d - d*)^2))`` over the valid pixels, in the units of ``gt``.

    Args:
        pred: float array, predicted depth, positive at every valid pixel.
        gt: float array of the same shape, ground-truth depth (e.g. metres).
        mask: optional bool array of the same shape.

    Returns:
        The error as a float in the units of ``gt`` (metres if ``gt`` is in metres).

    Example:
        >>> round(rmse(np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0])) ** 2, 6)  # (0 + 1 + 4) / 3
        1.666667
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    _check_positive_depth(pred, valid)
    return float(np.sqrt(np.mean((pred[valid] - gt[valid]) ** 2)))


def delta_accuracy(
    pred: ArrayLike, gt: ArrayLike, mask: ArrayLike | None = None, threshold: float = 1.25, power: int = 1
) -> float:
    """Threshold accuracy: fraction of valid pixels with ``max(d / d*, d* / d) < threshold ** power``.

    ``power`` 1, 2, 3 give the usual delta1, delta2, delta3 (higher is better).

    Args:
        pred: float array, predicted depth, positive at every valid pixel (inf counts as wrong).
        gt: float array of the same shape, ground-truth depth.
        mask: optional bool array of the same shape.
        threshold: ratio threshold > 1.
        power: exponent applied to ``threshold``, a positive integer.

    Returns:
        A fraction in [0, 1].

    Example:
        >>> pred, gt = np.array([1.0, 1.2, 3.0]), np.array([1.0, 1.0, 2.0])   # ratios 1, 1.2, 1.5
        >>> delta_accuracy(pred, gt), delta_accuracy(pred, gt, power=2)
        (0.6666666666666666, 1.0)
    """
    threshold = _check_threshold(threshold)
    power = checks.check_positive_int(power, "power", hint="use 1, 2 or 3")
    pred, gt, valid = _prepare(pred, gt, mask)
    _check_positive_depth(pred, valid)
    return float(np.mean(_max_ratio(pred[valid], gt[valid]) < threshold**power))


def bad_pixel_percent(
    pred: ArrayLike, gt: ArrayLike, mask: ArrayLike | None = None, threshold: float = 1.25
) -> float:
    """Percentage of valid pixels with ``max(d / d*, d* / d) > threshold`` (an error; lower is better).

    This is the "delta > 1.25" column of the MiDaS paper's tables. It is ``100 * (1 - delta1)`` except for
    pixels whose ratio is exactly ``threshold``, which count as neither bad nor accurate.

    Args:
        pred: float array, predicted depth, positive at every valid pixel (inf counts as bad).
        gt: float array of the same shape, ground-truth depth.
        mask: optional bool array of the same shape.
        threshold: ratio threshold > 1.

    Returns:
        A percentage in [0, 100].

    Example:
        >>> round(bad_pixel_percent(np.array([1.0, 1.2, 3.0]), np.array([1.0, 1.0, 2.0])), 4)
        33.3333
    """
    threshold = _check_threshold(threshold)
    pred, gt, valid = _prepare(pred, gt, mask)
    _check_positive_depth(pred, valid)
    return float(100.0 * np.mean(_max_ratio(pred[valid], gt[valid]) > threshold))


def evaluate(
    pred_inverse_depth: ArrayLike, gt_depth: ArrayLike, mask: ArrayLike | None = None, align: str = "disparity"
) -> dict:
    """Align a relative inverse depth to ground truth and compute every metric of this module.

    Args:
        pred_inverse_depth: (H, W) float array, relative inverse depth (larger = nearer), e.g.
            ``DepthResult.inverse_depth``; finite everywhere.
        gt_depth: float array of the same shape, ground-truth depth (e.g. metres); invalid pixels (inf, NaN,
            <= 0) are ignored.
        mask: optional bool array of the same shape restricting the evaluated pixels.
        align: ``"disparity"`` (default; :func:`align_disparity`, the MiDaS protocol) or ``"depth"``
            (:func:`align_depth` applied to ``1 / pred_inverse_depth``; inverse depths below 1e-6 times the
            largest one are raised to that floor before inverting, so zeros become very far, finite depths).

    Returns:
        A dict of plain Python numbers: ``abs_rel``, ``rmse`` (units of ``gt_depth``), ``delta1``,
        ``delta2``, ``delta3`` (fractions), ``bad_1_25`` (percent), ``n_valid`` (evaluated pixels),
        ``n_clamped`` (evaluated pixels whose aligned depth hit the cap, see :func:`align_disparity` /
        :func:`align_depth`), ``scale`` and ``shift`` (the fitted alignment).

    Raises:
        InputError: bad shapes, no or too few valid pixels, a constant or non-finite prediction, or an
            unknown ``align``.
    """
    checks.check_choice(align, "align", ("disparity", "depth"))
    if align == "disparity":
        depth, scale, shift, gt, valid, clamped = _align_disparity(pred_inverse_depth, gt_depth, mask, None)
    else:
        inverse = _as_array(pred_inverse_depth, "pred_inverse_depth")
        checks.check_finite(inverse, "pred_inverse_depth")
        largest = float(inverse.max())
        if largest <= 0:
            raise InputError(
                "pred_inverse_depth has no positive value, so it cannot be inverted to depth; use align='disparity'."
            )
        pred_depth = 1.0 / np.maximum(inverse, 1e-6 * largest)
        depth, scale, shift, gt, valid, clamped = _align_depth(pred_depth, gt_depth, mask, None, "pred_inverse_depth")
    d, g = depth[valid], gt[valid]
    ratio = _max_ratio(d, g)
    return {
        "abs_rel": float(np.mean(np.abs(d - g) / g)),
        "rmse": float(np.sqrt(np.mean((d - g) ** 2))),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
        "bad_1_25": float(100.0 * np.mean(ratio > 1.25)),
        "n_valid": int(valid.sum()),
        "n_clamped": int(np.count_nonzero(clamped & valid)),
        "scale": scale,
        "shift": shift,
    }


def _check_camera(focal_px, baseline_m, doffs_px) -> None:
    checks.check_positive(focal_px, "focal_px")
    checks.check_positive(baseline_m, "baseline_m")
    checks.check_finite_number(doffs_px, "doffs_px", unit="of pixels", hint="use 0.0 if unsure")


def _stereo_reciprocal(values, name: str, focal_px, baseline_m, offset_before: float, offset_after: float):
    """``baseline_m * focal_px / (values + offset_before) + offset_after`` where that denominator is finite and
    positive, ``inf`` elsewhere; a float for scalar input. Depth <-> disparity are both of this form."""
    x = _as_array(values, name, allow_scalar=True) + float(offset_before)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & (x > 0)
    out = np.full(x.shape, np.inf)
    out[ok] = baseline_m * focal_px / x[ok] + float(offset_after)
    return float(out) if out.ndim == 0 else out


def disparity_to_depth(
    disparity_px: ArrayLike, focal_px: float, baseline_m: float, doffs_px: float = 0.0
) -> np.ndarray | float:
    """Convert stereo disparity (pixels) to depth (metres): ``Z = baseline_m * focal_px / (d + doffs_px)``.

    This is the Middlebury convention, where ``doffs_px`` is the x-difference of the two principal points
    (``doffs`` in the dataset's calib.txt; note that Middlebury lists the baseline in millimetres: divide by
    1000). Invalid disparities (inf, which is how Middlebury marks unknown pixels, NaN, or
    ``d + doffs_px <= 0``) give ``inf``, which :func:`valid_mask` treats as invalid.

    Args:
        disparity_px: scalar or float array, disparity in pixels.
        focal_px: focal length in pixels, > 0.
        baseline_m: stereo baseline in metres, > 0.
        doffs_px: principal-point offset in pixels.

    Returns:
        Depth in metres: a float64 array of the input shape, or a float for scalar input.

    Example:
        >>> disparity_to_depth(np.array([100.0, np.inf, 0.0]), focal_px=1000.0, baseline_m=0.2)
        array([ 2., inf, inf])
    """
    _check_camera(focal_px, baseline_m, doffs_px)
    return _stereo_reciprocal(disparity_px, "disparity_px", focal_px, baseline_m, doffs_px, 0.0)


def depth_to_disparity(
    depth_m: ArrayLike, focal_px: float, baseline_m: float, doffs_px: float = 0.0
) -> np.ndarray | float:
    """Convert depth (metres) to stereo disparity (pixels): ``d = baseline_m * focal_px / Z - doffs_px``.

    The inverse of :func:`disparity_to_depth`; invalid depths (inf, NaN, <= 0) give ``inf`` disparity, the
    Middlebury marker for unknown pixels, so invalid pixels survive a round trip.

    Args:
        depth_m: scalar or float array, depth in metres.
        focal_px: focal length in pixels, > 0.
        baseline_m: stereo baseline in metres, > 0.
        doffs_px: principal-point offset in pixels (``doffs`` in Middlebury's calib.txt).

    Returns:
        Disparity in pixels (``inf`` where the depth is invalid): a float64 array of the input shape, or a
        float for scalar input.

    Example:
        >>> depth_to_disparity(2.0, focal_px=1000.0, baseline_m=0.2)
        100.0
    """
    _check_camera(focal_px, baseline_m, doffs_px)
    return _stereo_reciprocal(depth_m, "depth_m", focal_px, baseline_m, 0.0, -float(doffs_px))
