"""Tests for depthkit.losses: hand-computed values, invariances, masks, trimming and safe gradients."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_maps import random_maps, t64

from depthkit.errors import InputError
from depthkit.losses import (
    gradient_matching_loss,
    midas_loss,
    normalize_median_mad,
    ssi_loss,
    ssi_mse_loss,
    ssi_trim_loss,
)

ALL_LOSSES = [ssi_mse_loss, ssi_loss, ssi_trim_loss, gradient_matching_loss, midas_loss]
SETTINGS = settings(max_examples=15, deadline=None)


# ----------------------------------------------------------------------------- hand-computed examples


def test_ssi_mse_loss_hand_example():
    # Aligned prediction [1, 1, 1, 3] vs target [0, 1, 2, 3]: residuals [1, 0, -1, 0], 2 / (2 * 4) = 0.25.
    loss = ssi_mse_loss(t64([[0.0, 0.0], [0.0, 1.0]]), t64([[0.0, 1.0], [2.0, 3.0]]))
    assert loss.shape == ()
    assert float(loss) == pytest.approx(0.25)


def test_normalize_median_mad_hand_examples():
    # Odd count: median 2, mean |x - 2| = (1 + 0 + 4) / 3 = 5/3.
    torch.testing.assert_close(normalize_median_mad(t64([[1.0, 2.0, 6.0]])), t64([[-0.6, 0.0, 2.4]]))
    # Even count: median (2 + 3) / 2 = 2.5, mean |x - 2.5| = (1.5 + 0.5 + 0.5 + 7.5) / 4 = 2.5.
    out = normalize_median_mad(t64([[[1.0, 2.0, 3.0, 10.0]]]))
    torch.testing.assert_close(out, t64([[[-0.6, -0.2, 0.2, 3.0]]]))


def test_normalize_median_mad_ignores_masked_pixels_for_the_statistics():
    x = t64([[1.0, 2.0, 6.0, 1000.0]])
    mask = torch.tensor([[True, True, True, False]])
    out = normalize_median_mad(x, mask)
    torch.testing.assert_close(out[:, :3], t64([[-0.6, 0.0, 2.4]]))
    assert float(out[0, 3]) == pytest.approx((1000.0 - 2.0) / (5.0 / 3.0))


def test_normalize_constant_image_is_only_shifted():
    out = normalize_median_mad(torch.full((2, 3, 3), 5.0))
    torch.testing.assert_close(out, torch.zeros(2, 3, 3))


def test_ssi_loss_hand_example():
    # target [1, 2, 6] -> [-0.6, 0, 2.4]; pred [5, 1, -15] (median 1, MAD 20/3) -> [0.6, 0, -2.4];
    # |difference| = [1.2, 0, 4.8] -> 6 / (2 * 3) = 1.
    assert float(ssi_loss(t64([[5.0, 1.0, -15.0]]), t64([[1.0, 2.0, 6.0]]))) == pytest.approx(1.0)


def test_ssi_trim_loss_hand_example():
    # Two swapped pixels: both maps normalise to [-5/3, -5/6, 0, 5/6, 5/3] up to the swap, so the
    # |residuals| are [0, 0, 0, 5/6, 5/6] and M = 5.
    target = t64([[0.0, 1.0, 2.0, 3.0, 4.0]])
    pred = t64([[0.0, 1.0, 2.0, 4.0, 3.0]])
    assert float(ssi_loss(pred, target)) == pytest.approx((5 / 3) / 10)
    assert float(ssi_trim_loss(pred, target, trim=0.0)) == pytest.approx((5 / 3) / 10)
    assert float(ssi_trim_loss(pred, target, trim=0.2)) == pytest.approx((5 / 6) / 10)  # drops 1 pixel
    assert float(ssi_trim_loss(pred, target, trim=0.3)) == pytest.approx((5 / 6) / 10)  # floor(1.5) = 1
    assert float(ssi_trim_loss(pred, target, trim=0.4)) == pytest.approx(0.0, abs=1e-12)  # drops 2


def test_gradient_matching_loss_hand_example_two_scales():
    # Constant target normalises to 0; pred [0, 0, 1, 1] -> median 0.5, MAD 0.5 -> R = [-1, -1, 1, 1].
    # Scale 0: |dR/dx| = [0, 2, 0] -> 2 / 4 pixels; scale 1 keeps columns 0 and 2: R = [-1, 1] -> 2 / 2.
    pred, target = t64([[0.0, 0.0, 1.0, 1.0]]), torch.zeros(1, 4, dtype=torch.float64)
    assert float(gradient_matching_loss(pred, target, scales=1)) == pytest.approx(0.5)
    assert float(gradient_matching_loss(pred, target, scales=2)) == pytest.approx(1.5)


def test_gradient_matching_loss_hand_example_2d_and_masked_pairs():
    # pred [[0, 1], [1, 1]]: median 1, MAD 0.25 -> R = [[-4, 0], [0, 0]]; |dx| = 4, |dy| = 4 -> 8 / 4.
    pred, target = t64([[0.0, 1.0], [1.0, 1.0]]), torch.zeros(2, 2, dtype=torch.float64)
    assert float(gradient_matching_loss(pred, target, scales=1)) == pytest.approx(2.0)
    # Masking the top-right pixel: median of [0, 1, 1] = 1, MAD 1/3 -> R = [[-3, .], [0, 0]];
    # only the vertical pair in column 0 (|0 - (-3)| = 3) and the bottom row pair (0) count -> 3 / 3.
    mask = torch.tensor([[True, False], [True, True]])
    assert float(gradient_matching_loss(pred, target, mask, scales=1)) == pytest.approx(1.0)


def test_gradient_matching_least_squares_variant_hand_example():
    # Aligned pred is [1, 1, 1, 3] (see the ssi_mse example) so R = [[1, 0], [-1, 0]]:
    # |dx| = 1 + 1, |dy| = 2 + 0 -> 4 / 4 pixels.
    loss = gradient_matching_loss(
        t64([[0.0, 0.0], [0.0, 1.0]]), t64([[0.0, 1.0], [2.0, 3.0]]), scales=1, normalize="least_squares"
    )
    assert float(loss) == pytest.approx(1.0)


def test_midas_loss_is_trimmed_loss_plus_weighted_gradient_term():
    pred, target = random_maps(3)
    mask = target > 0.7
    expected = ssi_trim_loss(pred, target, mask, trim=0.2) + 0.5 * gradient_matching_loss(pred, target, mask)
    torch.testing.assert_close(midas_loss(pred, target, mask), expected)
    expected = ssi_trim_loss(pred, target, mask, trim=0.1) + 2.0 * gradient_matching_loss(pred, target, mask, 2)
    torch.testing.assert_close(midas_loss(pred, target, mask, alpha=2.0, trim=0.1, scales=2), expected)


# --------------------------------------------------------------------------------------------- reduction


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_batch_loss_is_mean_of_per_image_losses(loss_fn):
    pred, target = random_maps(4, shape=(3, 6, 6))
    per_image = torch.stack([loss_fn(pred[i], target[i]) for i in range(3)])
    torch.testing.assert_close(loss_fn(pred, target), per_image.mean())


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_images_without_valid_pixels_are_left_out_of_the_batch_mean(loss_fn):
    pred, target = random_maps(5, shape=(2, 6, 6))
    mask = torch.ones(2, 6, 6, dtype=torch.bool)
    mask[1] = False
    torch.testing.assert_close(loss_fn(pred, target, mask), loss_fn(pred[0], target[0]))


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_numpy_inputs_give_the_same_loss(loss_fn):
    pred, target = random_maps(6)
    torch.testing.assert_close(loss_fn(pred.numpy(), target.numpy()), loss_fn(pred, target))


# ------------------------------------------------------------------------------------ property tests


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    scale=st.floats(0.05, 20.0),
    shift=st.floats(-50.0, 50.0),
    loss_index=st.integers(0, len(ALL_LOSSES) - 1),
)
def test_losses_are_invariant_to_positive_scale_and_any_shift_of_the_prediction(seed, scale, shift, loss_index):
    loss_fn = ALL_LOSSES[loss_index]
    pred, target = random_maps(seed)
    mask = target > 0.6
    expected = loss_fn(pred, target, mask)
    torch.testing.assert_close(loss_fn(scale * pred + shift, target, mask), expected, rtol=1e-7, atol=1e-9)


@SETTINGS
@given(seed=st.integers(0, 2**16), scale=st.floats(-20.0, -0.05), shift=st.floats(-50.0, 50.0))
def test_least_squares_loss_is_also_invariant_to_negative_scale(seed, scale, shift):
    pred, target = random_maps(seed)
    torch.testing.assert_close(ssi_mse_loss(scale * pred + shift, target), ssi_mse_loss(pred, target))


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    scale=st.floats(0.05, 20.0),
    shift=st.floats(-50.0, 50.0),
    loss_index=st.integers(0, len(ALL_LOSSES) - 1),
)
def test_losses_vanish_for_an_affine_copy_of_the_target(seed, scale, shift, loss_index):
    _, target = random_maps(seed)
    loss = ALL_LOSSES[loss_index](scale * target + shift, target)
    assert float(loss) == pytest.approx(0.0, abs=1e-9)


@SETTINGS
@given(seed=st.integers(0, 2**16), loss_index=st.integers(0, len(ALL_LOSSES) - 1))
def test_garbage_in_masked_out_pixels_changes_neither_loss_nor_gradient(seed, loss_index):
    loss_fn = ALL_LOSSES[loss_index]
    pred, target = random_maps(seed)
    mask = torch.rand(pred.shape, generator=torch.Generator().manual_seed(seed + 1)) > 0.3
    garbage_pred = torch.where(mask, pred, torch.tensor([float("nan"), float("inf"), 1e30])[seed % 3])
    garbage_target = torch.where(mask, target, torch.tensor([-1e30, float("nan"), float("-inf")])[seed % 3])

    clean = pred.clone().requires_grad_(True)
    dirty = garbage_pred.clone().requires_grad_(True)
    clean_loss = loss_fn(clean, target, mask)
    dirty_loss = loss_fn(dirty, garbage_target, mask)
    clean_loss.backward()
    dirty_loss.backward()
    torch.testing.assert_close(dirty_loss, clean_loss)
    assert torch.isfinite(dirty.grad).all()
    torch.testing.assert_close(dirty.grad, clean.grad)
    assert float(dirty.grad[~mask].abs().sum()) == 0.0


def shuffle_some_pixels(x, fraction, seed):
    """Move the values of `fraction` of the pixels of each image to other pixels of that set."""
    gen = torch.Generator().manual_seed(seed)
    out = x.clone()
    flat = out.reshape(out.shape[0], -1)
    n_out = int(fraction * flat.shape[1])
    for b in range(flat.shape[0]):
        chosen = torch.randperm(flat.shape[1], generator=gen)[:n_out]
        flat[b, chosen] = flat[b, chosen.roll(1)]
    return out, n_out


@SETTINGS
@given(seed=st.integers(0, 2**16), scale=st.floats(0.1, 10.0), shift=st.floats(-5.0, 5.0))
def test_trimming_ignores_ten_percent_misplaced_outliers(seed, scale, shift):
    _, target = random_maps(seed, shape=(2, 10, 10))
    pred, n_out = shuffle_some_pixels(scale * target + shift, 0.1, seed)
    assert n_out == 10
    assert float(ssi_loss(pred, target)) > 1e-3  # the outliers are visible without trimming ...
    assert float(ssi_trim_loss(pred, target, trim=0.2)) == pytest.approx(0.0, abs=1e-9)  # ... but trimmed


@SETTINGS
@given(seed=st.integers(0, 2**16))
def test_trimmed_loss_with_outliers_stays_close_to_the_clean_loss(seed):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 10, 10, generator=gen, dtype=torch.float64) + 0.5
    pred = 2 * target + 1 + 0.02 * torch.randn(2, 10, 10, generator=gen, dtype=torch.float64)
    broken_target, _ = shuffle_some_pixels(target, 0.1, seed)  # 10 % of the ground truth is wrong
    clean_trim = float(ssi_trim_loss(pred, target))
    clean_full = float(ssi_loss(pred, target))
    outlier_trim = float(ssi_trim_loss(pred, broken_target))
    outlier_full = float(ssi_loss(pred, broken_target))
    # The kept residuals are a subset of the clean ones, so the trimmed loss lies between the clean trimmed
    # and the clean untrimmed loss, while the untrimmed loss jumps by far more.
    assert clean_trim - 1e-12 <= outlier_trim <= clean_full + 1e-12
    assert outlier_full - clean_full > 10 * abs(outlier_trim - clean_trim)


# ---------------------------------------------------------------------------------- safe gradients


def _grad(loss_fn, pred, target, mask=None):
    pred = pred.clone().requires_grad_(True)
    loss = loss_fn(pred, target, mask)
    loss.backward()
    return loss, pred.grad


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_constant_images_give_finite_loss_and_gradients(loss_fn):
    for pred, target in [
        (torch.full((2, 5, 5), 3.0), torch.rand(2, 5, 5)),
        (torch.rand(2, 5, 5), torch.full((2, 5, 5), 0.5)),
        (torch.zeros(2, 5, 5), torch.zeros(2, 5, 5)),
    ]:
        loss, grad = _grad(loss_fn, pred, target)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
@pytest.mark.parametrize("n_valid", [0, 1, 2, 3])
def test_almost_fully_masked_images_give_finite_gradients(loss_fn, n_valid):
    pred, target = torch.rand(2, 6, 6), torch.rand(2, 6, 6)
    mask = torch.zeros(2, 6, 6, dtype=torch.bool)
    mask.view(2, -1)[:, :n_valid] = True
    loss, grad = _grad(loss_fn, pred, target, mask)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    if n_valid <= 1:  # nothing to compare after removing scale and shift
        assert float(loss.detach()) == 0.0
        assert float(grad.abs().sum()) == 0.0


@pytest.mark.parametrize("loss_fn", [ssi_mse_loss, ssi_loss, ssi_trim_loss, midas_loss])
def test_gradients_match_finite_differences(loss_fn):
    pred, target = random_maps(7, shape=(2, 4, 4))
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: loss_fn(p, target), (pred,), eps=1e-7, atol=1e-5)


def test_float32_loss_keeps_float32():
    loss = midas_loss(torch.rand(1, 8, 8), torch.rand(1, 8, 8))
    assert loss.dtype == torch.float32


# ------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_mismatched_shapes_are_rejected(loss_fn):
    with pytest.raises(InputError, match=r"pred has shape \(2, 4, 4\) but target has shape \(2, 4, 5\)"):
        loss_fn(torch.rand(2, 4, 4), torch.rand(2, 4, 5))


def test_wrong_rank_and_type_are_rejected():
    with pytest.raises(InputError, match=r"pred must have shape \(B, H, W\) or \(H, W\), got shape \(1, 1, 4, 4\)"):
        ssi_loss(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4))
    with pytest.raises(InputError, match=r"target must be a torch.Tensor"):
        ssi_loss(torch.rand(4, 4), [[1.0] * 4] * 4)
    with pytest.raises(InputError, match="pred is empty"):
        ssi_loss(torch.rand(0, 4), torch.rand(0, 4))
    with pytest.raises(InputError, match="x must hold real numbers"):
        normalize_median_mad(torch.ones(3, 3, dtype=torch.bool))


def test_bad_masks_are_rejected():
    with pytest.raises(InputError, match=r"mask must be a bool tensor, got dtype torch.float32"):
        ssi_mse_loss(torch.rand(4, 4), torch.rand(4, 4), torch.ones(4, 4))
    with pytest.raises(InputError, match=r"mask has shape \(4, 3\) but the maps have shape \(4, 4\)"):
        ssi_mse_loss(torch.rand(4, 4), torch.rand(4, 4), torch.ones(4, 3, dtype=torch.bool))


def test_non_finite_target_inside_the_mask_is_rejected():
    target = torch.rand(4, 4)
    target[1, 1] = float("inf")
    with pytest.raises(InputError, match="target has NaN or inf values inside the mask"):
        ssi_loss(torch.rand(4, 4), target)
    ssi_loss(torch.rand(4, 4), target, torch.isfinite(target))  # fine once excluded


def test_bad_hyperparameters_are_rejected():
    pred, target = torch.rand(4, 4), torch.rand(4, 4)
    with pytest.raises(InputError, match=r"trim must be a fraction in \[0, 1\), got 1.0"):
        ssi_trim_loss(pred, target, trim=1.0)
    with pytest.raises(InputError, match="scales must be a positive integer, got 0"):
        gradient_matching_loss(pred, target, scales=0)
    with pytest.raises(InputError, match="alpha must be a non-negative number, got -1"):
        midas_loss(pred, target, alpha=-1)
    with pytest.raises(InputError, match="normalize must be 'median_mad' or 'least_squares'"):
        gradient_matching_loss(pred, target, normalize="mean")
