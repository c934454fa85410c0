"""Checks of lesson 03: a blank fails, typical mistakes get their own hint, the solution passes."""

import numpy as np
import pytest

from depthkit.exercises import BLANK_HINT, lesson03


def _line(check, *args):
    verdict = check.verdict(*args)
    return verdict.passed, verdict.line


# ----------------------------------------------------------------------------------------- percentile normalisation
def solution_normalize(values, low, high):
    finite = np.isfinite(values)
    lo, hi = np.percentile(values[finite], [low, high])
    out = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    return np.where(finite, out, 0.0)


def blank_normalize(values, low, high):
    ...


def minmax_normalize(values, low, high):
    finite = np.isfinite(values)
    lo, hi = values[finite].min(), values[finite].max()
    return np.where(finite, (values - lo) / (hi - lo), 0.0)


def unmasked_normalize(values, low, high):
    lo, hi = np.percentile(values, [low, high])
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)


def nan_kept_normalize(values, low, high):
    lo, hi = np.nanpercentile(values, [low, high])
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)


def unclipped_normalize(values, low, high):
    finite = np.isfinite(values)
    lo, hi = np.percentile(values[finite], [low, high])
    return np.where(finite, (values - lo) / (hi - lo), 0.0)


def fraction_normalize(values, low, high):
    return solution_normalize(values, low / 100, high / 100)


def swapped_normalize(values, low, high):
    return np.where(np.isfinite(values), 1.0 - solution_normalize(values, low, high), 0.0)


def test_normalize_solution_passes():
    passed, line = _line(lesson03.check_percentile_normalize, solution_normalize)
    assert passed and line.startswith("✔ ")


def test_normalize_blank_fails():
    passed, line = _line(lesson03.check_percentile_normalize, blank_normalize)
    assert not passed and line == "✗ Not yet: " + BLANK_HINT


@pytest.mark.parametrize(("fn", "phrase"), [
    (minmax_normalize, "(min–max)"),
    (unmasked_normalize, "np.percentile of an array with NaN is NaN"),
    (nan_kept_normalize, "must come out as 0 (the far end)"),
    (unclipped_normalize, "must be clipped to 0 and 1"),
    (fraction_normalize, "np.percentile takes percent"),
    (swapped_normalize, "near and far are swapped"),
])
def test_normalize_mistakes_get_their_hint(fn, phrase):
    passed, line = _line(lesson03.check_percentile_normalize, fn)
    assert not passed and line.startswith("✗ Not yet: ") and phrase in line, line


def test_normalize_error_in_student_code_becomes_a_hint():
    def broken(values, low, high):
        return values / undefined_name  # noqa: F821

    passed, line = _line(lesson03.check_percentile_normalize, broken)
    assert not passed and "NameError" in line


# ------------------------------------------------------------------------------------------------ multiple choice
def test_relative_meaning():
    assert _line(lesson03.check_relative_meaning, "b")[0]
    assert _line(lesson03.check_relative_meaning, " B ")[0]
    assert _line(lesson03.check_relative_meaning, ...) == (False, "✗ Not yet: " + BLANK_HINT)
    passed, line = _line(lesson03.check_relative_meaning, "a")
    assert not passed and "too strong" in line
    passed, line = _line(lesson03.check_relative_meaning, "c")
    assert not passed and "shift t spoils ratios" in line
    passed, line = _line(lesson03.check_relative_meaning, "e")
    assert not passed and "not an option" in line


# ---------------------------------------------------------------------------------------------------- shared range
@pytest.fixture()
def frames():
    rng = np.random.default_rng(0)
    scene = rng.lognormal(-1.0, 0.4, size=(30, 50)).astype(np.float32)
    scene[:, 30:] += 0.5  # the right part is nearer: the two frames' own ranges differ
    scene[3, 3] = 50.0  # an outlier
    return scene[:, :30], scene[:, 20:]


def test_shared_range_solution_passes(frames):
    from depthkit.viz import shared_range

    answer = shared_range(frames, percentiles=(2, 98))
    passed, line = _line(lesson03.check_shared_range, answer, *frames, (2, 98))
    assert passed, line
    pooled = np.concatenate([f.ravel() for f in frames])
    by_hand = tuple(np.percentile(pooled, [2, 98]))
    assert _line(lesson03.check_shared_range, by_hand, *frames, (2, 98))[0]


def test_shared_range_blank_and_mistakes(frames):
    a, b = frames
    assert _line(lesson03.check_shared_range, ..., a, b) == (False, "✗ Not yet: " + BLANK_HINT)
    own_a = tuple(np.percentile(a, [2, 98]))
    passed, line = _line(lesson03.check_shared_range, own_a, a, b, (2, 98))
    assert not passed and "range of frame_a alone" in line
    both = np.concatenate([a.ravel(), b.ravel()])
    passed, line = _line(lesson03.check_shared_range, (both.min(), both.max()), a, b, (2, 98))
    assert not passed and "min–max range" in line
    per_frame = [own_a, tuple(np.percentile(b, [2, 98]))]
    passed, line = _line(lesson03.check_shared_range, per_frame, a, b, (2, 98))
    assert not passed and "one range per frame" in line
    passed, line = _line(lesson03.check_shared_range, (0.0, 1.0), a, b, (2, 98))
    assert not passed and "percentiles of the pixels of both frames" in line


# ---------------------------------------------------------------------------------------------------- point count
@pytest.fixture()
def holey_depth():
    rng = np.random.default_rng(1)
    depth = rng.uniform(1.0, 5.0, size=(31, 44)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.2] = np.inf
    return depth


def test_point_count(holey_depth):
    s = 3
    right = int(np.isfinite(holey_depth[::s, ::s]).sum())
    assert _line(lesson03.check_point_count, right, holey_depth, s)[0]
    assert _line(lesson03.check_point_count, ..., holey_depth, s) == (False, "✗ Not yet: " + BLANK_HINT)
    passed, line = _line(lesson03.check_point_count, 11 * 15, holey_depth, s)
    assert not passed and "holes included" in line
    passed, line = _line(lesson03.check_point_count, int(np.isfinite(holey_depth).sum()), holey_depth, s)
    assert not passed and "every pixel with a finite depth" in line
    floored = int(np.isfinite(holey_depth[:30:s, :42:s]).sum())
    passed, line = _line(lesson03.check_point_count, floored, holey_depth, s)
    assert not passed and "ceil(H / 3)" in line
    passed, line = _line(lesson03.check_point_count, "many", holey_depth, s)
    assert not passed and "number" in line
