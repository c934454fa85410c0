"""Checks of lesson 00: blank fails, typical mistakes get their own hint, the solution passes."""

import numpy as np
import pytest

from depthkit.exercises import BLANK_HINT
from depthkit.exercises import lesson00 as ex


def blank(x):
    ...


def nearest_pixel(inverse_depth):
    return np.unravel_index(np.argmax(inverse_depth), inverse_depth.shape)


def nearest_pixel_from_depth(depth_m):
    return np.unravel_index(np.argmin(depth_m), depth_m.shape)


def _fails_with(check, answer, hint):
    verdict = check.verdict(answer)
    assert not verdict.passed and verdict.line.startswith("✗ Not yet: "), verdict.line
    assert hint in verdict.line, verdict.line


@pytest.mark.parametrize("answer, hint", [(..., BLANK_HINT), ("b", "larger value means nearer"),
                                          ("c", "unknown shift"), ("d", "keeps the order"), ("e", "not an option")])
def test_nearer_pixel_mistakes(answer, hint):
    _fails_with(ex.check_nearer_pixel, answer, hint)


def test_nearer_pixel_solution():
    assert ex.check_nearer_pixel.verdict("a").passed


@pytest.mark.parametrize("answer, hint", [
    (blank, BLANK_HINT),
    (lambda d: np.unravel_index(np.argmin(d), d.shape), "LARGEST value"),
    (lambda d: np.unravel_index(np.argmax(d), d.shape)[::-1], "row and column are swapped"),
    (lambda d: np.argmax(d), "flattened map"),
    (lambda d: d.max(), "returns shape (), expected shape (2,)"),  # the value instead of the position
])
def test_nearest_pixel_mistakes(answer, hint):
    _fails_with(ex.check_nearest_pixel, answer, hint)


def test_nearest_pixel_solution(capsys):
    assert ex.check_nearest_pixel.verdict(nearest_pixel).passed
    assert ex.check_nearest_pixel.verdict(lambda d: list(nearest_pixel(d))).passed
    ex.check_nearest_pixel(nearest_pixel)
    assert capsys.readouterr().out.startswith("✔ ")


@pytest.mark.parametrize("answer, hint", [
    (blank, BLANK_HINT),
    (nearest_pixel, "SMALLEST value"),
    (lambda z: nearest_pixel_from_depth(z)[::-1], "row and column are swapped"),
    (lambda z: np.argmin(z), "flattened map"),
])
def test_nearest_pixel_from_depth_mistakes(answer, hint):
    _fails_with(ex.check_nearest_pixel_from_depth, answer, hint)


def test_nearest_pixel_from_depth_solution():
    assert ex.check_nearest_pixel_from_depth.verdict(nearest_pixel_from_depth).passed
