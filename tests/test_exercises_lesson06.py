"""Checks of lesson 06: a blank fails, typical mistakes get their own hint, the solution passes."""

import numpy as np
import pytest

from depthkit import video
from depthkit.exercises import BLANK_HINT, lesson06


def _line(check, *args):
    verdict = check.verdict(*args)
    return verdict.passed, verdict.line


def _range(m):
    lo, hi = np.percentile(m, (2, 98))
    return hi - lo


# ------------------------------------------------------------------------------------------------ flicker
def solution_flicker(maps):
    lo, hi = np.percentile(maps, (2, 98))
    return float(np.mean(np.abs(np.diff(maps, axis=0))) / (hi - lo))


def blank_flicker(maps):
    ...


def test_flicker_solution_passes_and_matches_depthkit_on_a_hand_example():
    assert _line(lesson06.check_flicker, solution_flicker)[0]
    maps = np.zeros((3, 2, 2))
    maps[1] = 1.0  # up by 1 and down again: mean |change| 1, range p98 - p2 of {0, 1} = 1
    assert video.flicker(maps) == pytest.approx(1.0) == solution_flicker(maps)


def test_flicker_blank_fails():
    assert _line(lesson06.check_flicker, blank_flicker) == (False, "✗ Not yet: " + BLANK_HINT)


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda m: float(np.mean(np.diff(m, axis=0)) / _range(m)), "take the absolute value"),
    (lambda m: float(np.mean(np.abs(np.diff(m, axis=0)))), "divide by the clip's range"),
    (lambda m: float(np.mean(np.abs(np.diff(m, axis=0))) / (m.max() - m.min())), "not its minimum and maximum"),
    (lambda m: float(np.mean(np.abs(np.diff(m))) / _range(m)), "time axis (axis=0)"),
    (lambda m: float(np.mean([np.abs(m[t] - m[t - 1]).mean() / _range(m[t]) for t in range(1, len(m))])),
     "ONE range for the whole clip"),
])
def test_flicker_mistakes_get_their_hint(fn, phrase):
    passed, line = _line(lesson06.check_flicker, fn)
    assert not passed and phrase in line, line


# ------------------------------------------------------------------------------------------------ min-max
def solution_minmax(maps):
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    return (maps - lo) / (hi - lo)


def blank_minmax(maps):
    ...


def test_minmax_solution_passes_and_equals_stabilize_none():
    assert _line(lesson06.check_minmax_frames, solution_minmax)[0]
    maps = np.array([[[1.0, 3.0]], [[10.0, 30.0]]])
    np.testing.assert_allclose(video.stabilize(maps, "none"), [[[0.0, 1.0]], [[0.0, 1.0]]])


def test_minmax_blank_fails():
    assert _line(lesson06.check_minmax_frames, blank_minmax) == (False, "✗ Not yet: " + BLANK_HINT)


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda m: (m - m.min()) / (m.max() - m.min()), "OWN minimum and maximum"),
    (lambda m: m / (m.max(axis=(1, 2), keepdims=True) - m.min(axis=(1, 2), keepdims=True)), "subtract each frame"),
    (lambda m: m / m.max(axis=(1, 2), keepdims=True), "dividing by the maximum alone"),
    (lambda m: 1.0 - solution_minmax(m), "near must stay 1"),
    (lambda m: (m - m.min(axis=0)) / (m.max(axis=0) - m.min(axis=0)), "not over time"),
])
def test_minmax_mistakes_get_their_hint(fn, phrase):
    passed, line = _line(lesson06.check_minmax_frames, fn)
    assert not passed and phrase in line, line


# ------------------------------------------------------------------------------------------------ align
def solution_align(frame, reference):
    a = np.stack([frame.ravel(), np.ones(frame.size)], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(a, reference.ravel(), rcond=None)
    return scale * frame + shift


def blank_align(frame, reference):
    ...


def test_align_solution_passes_and_recovers_an_exact_affine_copy():
    assert _line(lesson06.check_align_frame, solution_align)[0]
    frame = np.random.default_rng(0).random((5, 6))
    np.testing.assert_allclose(solution_align(frame, 0.3 * frame - 2.0), 0.3 * frame - 2.0, atol=1e-9)


def test_align_blank_fails():
    assert _line(lesson06.check_align_frame, blank_align) == (False, "✗ Not yet: " + BLANK_HINT)


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda f, r: np.sum(f * r) / np.sum(f * f) * f, "a scale alone"),
    (lambda f, r: f + (r.mean() - f.mean()), "a shift alone"),
    (lambda f, r: (f - f.mean()) * (r.std() / f.std()) + r.mean(), "mean and standard deviation"),
    (lambda f, r: solution_align(r, f), "fits the reference onto the frame"),
    (lambda f, r: r.copy(), "not the reference"),
])
def test_align_mistakes_get_their_hint(fn, phrase):
    passed, line = _line(lesson06.check_align_frame, fn)
    assert not passed and phrase in line, line


# ------------------------------------------------------------------------------------------------ choice
def test_background_drop_choice():
    assert _line(lesson06.check_background_drop, "b")[0]
    assert _line(lesson06.check_background_drop, ...) == (False, "✗ Not yet: " + BLANK_HINT)
    for wrong, phrase in (("a", "the frame's maximum does"), ("c", "LARGER"), ("d", "only the farthest")):
        passed, line = _line(lesson06.check_background_drop, wrong)
        assert not passed and phrase in line, line
