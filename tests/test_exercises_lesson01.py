"""Checks of lesson 01: blank fails, typical mistakes get their own hint, the solution passes."""

import numpy as np
import pytest

from depthkit.exercises import BLANK_HINT
from depthkit.exercises import lesson01 as ex


def blank(*args):
    ...


def least_squares_scale_shift(prediction, target, mask):
    p, q = prediction[mask], target[mask]
    s = np.mean((p - p.mean()) * (q - q.mean())) / np.var(p)
    return s, q.mean() - s * p.mean()


def normalize(values):
    t = np.median(values)
    s = np.mean(np.abs(values - t))
    return (values - t) / s


def trimmed_loss(pred_n, target_n):
    r = np.sort(np.abs(pred_n - target_n))
    u = round(0.8 * len(r))
    return r[:u].sum() / (2 * len(r))


def _fails_with(check, answer, hint):
    verdict = check.verdict(answer)
    assert not verdict.passed and verdict.line.startswith("✗ Not yet: "), verdict.line
    assert hint in verdict.line, verdict.line


@pytest.mark.parametrize("answer, hint", [(..., BLANK_HINT), ("abc", "AND shift"), ("c", "AND shift"),
                                          ("a", "structure from motion gives depth up to an unknown scale"),
                                          ("b", "metric depth needs no fitting")])
def test_scale_only_mistakes(answer, hint):
    _fails_with(ex.check_scale_only_annotations, answer, hint)


@pytest.mark.parametrize("answer", ["ab", "a, b", {"a", "b"}, ["b", "a"]])
def test_scale_only_solution(answer):
    assert ex.check_scale_only_annotations.verdict(answer).passed


def _ols(x, y):
    return least_squares_scale_shift(x, y, np.ones(x.shape, bool))


@pytest.mark.parametrize("answer, hint", [
    (blank, BLANK_HINT),
    (lambda p, q, m: _ols(p, q), "you fitted every pixel"),
    (lambda p, q, m: tuple(np.polyfit(q[m], p[m], 1)), "you fitted the target to the prediction"),
    (lambda p, q, m: least_squares_scale_shift(p, q, m)[::-1], "you returned (t, s)"),
    (lambda p, q, m: (np.sum(p[m] * q[m]) / np.sum(p[m] ** 2), 0.0), "you fitted a scale only"),
    (lambda p, q, m: (1.0, 0.0), "differ from the expected ones"),
])
def test_scale_shift_mistakes(answer, hint):
    _fails_with(ex.check_least_squares_scale_shift, answer, hint)


def test_scale_shift_solution():
    assert ex.check_least_squares_scale_shift.verdict(least_squares_scale_shift).passed
    assert ex.check_least_squares_scale_shift.verdict(lambda p, q, m: tuple(np.polyfit(p[m], q[m], 1))).passed


@pytest.mark.parametrize("answer, hint", [
    (blank, BLANK_HINT),
    (lambda d: (d - np.median(d)) / np.std(d), "standard deviation"),
    (lambda d: (d - d.mean()) / np.mean(np.abs(d - d.mean())), "you subtracted the mean"),
    (lambda d: (d - np.median(d)) / np.median(np.abs(d - np.median(d))), "median absolute deviation"),
    (lambda d: d / np.mean(np.abs(d - np.median(d))), "forgot to subtract the median"),
    (lambda d: np.sort(normalize(d)), "differ from the expected ones"),
])
def test_normalize_mistakes(answer, hint):
    _fails_with(ex.check_median_mad_normalize, answer, hint)


def test_normalize_solution():
    assert ex.check_median_mad_normalize.verdict(normalize).passed


def _trim(p, q, keep=0.8, denominator=None, largest=False, square=False):
    r = np.abs(p - q) ** (2 if square else 1)
    r = np.sort(r)[::-1] if largest else np.sort(r)
    u = round(keep * len(r))
    return r[:u].sum() / (denominator(len(r), u) if denominator else 2 * len(r))


@pytest.mark.parametrize("answer, hint", [
    (blank, BLANK_HINT),
    (lambda p, q: _trim(p, q, denominator=lambda m, u: 2 * u), "you divided by 2 U_m"),
    (lambda p, q: _trim(p, q, denominator=lambda m, u: m), "you forgot the ½"),
    (lambda p, q: _trim(p, q, largest=True), "you kept the largest residuals"),
    (lambda p, q: _trim(p, q, keep=1.0), "nothing was trimmed"),
    (lambda p, q: _trim(p, q, square=True), "not the square"),
    (lambda p, q: np.abs(p - q), "returns shape"),
])
def test_trimmed_loss_mistakes(answer, hint):
    _fails_with(ex.check_trimmed_loss, answer, hint)


def test_trimmed_loss_solution():
    assert ex.check_trimmed_loss.verdict(trimmed_loss).passed


@pytest.mark.parametrize("answer, hint", [(..., BLANK_HINT), (0.095, "counts the BAD pixels"),
                                          (90.5, "not as a percentage"), (-8.5, "is a percentage"),
                                          (0.5, "whose ratio is below it"), ("0.905", "not a str")])
def test_delta1_mistakes(answer, hint):
    _fails_with(ex.check_delta1_from_table, answer, hint)


def test_delta1_solution():
    assert ex.check_delta1_from_table.verdict(1 - 9.5 / 100).passed
