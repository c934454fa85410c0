"""Checks for lesson 06 · Depth in motion (see :mod:`depthkit.exercises` for the protocol).

The from-scratch checks compare the student's function with depthkit's own (:func:`depthkit.video.flicker`,
:func:`depthkit.video.stabilize` with ``"none"``, :func:`depthkit.alignment.align`) on seeded random clips they
make themselves; none of them looks at a model's output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..alignment import align
from ..video import flicker, stabilize
from . import Mistake, choice_check, compare_function, exercise_check

__all__ = ["check_align_frame", "check_background_drop", "check_flicker", "check_minmax_frames"]


def _clip(rng: np.random.Generator) -> tuple[np.ndarray]:
    """A random (T, H, W) clip of inverse depths with an arbitrary scale and offset (no unit)."""
    t, h, w = int(rng.integers(4, 8)), int(rng.integers(6, 11)), int(rng.integers(6, 11))
    base = rng.random((h, w)) + 0.5 * np.cumsum(rng.normal(0.0, 0.3, (t, h, w)), axis=0)
    return (float(rng.uniform(2.0, 20.0)) * base + float(rng.uniform(-5.0, 5.0)),)


# ------------------------------------------------------------------------------- exercise 1: the flicker metric
def _clip_range(m: np.ndarray) -> float:
    lo, hi = np.percentile(m, (2, 98))
    return float(hi - lo)


_FLICKER_MISTAKES = (
    Mistake("signed differences cancel out (a pixel that goes up and down again scores 0); take the absolute "
            "value of each change.", lambda m: float(np.mean(np.diff(m, axis=0)) / _clip_range(m))),
    Mistake("that is in the map's own units, so a clip scaled by 10 flickers 10 times as much; divide by the "
            "clip's range p98 - p2.", lambda m: float(np.mean(np.abs(np.diff(m, axis=0))))),
    Mistake("the range is the 2nd to 98th percentile of the whole clip (np.percentile), not its minimum and "
            "maximum, which single extreme pixels set.",
            lambda m: float(np.mean(np.abs(np.diff(m, axis=0))) / np.ptp(m))),
    Mistake("np.diff must run over the time axis (axis=0): the change of each pixel from one frame to the next, "
            "not between neighbouring pixels.", lambda m: float(np.mean(np.abs(np.diff(m))) / _clip_range(m))),
    Mistake("use ONE range for the whole clip: a range per frame hides exactly the rescaling that makes video "
            "flicker.", lambda m: float(np.mean(np.abs(np.diff(m, axis=0)).mean(axis=(1, 2))
                                               / np.array([_clip_range(f) for f in m[1:]])))),
)


@exercise_check
def check_flicker(student_fn: Any) -> str:
    """Exercise 1: ``flicker(maps)`` against :func:`depthkit.video.flicker` on random clips."""
    compare_function(student_fn, flicker, _clip, trials=6, seed=6, rtol=1e-6, atol=1e-9,
                     mistakes=_FLICKER_MISTAKES, name="flicker")
    return "your flicker matches depthkit.video.flicker on 6 random clips."


# ------------------------------------------------------------------------------- exercise 2: per-frame min-max
def _none(m: np.ndarray) -> np.ndarray:
    return stabilize(m, "none")


_MINMAX_MISTAKES = (
    Mistake("that uses one minimum and maximum for the whole clip (the idea behind \"shared\"); normalise each "
            "frame with its OWN minimum and maximum.", lambda m: (m - m.min()) / np.ptp(m)),
    Mistake("subtract each frame's minimum before dividing by its range (max - min), so each frame spans 0 … 1.",
            lambda m: m / np.ptp(m, axis=(1, 2), keepdims=True)),
    Mistake("dividing by the maximum alone does not give 0 … 1; compute (m - min) / (max - min) per frame.",
            lambda m: m / m.max(axis=(1, 2), keepdims=True)),
    Mistake("near must stay 1: inverse depth is larger for nearer points, so do not flip the map.",
            lambda m: 1 - _none(m)),
    Mistake("the minimum and maximum must be taken over each frame's pixels (axis=(1, 2)), not over time.",
            lambda m: (m - m.min(axis=0)) / np.ptp(m, axis=0)),
)


@exercise_check
def check_minmax_frames(student_fn: Any) -> str:
    """Exercise 2: ``minmax_frames(maps)`` against ``depthkit.video.stabilize(maps, "none")``."""
    compare_function(student_fn, _none, _clip, trials=5, seed=7, rtol=1e-4, atol=1e-5,
                     mistakes=_MINMAX_MISTAKES, name="minmax_frames")
    return "your per-frame min–max normalisation matches depthkit.video.stabilize(maps, \"none\") on 5 clips."


# ------------------------------------------------------------------------------- exercise 3: align one frame
def _pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A frame and a reference that is a noisy affine copy of it (scale > 0, any shift)."""
    h, w = int(rng.integers(8, 14)), int(rng.integers(8, 14))
    frame = rng.random((h, w)) * float(rng.uniform(1.0, 30.0)) + float(rng.uniform(-3.0, 3.0))
    reference = float(rng.uniform(0.02, 0.5)) * frame + float(rng.uniform(-1.0, 1.0)) + rng.normal(0.0, 0.1, (h, w))
    return frame, reference


def _aligned(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return align(frame, reference)[0]


def _scale_only(f: np.ndarray, r: np.ndarray) -> np.ndarray:
    return float(np.sum(f * r) / np.sum(f * f)) * f


_ALIGN_MISTAKES = (
    Mistake("a scale alone cannot remove an offset: fit a scale AND a shift, i.e. least squares with the columns "
            "[frame, 1].", _scale_only),
    Mistake("a shift alone leaves the frame's scale wrong: fit a scale and a shift together.",
            lambda f, r: f - f.mean() + r.mean()),
    Mistake("matching the mean and standard deviation is not the least-squares fit (that uses the covariance: "
            "scale = cov(frame, reference) / var(frame)).", lambda f, r: (f - f.mean()) / f.std() * r.std() + r.mean()),
    Mistake("that fits the reference onto the frame; the frame is what gets a scale and shift, so that it "
            "matches the reference.", lambda f, r: _aligned(r, f)),
    Mistake("return the aligned FRAME (scale · frame + shift), not the reference.", lambda f, r: r),
)


@exercise_check
def check_align_frame(student_fn: Any) -> str:
    """Exercise 3: ``align_frame(frame, reference)`` against :func:`depthkit.alignment.align`."""
    compare_function(student_fn, _aligned, _pair, trials=5, seed=8, rtol=1e-5, atol=1e-6,
                     mistakes=_ALIGN_MISTAKES, name="align_frame")
    return "your least-squares alignment matches depthkit.alignment.align (what stabilize(..., \"align\") uses)."


# ------------------------------------------------------------------------------- exercise 4: a near object enters
check_background_drop = choice_check(
    "check_background_drop",
    "Exercise 4 (multiple choice): with per-frame min–max, a nearer object entering the frame darkens a still "
    "background pixel.",
    "b", "abcd", {
        "a": "the pixel's own inverse depth does not change, but the frame's maximum does, and min–max divides "
             "by it.",
        "c": "the new maximum is LARGER (nearer = larger inverse depth), so (d - min) / (max - min) gets smaller.",
        "d": "only the farthest pixel of a frame gets 0; the background pixel keeps a value, just a smaller one.",
    }, "the nearer object raises the frame's maximum, so (d - min) / (max - min) falls for every other pixel: "
       "flicker although nothing in the background moved.")
