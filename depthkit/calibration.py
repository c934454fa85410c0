"""Turn a relative inverse-depth map into metres from a few measured distances.

MiDaS predicts inverse depth only up to an unknown scale ``s`` and shift ``t``. If you know the true
distance of at least two pixels (a tape measure, a door of known distance, a laser range finder), you can
fit ``1 / Z = s * d + t`` by least squares (:func:`depthkit.alignment.fit_scale_shift`), where ``d`` is the
predicted inverse depth at those pixels, and then convert the whole map to metres: ``Z = 1 / (s * d + t)``.
Where ``s * d + t <= 0`` the fitted model puts the point beyond the horizon; those pixels get ``Z = inf``.

The distances must be depths along the camera's viewing axis (the Z coordinate), not straight-line ranges
from the camera; near the image centre the two are almost equal.

Example:
    >>> import numpy as np
    >>> inverse_depth = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)   # fake model output
    >>> calib = calibrate_from_points(inverse_depth, [(0, 0, 2.0), (1, 1, 0.5)])  # (x px, y px, metres)
    >>> round(calib.scale, 6), round(calib.shift, 6)
    (0.5, 0.0)
    >>> np.round(calib.depth_m.astype(float), 3).tolist()                     # metres
    [[2.0, 1.0], [0.667, 0.5]]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from . import checks
from .alignment import fit_scale_shift, is_degenerate
from .errors import InputError

__all__ = ["Calibration", "apply_scale_shift", "calibrate_from_points"]


def _as_inverse_depth(inverse_depth) -> np.ndarray:
    """(H, W) finite float64 map from an array, a tensor or a DepthResult, or raise InputError."""
    inverse_depth = getattr(inverse_depth, "inverse_depth", inverse_depth)  # accept a DepthResult too
    if hasattr(inverse_depth, "detach") and hasattr(inverse_depth, "cpu"):
        inverse_depth = inverse_depth.detach().cpu().numpy()
    try:
        arr = np.asarray(inverse_depth, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"inverse_depth must be an (H, W) array of numbers, got {type(inverse_depth).__name__}; "
            "pass DepthResult.inverse_depth."
        ) from None
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"inverse_depth must be a 2-D array (H, W), got shape {arr.shape}; pass a single depth map.")
    return checks.check_finite(arr, "inverse_depth")


def apply_scale_shift(inverse_depth: ArrayLike, scale: float, shift: float) -> np.ndarray:
    """Convert relative inverse depth to metres with a fitted scale and shift: ``Z = 1 / (scale * d + shift)``.

    Args:
        inverse_depth: (H, W) float array of relative inverse depth (larger = nearer), or a ``DepthResult``.
        scale: ``s`` in 1/metres per unit of inverse depth.
        shift: ``t`` in 1/metres.

    Returns:
        (H, W) float32 depth in metres; ``inf`` where ``scale * d + shift <= 0`` (beyond the horizon).

    Example:
        >>> apply_scale_shift(np.array([[0.0, 1.0, 3.0]]), scale=0.5, shift=-0.5)
        array([[inf, inf,  1.]], dtype=float32)
    """
    d = _as_inverse_depth(inverse_depth)
    s, t = checks.check_finite_number(scale, "scale"), checks.check_finite_number(shift, "shift")
    inverse_metres = s * d + t
    depth = np.full(d.shape, np.inf)
    positive = inverse_metres > 0
    depth[positive] = 1.0 / inverse_metres[positive]
    return depth.astype(np.float32)


@dataclass(frozen=True)
class Calibration:
    """A metric depth map obtained from relative inverse depth and a few measured distances.

    Attributes:
        depth_m: (H, W) float32 depth in metres; ``inf`` beyond the horizon (``scale * d + shift <= 0``).
        scale: fitted ``s`` of ``1 / Z = s * d + t`` (1/metres per unit of inverse depth).
        shift: fitted ``t`` (1/metres).
        residuals_m: (N,) float64, predicted minus measured depth at each point, in metres (``inf`` if
            the fit puts that point beyond the horizon). All zeros for exactly 2 points.
        points: the points used, as ``(x_px, y_px, distance_m)`` tuples with integer pixel coordinates.
        window: side of the square median window used to read the inverse depth at each point.
    """

    depth_m: np.ndarray = field(repr=False)
    scale: float
    shift: float
    residuals_m: np.ndarray
    points: tuple = ()
    window: int = 1

    def apply(self, inverse_depth: ArrayLike) -> np.ndarray:
        """Apply this calibration to another (H', W') inverse-depth map from the same camera and model.

        Returns:
            (H', W') float32 depth in metres, ``inf`` beyond the horizon (see :func:`apply_scale_shift`).
        """
        return apply_scale_shift(inverse_depth, self.scale, self.shift)

    @property
    def rms_residual_m(self) -> float:
        """Root mean square of :attr:`residuals_m`, in metres (how well the points agree with the fit)."""
        return float(np.sqrt(np.mean(np.square(self.residuals_m))))


def _check_points(points, height: int, width: int):
    if isinstance(points, (str, bytes)) or not hasattr(points, "__len__"):
        raise InputError(f"points must be a list of (x_px, y_px, distance_m) tuples, got {type(points).__name__}.")
    if len(points) < 2:
        raise InputError(
            f"points has {len(points)} entr{'y' if len(points) == 1 else 'ies'}, but a scale and a shift need "
            "at least 2 points with known distances."
        )
    checked = []
    for i, point in enumerate(points):
        try:
            x, y, distance = (float(v) for v in point)
        except (TypeError, ValueError):
            raise InputError(
                f"points[{i}] must be a tuple (x_px, y_px, distance_m) of 3 numbers, got {point!r}."
            ) from None
        finite = np.isfinite(x) and np.isfinite(y)
        col, row = (int(np.floor(x + 0.5)), int(np.floor(y + 0.5))) if finite else (-1, -1)
        if not (0 <= col < width and 0 <= row < height):
            raise InputError(
                f"points[{i}] at (x={x:g}, y={y:g}) px lies outside the {width}x{height} image; "
                f"use 0 <= x < {width} and 0 <= y < {height}."
            )
        if not (np.isfinite(distance) and distance > 0):
            raise InputError(f"points[{i}] has distance {distance:g} m; distances must be positive and finite.")
        checked.append((col, row, distance))
    return tuple(checked)


def _read_inverse_depth(d: np.ndarray, col: int, row: int, window: int) -> float:
    half = window // 2
    patch = d[max(row - half, 0) : row + half + 1, max(col - half, 0) : col + half + 1]
    return float(np.median(patch))


def _check_window(window) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise InputError(f"window must be an odd positive integer, got {window!r}; use 1, 3 or 5.")
    return int(window)


def _fit_points(d_at: np.ndarray, distances_m: np.ndarray) -> tuple[float, float]:
    """Least squares of ``1 / distance = s * d + t`` (depthkit.alignment); refuses degenerate points, warns on s < 0."""
    if is_degenerate(d_at):
        raise InputError(
            "all points have the same inverse depth in the map, so the scale cannot be determined; "
            "pick points at clearly different depths."
        )
    scale, shift = fit_scale_shift(d_at, 1.0 / distances_m)
    if scale < 0:
        warnings.warn(
            f"the fitted scale {scale:.3g} is negative: the measured distances contradict the map's near/far "
            "order; check the points.",
            UserWarning,
            stacklevel=3,
        )
    return scale, shift


def _depth_at_points(d_at: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """Depth in metres predicted at each point, ``inf`` where ``scale * d + shift <= 0``."""
    inverse_metres = scale * d_at + shift
    predicted = np.full(d_at.shape, np.inf)
    positive = inverse_metres > 0
    predicted[positive] = 1.0 / inverse_metres[positive]
    return predicted


def calibrate_from_points(
    inverse_depth: ArrayLike, points: Sequence[tuple[float, float, float]], window: int = 1
) -> Calibration:
    """Fit ``1 / Z = s * d + t`` to measured distances and convert the inverse-depth map to metres.

    The fit is least squares in inverse metres (the space where the model is affine), over the inverse
    depth ``d`` read at each point (:func:`depthkit.alignment.fit_scale_shift`). With ``window > 1`` the value
    read at a point is the median of the ``window x window`` pixels around it (cut at the image border), which
    makes a point clicked on a depth edge or a noisy pixel less harmful. With exactly 2 points the fit passes
    through both exactly.

    Args:
        inverse_depth: (H, W) float array, relative inverse depth (larger = nearer), finite; or a
            ``DepthResult``, whose ``.inverse_depth`` is used.
        points: at least 2 ``(x_px, y_px, distance_m)`` entries: column and row in pixels (rounded to the
            nearest pixel, origin at the top-left) and the depth of that pixel in metres, > 0.
        window: odd side length in pixels of the median window, >= 1 (1 = read the single pixel).

    Returns:
        A :class:`Calibration` with ``depth_m`` (H, W) float32 metres, ``scale``, ``shift`` and
        ``residuals_m`` (predicted minus measured depth per point, metres).

    Raises:
        InputError: a bad map, fewer than 2 points, a point outside the image, a non-positive distance, an
            even or non-positive window, or degenerate points (all at the same inverse depth, so the scale
            cannot be determined).

    Warns:
        UserWarning: if the fitted scale is negative, i.e. the measurements say that pixels the model sees
            as nearer are farther away; check the points.
    """
    d = _as_inverse_depth(inverse_depth)
    window = _check_window(window)
    checked = _check_points(points, *d.shape)
    d_at = np.array([_read_inverse_depth(d, col, row, window) for col, row, _ in checked])
    distances = np.array([distance for _, _, distance in checked])
    scale, shift = _fit_points(d_at, distances)
    return Calibration(
        depth_m=apply_scale_shift(d, scale, shift),
        scale=scale,
        shift=shift,
        residuals_m=_depth_at_points(d_at, scale, shift) - distances,
        points=checked,
        window=window,
    )
