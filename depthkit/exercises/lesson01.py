"""Checks for lesson 01 (theory): annotation ambiguity, least-squares alignment, median/MAD normalisation, the
trimmed loss and reading the MiDaS tables (Ranftl et al., TPAMI 2020, arXiv:1907.01341).

Each check prints one line (see :mod:`depthkit.exercises`). They compare the student's functions with depthkit's
own implementation on seeded random inputs; none of them involves a network.
"""

from __future__ import annotations

import numpy as np

from ..alignment import fit_scale_shift
from . import Mistake, check_value, choice_check, compare_function, exercise_check

__all__ = ["check_delta1_from_table", "check_least_squares_scale_shift", "check_median_mad_normalize",
           "check_scale_only_annotations", "check_trimmed_loss"]


check_scale_only_annotations = choice_check(
    "check_scale_only_annotations",
    """Multiple choice (several right): which annotations become the true inverse depth 1/Z with a scale alone?

    a) metric depth from a calibrated sensor (laser scanner, RGB-D camera); b) depth from structure from motion;
    c) disparity from uncalibrated stereo (web stereo photos, 3-D movies). Right: a and b (Sec. 5, Table 1).
    """,
    {"a", "b"}, "abc", {
        "c": "uncalibrated stereo gives disparity up to an unknown scale AND shift: the baseline is unknown (a "
             "scale) and so is the principal-point shift between the views (a constant added to every disparity).",
        "missing a": "metric depth needs no fitting at all, and a scale of exactly 1 is still a scale alone.",
        "missing b": "structure from motion gives depth up to an unknown scale k; its inverse 1/(kZ) = (1/k)·(1/Z) "
                     "is the true inverse depth up to a scale too.",
    }, "metric depth (scale 1) and SfM depth (scale per reconstruction) need a scale only; uncalibrated stereo also "
       "needs a shift.")


def _fit_reference(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """depthkit's least-squares (scale, shift) of ``scale * prediction + shift`` to ``target`` over ``mask``."""
    return np.array(fit_scale_shift(prediction, target, mask))


def _scale_shift_inputs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shape = (int(rng.integers(6, 20)), int(rng.integers(6, 20)))
    prediction = rng.random(shape) * rng.uniform(1, 50)
    target = rng.uniform(0.1, 3) * prediction + rng.uniform(-2, 2) + 0.05 * rng.normal(size=shape)
    mask = rng.random(shape) > 0.3
    target[~mask] = rng.uniform(50, 100, int((~mask).sum()))  # invalid pixels hold garbage (e.g. no stereo match)
    return prediction, target, mask


def _ols(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    slope = np.cov(x, y, bias=True)[0, 1] / np.var(x)
    return np.array([slope, y.mean() - slope * x.mean()])


@exercise_check
def check_least_squares_scale_shift(student_fn) -> str:
    """Judge ``least_squares_scale_shift(prediction, target, mask) -> (s, t)`` (Eq. 2-4) against depthkit."""
    compare_function(student_fn, _fit_reference, _scale_shift_inputs, trials=5, rtol=1e-4, atol=1e-6,
                     name="least_squares_scale_shift", mistakes=[
        Mistake("you fitted every pixel: use only the valid ones, prediction[mask] and target[mask]; the others "
                "hold no measurement.", lambda p, q, m: _ols(p.ravel(), q.ravel())),
        Mistake("you fitted the target to the prediction: Eq. 2-4 fit s·d + t to the target d*, so regress the "
                "target on the prediction, not the other way round.",
                lambda p, q, m: _ols(q[m], p[m])),
        Mistake("you returned (t, s): return the scale first, then the shift.", lambda p, q, m: _ols(p[m], q[m])[::-1]),
        Mistake("you fitted a scale only: the shift t is unknown too, so fit s and t together.",
                lambda p, q, m: np.array([np.sum(p[m] * q[m]) / np.sum(p[m] ** 2), 0.0])),
    ])
    return "least_squares_scale_shift matches depthkit's alignment on 5 random masked maps."


def _normalize_reference(values: np.ndarray) -> np.ndarray:
    import torch

    from ..losses import normalize_median_mad

    return normalize_median_mad(torch.from_numpy(values[None, :]))[0].numpy()


def _skewed_values(rng: np.random.Generator) -> tuple[np.ndarray]:
    size = int(rng.integers(20, 200))  # odd and even counts: the median of an even count averages the middle two
    return (rng.lognormal(0.0, 1.0, size) * rng.uniform(0.5, 20) + rng.uniform(-5, 5),)


@exercise_check
def check_median_mad_normalize(student_fn) -> str:
    """Judge ``normalize(values) -> (values - t) / s`` with Eq. 5-6 (median, mean absolute deviation) on 1-D arrays."""
    med = np.median
    compare_function(student_fn, _normalize_reference, _skewed_values, trials=5, rtol=1e-6, atol=1e-9,
                     name="normalize", mistakes=[
        Mistake("you divided by the standard deviation: Eq. 6 uses the MEAN ABSOLUTE deviation from the median, "
                "s = mean(|d - t|).", lambda d: (d - med(d)) / np.std(d)),
        Mistake("you subtracted the mean: Eq. 5 shifts by the MEDIAN, which outliers cannot drag away.",
                lambda d: (d - d.mean()) / np.mean(np.abs(d - d.mean()))),
        Mistake("you divided by the median absolute deviation: Eq. 6 takes the MEAN of |d - t|.",
                lambda d: (d - med(d)) / med(np.abs(d - med(d)))),
        Mistake("you forgot to subtract the median t before dividing by s.", lambda d: d / np.mean(np.abs(d - med(d)))),
    ])
    return "normalize matches depthkit.losses.normalize_median_mad on 5 random skewed arrays."


def _trim_reference(pred_n: np.ndarray, target_n: np.ndarray) -> float:
    import torch

    from ..losses import ssi_trim_loss

    return float(ssi_trim_loss(torch.from_numpy(pred_n[None, :]), torch.from_numpy(target_n[None, :])))


def _normalized_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    size = 10 * int(rng.integers(2, 20))  # a multiple of 10, so that 0.8 M is a whole number of pixels
    target = rng.normal(size=size)
    pred = target + rng.normal(scale=0.3, size=size)
    pred[rng.random(size) < 0.1] += rng.normal(scale=5, size=1)  # some outliers, for the trimming to remove
    return _normalize_reference(pred), _normalize_reference(target)


def _trimmed(residual: np.ndarray, keep_largest: bool = False, denominator: str = "2M", trim: float = 0.2) -> float:
    r = np.sort(np.abs(residual))[::-1] if keep_largest else np.sort(np.abs(residual))
    kept = r[: round((1 - trim) * r.size)]
    return float(kept.sum() / {"2M": 2 * r.size, "M": r.size, "2U": 2 * kept.size}[denominator])


@exercise_check
def check_trimmed_loss(student_fn) -> str:
    """Judge ``trimmed_loss(pred_n, target_n) -> float`` (Eq. 7, U_m = 0.8 M) on normalised 1-D arrays."""
    compare_function(student_fn, _trim_reference, _normalized_pair, trials=5, rtol=1e-6, atol=1e-9,
                     name="trimmed_loss", mistakes=[
        Mistake("you divided by 2 U_m: Eq. 7 keeps the factor 1/(2M) with M = all valid pixels, although only "
                "U_m residuals are summed.", lambda p, q: _trimmed(p - q, denominator="2U")),
        Mistake("you forgot the ½: Eq. 7 divides the sum by 2M, not by M.",
                lambda p, q: _trimmed(p - q, denominator="M")),
        Mistake("you kept the largest residuals: sort |residuals| in ascending order and drop the largest 20 %.",
                lambda p, q: _trimmed(p - q, keep_largest=True)),
        Mistake("nothing was trimmed: sum only the U_m = 0.8 M smallest |residuals|.",
                lambda p, q: _trimmed(p - q, trim=0.0)),
        Mistake("rho is the absolute value for L_ssitrim (rho_mae in Eq. 1), not the square.",
                lambda p, q: _trimmed((p - q) ** 2)),
    ])
    return "trimmed_loss matches depthkit.losses.ssi_trim_loss on 5 random normalised pairs."


@exercise_check
def check_delta1_from_table(answer) -> str:
    """A MiDaS table reports "δ>1.25 = 9.5" for a dataset: the student gives δ1 as a fraction (0.905)."""
    check_value(answer, 0.905, rtol=1e-3, name="δ1", mistakes=[
        Mistake("δ>1.25 counts the BAD pixels (ratio above 1.25); δ1 is the fraction of the good ones, its "
                "complement.", 0.095),
        Mistake("give δ1 as a fraction between 0 and 1, not as a percentage.", 90.5),
        Mistake("the table's 9.5 is a percentage: turn it into a fraction before taking the complement.", -8.5),
    ], wrong="δ>1.25 is the percentage of pixels whose depth ratio exceeds 1.25; δ1 is the fraction of pixels "
             "whose ratio is below it.")
    return "δ1 = 1 - 9.5 / 100 = 0.905: the table's column is an error, δ1 its complement."
