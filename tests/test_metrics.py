"""Tests for depthkit.metrics: hand-computed metric values, alignment, conversions and input errors."""

import numpy as np
import pytest
import torch

from depthkit.errors import InputError
from depthkit.metrics import (
    abs_rel,
    align_depth,
    align_disparity,
    bad_pixel_percent,
    delta_accuracy,
    depth_to_disparity,
    disparity_to_depth,
    evaluate,
    rmse,
    valid_mask,
)

# Ratios max(d/d*, d*/d) = 1, 1.2, 1.5; absolute errors 0, 0.2, 1.
PRED = np.array([1.0, 1.2, 3.0])
GT = np.array([1.0, 1.0, 2.0])


def test_valid_mask_rejects_inf_nan_zero_and_negative():
    gt = np.array([[1.5, 0.0, -2.0], [np.inf, np.nan, 1e-3]])
    np.testing.assert_array_equal(valid_mask(gt), [[True, False, False], [False, False, True]])
    assert valid_mask(gt).dtype == np.bool_


def test_metrics_hand_computed():
    assert abs_rel(PRED, GT) == pytest.approx((0 + 0.2 + 0.5) / 3)
    assert rmse(PRED, GT) == pytest.approx(np.sqrt((0 + 0.04 + 1.0) / 3))
    assert delta_accuracy(PRED, GT) == pytest.approx(2 / 3)
    assert delta_accuracy(PRED, GT, power=2) == 1.0  # 1.5 < 1.5625
    assert delta_accuracy(PRED, GT, threshold=1.1) == pytest.approx(1 / 3)
    assert bad_pixel_percent(PRED, GT) == pytest.approx(100 / 3)
    assert bad_pixel_percent(PRED, GT, threshold=1.6) == 0.0


def test_ratio_is_symmetric_for_under_and_over_estimates():
    gt = np.array([2.0, 2.0])
    assert delta_accuracy(np.array([1.0, 4.0]), gt) == 0.0  # both a factor 2 off
    assert bad_pixel_percent(np.array([1.0, 4.0]), gt) == 100.0


def test_ratio_exactly_at_the_threshold_is_neither_accurate_nor_bad():
    pred, gt = np.array([1.25, 1.0]), np.array([1.0, 1.0])
    assert delta_accuracy(pred, gt) == 0.5
    assert bad_pixel_percent(pred, gt) == 0.0


def test_invalid_and_masked_pixels_are_excluded():
    pred = np.array([1.0, 1.2, 3.0, -7.0, 123.0, np.nan, 5.0])
    gt = np.array([1.0, 1.0, 2.0, np.inf, 0.0, np.nan, 5.5])
    mask = np.array([True, True, True, True, True, True, False])
    assert abs_rel(pred, gt, mask) == pytest.approx(abs_rel(PRED, GT))
    assert rmse(pred, gt, mask) == pytest.approx(rmse(PRED, GT))
    assert delta_accuracy(pred, gt, mask) == pytest.approx(2 / 3)
    assert bad_pixel_percent(pred, gt, mask) == pytest.approx(100 / 3)


def test_infinite_predicted_depth_counts_as_wrong():
    pred, gt = np.array([1.0, np.inf]), np.array([1.0, 1.0])
    assert delta_accuracy(pred, gt) == 0.5
    assert bad_pixel_percent(pred, gt) == 50.0
    assert abs_rel(pred, gt) == np.inf


def test_metrics_accept_2d_arrays_and_torch_tensors():
    pred2, gt2 = np.array([[1.0, 1.2], [3.0, 3.0]]), np.array([[1.0, 1.0], [2.0, 2.0]])
    assert abs_rel(pred2, gt2) == pytest.approx((0 + 0.2 + 0.5 + 0.5) / 4)
    assert abs_rel(torch.tensor(PRED), torch.tensor(GT)) == pytest.approx(abs_rel(PRED, GT))


# --------------------------------------------------------------------------------------------- alignment


def test_align_disparity_hand_example():
    # 1/gt = [1, 2, 4] against pred [0, 1, 2]: cov = 1, var = 2/3 -> s = 1.5, t = 7/3 - 1.5 = 5/6;
    # aligned disparity [5/6, 7/3, 23/6] -> depth [1.2, 3/7, 6/23].
    pred, gt = np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.25])
    depth, scale, shift = align_disparity(pred, gt, max_depth=2.0)
    assert scale == pytest.approx(1.5) and shift == pytest.approx(5 / 6)
    np.testing.assert_allclose(depth, [1.2, 3 / 7, 6 / 23])
    assert depth.dtype == np.float64
    depth, _, _ = align_disparity(pred, gt)  # default cap: the largest valid gt depth, 1.0
    np.testing.assert_allclose(depth, [1.0, 3 / 7, 6 / 23])


def test_align_disparity_recovers_an_affine_inverse_depth_exactly():
    gt = np.linspace(0.5, 10.0, 24).reshape(4, 6)
    pred = 7.0 / gt + 3.0
    depth, scale, shift = align_disparity(pred, gt)
    assert scale == pytest.approx(1 / 7) and shift == pytest.approx(-3 / 7)
    np.testing.assert_allclose(depth, gt)


def test_align_disparity_clamps_non_positive_disparity_to_the_depth_cap():
    # Pixels 0-2 fit exactly (s = 1, t = 0); pixel 3 has invalid gt and a negative prediction.
    pred = np.array([1.0, 2.0, 4.0, -3.0, 0.0])
    gt = np.array([1.0, 0.5, 0.25, np.inf, np.nan])
    depth, _, _ = align_disparity(pred, gt)
    assert np.all(np.isfinite(depth)) and np.all(depth > 0)
    np.testing.assert_allclose(depth, [1.0, 0.5, 0.25, 1.0, 1.0])
    depth, _, _ = align_disparity(pred, gt, max_depth=80.0)
    np.testing.assert_allclose(depth[3:], [80.0, 80.0])


def test_align_depth_hand_example():
    # gt [2, 3, 5] against pred [1, 2, 3]: cov = 1, var = 2/3 -> s = 1.5, t = 10/3 - 3 = 1/3.
    depth, scale, shift = align_depth(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 5.0]))
    assert scale == pytest.approx(1.5) and shift == pytest.approx(1 / 3)
    np.testing.assert_allclose(depth, [11 / 6, 10 / 3, 29 / 6])


def test_align_depth_clamps_at_min_depth():
    pred = np.array([1.0, 2.0, 3.0, -100.0])
    gt = np.array([2.0, 3.0, 4.0, 0.0])
    depth, _, _ = align_depth(pred, gt)  # default floor: 1/1000 of the smallest valid gt depth
    np.testing.assert_allclose(depth, [2.0, 3.0, 4.0, 2e-3])
    depth, _, _ = align_depth(pred, gt, min_depth=0.1)
    assert depth[3] == pytest.approx(0.1)


def test_disparity_and_depth_alignment_differ_for_shifted_inverse_depth():
    gt = np.linspace(1.0, 10.0, 50)
    inverse_depth = 2.0 / gt + 0.5  # what MiDaS outputs: inverse depth with a shift
    by_disparity = evaluate(inverse_depth, gt, align="disparity")
    by_depth = evaluate(inverse_depth, gt, align="depth")
    assert by_disparity["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    assert by_depth["abs_rel"] > 0.05
    # Without the shift, 1 / inverse_depth is proportional to depth and both protocols are exact.
    assert evaluate(2.0 / gt, gt, align="depth")["abs_rel"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------------------------- evaluate


def test_evaluate_hand_example():
    # Aligned depth [1.2 -> capped 1.0, 3/7, 6/23] vs gt [1, 0.5, 0.25].
    result = evaluate(np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.25]))
    d, g = np.array([1.0, 3 / 7, 6 / 23]), np.array([1.0, 0.5, 0.25])
    ratio = np.maximum(d / g, g / d)  # [1, 7/6, 24/23]
    assert set(result) == {
        "abs_rel",
        "rmse",
        "delta1",
        "delta2",
        "delta3",
        "bad_1_25",
        "n_valid",
        "n_clamped",
        "scale",
        "shift",
    }
    assert result["abs_rel"] == pytest.approx(np.mean(np.abs(d - g) / g))
    assert result["abs_rel"] == pytest.approx((0 + 1 / 7 + 1 / 23) / 3)
    assert result["rmse"] == pytest.approx(np.sqrt(((3 / 7 - 0.5) ** 2 + (6 / 23 - 0.25) ** 2) / 3))
    assert np.all(ratio < 1.25)
    assert (result["delta1"], result["delta2"], result["delta3"], result["bad_1_25"]) == (1.0, 1.0, 1.0, 0.0)
    assert result["n_valid"] == 3 and result["n_clamped"] == 1
    assert result["scale"] == pytest.approx(1.5) and result["shift"] == pytest.approx(5 / 6)
    assert all(type(v) in (float, int) for v in result.values())


def test_evaluate_excludes_invalid_pixels_and_counts_them():
    gt = np.array([[1.0, 2.0, np.inf], [4.0, 0.0, 8.0]])
    pred = 1.0 / np.where(np.isfinite(gt) & (gt > 0), gt, 1.0) * 3.0 + 2.0
    result = evaluate(pred, gt)
    assert result["n_valid"] == 4
    assert result["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    assert result["delta1"] == 1.0 and result["bad_1_25"] == 0.0
    mask = np.array([[True, True, True], [False, True, True]])
    assert evaluate(pred, gt, mask)["n_valid"] == 3


def test_evaluate_rmse_is_in_ground_truth_units():
    gen = np.random.default_rng(0)
    gt = gen.uniform(1.0, 5.0, (6, 6))
    pred = 1.0 / gt + gen.normal(0, 0.02, (6, 6))
    metres, millimetres = evaluate(pred, gt), evaluate(pred, 1000.0 * gt)
    assert millimetres["rmse"] == pytest.approx(1000.0 * metres["rmse"])
    assert millimetres["abs_rel"] == pytest.approx(metres["abs_rel"])
    assert millimetres["delta1"] == metres["delta1"]
    assert metres["delta1"] == pytest.approx(1.0 - metres["bad_1_25"] / 100.0)


def test_evaluate_depth_alignment_floors_zero_inverse_depth():
    pred = np.array([0.0, 1.0, 2.0, 4.0])
    gt = np.array([np.nan, 1.0, 0.5, 0.25])
    result = evaluate(pred, gt, align="depth")
    assert np.isfinite(result["abs_rel"]) and result["n_valid"] == 3


# ------------------------------------------------------------------------------------------ conversions


def test_disparity_to_depth_middlebury_convention():
    # Z = 0.2 m * 1000 px / (90 px + 10 px) = 2 m.
    depth = disparity_to_depth(np.array([[90.0, 190.0], [np.inf, -10.0]]), 1000.0, 0.2, doffs_px=10.0)
    np.testing.assert_allclose(depth, [[2.0, 1.0], [np.inf, np.inf]])
    assert depth.dtype == np.float64
    assert disparity_to_depth(100.0, focal_px=1000.0, baseline_m=0.2) == 2.0
    assert np.isinf(disparity_to_depth(np.nan, 1000.0, 0.2))


def test_depth_to_disparity_inverts_disparity_to_depth_and_keeps_invalid_as_inf():
    disparity = np.array([[12.5, 40.0], [np.inf, 250.0]])
    depth = disparity_to_depth(disparity, 3000.0, 0.193, doffs_px=124.3)
    np.testing.assert_allclose(depth_to_disparity(depth, 3000.0, 0.193, doffs_px=124.3), disparity)
    assert depth_to_disparity(2.0, 1000.0, 0.2, doffs_px=5.0) == pytest.approx(95.0)
    np.testing.assert_array_equal(depth_to_disparity(np.array([0.0, -1.0, np.nan]), 1000.0, 0.2), [np.inf] * 3)
    assert not valid_mask(depth).all()  # the unknown pixel stays invalid as ground truth


# ------------------------------------------------------------------------------------------------ errors


def test_mismatched_shapes_are_rejected():
    with pytest.raises(InputError, match=r"pred has shape \(3,\) but gt has shape \(2, 2\)"):
        abs_rel(PRED, np.ones((2, 2)))
    with pytest.raises(InputError, match=r"pred_inverse_depth has shape \(2, 3\) but gt_depth has shape \(3, 2\)"):
        evaluate(np.ones((2, 3)), np.ones((3, 2)))


def test_no_valid_pixels_are_rejected():
    with pytest.raises(InputError, match=r"gt has no valid pixel \(finite and > 0\) inside the mask"):
        rmse(PRED, np.array([0.0, np.inf, np.nan]))
    with pytest.raises(InputError, match="gt has no valid pixel"):
        delta_accuracy(PRED, GT, mask=np.zeros(3, dtype=bool))
    with pytest.raises(InputError, match="gt_depth has no valid pixel"):
        evaluate(PRED, -GT)


def test_too_few_or_constant_predictions_cannot_be_aligned():
    with pytest.raises(InputError, match="only 1 valid pixel; a scale and shift need at least 2"):
        align_disparity(np.array([1.0, 2.0]), np.array([1.0, np.inf]))
    with pytest.raises(InputError, match="pred_inverse_depth is constant over the valid pixels"):
        align_disparity(np.full(4, 0.3), np.array([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(InputError, match="pred_depth is constant over the valid pixels"):
        align_depth(np.full(4, 0.3), np.array([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(InputError, match="pred_inverse_depth contains NaN or inf"):
        align_disparity(np.array([1.0, np.nan, 2.0]), GT)


def test_bad_predicted_depth_and_parameters_are_rejected():
    with pytest.raises(InputError, match=r"pred must be a positive depth .* 2 valid pixels are NaN, zero or negative"):
        abs_rel(np.array([1.0, 0.0, np.nan]), GT)
    with pytest.raises(InputError, match=r"threshold must be a number > 1, got 0.8"):
        delta_accuracy(PRED, GT, threshold=0.8)
    with pytest.raises(InputError, match="power must be a positive integer, got 0"):
        delta_accuracy(PRED, GT, power=0)
    with pytest.raises(InputError, match="align must be 'disparity' or 'depth', got 'log'"):
        evaluate(PRED, GT, align="log")
    with pytest.raises(InputError, match="max_depth must be a positive finite number"):
        align_disparity(PRED, GT, max_depth=-1.0)
    with pytest.raises(InputError, match="pred_inverse_depth has no positive value"):
        evaluate(-PRED, GT, align="depth")


def test_bad_masks_and_inputs_are_rejected():
    with pytest.raises(InputError, match="mask must be a bool array, got dtype int64"):
        abs_rel(PRED, GT, mask=np.ones(3, dtype=np.int64))
    with pytest.raises(InputError, match=r"mask has shape \(2,\) but gt has shape \(3,\)"):
        abs_rel(PRED, GT, mask=np.ones(2, dtype=bool))
    with pytest.raises(InputError, match="pred must be an array of numbers, got str"):
        abs_rel("deep", GT)
    with pytest.raises(InputError, match=r"gt must be a non-empty array, got shape \(\)"):
        valid_mask(3.0)


def test_bad_camera_parameters_are_rejected():
    with pytest.raises(InputError, match="focal_px must be a positive finite number, got 0"):
        disparity_to_depth(np.ones(3), 0, 0.2)
    with pytest.raises(InputError, match=r"baseline_m must be a positive finite number, got -0.2"):
        depth_to_disparity(np.ones(3), 1000.0, -0.2)
    with pytest.raises(InputError, match="doffs_px must be a finite number of pixels"):
        disparity_to_depth(np.ones(3), 1000.0, 0.2, doffs_px=np.nan)
