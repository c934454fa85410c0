"""Input checks shared by every depthkit module.

Each check either returns the (possibly converted) value or raises :class:`~depthkit.errors.InputError`
(:class:`~depthkit.errors.ImageError` for images) whose message is one sentence: what is wrong, and what to do.
Modules validate their arguments here first, so the same mistake gets the same message everywhere.

The checks work on numpy arrays and Python numbers. Functions that only look at ``.shape`` and ``.dtype``
(:func:`check_same_shape`, :func:`check_same_size`) also accept torch tensors; depthkit does not import torch here.

Example:
    >>> from depthkit import checks
    >>> checks.as_map([[1, 2], [3, 4]]).dtype
    dtype('float32')
    >>> checks.check_choice("disparity", "align", ("disparity", "depth"))
    'disparity'
    >>> checks.check_positive_int(0, "scales", hint="MiDaS uses scales=4")
    Traceback (most recent call last):
    ...
    depthkit.errors.InputError: scales must be a positive integer, got 0; MiDaS uses scales=4.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ImageError, InputError

if TYPE_CHECKING:
    import torch

__all__ = [
    "as_array",
    "as_image",
    "as_map",
    "as_mask",
    "as_size",
    "as_tensor_map",
    "as_tensor_mask",
    "check_choice",
    "check_finite",
    "check_finite_in_mask",
    "check_finite_number",
    "check_int",
    "check_ndim",
    "check_percentiles",
    "check_positive",
    "check_positive_int",
    "check_range",
    "check_same_shape",
    "check_same_size",
    "check_type",
    "check_vrange",
    "format_choices",
    "is_number",
]


def _sentence(message: str, hint: str | None) -> str:
    """Join ``message`` and an optional ``hint`` into one sentence ending in a full stop."""
    return f"{message}; {hint}." if hint else f"{message}."


def _shape(x: Any) -> tuple[int, ...]:
    """The shape of an array or tensor as a plain tuple (``torch.Size`` prints as ``torch.Size([...])``)."""
    return tuple(int(s) for s in x.shape)


# ------------------------------------------------------------------------------------------------- numbers
def is_number(value: Any) -> bool:
    """True for a real Python or numpy number (bool is not a number here).

    Args:
        value: anything.

    Returns:
        Whether ``value`` is an int, float or numpy number other than bool.
    """
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def check_finite_number(value: Any, name: str, *, unit: str | None = None, hint: str | None = None) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number.

    Args:
        value: the argument to check.
        name: its name in the message.
        unit: optional words after "number", e.g. ``"of pixels"``.
        hint: optional advice appended after a semicolon.

    Returns:
        ``float(value)``.

    Raises:
        InputError: ``"{name} must be a finite number[ unit], got {value!r}[; hint]."``
    """
    if not is_number(value) or not math.isfinite(float(value)):
        what = f"a finite number {unit}" if unit else "a finite number"
        raise InputError(_sentence(f"{name} must be {what}, got {value!r}", hint))
    return float(value)


def check_positive(
    value: Any,
    name: str,
    *,
    allow_zero: bool = False,
    unit: str | None = None,
    hint: str | None = None,
    what: str | None = None,
) -> float:
    """Return ``value`` as a float, or raise if it is not a positive (or non-negative) finite number.

    Args:
        value: the argument to check.
        name: its name in the message.
        allow_zero: accept 0 as well ("non-negative").
        unit: optional words after "number", e.g. ``"in metres"``.
        hint: optional advice appended after a semicolon.
        what: optional replacement for the words "a positive finite number", e.g. ``"a non-negative number"``.

    Returns:
        ``float(value)``.

    Raises:
        InputError: ``"{name} must be a positive finite number[ unit], got {value!r}[; hint]."``
    """
    ok = is_number(value) and math.isfinite(float(value)) and (float(value) >= 0 if allow_zero else float(value) > 0)
    if not ok:
        what = what or f"a {'non-negative' if allow_zero else 'positive'} finite number"
        what = f"{what} {unit}" if unit else what
        raise InputError(_sentence(f"{name} must be {what}, got {value!r}", hint))
    return float(value)


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None, hint: str | None = None
) -> int:
    """Return ``value`` as an int, or raise if it is not an integer within [minimum, maximum].

    Args:
        value: the argument to check; bool is refused, floats are refused even when whole.
        name: its name in the message.
        minimum: smallest allowed value, or None.
        maximum: largest allowed value, or None.
        hint: optional advice appended after a semicolon.

    Returns:
        ``int(value)``.

    Raises:
        InputError: e.g. ``"{name} must be an integer >= 1, got 0."`` or
            ``"{name} must be an integer between 0 and 50, got 51."``
    """
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        if minimum is not None and maximum is not None:
            what = f"an integer between {minimum} and {maximum}"
        elif minimum is not None:
            what = f"an integer >= {minimum}"
        elif maximum is not None:
            what = f"an integer <= {maximum}"
        else:
            what = "an integer"
        raise InputError(_sentence(f"{name} must be {what}, got {value!r}", hint))
    return int(value)


def check_positive_int(value: Any, name: str, *, hint: str | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1.

    Args:
        value: the argument to check (bool and floats are refused).
        name: its name in the message.
        hint: optional advice appended after a semicolon.

    Returns:
        ``int(value)``.

    Raises:
        InputError: ``"{name} must be a positive integer, got {value!r}[; hint]."``
    """
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= 1):
        raise InputError(_sentence(f"{name} must be a positive integer, got {value!r}", hint))
    return int(value)


def check_range(
    value: Any,
    name: str,
    low: float,
    high: float,
    *,
    closed: str = "both",
    unit: str | None = None,
    hint: str | None = None,
    what: str | None = None,
) -> float:
    """Return ``value`` as a float, or raise if it lies outside an interval.

    Args:
        value: the argument to check (a real number).
        name: its name in the message.
        low: lower end of the interval.
        high: upper end of the interval.
        closed: which ends belong to the interval: ``"both"`` [low, high], ``"left"`` [low, high),
            ``"right"`` (low, high] or ``"neither"`` (low, high).
        unit: optional words after the interval, e.g. ``"(normalised inverse depth)"``.
        hint: optional advice appended after a semicolon.
        what: optional noun before the interval, e.g. ``"a fraction"`` gives "must be a fraction in [0, 1)".

    Returns:
        ``float(value)``.

    Raises:
        InputError: ``"{name} must be [what ]in [low, high][ unit], got {value!r}[; hint]."``
    """
    check_choice(closed, "closed", ("both", "left", "right", "neither"))
    left, right = closed in ("both", "left"), closed in ("both", "right")
    ok = is_number(value) and not math.isnan(float(value))
    if ok:
        v = float(value)
        ok = (v >= low if left else v > low) and (v <= high if right else v < high)
    if not ok:
        interval = f"{'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"
        where = f"{interval} {unit}" if unit else interval
        where = f"{what} in {where}" if what else f"in {where}"
        raise InputError(_sentence(f"{name} must be {where}, got {value!r}", hint))
    return float(value)


def _check_pair(value: Any, name: str, example: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair {example}, got {value!r}.") from None
    return lo, hi


def check_vrange(vrange: Any, name: str = "vrange") -> tuple[float, float]:
    """Return a value range ``(lo, hi)`` as floats, or raise if it is not finite with lo < hi.

    Args:
        vrange: a pair of numbers, e.g. from :func:`depthkit.viz.shared_range`.
        name: its name in the message.

    Returns:
        ``(lo, hi)`` as floats, in the units of the map they apply to.

    Raises:
        InputError: if ``vrange`` is not a pair of numbers, or not finite with lo < hi.
    """
    lo, hi = _check_pair(vrange, name, "(lo, hi) of numbers")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InputError(f"{name} must be finite with lo < hi, got {vrange!r}; use shared_range() to compute one.")
    return lo, hi


def check_percentiles(percentiles: Any, name: str = "percentiles") -> tuple[float, float]:
    """Return a pair of percentiles ``(low, high)`` with 0 <= low < high <= 100, or raise.

    Args:
        percentiles: a pair of numbers such as ``(2, 98)``.
        name: its name in the message.

    Returns:
        ``(low, high)`` as floats, in percent.

    Raises:
        InputError: if ``percentiles`` is not such a pair.
    """
    p_lo, p_hi = _check_pair(percentiles, name, "(low, high) such as (2, 98)")
    if not 0.0 <= p_lo < p_hi <= 100.0:
        raise InputError(f"{name} must satisfy 0 <= low < high <= 100, got {percentiles!r}.")
    return p_lo, p_hi


def as_size(size: Any, name: str = "size", *, minimum: int = 2, maximum: int = 4096) -> tuple[int, int]:
    """Return an image size as ``(height, width)`` in px: one int means a square.

    Args:
        size: an int or a pair (height, width).
        name: its name in the message.
        minimum: smallest allowed side in px.
        maximum: largest allowed side in px.

    Returns:
        ``(height, width)`` as ints.

    Raises:
        InputError: not an int or a pair of numbers, or a side outside [minimum, maximum].
    """
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be an int or a pair (height, width) in px, got {size!r}; pass e.g. (128, 128)."
        ) from None
    if not (minimum <= h <= maximum and minimum <= w <= maximum):
        raise InputError(
            f"{name} must be between {minimum} and {maximum} px per side, got {(h, w)}; pass e.g. (128, 128)."
        )
    return h, w


# ------------------------------------------------------------------------------------------ choices, types
def format_choices(choices: Iterable[Any]) -> str:
    """Spell out choices for a message: ``'a' or 'b'``, ``'a', 'b' or 'c'``.

    Args:
        choices: the allowed values.

    Returns:
        The values' reprs joined by commas and a final "or".
    """
    items = [repr(c) for c in choices]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def check_choice(value: Any, name: str, choices: Sequence[Any], *, hint: str | None = None) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise.

    Args:
        value: the argument to check.
        name: its name in the message.
        choices: the allowed values.
        hint: optional advice appended after a semicolon.

    Returns:
        ``value`` unchanged.

    Raises:
        InputError: ``"{name} must be 'a', 'b' or 'c', got {value!r}[; hint]."``
    """
    try:
        ok = value in choices
    except TypeError:  # e.g. an unhashable value tested against a set
        ok = False
    if not ok:
        raise InputError(_sentence(f"{name} must be {format_choices(choices)}, got {value!r}", hint))
    return value


def check_type(value: Any, name: str, types: type | tuple[type, ...], what: str, *, hint: str | None = None) -> Any:
    """Return ``value`` if it is an instance of ``types``, else raise.

    Args:
        value: the argument to check.
        name: its name in the message.
        types: a type or tuple of types, as for :func:`isinstance`.
        what: the expected kind in words, e.g. ``"a depthkit.synthetic.Camera"``.
        hint: optional advice appended after a semicolon.

    Returns:
        ``value`` itself, so that the check can be written inline.

    Raises:
        InputError: ``"{name} must be {what}, got {type(value).__name__}[; hint]."``
    """
    if not isinstance(value, types):
        raise InputError(_sentence(f"{name} must be {what}, got {type(value).__name__}", hint))
    return value


# ------------------------------------------------------------------------------------------------- arrays
def as_array(
    x: Any, name: str, *, dtype: Any = np.float64, allow_scalar: bool = False, allow_empty: bool = False
) -> np.ndarray:
    """Convert ``x`` to a numpy array of numbers, or raise.

    Args:
        x: array-like of numbers.
        name: its name in the message.
        dtype: the dtype to convert to (default float64).
        allow_scalar: accept a 0-d value.
        allow_empty: accept an array with no element.

    Returns:
        ``np.asarray(x, dtype=dtype)``.

    Raises:
        InputError: if ``x`` cannot be converted, is a scalar (unless allowed) or is empty (unless allowed).
    """
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be an array of numbers, got {type(x).__name__}; pass a numpy array such as an (H, W) map."
        ) from None
    if (arr.ndim == 0 and not allow_scalar) or (arr.size == 0 and not allow_empty):
        raise InputError(
            f"{name} must be a non-empty array, got shape {arr.shape}; pass a map such as an (H, W) array."
        )
    return arr


def check_ndim(x: Any, name: str, ndim: int, layout: str, *, hint: str | None = None) -> Any:
    """Return ``x`` if it has ``ndim`` dimensions, else raise.

    Args:
        x: an array or tensor.
        name: its name in the message.
        ndim: the required number of dimensions.
        layout: the expected axes in words, e.g. ``"(H, W)"``.
        hint: optional advice appended after a semicolon.

    Returns:
        ``x`` unchanged.

    Raises:
        InputError: ``"{name} must be a {ndim}-D array {layout}, got shape (...)[; hint]."``
    """
    if x.ndim != ndim:
        raise InputError(_sentence(f"{name} must be a {ndim}-D array {layout}, got shape {_shape(x)}", hint))
    return x


def check_finite(x: np.ndarray, name: str, *, hint: str = "pass the raw finite model output") -> np.ndarray:
    """Return ``x`` if every value is finite, else raise.

    Args:
        x: a numpy array.
        name: its name in the message.
        hint: advice appended after a semicolon.

    Returns:
        ``x`` unchanged.

    Raises:
        InputError: ``"{name} contains NaN or inf; {hint}."``
    """
    if not np.isfinite(x).all():
        raise InputError(_sentence(f"{name} contains NaN or inf", hint))
    return x


def as_map(values: Any, name: str = "inverse_depth", *, finite: bool = False) -> np.ndarray:
    """Return ``values`` as an (H, W) float32 array (a depth-like map), or raise.

    A (1, H, W) batch of one is accepted and squeezed. NaN and inf are allowed (they mark invalid pixels)
    unless ``finite`` is set.

    Args:
        values: (H, W) or (1, H, W) array of numbers (bool allowed), in any unit.
        name: its name in the message.
        finite: also require every value to be finite.

    Returns:
        (H, W) float32 array (not copied when it already is one).

    Raises:
        InputError: if ``values`` is None, not numeric, not 2-D, empty, or (with ``finite``) not finite.
    """
    if values is None:
        raise InputError(f"{name} is None; pass a (H, W) array of numbers.")
    arr = np.asarray(values)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{name} must be a numeric array, got dtype {arr.dtype}; pass a (H, W) float array.")
    if arr.ndim == 3 and arr.shape[0] == 1:  # tolerate a (1, H, W) batch of one
        arr = arr[0]
    check_ndim(arr, name, 2, "(H, W)", hint="pass a single depth map")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape}); pass a non-empty (H, W) depth map.")
    arr = arr.astype(np.float32, copy=False)
    return check_finite(arr, name) if finite else arr


def as_image(image: Any, name: str = "image") -> np.ndarray:
    """Return ``image`` as a contiguous (H, W, 3) uint8 RGB array, or raise :class:`ImageError`.

    Args:
        image: (H, W, 3) uint8 RGB array (0-255).
        name: its name in the message.

    Returns:
        (H, W, 3) uint8 C-contiguous array (not copied when it already is one).

    Raises:
        ImageError: if ``image`` is None, not (H, W, 3), not uint8, or empty.
    """
    if image is None:
        raise ImageError(f"{name} is None; pass a (H, W, 3) uint8 RGB array.")
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"{name} must be a (H, W, 3) RGB array, got shape {arr.shape}; convert it to RGB first.")
    if arr.dtype != np.uint8:
        raise ImageError(
            f"{name} must have dtype uint8 (0-255), got {arr.dtype}; convert with np.clip(x, 0, 255).astype(np.uint8)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name} is empty (shape {arr.shape}); pass a non-empty image.")
    return np.ascontiguousarray(arr)


def as_mask(mask: Any, shape: tuple[int, ...], *, name: str = "mask", like: str = "gt") -> np.ndarray:
    """Return ``mask`` as a bool array of the given shape, or raise.

    Args:
        mask: bool array, True where a pixel is valid. Integer or float masks are refused: build it with a
            comparison.
        shape: the shape it must have (that of the map it masks).
        name: its name in the message.
        like: the name of the map it masks, for the messages.

    Returns:
        ``mask`` as a numpy bool array.

    Raises:
        InputError: if the dtype is not bool or the shape differs.
    """
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise InputError(
            f"{name} must be a bool array, got dtype {mask.dtype}; build it with a comparison such as {like} > 0."
        )
    if mask.shape != tuple(shape):
        raise InputError(
            f"{name} has shape {mask.shape} but {like} has shape {tuple(shape)}; pass one mask value per pixel."
        )
    return mask


def check_same_shape(
    a: Any, b: Any, names: tuple[str, str], *, hint: str = "resize the prediction to the ground-truth resolution first"
) -> None:
    """Raise unless two arrays (or tensors) have the same shape.

    Args:
        a: first array or tensor.
        b: second array or tensor.
        names: their names in the message.
        hint: advice appended after a semicolon.

    Raises:
        InputError: ``"{a} has shape (...) but {b} has shape (...); {hint}."``
    """
    if _shape(a) != _shape(b):
        raise InputError(_sentence(f"{names[0]} has shape {_shape(a)} but {names[1]} has shape {_shape(b)}", hint))


def check_same_size(image: Any, values: Any, name: str = "inverse_depth") -> None:
    """Raise unless an (H, W, 3) image and an (H, W) map have the same height and width.

    Args:
        image: (H, W, 3) array.
        values: (H, W) array.
        name: the map's name in the message.

    Raises:
        InputError: ``"image is HxW but {name} is hxw; resize the depth map to the image size first."``
    """
    if _shape(image)[:2] != _shape(values):
        ih, iw = _shape(image)[:2]
        vh, vw = (*_shape(values), 0, 0)[:2]
        raise InputError(f"image is {ih}x{iw} but {name} is {vh}x{vw}; resize the depth map to the image size first.")



def check_finite_in_mask(x: Any, mask: Any, name: str, *, hint: str) -> None:
    """Raise if ``x`` holds NaN or inf at a pixel where ``mask`` is True (values outside the mask may be anything).

    Args:
        x: numpy array or torch tensor.
        mask: bool array or tensor of the same shape.
        name: the name of ``x`` in the message.
        hint: advice appended after a semicolon.

    Raises:
        InputError: ``"{name} has NaN or inf values inside the mask; {hint}."``
    """
    if hasattr(x, "detach"):  # a torch tensor; torch is imported by whoever made it
        import torch

        ok = bool(torch.where(mask, torch.isfinite(x), True).all())
    else:
        ok = bool(np.isfinite(np.asarray(x)[np.asarray(mask)]).all())
    if not ok:
        raise InputError(_sentence(f"{name} has NaN or inf values inside the mask", hint))


# ------------------------------------------------------------------------------------------------ tensors
def as_tensor_map(x: Any, name: str) -> torch.Tensor:
    """Return ``x`` as a real-valued (B, H, W) or (H, W) torch tensor (a batch of maps, or one), or raise.

    numpy arrays are wrapped without copying; integer tensors become float32; floating dtypes are kept.

    Args:
        x: (B, H, W) or (H, W) tensor or numpy array of real numbers.
        name: its name in the message.

    Returns:
        A floating-point tensor of the same shape.

    Raises:
        InputError: not a tensor, bool or complex, wrong number of dimensions, or empty.
    """
    import torch

    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise InputError(
            f"{name} must be a torch.Tensor of shape (B, H, W) or (H, W), got {type(x).__name__}; "
            "convert it with torch.as_tensor(...)."
        )
    if x.dtype == torch.bool or x.is_complex():
        raise InputError(f"{name} must hold real numbers, got dtype {x.dtype}; pass a float tensor.")
    if x.ndim not in (2, 3):
        raise InputError(
            f"{name} must have shape (B, H, W) or (H, W), got shape {_shape(x)}; "
            "squeeze the channel dimension of a (B, 1, H, W) output first."
        )
    if x.numel() == 0:
        raise InputError(f"{name} is empty (shape {_shape(x)}); pass at least one pixel.")
    return x if x.is_floating_point() else x.float()


def as_tensor_mask(mask: Any, shape: tuple[int, ...], device: Any = None) -> torch.Tensor:
    """Return ``mask`` as a bool tensor of ``shape`` on ``device`` (all True if None), or raise.

    Args:
        mask: None, or a bool tensor / numpy array, True where the target is valid.
        shape: the shape of the maps it masks.
        device: the device to move it to (default: leave it where it is; CPU for None).

    Returns:
        A bool tensor of ``shape``.

    Raises:
        InputError: not bool, or the wrong shape.
    """
    import torch

    if mask is None:
        return torch.ones(tuple(shape), dtype=torch.bool, device=device)
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        kind = f"dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InputError(f"mask must be a bool tensor, got {kind}; build it with a comparison such as target > 0.")
    if _shape(mask) != tuple(shape):
        raise InputError(
            f"mask has shape {_shape(mask)} but the maps have shape {tuple(shape)}; pass one mask value per pixel."
        )
    return mask.to(device) if device is not None else mask
