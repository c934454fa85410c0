"""Tests for depthkit.calibration: exact recovery, residuals, median window, horizon and input errors."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from depthkit.calibration import Calibration, apply_scale_shift, calibrate_from_points
from depthkit.errors import DepthkitError, InputError


def ramp_map():
    """(6, 8) float32 inverse depth 0.5 .. 4, distinct values, like a model output."""
    rows, cols = np.mgrid[0:6, 0:8]
    return (0.5 + 0.4 * cols + 0.1 * rows + 0.01 * rows * cols).astype(np.float32)


def test_exact_recovery_of_a_synthetic_affine_inverse_depth():
    d = ramp_map()
    true_scale, true_shift = 0.4, 0.05
    true_depth = 1.0 / (true_scale * d.astype(np.float64) + true_shift)
    points = [(x, y, float(true_depth[y, x])) for x, y in [(0, 0), (7, 1), (3, 5), (5, 2)]]
    calib = calibrate_from_points(d, points)
    assert isinstance(calib, Calibration)
    assert calib.scale == pytest.approx(true_scale) and calib.shift == pytest.approx(true_shift)
    assert calib.depth_m.shape == (6, 8) and calib.depth_m.dtype == np.float32
    np.testing.assert_allclose(calib.depth_m, true_depth, rtol=1e-5)
    assert calib.residuals_m.shape == (4,)
    np.testing.assert_allclose(calib.residuals_m, 0.0, atol=1e-9)
    assert calib.rms_residual_m == pytest.approx(0.0, abs=1e-9)
    assert calib.points == ((0, 0, points[0][2]), (7, 1, points[1][2]), (3, 5, points[2][2]), (5, 2, points[3][2]))


def test_residuals_hand_computed():
    # d = [0, 1, 2] at the points, 1/Z = [1, 2, 4]: s = 1.5, t = 5/6 -> predicted Z = [1.2, 3/7, 6/23].
    d = np.array([[0.0, 1.0, 2.0]])
    calib = calibrate_from_points(d, [(0, 0, 1.0), (1, 0, 0.5), (2, 0, 0.25)])
    assert calib.scale == pytest.approx(1.5) and calib.shift == pytest.approx(5 / 6)
    expected = np.array([1.2 - 1.0, 3 / 7 - 0.5, 6 / 23 - 0.25])
    np.testing.assert_allclose(calib.residuals_m, expected)
    assert calib.rms_residual_m == pytest.approx(np.sqrt(np.mean(expected**2)))
    np.testing.assert_allclose(calib.depth_m, [[1.2, 3 / 7, 6 / 23]], rtol=1e-6)


def test_two_points_are_fitted_exactly():
    calib = calibrate_from_points(ramp_map(), [(1, 1, 3.0), (6, 4, 1.5)])
    np.testing.assert_allclose(calib.residuals_m, [0.0, 0.0], atol=1e-12)
    assert calib.depth_m[1, 1] == pytest.approx(3.0) and calib.depth_m[4, 6] == pytest.approx(1.5)


def test_pixels_beyond_the_horizon_are_infinite():
    # Points give s = 0.5, t = -0.25: 1/Z = 0.5 d - 0.25 <= 0 for d <= 0.5.
    d = np.array([[0.0, 1.0], [2.0, 0.5]])
    calib = calibrate_from_points(d, [(1, 0, 4.0), (0, 1, 4 / 3)])
    assert calib.scale == pytest.approx(0.5) and calib.shift == pytest.approx(-0.25)
    assert np.isinf(calib.depth_m[0, 0]) and np.isinf(calib.depth_m[1, 1])
    np.testing.assert_allclose(calib.depth_m[np.isfinite(calib.depth_m)], [4.0, 4 / 3], rtol=1e-6)


def test_a_point_the_fit_puts_beyond_the_horizon_has_infinite_residual():
    # 1/Z = [0.001, 1, 3] at d = [0, 1, 2]: s = 0.999667 / (2/3) = 1.4995, t = 1.333667 - 1.4995 < 0.
    d = np.array([[0.0, 1.0, 2.0]])
    calib = calibrate_from_points(d, [(0, 0, 1000.0), (1, 0, 1.0), (2, 0, 1 / 3)])
    assert calib.scale == pytest.approx(1.4995) and calib.shift == pytest.approx(4.001 / 3 - 1.4995)
    assert np.isinf(calib.residuals_m[0]) and np.isfinite(calib.residuals_m[1:]).all()


def test_median_window_ignores_a_spike_under_the_point():
    d = np.ones((5, 8))
    d[:, 4:] = 3.0
    d[1, 1] = 100.0  # a noisy pixel exactly where the user clicked
    points = [(1, 1, 1.0), (6, 1, 1 / 3)]
    calib = calibrate_from_points(d, points, window=3)  # median of eight 1s and one 100 is 1
    assert calib.scale == pytest.approx(1.0) and calib.shift == pytest.approx(0.0, abs=1e-12)
    assert calib.window == 3
    with pytest.warns(UserWarning, match="fitted scale .* is negative"):
        calibrate_from_points(d, points, window=1)  # reads 100 -> "nearer" point is farther: contradiction


def test_median_window_is_cut_at_the_image_border():
    d = np.array([[1.0, 5.0, 9.0], [2.0, 6.0, 9.0], [3.0, 7.0, 9.0]])
    # At (0, 0) a 3x3 window keeps [[1, 5], [2, 6]]: median 3.5; at (2, 2) it keeps [[6, 9], [7, 9]]: 8.
    calib = calibrate_from_points(d, [(0, 0, 1 / 3.5), (2, 2, 1 / 8)], window=3)
    assert calib.scale == pytest.approx(1.0) and calib.shift == pytest.approx(0.0, abs=1e-12)


def test_fractional_pixel_coordinates_are_rounded():
    d = np.array([[1.0, 2.0, 4.0]])
    calib = calibrate_from_points(d, [(0.4, 0.2, 1.0), (1.6, -0.3, 0.25)])  # -> pixels (0, 0) and (2, 0)
    assert calib.points == ((0, 0, 1.0), (2, 0, 0.25))
    assert calib.scale == pytest.approx(1.0) and calib.shift == pytest.approx(0.0, abs=1e-12)


def test_apply_converts_another_map_of_any_size():
    calib = calibrate_from_points(np.array([[1.0, 2.0]]), [(0, 0, 1.0), (1, 0, 0.5)])  # s = 1, t = 0
    other = np.array([[4.0, 0.5, -1.0], [1.0, 8.0, 0.0]], dtype=np.float32)
    depth = calib.apply(other)
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    np.testing.assert_array_equal(depth, [[0.25, 2.0, np.inf], [1.0, 0.125, np.inf]])
    np.testing.assert_array_equal(apply_scale_shift(other, 1.0, 0.0), depth)


def test_accepts_a_depth_result_like_object():
    d = ramp_map()
    result = SimpleNamespace(inverse_depth=d, image=None)
    a = calibrate_from_points(result, [(0, 0, 2.0), (7, 5, 0.5)])
    b = calibrate_from_points(d, [(0, 0, 2.0), (7, 5, 0.5)])
    assert a.scale == b.scale and a.shift == b.shift
    np.testing.assert_array_equal(a.apply(result), b.depth_m)


def test_positive_fits_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calibrate_from_points(ramp_map(), [(0, 0, 2.0), (7, 5, 0.5)])


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("points", [[], [(0, 0, 1.0)]])
def test_fewer_than_two_points_are_rejected(points):
    with pytest.raises(InputError, match=f"points has {len(points)} entr(y|ies), but .* need at least 2 points"):
        calibrate_from_points(ramp_map(), points)


@pytest.mark.parametrize("point", [(8, 0, 1.0), (0, 6, 1.0), (-1, 0, 1.0), (float("nan"), 0, 1.0)])
def test_points_outside_the_image_are_rejected(point):
    with pytest.raises(InputError, match=r"points\[1\] at .* lies outside the 8x6 image"):
        calibrate_from_points(ramp_map(), [(0, 0, 1.0), point])


@pytest.mark.parametrize("distance", [0.0, -2.0, float("inf"), float("nan")])
def test_non_positive_or_infinite_distances_are_rejected(distance):
    with pytest.raises(InputError, match=r"points\[0\] has distance .* m; distances must be positive and finite"):
        calibrate_from_points(ramp_map(), [(0, 0, distance), (1, 1, 1.0)])


def test_points_at_the_same_inverse_depth_are_degenerate():
    d = np.full((4, 4), 0.7)
    with pytest.raises(InputError, match="all points have the same inverse depth in the map"):
        calibrate_from_points(d, [(0, 0, 1.0), (3, 3, 2.0), (1, 2, 5.0)])
    with pytest.raises(DepthkitError):  # the same pixel twice is degenerate too
        calibrate_from_points(ramp_map(), [(2, 2, 1.0), (2, 2, 1.5)])


def test_malformed_inputs_are_rejected():
    with pytest.raises(InputError, match=r"points\[1\] must be a tuple \(x_px, y_px, distance_m\) of 3 numbers"):
        calibrate_from_points(ramp_map(), [(0, 0, 1.0), (1, 1)])
    with pytest.raises(InputError, match="points must be a list of"):
        calibrate_from_points(ramp_map(), 5)
    with pytest.raises(InputError, match=r"inverse_depth must be a 2-D array \(H, W\), got shape \(1, 6, 8\)"):
        calibrate_from_points(ramp_map()[None], [(0, 0, 1.0), (1, 1, 2.0)])
    bad = ramp_map()
    bad[2, 2] = np.nan
    with pytest.raises(InputError, match="inverse_depth contains NaN or inf"):
        calibrate_from_points(bad, [(0, 0, 1.0), (1, 1, 2.0)])
    with pytest.raises(InputError, match="window must be an odd positive integer, got 2"):
        calibrate_from_points(ramp_map(), [(0, 0, 1.0), (1, 1, 2.0)], window=2)
    with pytest.raises(InputError, match="scale must be a finite number"):
        apply_scale_shift(ramp_map(), float("nan"), 0.0)
