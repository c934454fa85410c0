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

# Relative spread (standard deviation / largest magnitude) below which a prediction counts as constant.
_CONSTANT_TOLERANCE = 1e-9


# ----------------------------------------------------------------------------------------------- checks


def _as_array(x, name: str, allow_scalar: bool = False) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor: no torch import needed
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be an array of numbers, got {type(x).__name__}; pass a numpy array such as an (H, W) map."
        ) from None
    if (arr.ndim == 0 and not allow_scalar) or arr.size == 0:
        raise InputError(
            f"{name} must be a non-empty array, got shape {arr.shape}; pass a map such as an (H, W) array."
        )
    return arr


def _as_mask(mask, shape) -> np.ndarray | None:
    if mask is None:
        return None
    if hasattr(mask, "detach") and hasattr(mask, "cpu"):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise InputError(
            f"mask must be a bool array, got dtype {mask.dtype}; build it with a comparison such as gt > 0."
        )
    if mask.shape != shape:
        raise InputError(f"mask has shape {mask.shape} but gt has shape {shape}; pass one mask value per pixel.")
    return mask


def _prepare(pred, gt, mask, pred_name: str = "pred", gt_name: str = "gt"):
    """Validate and return (pred, gt, valid) with valid = valid_mask(gt) & mask, which is never empty."""
    pred = _as_array(pred, pred_name)
    gt = _as_array(gt, gt_name)
    if pred.shape != gt.shape:
        raise InputError(
            f"{pred_name} has shape {pred.shape} but {gt_name} has shape {gt.shape}; "
            "resize the prediction to the ground-truth resolution first."
        )
    mask = _as_mask(mask, gt.shape)
    valid = valid_mask(gt)
    if mask is not None:
        valid &= mask
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


def _check_finite(pred: np.ndarray, name: str) -> None:
    if not np.isfinite(pred).all():
        raise InputError(f"{name} contains NaN or inf; pass the raw finite model output.")


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not threshold > 1:
        raise InputError(f"threshold must be a number > 1, got {threshold!r}; the usual value is 1.25.")
    return float(threshold)


def _check_cap(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 < value < np.inf:
        raise InputError(f"{name} must be a positive finite number in the units of gt, got {value!r}.")
    return float(value)


def _fit_affine(x: np.ndarray, y: np.ndarray):
    """Least squares of s * x + t to y (1-D float64): returns (s, t), or None if x is (numerically) constant."""
    x_mean, y_mean = x.mean(), y.mean()
    xc = x - x_mean
    var = np.mean(xc * xc)
    if not np.sqrt(var) > _CONSTANT_TOLERANCE * np.max(np.abs(x)):
        return None
    scale = np.mean(xc * (y - y_mean)) / var
    return float(scale), float(y_mean - scale * x_mean)


def _fit_or_raise(x, y, pred_name):
    if x.size < 2:
        raise InputError(f"only {x.size} valid pixel; a scale and shift need at least 2 valid ground-truth pixels.")
    fit = _fit_affine(x, y)
    if fit is None:
        raise InputError(
            f"{pred_name} is constant over the valid pixels, so no scale and shift can be fitted; "
            "check that the prediction is not blank."
        )
    return fit


def _max_ratio(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore"):
        return np.maximum(pred / gt, gt / pred)


# ----------------------------------------------------------------------------------------------- public


def valid_mask(gt) -> np.ndarray:
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
    _check_finite(pred, "pred_inverse_depth")
    scale, shift = _fit_or_raise(pred[valid], 1.0 / gt[valid], "pred_inverse_depth")
    max_depth = float(gt[valid].max()) if max_depth is None else _check_cap(max_depth, "max_depth")
    disparity = scale * pred + shift
    clamped = disparity < 1.0 / max_depth
    depth = 1.0 / np.maximum(disparity, 1.0 / max_depth)
    return depth, scale, shift, gt, valid, clamped


def align_disparity(pred_inverse_depth, gt_depth, mask=None, max_depth=None):
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
    _check_finite(pred, pred_name)
    scale, shift = _fit_or_raise(pred[valid], gt[valid], pred_name)
    min_depth = 1e-3 * float(gt[valid].min()) if min_depth is None else _check_cap(min_depth, "min_depth")
    depth = scale * pred + shift
    clamped = depth < min_depth
    return np.maximum(depth, min_depth), scale, shift, gt, valid, clamped


def align_depth(pred_depth, gt_depth, mask=None, min_depth=None):
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


def abs_rel(pred, gt, mask=None) -> float:
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


def rmse(pred, gt, mask=None) -> float:
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


def delta_accuracy(pred, gt, mask=None, threshold: float = 1.25, power: int = 1) -> float:
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
    if isinstance(power, bool) or not isinstance(power, (int, np.integer)) or power < 1:
        raise InputError(f"power must be a positive integer, got {power!r}; use 1, 2 or 3.")
    pred, gt, valid = _prepare(pred, gt, mask)
    _check_positive_depth(pred, valid)
    return float(np.mean(_max_ratio(pred[valid], gt[valid]) < threshold**power))


def bad_pixel_percent(pred, gt, mask=None, threshold: float = 1.25) -> float:
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


def evaluate(pred_inverse_depth, gt_depth, mask=None, align: str = "disparity") -> dict:
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
    if align not in ("disparity", "depth"):
        raise InputError(f"align must be 'disparity' or 'depth', got {align!r}.")
    if align == "disparity":
        depth, scale, shift, gt, valid, clamped = _align_disparity(pred_inverse_depth, gt_depth, mask, None)
    else:
        inverse = _as_array(pred_inverse_depth, "pred_inverse_depth")
        _check_finite(inverse, "pred_inverse_depth")
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


def _check_camera(focal_px, baseline_m, doffs_px):
    for name, value in (("focal_px", focal_px), ("baseline_m", baseline_m)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 < value < np.inf:
            raise InputError(f"{name} must be a positive finite number, got {value!r}.")
    if isinstance(doffs_px, bool) or not isinstance(doffs_px, (int, float, np.number)) or not np.isfinite(doffs_px):
        raise InputError(f"doffs_px must be a finite number of pixels, got {doffs_px!r}; use 0.0 if unsure.")


def _scalar_or_array(result: np.ndarray):
    return float(result) if result.ndim == 0 else result


def disparity_to_depth(disparity_px, focal_px: float, baseline_m: float, doffs_px: float = 0.0):
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
    disparity = _as_array(disparity_px, "disparity_px", allow_scalar=True)
    d = disparity + float(doffs_px)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d) & (d > 0)
    depth = np.full(d.shape, np.inf)
    depth[ok] = baseline_m * focal_px / d[ok]
    return _scalar_or_array(depth)


def depth_to_disparity(depth_m, focal_px: float, baseline_m: float, doffs_px: float = 0.0):
    """Convert depth (metres) to stereo disparity (pixels): ``d = baseline_m * focal_px / Z - doffs_px``.

    The inverse of :func:`disparity_to_depth`; invalid depths (inf, NaN, <= 0) give ``inf`` disparity, the
    Middlebury marker for unknown pixels, so invalid pixels survive a round trip.

    Args:
        depth_m: scalar or float array, depth in metres.
        focal_px: focal length in pixels, > 0.
        baseline_m: stereo baseline in metres, > 0.
        doffs_px: principal-point offset in pixels.

    Returns:
        Disparity in pixels: a float64 array of the input shape, or a float for scalar input.

    Example:
        >>> depth_to_disparity(2.0, focal_px=1000.0, baseline_m=0.2)
        100.0
    """
    _check_camera(focal_px, baseline_m, doffs_px)
    z = _as_array(depth_m, "depth_m", allow_scalar=True)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(z) & (z > 0)
    disparity = np.full(z.shape, np.inf)
    disparity[ok] = baseline_m * focal_px / z[ok] - float(doffs_px)
    return _scalar_or_array(disparity)
