"""Scale- and shift-invariant (SSI) losses for training depth networks in inverse-depth space.

MiDaS (Ranftl et al., TPAMI 2020, "Towards Robust Monocular Depth Estimation: Mixing Datasets for Zero-shot
Cross-dataset Transfer") trains on many datasets whose depth has unknown scale and shift (stereo disparity,
structure-from-motion, laser scans). It therefore predicts *relative inverse depth* (larger = nearer) and
compares a prediction with its target only after removing scale and shift from both:

- :func:`ssi_mse_loss` fits ``s * pred + t`` to the target by least squares
  (:func:`depthkit.alignment.fit_scale_shift_torch`, the paper's Eq. 2-4) and takes the paper's L_ssimse;
- :func:`normalize_median_mad`, :func:`ssi_loss` and :func:`ssi_trim_loss` normalise both maps robustly by
  their median and mean absolute deviation (the paper's L_ssi and L_ssitrim);
- :func:`gradient_matching_loss` compares the gradients of the residual at several scales (L_reg);
- :func:`midas_loss` is the paper's training loss, L_ssitrim + alpha * L_reg.

Conventions shared by every function:

- ``pred`` and ``target`` are ``(B, H, W)`` or ``(H, W)`` float tensors of relative inverse depth; ``mask``
  is an optional bool tensor of the same shape, True where the target is valid. Pixels outside the mask
  never influence a loss, even if they hold NaN or inf.
- Reduction: each loss is computed **per image** (normalised by that image's number M of valid pixels) and
  then averaged over the images of the batch that have at least one valid pixel. A batch with no valid
  pixel at all gives a loss of 0 that is still connected to ``pred`` (``backward()`` works, gradients 0).
- Degenerate images are safe: a constant prediction (or a single valid pixel) has no defined scale; the
  scale is then taken as 0 (alignment) or the spread as 1 (normalisation), so losses and gradients stay
  finite instead of dividing by zero.
"""

from __future__ import annotations

import torch

from . import checks
from .alignment import CONSTANT_TOLERANCE_EPS, fit_scale_shift_torch

__all__ = [
    "gradient_matching_loss",
    "midas_loss",
    "normalize_median_mad",
    "ssi_loss",
    "ssi_mse_loss",
    "ssi_trim_loss",
]

# A spread (mean absolute deviation) at or below this many float epsilons times the largest magnitude is
# rounding noise: the image is treated as constant (the same rule as depthkit.alignment's fit).
_CONSTANT_TOLERANCE_EPS = CONSTANT_TOLERANCE_EPS


# ----------------------------------------------------------------------------------------------- checks


def _prepare(pred, target, mask):
    """Validate, promote to a common float dtype and batch: returns (pred, target, mask, was_2d)."""
    pred = checks.as_tensor_map(pred, "pred")
    target = checks.as_tensor_map(target, "target")
    hint = "resize the prediction to the target resolution first"
    checks.check_same_shape(pred, target, ("pred", "target"), hint=hint)
    dtype = torch.promote_types(pred.dtype, target.dtype)
    pred = pred.to(dtype)
    target = target.to(device=pred.device, dtype=dtype)
    mask = checks.as_tensor_mask(mask, tuple(pred.shape), pred.device)
    checks.check_finite_in_mask(
        target, mask, "target", hint="exclude them, e.g. mask = torch.isfinite(target) & (target > 0)"
    )
    was_2d = pred.ndim == 2
    if was_2d:
        pred, target, mask = pred[None], target[None], mask[None]
    return pred, target, mask, was_2d


def _check_trim(trim) -> float:
    hint = "use e.g. trim=0.2 to drop the worst 20 %"
    return checks.check_range(trim, "trim", 0.0, 1.0, closed="left", what="a fraction", hint=hint)


def _check_scales(scales) -> int:
    return checks.check_positive_int(scales, "scales", hint="MiDaS uses scales=4")


def _check_alpha(alpha) -> float:
    hint = "MiDaS uses alpha=0.5"
    return checks.check_positive(alpha, "alpha", allow_zero=True, what="a non-negative number", hint=hint)


# -------------------------------------------------------------------------------------------- internals


def _sum_hw(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=(-2, -1))


def _per_pixel(v: torch.Tensor) -> torch.Tensor:
    return v[:, None, None]


def _tolerance(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) spread below which an image counts as constant (no gradient flows through it)."""
    largest = torch.where(mask, x, torch.zeros_like(x)).detach().abs().amax(dim=(-2, -1))
    return _CONSTANT_TOLERANCE_EPS * torch.finfo(x.dtype).eps * largest


def _batch_mean(per_image: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Mean over the images with at least one valid pixel (per_image is already 0 for the others)."""
    n_images = (count > 0).sum().clamp_min(1)
    return per_image.sum() / n_images.to(per_image.dtype)


def _aligned(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``s * pred + t`` fitted to target by least squares per image (Eq. 2-4), zero outside mask: (B, H, W)."""
    pred = _clean(pred, mask)
    scale, shift = fit_scale_shift_torch(pred, _clean(target, mask), mask)
    return _clean(_per_pixel(scale) * pred + _per_pixel(shift), mask)


def _median_and_mad(x: torch.Tensor, mask: torch.Tensor):
    """Per-image median and mean absolute deviation from it over mask: returns (median, mad), each (B,)."""
    batch = x.shape[0]
    flat = torch.where(mask, x, torch.full_like(x, float("inf"))).reshape(batch, -1)
    ordered, _ = torch.sort(flat, dim=1)
    count = mask.reshape(batch, -1).sum(dim=1)
    lower = ((count - 1).clamp_min(0) // 2)[:, None]
    upper = (count // 2).clamp_max(flat.shape[1] - 1)[:, None]
    middle = 0.5 * (ordered.gather(1, lower) + ordered.gather(1, upper))[:, 0]
    median = torch.where(count > 0, middle, torch.zeros_like(middle))
    zero = torch.zeros_like(x)
    deviation = torch.where(mask, (torch.where(mask, x, zero) - _per_pixel(median)).abs(), zero)
    mad = _sum_hw(deviation) / count.clamp_min(1).to(x.dtype)
    return median, mad


def _normalize(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(x - median) / mad per image, with mad taken as 1 for (numerically) constant images."""
    median, mad = _median_and_mad(x, mask)
    ok = mad > _tolerance(x, mask)
    mad = torch.where(ok, mad, torch.ones_like(mad))
    return (x - _per_pixel(median)) / _per_pixel(mad)


def _clean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the pixels outside mask so NaN/inf there can reach neither the values nor the gradients."""
    return torch.where(mask, x, torch.zeros_like(x))


def _normalized_pair(pred, target, mask):
    pred, target = _clean(pred, mask), _clean(target, mask)
    return _clean(_normalize(pred, mask), mask), _clean(_normalize(target, mask), mask)


def _trimmed_per_image(residual: torch.Tensor, mask: torch.Tensor, trim: float):
    """Sum of the smallest (1 - trim) share of |residual| over mask, divided by 2M: returns (loss, M), each (B,)."""
    batch = residual.shape[0]
    count = mask.reshape(batch, -1).sum(dim=1)
    absolute = torch.where(mask, residual.abs(), torch.full_like(residual, float("inf"))).reshape(batch, -1)
    ordered, _ = torch.sort(absolute, dim=1)
    keep = count - torch.floor(trim * count.to(torch.float64)).to(count.dtype)
    rank = torch.arange(ordered.shape[1], device=ordered.device)[None, :]
    kept = torch.where(rank < keep[:, None], ordered, torch.zeros_like(ordered))
    return kept.sum(dim=1) / (2.0 * count.clamp_min(1).to(residual.dtype)), count


def _gradient_per_image(residual: torch.Tensor, mask: torch.Tensor, scales: int) -> torch.Tensor:
    """Sum over scales k of (sum |dR/dx| + |dR/dy| on valid neighbour pairs) / M_k, per image: (B,)."""
    total = torch.zeros(residual.shape[0], dtype=residual.dtype, device=residual.device)
    for k in range(scales):
        step = 2**k
        r = residual[:, ::step, ::step]
        m = mask[:, ::step, ::step]
        pair_x = m[:, :, 1:] & m[:, :, :-1]
        pair_y = m[:, 1:, :] & m[:, :-1, :]
        grad_x = torch.where(pair_x, (r[:, :, 1:] - r[:, :, :-1]).abs(), torch.zeros_like(r[:, :, 1:]))
        grad_y = torch.where(pair_y, (r[:, 1:, :] - r[:, :-1, :]).abs(), torch.zeros_like(r[:, 1:, :]))
        count = _sum_hw(m.to(residual.dtype)).clamp_min(1.0)
        total = total + (_sum_hw(grad_x) + _sum_hw(grad_y)) / count
    return total


def _valid_count(mask: torch.Tensor) -> torch.Tensor:
    return mask.reshape(mask.shape[0], -1).sum(dim=1)


# ----------------------------------------------------------------------------------------------- public


def ssi_mse_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scale- and shift-invariant mean squared error (the MiDaS paper's L_ssimse).

    Per image: align ``pred`` to ``target`` with :func:`depthkit.alignment.fit_scale_shift_torch`, then
    ``1 / (2M) * sum over valid pixels of (aligned - target)^2`` with M valid pixels. The result is the
    mean of these per-image values over the images that have at least one valid pixel.

    Args:
        pred: (B, H, W) or (H, W) float tensor, relative inverse depth.
        target: tensor of the same shape, target inverse depth.
        mask: optional bool tensor of the same shape, True where ``target`` is valid.

    Returns:
        Scalar tensor (0-d), differentiable with respect to ``pred``.

    Example:
        >>> import torch
        >>> target = torch.tensor([0.0, 1.0, 2.0, 3.0]).reshape(2, 2)
        >>> round(float(ssi_mse_loss(5 * target + 3, target)), 6)
        0.0
        >>> round(float(ssi_mse_loss(torch.tensor([[0.0, 0.0], [0.0, 1.0]]), target)), 4)
        0.25
    """
    pred, target, mask, _ = _prepare(pred, target, mask)
    residual = _aligned(pred, target, mask) - _clean(target, mask)
    count = _valid_count(mask)
    per_image = _sum_hw(residual * residual) / (2.0 * count.clamp_min(1).to(pred.dtype))
    return _batch_mean(per_image, count)


def normalize_median_mad(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Remove scale and shift robustly: ``(x - median) / mean|x - median|`` per image over valid pixels.

    The median (for an even count, the mean of the two middle values, like ``numpy.median``) and the mean
    absolute deviation are computed over the valid pixels only; the transform is then applied to every
    pixel. After normalisation the valid pixels have median 0 and mean absolute deviation 1. An image
    whose spread is zero (constant, or one valid pixel) is only shifted: its spread is taken as 1.

    Args:
        x: (B, H, W) or (H, W) float tensor, e.g. relative inverse depth.
        mask: optional bool tensor of the same shape, True where ``x`` is valid; default all True.

    Returns:
        Tensor of the shape and dtype of ``x``.

    Example:
        >>> import torch
        >>> normalize_median_mad(torch.tensor([[1.0, 2.0, 6.0]]))
        tensor([[-0.6000,  0.0000,  2.4000]])
    """
    x = checks.as_tensor_map(x, "x")
    mask = checks.as_tensor_mask(mask, tuple(x.shape), x.device)
    was_2d = x.ndim == 2
    x_b, mask_b = (x[None], mask[None]) if was_2d else (x, mask)
    median, mad = _median_and_mad(_clean(x_b, mask_b), mask_b)
    ok = mad > _tolerance(x_b, mask_b)
    mad = torch.where(ok, mad, torch.ones_like(mad))
    out = (x_b - _per_pixel(median)) / _per_pixel(mad)
    return out[0] if was_2d else out


def ssi_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Robust scale- and shift-invariant loss (the MiDaS paper's L_ssi with rho = absolute value).

    Both maps are normalised with :func:`normalize_median_mad`; per image the loss is
    ``1 / (2M) * sum over valid pixels of |pred_n - target_n|``, i.e. half the mean absolute difference.
    The result is the mean over the images with at least one valid pixel.

    Args:
        pred: (B, H, W) or (H, W) float tensor, relative inverse depth with any scale and shift.
        target: tensor of the same shape, target inverse depth (normalised in the same way).
        mask: optional bool tensor of the same shape, True where ``target`` is valid.

    Returns:
        Scalar tensor (0-d) in units of the normalised maps, differentiable with respect to ``pred``.

    Example:
        >>> import torch
        >>> target = torch.tensor([[1.0, 2.0, 6.0]])
        >>> round(float(ssi_loss(-4 * target + 9, target)), 4)  # negative scale: maps are mirrored
        1.0
    """
    pred, target, mask, _ = _prepare(pred, target, mask)
    pred_n, target_n = _normalized_pair(pred, target, mask)
    count = _valid_count(mask)
    per_image = _sum_hw((pred_n - target_n).abs()) / (2.0 * count.clamp_min(1).to(pred.dtype))
    return _batch_mean(per_image, count)


def ssi_trim_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, trim: float = 0.2
) -> torch.Tensor:
    """Trimmed robust scale- and shift-invariant loss (the MiDaS paper's L_ssitrim).

    Like :func:`ssi_loss`, but per image the ``floor(trim * M)`` largest absolute residuals are dropped
    before summing. Following the paper the kept sum is still divided by ``2M`` (all valid pixels), so
    with ``trim=0`` this equals :func:`ssi_loss`. The result is the mean over the images with at least one
    valid pixel.

    What trimming can and cannot do: it removes the outliers' own residuals, but the normalisation (median
    and *mean* absolute deviation) still sees every valid pixel. Outliers that leave the value distribution
    unchanged (right values at the wrong pixels) are ignored completely; gross outliers (say 50x the
    spread) also inflate the mean absolute deviation, which rescales every residual, so the loss still
    rises, though by less than :func:`ssi_loss` does.

    Args:
        pred: (B, H, W) or (H, W) float tensor, relative inverse depth.
        target: tensor of the same shape, target inverse depth.
        mask: optional bool tensor of the same shape, True where ``target`` is valid.
        trim: fraction in [0, 1) of the largest residuals to ignore per image; MiDaS uses 0.2.

    Returns:
        Scalar tensor (0-d), differentiable with respect to ``pred``.

    Example:
        >>> import torch
        >>> target = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
        >>> pred = torch.tensor([[1.0, 2.0, 3.0, 4.0, 50.0]])  # one wild pixel out of five
        >>> bool(ssi_trim_loss(pred, target, trim=0.2) < ssi_loss(pred, target))
        True
    """
    trim = _check_trim(trim)
    pred, target, mask, _ = _prepare(pred, target, mask)
    pred_n, target_n = _normalized_pair(pred, target, mask)
    per_image, count = _trimmed_per_image(pred_n - target_n, mask, trim)
    return _batch_mean(per_image, count)


def gradient_matching_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    scales: int = 4,
    normalize: str = "median_mad",
) -> torch.Tensor:
    """Multi-scale gradient matching loss (the MiDaS paper's L_reg) on the scale/shift-free residual.

    With ``R = pred_n - target_n`` the residual after removing scale and shift, per image::

        sum over k = 0..scales-1 of  (sum |R^k(x+1, y) - R^k(x, y)| + |R^k(x, y+1) - R^k(x, y)|) / M_k

    where ``R^k`` is ``R`` subsampled with stride ``2**k`` (resolution halved at each scale), only pairs of
    neighbours that are both valid count, and ``M_k`` is the number of valid pixels at scale k (each scale
    is weighted equally). The result is the mean over the images with at least one valid pixel. It
    rewards sharp, correctly placed depth edges and is blind to a constant offset of the residual.

    Args:
        pred: (B, H, W) or (H, W) float tensor, relative inverse depth.
        target: tensor of the same shape, target inverse depth.
        mask: optional bool tensor of the same shape, True where ``target`` is valid.
        scales: number of scales K >= 1; MiDaS uses 4.
        normalize: ``"median_mad"`` (both maps normalised as in :func:`ssi_loss`, used by
            :func:`midas_loss`) or ``"least_squares"`` (``pred`` aligned to ``target`` as in
            :func:`ssi_mse_loss`).

    Returns:
        Scalar tensor (0-d), differentiable with respect to ``pred``.

    Example:
        >>> import torch
        >>> target = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
        >>> round(float(gradient_matching_loss(2 * target + 1, target, scales=1)), 6)
        0.0
    """
    scales = _check_scales(scales)
    checks.check_choice(normalize, "normalize", ("median_mad", "least_squares"))
    pred, target, mask, _ = _prepare(pred, target, mask)
    if normalize == "median_mad":
        pred_n, target_n = _normalized_pair(pred, target, mask)
    else:
        pred_n, target_n = _aligned(pred, target, mask), _clean(target, mask)
    per_image = _gradient_per_image(pred_n - target_n, mask, scales)
    return _batch_mean(per_image, _valid_count(mask))


def midas_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    alpha: float = 0.5,
    trim: float = 0.2,
    scales: int = 4,
) -> torch.Tensor:
    """The MiDaS training loss: ``ssi_trim_loss + alpha * gradient_matching_loss`` (median/MAD normalised).

    Both terms share one normalisation of ``pred`` and ``target`` and use the per-image-then-batch-mean
    reduction described in the module docstring.

    Args:
        pred: (B, H, W) or (H, W) float tensor, relative inverse depth.
        target: tensor of the same shape, target inverse depth.
        mask: optional bool tensor of the same shape, True where ``target`` is valid.
        alpha: weight of the gradient term, >= 0; MiDaS uses 0.5.
        trim: fraction of the largest residuals dropped per image; MiDaS uses 0.2.
        scales: number of gradient scales; MiDaS uses 4.

    Returns:
        Scalar tensor (0-d), differentiable with respect to ``pred``.

    Example:
        >>> import torch
        >>> target = torch.arange(16.0).reshape(4, 4)
        >>> round(float(midas_loss(0.1 * target - 2, target)), 6)
        0.0
    """
    alpha = _check_alpha(alpha)
    trim = _check_trim(trim)
    scales = _check_scales(scales)
    pred, target, mask, _ = _prepare(pred, target, mask)
    pred_n, target_n = _normalized_pair(pred, target, mask)
    residual = pred_n - target_n
    data_term, count = _trimmed_per_image(residual, mask, trim)
    regulariser = _gradient_per_image(residual, mask, scales)
    return _batch_mean(data_term + alpha * regulariser, count)
