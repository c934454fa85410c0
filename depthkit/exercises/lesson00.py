"""Checks for lesson 00 (quick start): reading inverse depth and depth.

Each check prints one line (see :mod:`depthkit.exercises`). They judge the student's answer only, never the model.
"""

from __future__ import annotations

import numpy as np

from . import Mistake, choice_check, compare_function, exercise_check

__all__ = ["check_nearer_pixel", "check_nearest_pixel", "check_nearest_pixel_from_depth"]


check_nearer_pixel = choice_check(
    "check_nearer_pixel",
    """Multiple choice: in one inverse-depth map, pixel P has 2.0 and pixel Q has 0.5. Right answer: "a".

    Options: a) P is nearer than Q; b) Q is nearer than P; c) P is exactly 4 times nearer than Q;
    d) nothing can be said without knowing the scale.
    """,
    "a", "abcd", {
        "b": "MiDaS gives inverse depth: a larger value means nearer, not farther.",
        "c": "the map has an unknown shift as well as an unknown scale, so the ratio 2.0 / 0.5 is not a ratio "
             "of distances.",
        "d": "the unknown scale is positive, so it keeps the order of the values; the order alone answers this.",
    }, "larger inverse depth = nearer; the order is known, the distances are not.")


def _reference_nearest(inverse_depth: np.ndarray) -> np.ndarray:
    """(row, col) of the largest value, as an array of 2 (a tuple or list from the student compares equal)."""
    return np.array(np.unravel_index(np.argmax(inverse_depth), inverse_depth.shape))


def _random_map(rng: np.random.Generator) -> tuple[np.ndarray]:
    shape = (int(rng.integers(5, 40)), int(rng.integers(5, 40)))
    return (rng.random(shape).astype(np.float32),)  # continuous values: one maximum, one minimum


@exercise_check
def check_nearest_pixel(student_fn) -> str:
    """Judge ``nearest_pixel(inverse_depth) -> (row, col)``: the nearest pixel of an (H, W) inverse-depth map."""
    compare_function(student_fn, _reference_nearest, _random_map, trials=6, atol=0, rtol=0, name="nearest_pixel",
                     mistakes=[
        Mistake("that is the farthest pixel: in inverse depth the nearest pixel has the LARGEST value "
                "(np.argmax, not np.argmin).",
                lambda d: _reference_nearest(-d)),
        Mistake("row and column are swapped: return (row, col), i.e. the first index is the image row (y).",
                lambda d: _reference_nearest(d)[::-1]),
        Mistake("np.argmax gives an index into the flattened map; turn it into (row, col) with np.unravel_index.",
                lambda d: np.argmax(d)),
    ])
    return "nearest_pixel finds the largest inverse depth on 6 random maps."


def _random_depth(rng: np.random.Generator) -> tuple[np.ndarray]:
    (unit,) = _random_map(rng)
    depth_m = (0.5 + 30 * unit).astype(np.float32)
    depth_m[: max(1, depth_m.shape[0] // 4)] = np.inf  # the sky: infinitely far
    return (depth_m,)


@exercise_check
def check_nearest_pixel_from_depth(student_fn) -> str:
    """Judge ``nearest_pixel_from_depth(depth_m) -> (row, col)`` for an (H, W) depth map in metres (sky = inf)."""
    compare_function(student_fn, lambda z: _reference_nearest(-z), _random_depth, trials=6, atol=0, rtol=0,
                     name="nearest_pixel_from_depth", mistakes=[
        Mistake("that is the farthest pixel (the sky, at infinity): in depth (metres) the nearest pixel has the "
                "SMALLEST value.", lambda z: _reference_nearest(z)),
        Mistake("row and column are swapped: return (row, col), i.e. the first index is the image row (y).",
                lambda z: _reference_nearest(-z)[::-1]),
        Mistake("np.argmin gives an index into the flattened map; turn it into (row, col) with np.unravel_index.",
                lambda z: np.argmin(z)),
    ])
    return "nearest_pixel_from_depth finds the smallest depth (in metres) on 6 random maps with sky."
