"""Tests for depthkit.alignment: the one least-squares scale-and-shift fit (arXiv:1907.01341 Eq. 2-4)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_maps import random_maps, t64

from depthkit.alignment import (
    CONSTANT_TOLERANCE_EPS,
    align,
    align_torch,
    fit_scale_shift,
    fit_scale_shift_torch,
    is_degenerate,
)
from depthkit.errors import InputError

SETTINGS = settings(max_examples=25, deadline=None)


# ------------------------------------------------------------------------------------------------- numpy
def test_fit_scale_shift_hand_example_matches_the_normal_equations():
    # p = [0, 0, 0, 1], q = [0, 1, 2, 3]: cov = 0.375, var = 0.1875 -> s = 2, t = 1.5 - 2 * 0.25 = 1.
    p, q = np.array([0.0, 0.0, 0.0, 1.0]), np.array([0.0, 1.0, 2.0, 3.0])
    assert fit_scale_shift(p, q) == pytest.approx((2.0, 1.0))
    design = np.stack([p, np.ones_like(p)], axis=1)  # Eq. 4: h = (sum d d^T)^-1 sum d d*
    h = np.linalg.solve(design.T @ design, design.T @ q)
    assert fit_scale_shift(p, q) == pytest.approx(tuple(h))


def test_fit_scale_shift_returns_python_floats_and_accumulates_in_float64():
    rng = np.random.default_rng(0)
    p = rng.random((64, 64)).astype(np.float32) + 1000.0  # large offset: float32 accumulation would lose digits
    q = (3.0 * p.astype(np.float64) - 2.0).astype(np.float32)
    scale, shift = fit_scale_shift(p, q)
    assert type(scale) is float and type(shift) is float
    assert scale == pytest.approx(3.0, rel=1e-4)


def test_fit_scale_shift_uses_only_masked_pixels_and_ignores_nan_outside():
    p = np.array([[0.0, 1.0, 2.0, np.nan]])
    q = np.array([[1.0, 3.0, 5.0, np.inf]])
    mask = np.array([[True, True, True, False]])
    assert fit_scale_shift(p, q, mask) == pytest.approx((2.0, 1.0))
    aligned, s, t = align(np.array([0.0, 1.0, 2.0, 100.0]), np.array([1.0, 3.0, 5.0, -7.0]), mask[0])
    assert (s, t) == pytest.approx((2.0, 1.0))
    assert aligned.dtype == np.float64 and aligned[3] == pytest.approx(201.0)


@pytest.mark.parametrize(
    ("prediction", "target", "mask", "expected"),
    [
        (np.full(4, 7.0), np.array([0.0, 1.0, 2.0, 5.0]), None, (0.0, 2.0)),  # constant: best constant fit
        (np.array([1.0, 2.0]), np.array([4.0, 9.0]), np.array([False, True]), (0.0, 9.0)),  # one valid pixel
        (np.array([1.0, 2.0]), np.array([4.0, 9.0]), np.array([False, False]), (0.0, 0.0)),  # none valid
        (1e8 + np.array([0.0, 1e-8, 0.0]), np.array([1.0, 2.0, 3.0]), None, (0.0, 2.0)),  # rounding noise only
    ],
)
def test_degenerate_rule(prediction, target, mask, expected):
    assert fit_scale_shift(prediction, target, mask) == pytest.approx(expected)
    assert is_degenerate(prediction, mask)
    aligned, _, _ = align(prediction, target, mask)
    np.testing.assert_allclose(aligned, expected[1])


def test_is_degenerate_is_false_for_a_fittable_map_and_the_tolerance_is_relative():
    assert not is_degenerate(np.array([[1.0, 2.0], [3.0, 4.0]]))
    tiny = np.array([0.0, 1e-30, 2e-30])  # a tiny but genuine spread is not rounding noise
    assert not is_degenerate(tiny)
    assert CONSTANT_TOLERANCE_EPS == 100.0


def test_numpy_errors():
    with pytest.raises(InputError, match=r"prediction has shape \(3,\) but target has shape \(2,\)"):
        fit_scale_shift(np.zeros(3), np.zeros(2))
    with pytest.raises(InputError, match="target contains NaN or inf; exclude such pixels with the mask"):
        fit_scale_shift(np.zeros(2), np.array([1.0, np.nan]))
    with pytest.raises(InputError, match="mask must be a bool array"):
        fit_scale_shift(np.zeros(2), np.zeros(2), np.array([1, 0]))
    with pytest.raises(InputError, match="prediction must be an array of numbers"):
        fit_scale_shift("abc", np.zeros(2))


# ------------------------------------------------------------------------------------------------- torch
def test_fit_scale_shift_torch_is_batched_and_flattens_trailing_axes():
    pred = t64([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
    scale, shift = fit_scale_shift_torch(pred, t64([[1.0, 3.0, 5.0], [1.0, 2.0, 6.0]]))
    assert scale.shape == (2,) and shift.shape == (2,)
    torch.testing.assert_close(scale, t64([2.0, 0.0]))
    torch.testing.assert_close(shift, t64([1.0, 3.0]))  # the constant image: best constant fit


def test_fit_scale_shift_torch_ignores_nan_outside_the_mask_in_values_and_gradients():
    pred = t64([[0.0, 1.0, 2.0, float("nan")]]).requires_grad_(True)
    target = t64([[1.0, 3.0, 5.0, float("inf")]])
    mask = torch.tensor([[True, True, True, False]])
    scale, shift = fit_scale_shift_torch(pred, target, mask)
    (scale + shift).sum().backward()
    assert torch.isfinite(pred.grad).all() and float(pred.grad[0, 3]) == 0.0
    torch.testing.assert_close(scale, t64([2.0]))


def test_fit_scale_shift_torch_rejects_bad_masks_and_shapes():
    with pytest.raises(InputError, match="mask must be a bool tensor"):
        fit_scale_shift_torch(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1, 3))
    with pytest.raises(InputError, match=r"prediction has shape \(1, 3\) but target has shape \(1, 4\)"):
        fit_scale_shift_torch(torch.zeros(1, 3), torch.zeros(1, 4))


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["random", "constant", "one_valid", "none_valid", "affine"]),
)
def test_numpy_and_torch_agree_on_every_kind_of_input(seed, kind):
    rng = np.random.default_rng(seed)
    batch = [rng.normal(size=(5, 6)) for _ in range(3)]
    targets = [rng.normal(size=(5, 6)) * 3 + 1 for _ in range(3)]
    masks = [rng.random((5, 6)) > 0.3 for _ in range(3)]
    if kind == "constant":
        batch[1] = np.full((5, 6), rng.normal())
    elif kind == "one_valid":
        masks[0] = np.zeros((5, 6), bool)
        masks[0][2, 3] = True
    elif kind == "none_valid":
        masks[2] = np.zeros((5, 6), bool)
    elif kind == "affine":
        targets = [-2.5 * p + 0.75 for p in batch]
    scale, shift = fit_scale_shift_torch(
        torch.from_numpy(np.stack(batch)), torch.from_numpy(np.stack(targets)), torch.from_numpy(np.stack(masks))
    )
    for i in range(3):
        expected = fit_scale_shift(batch[i], targets[i], masks[i])
        assert float(scale[i]) == pytest.approx(expected[0], rel=1e-9, abs=1e-12)
        assert float(shift[i]) == pytest.approx(expected[1], rel=1e-9, abs=1e-12)


def test_align_torch_hand_example():
    # p = [0, 0, 0, 1], q = [0, 1, 2, 3]: cov = 0.375, var = 0.1875 -> s = 2, t = 1.5 - 2 * 0.25 = 1.
    aligned, scale, shift = align_torch(t64([[0.0, 0.0], [0.0, 1.0]]), t64([[0.0, 1.0], [2.0, 3.0]]))
    assert scale.shape == () and shift.shape == ()
    assert float(scale) == pytest.approx(2.0) and float(shift) == pytest.approx(1.0)
    torch.testing.assert_close(aligned, t64([[1.0, 1.0], [1.0, 3.0]]))


def test_align_torch_recovers_each_image_of_a_batch():
    target = torch.rand(3, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    true_scale, true_shift = t64([0.5, 2.0, -3.0]), t64([1.0, -4.0, 0.25])
    pred = (target - true_shift[:, None, None]) / true_scale[:, None, None]
    aligned, scale, shift = align_torch(pred, target)
    assert aligned.shape == (3, 5, 6) and scale.shape == (3,) and shift.shape == (3,)
    torch.testing.assert_close(scale, true_scale)
    torch.testing.assert_close(shift, true_shift)
    torch.testing.assert_close(aligned, target)


def test_align_torch_uses_only_masked_pixels():
    pred = t64([[0.0, 1.0, 2.0, 100.0]])
    target = t64([[1.0, 3.0, 5.0, -7.0]])
    mask = torch.tensor([[True, True, True, False]])
    aligned, scale, shift = align_torch(pred, target, mask)
    assert float(scale) == pytest.approx(2.0) and float(shift) == pytest.approx(1.0)
    assert float(aligned[0, 3]) == pytest.approx(201.0)  # masked pixels are transformed, not fitted


def test_align_constant_prediction_has_zero_scale():
    aligned, scale, shift = align_torch(torch.full((3, 3), 7.0), torch.arange(9.0).reshape(3, 3))
    assert float(scale) == 0.0
    assert float(shift) == pytest.approx(4.0)
    torch.testing.assert_close(aligned, torch.full((3, 3), 4.0))


def test_alignment_gradient_flows_through_scale_and_shift():
    pred, target = random_maps(8, shape=(1, 4, 4))
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: align_torch(p, target)[0], (pred,), eps=1e-7, atol=1e-5)


