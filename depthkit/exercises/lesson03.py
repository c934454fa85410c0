"""Checks for lesson 03 · Visualization (see :mod:`depthkit.exercises` for the protocol).

Every check judges the student's work against depthkit's own implementation on the same input, or on seeded random
input it makes itself; none of them looks at the quality of a depth prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..viz import normalize, point_cloud, shared_range
from . import Mistake, NotYet, as_array, call_student, check_value, choice_check, exercise_check, require_answer

__all__ = ["check_percentile_normalize", "check_point_count", "check_relative_meaning", "check_shared_range"]


# ------------------------------------------------------------------------------ exercise 1: percentile normalisation
def _random_map(rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """A (H, W) inverse-depth-like map with unmeasured (NaN) pixels and one outlier, plus percentiles (low, high)."""
    h, w = int(rng.integers(12, 24)), int(rng.integers(12, 24))
    values = rng.lognormal(mean=-1.0, sigma=0.5, size=(h, w)).astype(np.float32)
    values[rng.random((h, w)) < 0.1] = np.nan
    values[int(rng.integers(h)), int(rng.integers(w))] = 20.0  # one bad pixel
    low, high = [(2.0, 98.0), (5.0, 95.0), (1.0, 99.0)][int(rng.integers(3))]
    return values, low, high


def _reference_percentile(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return normalize(values, mode="percentile", percentiles=(low, high))


def _no_clip(values: np.ndarray, low: float, high: float) -> np.ndarray:
    finite = np.isfinite(values)
    lo, hi = np.percentile(values[finite], [low, high])
    return np.where(finite, (values - lo) / (hi - lo), 0.0)


_NORMALIZE_MISTAKES: tuple[tuple[str, Callable[..., np.ndarray]], ...] = (
    ("you mapped the smallest and largest value to 0 and 1 (min–max); one bad pixel then squeezes all others. "
     "Map the low and high *percentiles* of the finite pixels instead.",
     lambda v, lo, hi: normalize(v, mode="minmax")),
    ("near and far are swapped: the largest inverse depth (nearest) must map to 1, not 0.",
     lambda v, lo, hi: np.where(np.isfinite(v), 1.0 - normalize(v, mode="percentile", percentiles=(lo, hi)), 0.0)),
    ("values below the low or above the high percentile must be clipped to 0 and 1 (np.clip).", _no_clip),
    ("np.percentile takes percent (2 means 2 %), not fractions: pass low and high as they are "
     "(np.quantile would want 0.02 and 0.98).",
     lambda v, lo, hi: normalize(v, mode="percentile", percentiles=(lo / 100, hi / 100))),
)


def _nan_hint(got: np.ndarray, values: np.ndarray) -> str | None:
    """A hint when NaN pixels leak into the result (the typical 'forgot the mask' mistake)."""
    bad = ~np.isfinite(got)
    if not bad.any():
        return None
    if bad.all():
        return ("every output pixel is NaN: np.percentile of an array with NaN is NaN. Compute the percentiles of "
                "the finite pixels only, values[np.isfinite(values)].")
    if np.array_equal(bad, ~np.isfinite(values)):
        return "the unmeasured (non-finite) pixels must come out as 0 (the far end), not NaN or inf."
    return "your result has NaN or infinite values; check for a division by zero."


def _matches(got: np.ndarray, produced: np.ndarray, finite: np.ndarray) -> bool:
    produced = np.asarray(produced, dtype=np.float64)
    return got.shape == produced.shape and bool(np.allclose(got[finite], produced[finite], rtol=1e-4, atol=1e-5))


@exercise_check
def check_percentile_normalize(student_fn: Any) -> str:
    """Exercise 1: ``normalize_percentile(values, low, high)`` against :func:`depthkit.viz.normalize`."""
    require_answer(student_fn)
    rng = np.random.default_rng(3)
    for _ in range(5):
        values, low, high = _random_map(rng)
        expected = _reference_percentile(values, low, high)
        got = as_array(call_student(student_fn, values, low, high, name="normalize_percentile"), "what it returns")
        if got.shape != expected.shape:
            raise NotYet(f"normalize_percentile returns shape {got.shape}; it should keep the map's shape "
                         f"{expected.shape}.")
        hint = _nan_hint(got, values)
        if hint:
            raise NotYet(hint)
        if np.allclose(got, expected, rtol=1e-4, atol=1e-5):
            continue
        finite = np.isfinite(values)
        for text, produce in _NORMALIZE_MISTAKES:
            if _matches(got, produce(values, low, high), finite):
                raise NotYet(text)
        if np.allclose(got[finite], expected[finite], rtol=1e-4, atol=1e-5):
            raise NotYet("the measured pixels are right, but the unmeasured (non-finite) ones must become 0.")
        err = float(np.max(np.abs(got - expected)))
        raise NotYet(f"the values differ from depthkit's (largest difference {err:.3g}): map percentile `low` to "
                     "0 and `high` to 1 linearly, clip, and give non-finite pixels 0.")
    return "your percentile normalisation matches depthkit.viz.normalize on 5 random maps with holes and outliers."


# ------------------------------------------------------------------------- exercise 2: what relative depth keeps
check_relative_meaning = choice_check(
    "check_relative_meaning",
    "Exercise 2 (multiple choice): what survives an unknown scale s > 0 and shift t of inverse depth.",
    "b", "abcd", {
        "a": "too strong. Write each value as s·d + t and simplify (d₁ - d₂) / (d₃ - d₄): s and t cancel, so more "
             "than the order survives.",
        "c": "the shift t spoils ratios of values: (s·d₁ + t) / (s·d₂ + t) changes with t.",
        "d": "the unknown scale s multiplies every difference, so differences change from one map to the next.",
    }, "the order and ratios of inverse-depth differences survive an unknown scale and shift; that is why two known "
       "distances are enough to calibrate, and why a blur can grow with inverse-depth differences.")


# ------------------------------------------------------------------------------------- exercise 3: one shared range
@exercise_check
def check_shared_range(answer: Any, frame_a: np.ndarray, frame_b: np.ndarray,
                       percentiles: Sequence[float] = (2, 98)) -> str:
    """Exercise 3: one (lo, hi) range for two frames, against :func:`depthkit.viz.shared_range`."""
    require_answer(answer)
    got = as_array(answer, "my_vrange")
    if got.shape == (2, 2):
        raise NotYet("that is one range per frame; give ONE (lo, hi) pair used for both frames.")
    p = tuple(percentiles)
    expected = shared_range([frame_a, frame_b], percentiles=p)
    mistakes = [
        Mistake("that is the range of frame_a alone; pool the pixels of both frames.",
                shared_range([frame_a], percentiles=p)),
        Mistake("that is the range of frame_b alone; pool the pixels of both frames.",
                shared_range([frame_b], percentiles=p)),
        Mistake("that is the min–max range of both frames: a few extreme pixels set it. Use the percentiles.",
                shared_range([frame_a, frame_b], mode="minmax")),
        Mistake("averaging the two frames' own ranges is not the range of their pooled pixels.",
                np.mean([shared_range([frame_a], percentiles=p), shared_range([frame_b], percentiles=p)], axis=0)),
    ]
    check_value(got, expected, rtol=1e-4, mistakes=mistakes, name="my_vrange",
                wrong=f"my_vrange should be the {p[0]:g}th and {p[1]:g}th percentiles of the pixels of both frames "
                      "together (finite pixels only).")
    return f"vrange = ({expected[0]:.4f}, {expected[1]:.4f}): both frames share one range, so colours match."


# -------------------------------------------------------------------------------------- exercise 4: count the points
@exercise_check
def check_point_count(answer: Any, depth_m: np.ndarray, stride: int) -> str:
    """Exercise 4: the number of points :func:`depthkit.viz.point_cloud` returns for ``depth_m`` and ``stride``."""
    require_answer(answer)
    depth = np.asarray(depth_m, dtype=np.float32)
    s = int(stride)
    h, w = depth.shape
    expected = len(point_cloud(np.zeros((h, w, 3), np.uint8), depth, stride=s)[0])
    kept = np.isfinite(depth) & (depth > 0)
    mistakes = [
        Mistake(f"that counts every {s}th pixel, holes included; pixels without a finite depth are dropped.",
                len(range(0, h, s)) * len(range(0, w, s))),
        Mistake(f"that is every pixel with a finite depth; point_cloud keeps only every {s}th row and column.",
                int(kept.sum())),
        Mistake(f"dividing by {s}² is only an estimate; count the kept pixels of the subsampled grid "
                f"depth[::{s}, ::{s}].", int(kept.sum()) // s**2),
        Mistake(f"rows 0, {s}, 2·{s}, … are kept: that is ceil(H / {s}) rows, not H // {s} (same for columns).",
                int(kept[: h // s * s : s, : w // s * s : s].sum())),
    ]
    check_value(answer, expected, rtol=0, atol=0.5, mistakes=mistakes, name="n_points",
                wrong="count the pixels of depth[::S, ::S] whose depth is finite and positive.")
    return f"{expected} points."
