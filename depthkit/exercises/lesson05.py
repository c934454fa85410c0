"""Checks for lesson 05 · Benchmarking (see :mod:`depthkit.exercises` for the protocol).

The from-scratch checks compare the student's function with depthkit's own (:func:`depthkit.bench.fp32_floor_seconds`,
the median of :class:`depthkit.runtime.Timing`, :func:`depthkit.backends.agreement`, :func:`reference_quantize_int8`)
on seeded random input; no check measures anything, so they pass or fail the same way on every CPU and with any
weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backends import agreement
from ..bench import fp32_floor_seconds
from ..runtime import Timing
from . import Mistake, NotYet, call_student, check_value, choice_check, compare_function, exercise_check

__all__ = ["check_agreement", "check_bf16_bits", "check_outlier_levels", "check_quantize_int8", "check_reference_ms",
           "check_reference_not_bound", "check_speedup", "reference_quantize_int8"]


# ------------------------------------------------------------------------------------ exercise 1: the reference time
def reference_ms(flops: float, gflops: float) -> float:
    """depthkit's matmul-speed reference time in milliseconds: ``flops / (gflops * 1e9)`` seconds."""
    return fp32_floor_seconds(flops, gflops) * 1e3


def _flops_inputs(rng: np.random.Generator) -> tuple[float, float]:
    return float(rng.uniform(1e8, 2e10)), float(rng.uniform(20.0, 800.0))


_REFERENCE_MISTAKES = [
    Mistake("that is in seconds; the exercise asks for milliseconds (× 1000).", lambda f, g: reference_ms(f, g) / 1e3),
    Mistake("that is in microseconds; 1 s = 1000 ms.", lambda f, g: reference_ms(f, g) * 1e3),
    Mistake("GFLOP/s means 1e9 FLOP per second: convert gflops to FLOP/s before dividing.",
            lambda f, g: reference_ms(f, g) * 1e9),
    Mistake("count_flops already counts one multiply-add as 2 FLOPs: do not halve the FLOPs.",
            lambda f, g: reference_ms(f, g) / 2),
    Mistake("count_flops already counts one multiply-add as 2 FLOPs: do not double the FLOPs.",
            lambda f, g: reference_ms(f, g) * 2),
    Mistake("time = work / speed: divide the FLOPs by the FLOP/s, do not multiply them.",
            lambda f, g: f * g * 1e9 * 1e3),
]


@exercise_check
def check_reference_ms(student_fn: Any) -> str:
    """Exercise 1: ``reference_ms(flops, gflops)`` against :func:`depthkit.bench.fp32_floor_seconds` in ms."""
    compare_function(student_fn, reference_ms, _flops_inputs, trials=5, seed=6, rtol=1e-6, atol=0.0,
                     mistakes=_REFERENCE_MISTAKES, name="reference_ms")
    return "your reference time matches depthkit.bench.fp32_floor_seconds (in ms) on 5 random inputs."


# --------------------------------------------------------------------------------------------- exercise 2: speed-up
def reference_speedup(eager_s: Sequence[float], backend_s: Sequence[float]) -> float:
    """Speed-up of a backend over eager as :func:`depthkit.bench.compare_backends` reports it: a ratio of medians."""
    return Timing(tuple(eager_s)).median / Timing(tuple(backend_s)).median


def _timing_inputs(rng: np.random.Generator) -> tuple[list[float], list[float]]:
    eager, backend = 0.05 * rng.uniform(0.9, 1.1, 5), 0.05 * rng.uniform(0.4, 0.8) * rng.uniform(0.9, 1.1, 7)
    eager[int(rng.integers(5))] *= 3.0  # another program took the CPU during one run
    backend[int(rng.integers(7))] *= 2.5
    return eager.tolist(), backend.tolist()


_SPEEDUP_MISTAKES = [
    Mistake("that is the backend's time divided by eager's; a speed-up above 1 means faster, so divide the eager "
            "time by the backend time.", lambda e, b: 1 / reference_speedup(e, b)),
    Mistake("use the median: one slow run (another program took the CPU) pulls the mean up.",
            lambda e, b: float(np.mean(e) / np.mean(b))),
    Mistake("the fastest run is optimistic; the lesson reports the median of the runs.",
            lambda e, b: float(np.min(e) / np.min(b))),
    Mistake("a speed-up is a ratio of times, not a difference.",
            lambda e, b: float(np.median(e) - np.median(b))),
    Mistake("that is a percentage saving; give the ratio (2.0 = twice as fast).",
            lambda e, b: 100 * (1 - 1 / reference_speedup(e, b))),
]


@exercise_check
def check_speedup(student_fn: Any) -> str:
    """Exercise 2: ``speedup(eager_s, backend_s)`` against the ratio of :class:`depthkit.runtime.Timing` medians."""
    compare_function(student_fn, reference_speedup, _timing_inputs, trials=5, seed=7, rtol=1e-9, atol=0.0,
                     mistakes=_SPEEDUP_MISTAKES, name="speedup")
    return "your speed-up is the ratio of medians, as in depthkit's backend table."


# -------------------------------------------------------------------------------------------- exercise 3: agreement
def reference_agreement(out: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(Pearson r, max relative error after scale-shift alignment) from :func:`depthkit.backends.agreement`."""
    a = agreement(out, ref)
    return a.pearson_r, a.max_rel_err


def _output_inputs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = int(rng.integers(8, 16)), int(rng.integers(8, 16))
    ref = rng.uniform(0.0, 10.0, (h, w)).astype(np.float32)
    out = rng.uniform(0.5, 3.0) * ref + rng.uniform(-5.0, 5.0) + rng.normal(0.0, 0.3, (h, w))
    return out.astype(np.float32), ref


def _no_alignment(out, ref):
    return reference_agreement(out, ref)[0], float(np.abs(out - ref).max() / np.ptp(ref))


def _over_max(out, ref):
    p, r = out.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    a, b = np.polyfit(p, r, 1)
    return reference_agreement(out, ref)[0], float(np.abs(a * p + b - r).max() / r.max())


def _backwards(out, ref):
    p, r = out.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    a, b = np.polyfit(r, p, 1)  # ref -> out, then inverted
    return reference_agreement(out, ref)[0], float(np.abs((p - b) / a - r).max() / np.ptp(r))


def _mean_error(out, ref):
    p, r = out.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    a, b = np.polyfit(p, r, 1)
    return reference_agreement(out, ref)[0], float(np.abs(a * p + b - r).mean() / np.ptp(r))


_AGREEMENT_MISTAKES = [
    Mistake("align first: fit the scale and shift that map out onto ref (least squares), then measure the error; "
            "MiDaS outputs are only defined up to scale and shift.", _no_alignment),
    Mistake("divide the error by the reference's range (max - min), not by its maximum.", _over_max),
    Mistake("you fitted ref → out and inverted it; fit out → ref (out is the input of the least squares).",
            _backwards),
    Mistake("the agreement reports the LARGEST error after alignment, not the mean.", _mean_error),
    Mistake("that is r²; report Pearson's r itself.", lambda o, r: (reference_agreement(o, r)[0] ** 2,
                                                                     reference_agreement(o, r)[1])),
]


@exercise_check
def check_agreement(student_fn: Any) -> str:
    """Exercise 3: ``agreement_of(out, ref)`` -> (r, max_rel_err) against :func:`depthkit.backends.agreement`."""
    compare_function(student_fn, reference_agreement, _output_inputs, trials=5, seed=8, rtol=1e-6, atol=1e-9,
                     mistakes=_AGREEMENT_MISTAKES, name="agreement_of")
    return "your Pearson r and aligned error match depthkit.backends.agreement on 5 random outputs."


# ------------------------------------------------------------------------- exercise 4: why the reference is no bound
check_reference_not_bound = choice_check(
    "check_reference_not_bound",
    "Exercise 4 (multiple choice): why an fp32 implementation can beat FLOPs / measured matmul speed.",
    "b", "abcd", {
        "a": "it is not a bound: the reference assumes every counted FLOP runs at torch.mm's speed, but a "
             "convolution can need fewer multiplications than counted, and a GEMM can be faster than the one "
             "measured.",
        "c": "noise is handled by the median of several runs; the reason is in how the work is done, not in timing.",
        "d": "the reference and this question are about fp32; nothing switches to bf16 unless you ask for it.",
    }, "Winograd (or FFT) convolutions do fewer multiplications than direct convolution, and a better-tuned GEMM "
       "than the measured torch.mm runs faster: the reference is a yardstick, not a bound.")


# --------------------------------------------------------------------------------------- exercise 5: bf16 precision
@exercise_check
def check_bf16_bits(answer: Any) -> str:
    """Exercise 5: the precision of bfloat16 in bits (8: 7 stored fraction bits plus the implicit leading 1)."""
    mistakes = [
        Mistake("7 bits are stored, but normal numbers also have an implicit leading 1 bit that is not stored: "
                "count it too.", 7),
        Mistake("16 is the size of the whole number (sign, exponent and fraction); precision counts only the "
                "significand bits.", 16),
        Mistake("that is float32's precision (24 bits); bf16 keeps float32's 8-bit exponent but far fewer "
                "significand bits.", 24),
        Mistake("that is float16's (11 bits, 10 stored); bf16 gives up precision for float32's exponent range.", 11),
        Mistake("that is float16's stored fraction (10 bits); bf16 stores fewer.", 10),
    ]
    check_value(answer, 8, rtol=0, atol=1e-9, mistakes=mistakes, name="bf16_bits",
                wrong="count the bits of the significand: the stored fraction bits plus the implicit leading 1.")
    return ("bf16 has 8 bits of precision (7 stored + the implicit 1): about 2–3 significant decimal digits, so "
            "its output must be checked for agreement.")


# ------------------------------------------------------------------------- exercise 6: symmetric int8 from scratch
def _q(values: np.ndarray, scale: float, rounding=np.round) -> np.ndarray:
    """``clip(rounding(values / scale), -127, 127)`` as int8: the reference and the typical mistakes share it."""
    return np.clip(rounding(values / scale), -127, 127).astype(np.int8)


def reference_quantize_int8(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Symmetric per-tensor int8 quantisation: ``scale = max|x| / 127``, ``q = clip(round(x / scale), -127, 127)``.

    Args:
        x: float array of any shape, not all zero.

    Returns:
        (q, scale): ``q`` int8 of ``x``'s shape, and the step ``scale`` (a float, in the units of ``x``);
        ``q * scale`` is within ``scale / 2`` of ``x``.

    Example:
        >>> q, scale = reference_quantize_int8(np.array([-2.0, 0.5, 1.2]))
        >>> q.tolist(), round(scale * 127, 6)
        ([-127, 32, 76], 2.0)
    """
    scale = float(np.abs(x).max()) / 127
    return _q(x, scale), scale


def _activation_inputs(rng: np.random.Generator) -> tuple[np.ndarray]:
    """Activation-like float64 values; the largest magnitude is sometimes negative (max|x| differs from max x)."""
    shape = (int(rng.integers(3, 9)), int(rng.integers(5, 20)))
    x = rng.normal(0.0, rng.uniform(0.1, 5.0), shape) + rng.uniform(-1.0, 1.0)
    return (x if rng.random() < 0.5 else -x,)


_QUANTIZE_MISTAKES = [
    Mistake("use the largest ABSOLUTE value: np.abs(x).max(); here the most negative value is farther from 0 than "
            "the largest, and it must fit in -127 too.", lambda x: (_q(x, x.max() / 127), float(x.max() / 127))),
    Mistake("symmetric int8 uses the levels -127..127, so scale = max|x| / 127 (not 128: +128 does not exist).",
            lambda x: (_q(x, np.abs(x).max() / 128), float(np.abs(x).max() / 128))),
    Mistake("that is the asymmetric (min-max) step over 256 levels; this exercise is symmetric: "
            "scale = max|x| / 127 and no zero point.", lambda x: (_q(x, np.ptp(x) / 255), float(np.ptp(x) / 255))),
    Mistake("round to the nearest level before converting: .astype(np.int8) alone cuts the fraction off "
            "(towards zero).", lambda x: (_q(x, np.abs(x).max() / 127, np.trunc), float(np.abs(x).max() / 127))),
    Mistake("round to the nearest level (np.round), not down (np.floor).",
            lambda x: (_q(x, np.abs(x).max() / 127, np.floor), float(np.abs(x).max() / 127))),
    Mistake("return the int8 values q, not the dequantised q * scale.",
            lambda x: (reference_quantize_int8(x)[0] * reference_quantize_int8(x)[1], reference_quantize_int8(x)[1])),
    Mistake("return (q, scale) in this order: the int8 array first, then the step.",
            lambda x: (reference_quantize_int8(x)[1], reference_quantize_int8(x)[0])),
]


def _int8_array(q: Any) -> np.ndarray:
    """The student's q as a numpy int8 array (torch tensors too), or NotYet with a hint about its type."""
    if hasattr(q, "detach"):
        q = q.detach().cpu().numpy()
    if not isinstance(q, np.ndarray):
        raise NotYet(f"q should be a numpy array, got a {type(q).__name__}.")
    if q.dtype != np.int8:
        raise NotYet(f"q has dtype {q.dtype}; int8 is the point of the exercise: return q.astype(np.int8) "
                     "(after rounding and clipping).")
    return q


@exercise_check
def check_quantize_int8(student_fn: Any) -> str:
    """Exercise 6: ``quantize_int8(x) -> (q, scale)`` against :func:`reference_quantize_int8`, q of dtype int8."""
    compare_function(student_fn, reference_quantize_int8, _activation_inputs, trials=6, seed=9, rtol=1e-9, atol=0.0,
                     mistakes=_QUANTIZE_MISTAKES, name="quantize_int8")
    rng = np.random.default_rng(10)
    for _ in range(3):
        (x,) = _activation_inputs(rng)
        q, scale = call_student(student_fn, x, name="quantize_int8")
        error = float(np.abs(_int8_array(q).astype(np.float64) * float(scale) - x).max())
        if error > float(scale) / 2 * (1 + 1e-9):
            raise NotYet(f"q * scale is up to {error:.3g} away from x, more than half a step ({float(scale) / 2:.3g}).")
    return ("your int8 values and scale match symmetric per-tensor quantisation, and q * scale is within half a step "
            "of x.")


# ------------------------------------------------------------------- exercise 7: how many levels an outlier leaves
#: Exercise 7's numbers: ordinary activations in [-ORDINARY, ORDINARY] and one outlier of magnitude OUTLIER.
ORDINARY, OUTLIER = 1.0, 100.0


def outlier_levels(ordinary: float = ORDINARY, outlier: float = OUTLIER) -> int:
    """Distinct int8 levels the values in [-ordinary, ordinary] use when one outlier sets the symmetric scale."""
    scale = max(ordinary, outlier) / 127
    return 2 * int(np.round(ordinary / scale)) + 1


@exercise_check
def check_outlier_levels(answer: Any) -> str:
    """Exercise 7: the int8 levels left to values in [-1, 1] when one value of 100 sets the scale (3: -1, 0, 1)."""
    scale = OUTLIER / 127
    mistakes = [
        Mistake("255 is how many levels symmetric int8 has (-127..127), but the outlier sets the scale, and the "
                "ordinary values cover only a small part of that range.", 255),
        Mistake("int8 has 256 codes, but the outlier sets the scale, and the ordinary values cover only a small "
                "part of that range.", 256),
        Mistake("count the zero level too: round(x / scale) for x in [-1, 1] gives -1, 0 or 1.", 2),
        Mistake("x = ±1 is ±1.27 steps, which rounds to ±1, not to 0: the extremes keep their own levels.", 1),
        Mistake("that is 1 / scale, the number of steps from 0 to 1 before rounding; count the whole numbers "
                "round(x / scale) can take for x in [-1, 1].", 1 / scale),
        Mistake("that is the step itself (scale = 100 / 127); the question asks how many levels the values in "
                "[-1, 1] can land on.", scale),
    ]
    check_value(answer, outlier_levels(), rtol=1e-3, atol=0.0, mistakes=mistakes, name="levels",
                wrong="compute scale = 100 / 127, then the whole numbers round(x / scale) can be for x in [-1, 1], "
                      "and count them.")
    return ("3 levels (-1, 0, 1) out of 255: one outlier stretched the step to 0.79, and every ordinary value is "
            "rounded to 0 or ±0.79 — this is why a network with outlier activations quantises badly.")
