"""Checks for lesson 04 · Effects (see :mod:`depthkit.exercises` for the protocol).

The from-scratch checks compare the student's function with depthkit's own effect (:func:`parallax_view`,
:func:`obstacle_warning`) on seeded random input they make themselves; none of them looks at a model's output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..effects import obstacle_warning, parallax_view
from . import NotYet, as_array, as_number, call_student, choice_check, exercise_check, require_answer

__all__ = ["check_blur_invariance", "check_hole_fill", "check_near_fraction", "check_warp_row"]


# ------------------------------------------------------------------------------- exercise 1: occlusion order of a warp
def reference_warp_row(u: np.ndarray, dx: float) -> np.ndarray:
    """Source column that lands on each target column of a one-row forward warp, -1 for holes.

    Computed with :func:`depthkit.effects.parallax_view`: each column's colour encodes its own index.
    """
    w = len(u)
    index = np.arange(w)
    image = np.zeros((1, w, 3), np.uint8)
    image[0, :, 0], image[0, :, 1], image[0, :, 2] = index % 256, index // 256, 1
    view, holes = parallax_view(image, np.asarray(u, np.float32)[None], (dx, 0.0), vrange=(0.0, 1.0),
                                fill_holes=False)
    source = view[0, :, 0].astype(np.int64) + 256 * view[0, :, 1].astype(np.int64)
    return np.where(holes[0], -1, source)


def _warp_inputs(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A row of normalised inverse depths with a near object, and a shift; no target lands near a half pixel."""
    w = int(rng.integers(24, 40))
    dx = float(rng.choice([-1, 1]) * rng.uniform(3.0, 9.0))
    u = rng.uniform(0.0, 0.4, w)
    start = int(rng.integers(4, w - 12))
    u[start : start + 8] = rng.uniform(0.7, 0.95, 8)  # a near object: it occludes what lies beside it
    frac = (np.arange(w) + dx * u) % 1.0
    u = np.where(np.abs(frac - 0.5) < 0.02, u + 0.05 / abs(dx), u)  # stay clear of rounding ties
    return np.clip(u, 0.0, 1.0).astype(np.float32), dx


def _warp_with(u: np.ndarray, dx: float, move, wins) -> np.ndarray:
    """The warp with a mistaken motion ``move(u)`` or z-test ``wins(new, old)``."""
    w = len(u)
    source, best = np.full(w, -1), np.full(w, np.nan)
    for x in range(w):
        t = move(x, u[x], dx)
        if 0 <= t < w and (source[t] < 0 or wins(u[x], best[t])):
            source[t], best[t] = x, u[x]
    return source


def _round_half_up(x: int, u: float, dx: float) -> int:
    return int(np.floor(x + dx * u + 0.5))


_WARP_MISTAKES = (
    ("where several pixels land on one target the FARTHER one won; the nearer pixel (larger inverse depth) must "
     "occlude it.", lambda u, dx: _warp_with(u, dx, _round_half_up, lambda new, old: new <= old)),
    ("the last pixel in scan order wins, whatever its depth; keep a z-buffer and let the larger inverse depth win.",
     lambda u, dx: _warp_with(u, dx, _round_half_up, lambda new, old: True)),
    ("the far pixels moved most: image motion is proportional to inverse depth, so u = 1 moves by dx and u = 0 "
     "stays put.", lambda u, dx: _warp_with(u, dx, lambda x, uu, d: int(np.floor(x + d * (1 - uu) + 0.5)),
                                            lambda new, old: new >= old)),
    ("int() and np.floor cut off the fraction; round to the nearest pixel: floor(x + dx·u + 0.5).",
     lambda u, dx: _warp_with(u, dx, lambda x, uu, d: int(np.floor(x + d * uu)), lambda new, old: new >= old)),
)


@exercise_check
def check_warp_row(student_fn: Any) -> str:
    """Exercise 1: ``warp_row(u, dx)`` against :func:`reference_warp_row` (i.e. ``parallax_view``)."""
    require_answer(student_fn)
    rng = np.random.default_rng(4)
    trials = [_warp_inputs(rng) for _ in range(6)]
    results = []
    for u, dx in trials:
        expected = reference_warp_row(u, dx)
        got = as_array(call_student(student_fn, u, dx, name="warp_row"), "what warp_row returns")
        if got.shape != expected.shape:
            raise NotYet(f"warp_row returns shape {got.shape}; it should return one source column per target "
                         f"column, shape {expected.shape}.")
        results.append((u, dx, expected, got))
    wrong = [r for r in results if not np.array_equal(r[3], r[2])]
    if not wrong:
        return "your z-buffered warp gives the same occlusions and holes as depthkit.effects.parallax_view."
    for hint, produce in _WARP_MISTAKES:  # a mistake must explain every trial, not just one
        if all(np.array_equal(got, produce(u, dx)) for u, dx, _, got in results):
            raise NotYet(hint)
    u, dx, expected, got = wrong[0]
    holes = expected < 0
    if np.array_equal(got[~holes], expected[~holes]):
        raise NotYet("the pixels that receive a source are right; targets that nothing lands on must hold -1.")
    raise NotYet(f"for u = {np.round(u, 2).tolist()} and dx = {dx:.2f} your sources differ from depthkit's at "
                 f"target columns {np.flatnonzero(got != expected)[:5].tolist()}.")


# ------------------------------------------------------------------------------- exercise 2: obstacle fraction
def reference_near_fraction(depth_m: np.ndarray, box: tuple[int, int, int, int], threshold_m: float) -> float:
    """:func:`depthkit.effects.obstacle_warning`'s near fraction for a pixel box (x0, y0, x1, y1), x1/y1 exclusive."""
    h, w = depth_m.shape
    x0, y0, x1, y1 = box
    return obstacle_warning(depth_m=depth_m, threshold_m=threshold_m, roi=(x0 / w, y0 / h, x1 / w, y1 / h)).fraction


def _near_inputs(rng: np.random.Generator):
    h, w = int(rng.integers(20, 30)), int(rng.integers(32, 44))
    depth = np.round(rng.uniform(0.5, 6.0, (h, w)) * 4) / 4  # 0.25 m steps: some pixels lie exactly on the threshold
    depth[rng.random((h, w)) < 0.12] = np.inf  # unmeasured
    depth[rng.random((h, w)) < 0.04] = np.nan
    x0, y0 = int(rng.integers(0, w // 3)), int(rng.integers(0, h // 3))
    box = (x0, y0, x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(6, h // 2)))
    return depth.astype(np.float32), box, float(rng.choice([1.5, 2.0, 2.5]))


def _region(depth, box, swap=False):
    x0, y0, x1, y1 = box
    return depth[x0:x1, y0:y1] if swap else depth[y0:y1, x0:x1]


_NEAR_MISTAKES = (
    ("that is a percentage; return a fraction between 0 and 1.",
     lambda d, b, t: 100 * reference_near_fraction(d, b, t)),
    ("numpy indexes [row, column], i.e. depth_m[y0:y1, x0:x1]; you swapped x and y.",
     lambda d, b, t: float(np.mean(_region(d, b, swap=True) <= t)) if _region(d, b, swap=True).size else -1.0),
    ("depth is in metres, so NEAR means a SMALL depth (depth <= threshold), unlike inverse depth.",
     lambda d, b, t: float(np.mean(_region(d, b) >= t))),
    ("a pixel exactly at the threshold counts as near: use <=, not <.",
     lambda d, b, t: float(np.mean(_region(d, b) < t))),
    ("divide by ALL pixels of the box: unmeasured pixels count as not near, they are not left out.",
     lambda d, b, t: float((_region(d, b) <= t).sum() / max(np.isfinite(_region(d, b)).sum(), 1))),
    ("that is the fraction of the whole image; count only the pixels inside the box.",
     lambda d, b, t: float(np.mean(d <= t))),
)


@exercise_check
def check_near_fraction(student_fn: Any) -> str:
    """Exercise 2: ``near_fraction(depth_m, box, threshold_m)`` against ``obstacle_warning(...).fraction``."""
    require_answer(student_fn)
    rng = np.random.default_rng(5)
    results = []
    for _ in range(5):
        depth, box, t = _near_inputs(rng)
        got = as_number(call_student(student_fn, depth, box, t, name="near_fraction"), "what near_fraction returns")
        results.append((depth, box, t, reference_near_fraction(depth, box, t), got))
    if all(abs(got - expected) <= 1e-9 for *_, expected, got in results):
        return "your near fraction matches depthkit.effects.obstacle_warning on 5 random maps with holes."
    for hint, produce in _NEAR_MISTAKES:  # a mistake must explain every trial, not just one
        if all(abs(got - produce(depth, box, t)) <= 1e-9 for depth, box, t, _, got in results):
            raise NotYet(hint)
    _, box, t, expected, got = next(r for r in results if abs(r[4] - r[3]) > 1e-9)
    raise NotYet(f"for box {box} and threshold {t} m depthkit finds {expected:.4f}, you {got:.4f}: count the "
                 "box's pixels with depth <= threshold and divide by the box's pixel count.")


# ------------------------------------------------------------------------------- exercise 3: which side fills a hole
check_hole_fill = choice_check(
    "check_hole_fill", "Exercise 3 (multiple choice): a disocclusion hole is filled from the farther side.",
    "b", "abcd", {
        "a": "the hole is background that the near object hid; copying the near side smears the object into its "
             "own shadow.",
        "c": "averaging mixes the near object's colour into the background: the bleeding you saw with inpainting.",
        "d": "black holes are what the raw warp gives; the exercise asks which colour is the better guess.",
    }, "a disocclusion hole is uncovered background, so the farther neighbour is the better guess.")


# ------------------------------------------------------------------------------- exercise 4: the blur and scale/shift
check_blur_invariance = choice_check(
    "check_blur_invariance",
    "Exercise 4 (multiple choice): a percentile-normalised blur ignores an unknown scale s > 0 and shift t.",
    "a", "abcd", {
        "b": "the scale cancels: u is a difference of inverse depths divided by another such difference (p98 - p2).",
        "c": "the shift cancels: it is subtracted away in d - p2 and in p98 - p2.",
        "d": "more than the order survives an unknown scale and shift: ratios of inverse-depth differences do, and "
             "u is one.",
    }, "u = (d - p2) / (p98 - p2) is a ratio of inverse-depth differences, so s and t cancel and the blur is the "
       "same for s·d + t.")
