"""Checks of lesson 05: a blank fails, typical mistakes get their own hint, the solution passes."""

import numpy as np
import pytest

from depthkit.exercises import BLANK_HINT, lesson05


def _line(check, *args):
    verdict = check.verdict(*args)
    return verdict.passed, verdict.line


# ---------------------------------------------------------------------------------------------- reference time
def solution_reference_ms(flops, gflops):
    return flops / (gflops * 1e9) * 1e3


def test_reference_ms_value():
    assert lesson05.reference_ms(9.19e9, 160.0) == pytest.approx(57.4375)


def test_reference_ms_solution_and_blank():
    passed, line = _line(lesson05.check_reference_ms, solution_reference_ms)
    assert passed and line.startswith("✔ "), line

    def reference_ms(flops, gflops):
        ...

    assert _line(lesson05.check_reference_ms, reference_ms) == (False, "✗ Not yet: " + BLANK_HINT)


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda f, g: f / (g * 1e9), "in seconds"),
    (lambda f, g: f / (g * 1e9) * 1e6, "microseconds"),
    (lambda f, g: f / g * 1e3, "GFLOP/s means 1e9 FLOP per second"),
    (lambda f, g: f / 2 / (g * 1e9) * 1e3, "do not halve"),
    (lambda f, g: 2 * f / (g * 1e9) * 1e3, "do not double"),
    (lambda f, g: f * g * 1e9 * 1e3, "do not multiply"),
    (lambda f, g: f / g, "differ from the expected"),
])
def test_reference_ms_mistakes(fn, phrase):
    passed, line = _line(lesson05.check_reference_ms, fn)
    assert not passed and line.startswith("✗ Not yet: ") and phrase in line, line


# --------------------------------------------------------------------------------------------------- speed-up
def solution_speedup(eager_s, backend_s):
    return float(np.median(eager_s) / np.median(backend_s))


def test_speedup_solution_passes_and_blank_fails():
    assert _line(lesson05.check_speedup, solution_speedup)[0]

    def speedup(eager_s, backend_s):
        ...

    assert _line(lesson05.check_speedup, speedup) == (False, "✗ Not yet: " + BLANK_HINT)
    assert lesson05.reference_speedup([0.3, 0.1, 0.2], [0.1, 0.05, 0.5]) == pytest.approx(2.0)


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda e, b: float(np.median(b) / np.median(e)), "divide the eager time by the backend time"),
    (lambda e, b: float(np.mean(e) / np.mean(b)), "use the median"),
    (lambda e, b: float(min(e) / min(b)), "fastest run is optimistic"),
    (lambda e, b: float(np.median(e) - np.median(b)), "not a difference"),
    (lambda e, b: float(100 * (1 - np.median(b) / np.median(e))), "percentage"),
])
def test_speedup_mistakes(fn, phrase):
    passed, line = _line(lesson05.check_speedup, fn)
    assert not passed and phrase in line, line


# -------------------------------------------------------------------------------------------------- agreement
def solution_agreement(out, ref):
    p, r = out.ravel().astype(np.float64), ref.ravel().astype(np.float64)
    scale, shift = np.polyfit(p, r, 1)
    err = np.abs(scale * p + shift - r).max() / (r.max() - r.min())
    return float(np.corrcoef(p, r)[0, 1]), float(err)


def test_agreement_solution_passes_and_blank_fails():
    passed, line = _line(lesson05.check_agreement, solution_agreement)
    assert passed, line

    def agreement_of(out, ref):
        ...

    assert _line(lesson05.check_agreement, agreement_of) == (False, "✗ Not yet: " + BLANK_HINT)


def _r(out, ref):
    return float(np.corrcoef(out.ravel(), ref.ravel())[0, 1])


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda o, r: (_r(o, r), float(np.abs(o - r).max() / np.ptp(r))), "align first"),
    (lambda o, r: (_r(o, r), solution_agreement(o, r)[1] * np.ptp(r) / r.max()), "range (max - min)"),
    (lambda o, r: (_r(o, r) ** 2, solution_agreement(o, r)[1]), "that is r²"),
])
def test_agreement_mistakes(fn, phrase):
    passed, line = _line(lesson05.check_agreement, fn)
    assert not passed and phrase in line, line


def test_agreement_backwards_fit_and_mean_error():
    def backwards(out, ref):
        p, r = out.ravel().astype(np.float64), ref.ravel().astype(np.float64)
        a, b = np.polyfit(r, p, 1)
        return _r(out, ref), float(np.abs((p - b) / a - r).max() / np.ptp(r))

    def mean_error(out, ref):
        p, r = out.ravel().astype(np.float64), ref.ravel().astype(np.float64)
        a, b = np.polyfit(p, r, 1)
        return _r(out, ref), float(np.abs(a * p + b - r).mean() / np.ptp(r))

    assert "fit out → ref" in _line(lesson05.check_agreement, backwards)[1]
    assert "LARGEST error" in _line(lesson05.check_agreement, mean_error)[1]


# -------------------------------------------------------------------------------------------- multiple choice
def test_reference_not_bound():
    assert _line(lesson05.check_reference_not_bound, "b")[0]
    assert _line(lesson05.check_reference_not_bound, ...)[1] == "✗ Not yet: " + BLANK_HINT
    assert "it is not a bound" in _line(lesson05.check_reference_not_bound, "a")[1]
    assert "median of several runs" in _line(lesson05.check_reference_not_bound, "c")[1]


@pytest.mark.parametrize(("answer", "phrase"), [
    (7, "implicit leading 1"), (16, "size of the whole number"), (24, "float32's precision"),
    (11, "float16's (11 bits"), (3, "count the bits of the significand"), ("eight", "a number"),
])
def test_bf16_bits_mistakes(answer, phrase):
    passed, line = _line(lesson05.check_bf16_bits, answer)
    assert not passed and phrase in line, line


def test_bf16_bits_right_and_blank():
    assert _line(lesson05.check_bf16_bits, 8)[0]
    assert _line(lesson05.check_bf16_bits, ...) == (False, "✗ Not yet: " + BLANK_HINT)


def test_bf16_fact_holds_in_torch():
    import torch

    info = torch.finfo(torch.bfloat16)
    assert info.bits == 16 and info.eps == 2.0**-7  # 7 stored fraction bits, 8 bits of precision


# ----------------------------------------------------------------------------------------- int8 from scratch
def solution_quantize_int8(x):
    scale = np.abs(x).max() / 127
    q = np.clip(np.round(x / scale), -127, 127).astype(np.int8)
    return q, scale


def test_reference_quantize_int8_values_and_round_trip():
    x = np.array([[-2.0, 0.5], [1.2, 0.0]])
    q, scale = lesson05.reference_quantize_int8(x)
    assert q.dtype == np.int8 and q.shape == (2, 2)
    assert q.tolist() == [[-127, 32], [76, 0]] and scale == pytest.approx(2.0 / 127)
    x = np.random.default_rng(0).normal(0, 3, 1000)
    q, scale = lesson05.reference_quantize_int8(x)
    assert np.abs(q.astype(float) * scale - x).max() <= scale / 2 + 1e-12
    assert int(np.abs(q).max()) == 127  # the largest magnitude lands on the last level


def test_quantize_int8_solution_passes_and_blank_fails():
    passed, line = _line(lesson05.check_quantize_int8, solution_quantize_int8)
    assert passed and line.startswith("✔ "), line

    def quantize_int8(x):
        ...

    assert _line(lesson05.check_quantize_int8, quantize_int8) == (False, "✗ Not yet: " + BLANK_HINT)


def test_quantize_int8_torch_solution_passes():
    import torch

    def quantize_int8(x):
        t = torch.from_numpy(x)
        scale = float(t.abs().max()) / 127
        return torch.clamp(torch.round(t / scale), -127, 127).to(torch.int8), scale

    assert _line(lesson05.check_quantize_int8, quantize_int8)[0]


def _q(x, scale, rounding=np.round):
    return np.clip(rounding(x / scale), -127, 127).astype(np.int8)


@pytest.mark.parametrize(("fn", "phrase"), [
    (lambda x: (_q(x, x.max() / 127), x.max() / 127), "ABSOLUTE value"),
    (lambda x: (_q(x, np.abs(x).max() / 128), np.abs(x).max() / 128), "not 128"),
    (lambda x: (_q(x, np.ptp(x) / 255), np.ptp(x) / 255), "asymmetric"),
    (lambda x: ((x / (np.abs(x).max() / 127)).astype(np.int8), np.abs(x).max() / 127), "cuts the fraction off"),
    (lambda x: (_q(x, np.abs(x).max() / 127, np.floor), np.abs(x).max() / 127), "not down (np.floor)"),
    (lambda x: (solution_quantize_int8(x)[0] * solution_quantize_int8(x)[1], solution_quantize_int8(x)[1]),
     "not the dequantised"),
    (lambda x: solution_quantize_int8(x)[::-1], "in this order"),
    (lambda x: (np.round(x / (np.abs(x).max() / 127)), np.abs(x).max() / 127), "dtype float64"),
    (lambda x: (solution_quantize_int8(x)[0].tolist(), solution_quantize_int8(x)[1]), "numpy array"),
    (lambda x: solution_quantize_int8(x)[0], "should return 2 values"),
    (lambda x: (_q(x, np.abs(x).max() / 100), np.abs(x).max() / 100), "differ from the expected"),
])
def test_quantize_int8_mistakes(fn, phrase):
    passed, line = _line(lesson05.check_quantize_int8, fn)
    assert not passed and line.startswith("✗ Not yet: ") and phrase in line, line


def test_quantize_int8_wrong_scale_with_right_q_fails():
    # the right int8 values with a wrong step would break the round trip q * scale ≈ x: the scale is compared too
    def lying_scale(x):
        q, scale = solution_quantize_int8(x)
        return q, scale * 1.5

    passed, line = _line(lesson05.check_quantize_int8, lying_scale)
    assert not passed and "value 2 returned by quantize_int8" in line, line


# ------------------------------------------------------------------------------------ levels left by an outlier
def test_outlier_levels_reference():
    assert lesson05.outlier_levels() == 3  # scale 100/127: values in [-1, 1] land on -1, 0, 1
    assert lesson05.outlier_levels(1.0, 1.0) == 255  # without the outlier every level is in use
    assert lesson05.outlier_levels(1.0, 10.0) == 2 * 13 + 1  # 1 / (10 / 127) = 12.7 -> 13


def test_outlier_levels_right_blank_and_mistakes():
    assert _line(lesson05.check_outlier_levels, 3)[0]
    assert _line(lesson05.check_outlier_levels, ...) == (False, "✗ Not yet: " + BLANK_HINT)
    for answer, phrase in [(255, "outlier sets the scale"), (256, "256 codes"), (2, "zero level"),
                           (1, "extremes keep"), (1.27, "1 / scale"), (0.7874, "the step itself"),
                           (5, "compute scale = 100 / 127"), ("three", "a number")]:
        passed, line = _line(lesson05.check_outlier_levels, answer)
        assert not passed and line.startswith("✗ Not yet: ") and phrase in line, (answer, line)
