"""Least-squares scale-and-shift alignment of a relative map to a target (one implementation, numpy and torch).

MiDaS predicts inverse depth only up to an unknown scale ``s`` and shift ``t``. Before a prediction ``d`` is
compared with a target ``d*`` (for a loss, a metric or an agreement test), ``s`` and ``t`` are fitted by least
squares over the valid pixels, as in Ranftl et al., "Towards Robust Monocular Depth Estimation: Mixing Datasets
for Zero-shot Cross-dataset Transfer", TPAMI 2020, arXiv:1907.01341, Eq. 2-4::

    (s, t) = argmin_{s, t}  sum_i (s * d_i + t - d*_i)^2                      (Eq. 2)
    h = (s, t)^T,  d_i = (d_i, 1)^T:   h_opt = (sum_i d_i d_i^T)^-1 (sum_i d_i d*_i)   (Eq. 3-4)

The closed form is computed in its centred, better-conditioned version::

    s = cov(d, d*) / var(d),    t = mean(d*) - s * mean(d)

Degenerate input, one rule for both versions:
    If fewer than 2 pixels are valid, or the prediction is (numerically) constant over the valid pixels, no
    scale can be determined. The fit then returns ``scale = 0`` and ``shift = mean of the valid target``
    (0 if no pixel is valid): the best constant fit, so the aligned map is flat and finite. "Constant" means
    that the standard deviation of the valid prediction is at most ``100 * eps * max|prediction|`` over the
    valid pixels, where ``eps`` is the machine epsilon of the computing dtype (float64 for numpy; the
    tensor's dtype for torch). Callers that must refuse degenerate input (metrics, calibration) test
    :func:`is_degenerate` first and raise their own error.

Functions:
    - :func:`fit_scale_shift` / :func:`align`: numpy, one map of any shape, accumulation in float64.
    - :func:`fit_scale_shift_torch` / :func:`align_torch`: torch, batched and masked, differentiable (gradients
      flow through ``scale`` and ``shift``); pixels outside the mask never affect values or gradients.

Example:
    >>> import numpy as np
    >>> target = np.array([1.0, 3.0, 5.0])
    >>> fit_scale_shift(np.array([0.0, 1.0, 2.0]), target)
    (2.0, 1.0)
    >>> fit_scale_shift(np.full(3, 7.0), target)  # constant prediction: best constant fit
    (0.0, 3.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import checks

if TYPE_CHECKING:
    import torch

__all__ = [
    "CONSTANT_TOLERANCE_EPS",
    "align",
    "align_torch",
    "fit_scale_shift",
    "fit_scale_shift_torch",
    "is_degenerate",
]

#: A prediction whose standard deviation over the valid pixels is at most this many machine epsilons times its
#: largest magnitude counts as constant (rounding noise), so its scale is 0 (see the module docstring).
CONSTANT_TOLERANCE_EPS = 100.0

# ------------------------------------------------------------------------------------------------- numpy
def _valid_values(x: Any, name: str, mask: np.ndarray | None) -> np.ndarray:
    """The values of ``x`` at the valid pixels as a 1-D float64 array; they must be finite."""
    values = x[mask] if mask is not None else x.ravel()
    return checks.check_finite(values, name, hint="exclude such pixels with the mask")


def _valid_pairs(prediction: Any, target: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return the valid pixels of prediction and target as 1-D float64 arrays."""
    p = checks.as_array(prediction, "prediction")
    q = checks.as_array(target, "target")
    checks.check_same_shape(p, q, ("prediction", "target"), hint="resize the prediction to the target first")
    m = None if mask is None else checks.as_mask(mask, q.shape, like="target")
    return _valid_values(p, "prediction", m), _valid_values(q, "target", m)


def _spread_is_zero(p: np.ndarray, variance: float) -> bool:
    tolerance = CONSTANT_TOLERANCE_EPS * np.finfo(np.float64).eps * float(np.max(np.abs(p)))
    return not np.sqrt(variance) > tolerance


def is_degenerate(prediction: Any, mask: Any = None) -> bool:
    """Whether no scale can be fitted to ``prediction``: fewer than 2 valid pixels, or constant over them.

    Args:
        prediction: array of any shape (e.g. (H, W) relative inverse depth), finite where ``mask`` is True.
        mask: optional bool array of the same shape, True where a pixel is valid; default all True.

    Returns:
        True if :func:`fit_scale_shift` would return ``scale = 0`` by the degenerate-input rule.

    Example:
        >>> is_degenerate(np.array([1.0, 1.0, 1.0])), is_degenerate(np.array([1.0, 2.0]))
        (True, False)
    """
    p = checks.as_array(prediction, "prediction")
    p = _valid_values(p, "prediction", None if mask is None else checks.as_mask(mask, p.shape, like="prediction"))
    if p.size < 2:
        return True
    return _spread_is_zero(p, float(np.mean((p - p.mean()) ** 2)))


def fit_scale_shift(prediction: Any, target: Any, mask: Any = None) -> tuple[float, float]:
    """Least-squares ``scale`` and ``shift`` so that ``scale * prediction + shift`` fits ``target`` (Eq. 2-4).

    Args:
        prediction: array of any shape, e.g. (H, W) relative inverse depth; finite where ``mask`` is True.
        target: array of the same shape, e.g. (H, W) target inverse depth (any units); finite where valid.
        mask: optional bool array of the same shape, True where a pixel takes part in the fit; default all.

    Returns:
        ``(scale, shift)`` as Python floats, in target units per prediction unit and in target units.
        Degenerate input (fewer than 2 valid pixels, or a constant prediction) gives
        ``(0.0, mean of the valid target)`` (``(0.0, 0.0)`` with no valid pixel).

    Raises:
        InputError: non-numeric input, mismatched shapes, a non-bool mask, or NaN/inf at a valid pixel.

    Example:
        >>> fit_scale_shift(np.array([[0.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 1.0], [2.0, 3.0]]))
        (2.0, 1.0)
    """
    p, q = _valid_pairs(prediction, target, mask)
    if p.size == 0:
        return 0.0, 0.0
    p_mean, q_mean = p.mean(), q.mean()
    pc = p - p_mean
    variance = float(np.mean(pc * pc))
    if p.size < 2 or _spread_is_zero(p, variance):
        return 0.0, float(q_mean)
    scale = float(np.mean(pc * (q - q_mean)) / variance)
    return scale, float(q_mean - scale * p_mean)


def align(prediction: Any, target: Any, mask: Any = None) -> tuple[np.ndarray, float, float]:
    """Fit scale and shift (see :func:`fit_scale_shift`) and apply them to every pixel of ``prediction``.

    Args:
        prediction: array of any shape, e.g. (H, W) relative inverse depth.
        target: array of the same shape, the map to align to.
        mask: optional bool array of the same shape; only True pixels are fitted, all pixels are transformed.

    Returns:
        ``(aligned, scale, shift)``: ``aligned = scale * prediction + shift`` as float64 of the input shape.

    Example:
        >>> aligned, s, t = align(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
        >>> aligned.tolist(), s, t
        ([1.0, 3.0, 5.0], 2.0, 1.0)
    """
    scale, shift = fit_scale_shift(prediction, target, mask)
    return scale * np.asarray(prediction, dtype=np.float64) + shift, scale, shift


# ------------------------------------------------------------------------------------------------- torch
def fit_scale_shift_torch(
    prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched, masked, differentiable twin of :func:`fit_scale_shift`: one fit per image of the batch.

    Computed in the dtype of ``prediction`` (use float64 for a bit-for-bit comparison with numpy). The
    degenerate-input rule of the module docstring applies per image; the tolerance is detached, so no
    gradient flows through it.

    Args:
        prediction: (B, ...) float tensor, e.g. (B, H, W) relative inverse depth; axis 0 is the batch.
        target: tensor of the same shape and dtype; NaN/inf allowed only where ``mask`` is False.
        mask: optional bool tensor of the same shape, True where a pixel is valid; default all True.

    Returns:
        ``(scale, shift)``, each a (B,) tensor in the dtype of ``prediction``.

    Raises:
        InputError: mismatched shapes or a non-bool mask.

    Example:
        >>> import torch
        >>> p = torch.tensor([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])
        >>> scale, shift = fit_scale_shift_torch(p, torch.tensor([[1.0, 3.0, 5.0], [1.0, 2.0, 6.0]]))
        >>> scale.tolist(), shift.tolist()
        ([2.0, 0.0], [1.0, 3.0])
    """
    import torch

    checks.check_same_shape(prediction, target, ("prediction", "target"), hint="resize the prediction first")
    mask = checks.as_tensor_mask(mask, tuple(prediction.shape), prediction.device)
    batch = prediction.shape[0]
    m = mask.reshape(batch, -1)
    zero = torch.zeros((), dtype=prediction.dtype, device=prediction.device)
    p = torch.where(m, prediction.reshape(batch, -1), zero)
    q = torch.where(m, target.reshape(batch, -1).to(prediction.dtype), zero)
    count = m.sum(dim=1).to(prediction.dtype).clamp_min(1.0)
    p_mean, q_mean = p.sum(dim=1) / count, q.sum(dim=1) / count
    pc = torch.where(m, p - p_mean[:, None], zero)
    qc = torch.where(m, q - q_mean[:, None], zero)
    variance = (pc * pc).sum(dim=1) / count
    covariance = (pc * qc).sum(dim=1) / count
    tolerance = CONSTANT_TOLERANCE_EPS * torch.finfo(prediction.dtype).eps * p.detach().abs().amax(dim=1)
    ok = variance > tolerance**2
    scale = torch.where(ok, covariance / torch.where(ok, variance, torch.ones_like(variance)), zero)
    return scale, q_mean - scale * p_mean


def align_torch(
    prediction: Any, target: Any, mask: Any = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fit scale and shift per image (:func:`fit_scale_shift_torch`) and apply them to every pixel.

    The fit is differentiable: gradients flow through ``scale`` and ``shift`` to ``prediction``.

    Args:
        prediction: (B, H, W) or (H, W) float tensor (or numpy array), e.g. relative inverse depth.
        target: tensor of the same shape, the map to align to (any scale and shift).
        mask: optional bool tensor of the same shape, True where ``target`` is valid; default all True.

    Returns:
        ``(aligned, scale, shift)``: ``aligned`` has the shape of ``prediction`` (every pixel is transformed,
        including those outside the mask); ``scale`` and ``shift`` have shape (B,), or () for (H, W) input.

    Raises:
        InputError: wrong type or shape, mismatched shapes, a non-bool mask, or NaN/inf target in the mask.

    Example:
        >>> import torch
        >>> target = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> aligned, scale, shift = align_torch(target / 2 - 1, target)
        >>> round(float(scale), 4), round(float(shift), 4)
        (2.0, 2.0)
    """
    import torch

    p = checks.as_tensor_map(prediction, "prediction")
    q = checks.as_tensor_map(target, "target")
    checks.check_same_shape(p, q, ("prediction", "target"), hint="resize the prediction to the target first")
    dtype = torch.promote_types(p.dtype, q.dtype)
    p, q = p.to(dtype), q.to(device=p.device, dtype=dtype)
    m = checks.as_tensor_mask(mask, tuple(p.shape), p.device)
    checks.check_finite_in_mask(q, m, "target", hint="exclude them, e.g. mask = torch.isfinite(target)")
    single = p.ndim == 2
    p_b, q_b, m_b = (p[None], q[None], m[None]) if single else (p, q, m)
    scale, shift = fit_scale_shift_torch(p_b, q_b, m_b)
    aligned = scale[:, None, None] * p_b + shift[:, None, None]
    return (aligned[0], scale[0], shift[0]) if single else (aligned, scale, shift)
