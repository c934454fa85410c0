"""Checks of lesson 04: a blank fails, typical mistakes get their own hint, the solution passes."""

import numpy as np
import pytest

from depthkit.exercises import BLANK_HINT, lesson04


def _line(check, *args):
    verdict = check.verdict(*args)
    return verdict.passed, verdict.line


# ------------------------------------------------------------------------------------------------ warp of one row
def _warp(u, dx, *, motion=lambda x, u, dx: int(np.floor(x + dx * u + 0.5)), wins=lambda new, old: new >= old,
          hole=-1):
    w = len(u)
    source, best = np.full(w, hole), np.full(w, -np.inf)
    for x in range(w):
        t = motion(x, u[x], dx)
        if 0 <= t < w and wins(u[x], best[t]):
            best[t], source[t] = u[x], x
    return source


def solution_warp(u, dx):
    w = len(u)
    source, best = np.full(w, -1), np.full(w, -np.inf)
    for x in range(w):
        t = int(np.floor(x + dx * u[x] + 0.5))
        if 0 <= t < w and u[x] >= best[t]:
            best[t], source[t] = u[x], x
    return source


def blank_warp(u, dx):
    ...


def test_reference_warp_row_matches_a_hand_example():
    u = np.array([0.0, 0.0, 1.0, 0.0, 0.0], np.float32)
    # dx = 2: column 2 (u = 1) lands on 4 and hides column 4; columns 2 and 3... 2 is left empty
    assert lesson04.reference_warp_row(u, 2.0).tolist() == [0, 1, -1, 3, 2]
    assert lesson04.reference_warp_row(u, -2.0).tolist() == [2, 1, -1, 3, 4]


def test_warp_solution_passes():
    passed, line = _line(lesson04.check_warp_row, solution_warp)
    assert passed and line.startswith("✔ "), line


def test_warp_blank_fails():
    assert _line(lesson04.check_warp_row, blank_warp) == (False, "✗ Not yet: " + BLANK_HINT)


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda u, dx: _warp(u, dx, wins=lambda new, old: old == -np.inf or new <= old), "the FARTHER one won"),
    (lambda u, dx: _warp(u, dx, wins=lambda new, old: True), "last pixel in scan order wins"),
    (lambda u, dx: _warp(u, dx, motion=lambda x, u, dx: int(np.floor(x + dx * (1 - u) + 0.5))),
     "far pixels moved most"),
    (lambda u, dx: _warp(u, dx, motion=lambda x, u, dx: int(np.floor(x + dx * u))), "floor(x + dx·u + 0.5)"),
    (lambda u, dx: _warp(u, dx, hole=0), "must hold -1"),
    (lambda u, dx: _warp(u, dx)[:-1], "shape"),
])
def test_warp_mistakes_get_their_hint(fn, phrase):
    passed, line = _line(lesson04.check_warp_row, fn)
    assert not passed and line.startswith("✗ Not yet: ") and phrase in line, line


# ------------------------------------------------------------------------------------------------- near fraction
def solution_near(depth_m, box, threshold_m):
    x0, y0, x1, y1 = box
    region = depth_m[y0:y1, x0:x1]
    return float(np.mean(np.isfinite(region) & (region <= threshold_m)))


def test_near_fraction_solution_passes():
    passed, line = _line(lesson04.check_near_fraction, solution_near)
    assert passed, line


def test_reference_near_fraction_by_hand():
    depth = np.full((4, 6), 5.0, np.float32)
    depth[1:3, 2:4] = 1.0
    depth[1, 2] = np.inf
    assert lesson04.reference_near_fraction(depth, (2, 1, 4, 3), 1.0) == 0.75
    assert lesson04.reference_near_fraction(depth, (0, 0, 6, 4), 1.0) == 3 / 24


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda d, b, t: 100 * solution_near(d, b, t), "percentage"),
    (lambda d, b, t: float(np.mean(d[b[0]:b[2], b[1]:b[3]] <= t)), "swapped x and y"),
    (lambda d, b, t: float(np.mean(d[b[1]:b[3], b[0]:b[2]] >= t)), "SMALL depth"),
    (lambda d, b, t: float(np.mean(d[b[1]:b[3], b[0]:b[2]] < t)), "use <=, not <"),
    (lambda d, b, t: float(np.nanmean(np.where(np.isfinite(d[b[1]:b[3], b[0]:b[2]]),
                                               d[b[1]:b[3], b[0]:b[2]] <= t, np.nan))), "ALL pixels of the box"),
    (lambda d, b, t: float(np.mean(d <= t)), "whole image"),
    (lambda d, b, t: 0.5 + 0 * t, "depthkit finds"),
])
def test_near_fraction_mistakes_get_their_hint(fn, phrase):
    passed, line = _line(lesson04.check_near_fraction, fn)
    assert not passed and line.startswith("✗ Not yet: ") and phrase in line, line


def test_near_fraction_blank():
    def near_fraction(depth_m, box, threshold_m):
        ...

    assert _line(lesson04.check_near_fraction, near_fraction) == (False, "✗ Not yet: " + BLANK_HINT)


# ------------------------------------------------------------------------------------------------ multiple choice
def test_hole_fill_choice():
    assert _line(lesson04.check_hole_fill, "b")[0]
    assert _line(lesson04.check_hole_fill, ...)[1] == "✗ Not yet: " + BLANK_HINT
    assert "smears the object" in _line(lesson04.check_hole_fill, "a")[1]
    assert "averaging mixes" in _line(lesson04.check_hole_fill, "c")[1]


def test_blur_invariance_choice():
    assert _line(lesson04.check_blur_invariance, "a")[0]
    assert _line(lesson04.check_blur_invariance, ...)[1] == "✗ Not yet: " + BLANK_HINT
    assert "more than the order survives" in _line(lesson04.check_blur_invariance, "d")[1]
    assert "scale cancels" in _line(lesson04.check_blur_invariance, "b")[1]


def test_blur_invariance_claim_holds_for_portrait_blur():
    """The fact the multiple-choice answer states: portrait_blur is unchanged by s * d + t with s > 0."""
    from depthkit.effects import portrait_blur

    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    inv = rng.uniform(0.1, 1.0, (24, 32)).astype(np.float32)
    a = portrait_blur(image, inv, focus=(5, 5), aperture=6.0)
    b = portrait_blur(image, 3.0 * inv + 7.0, focus=(5, 5), aperture=6.0)
    assert np.abs(a.astype(int) - b).max() <= 1
