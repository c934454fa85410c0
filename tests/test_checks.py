"""Tests for depthkit.checks: each check returns the converted value or raises one clear sentence."""

import re

import numpy as np
import pytest
import torch

from depthkit import checks
from depthkit.errors import ImageError, InputError


# ------------------------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("value", [1, 2.5, np.float32(3), np.int64(4)])
def test_is_number_accepts_real_numbers(value):
    assert checks.is_number(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), "1", None, [1], 1j])
def test_is_number_refuses_bool_text_and_containers(value):
    assert not checks.is_number(value)


def test_check_finite_number_returns_float_and_names_the_unit():
    assert checks.check_finite_number(np.int32(-3), "doffs_px") == -3.0
    assert isinstance(checks.check_finite_number(2, "x"), float)
    with pytest.raises(InputError, match=r"^doffs_px must be a finite number of pixels, got nan; use 0.0 if unsure\.$"):
        checks.check_finite_number(float("nan"), "doffs_px", unit="of pixels", hint="use 0.0 if unsure")
    with pytest.raises(InputError, match=r"^scale must be a finite number, got True\.$"):
        checks.check_finite_number(True, "scale")


def test_check_positive_refuses_zero_negative_and_inf():
    assert checks.check_positive(0.5, "baseline_m") == 0.5
    with pytest.raises(InputError, match=r"^baseline_m must be a positive finite number, got -0.2\.$"):
        checks.check_positive(-0.2, "baseline_m")
    with pytest.raises(InputError, match=r"^max_depth must be a positive finite number in the units of gt, got 0\.$"):
        checks.check_positive(0, "max_depth", unit="in the units of gt")
    with pytest.raises(InputError, match="got inf"):
        checks.check_positive(float("inf"), "x")


def test_check_positive_allow_zero_says_non_negative():
    assert checks.check_positive(0, "alpha", allow_zero=True) == 0.0
    with pytest.raises(InputError, match=r"^alpha must be a non-negative finite number, got -1; MiDaS uses 0.5\.$"):
        checks.check_positive(-1, "alpha", allow_zero=True, hint="MiDaS uses 0.5")
    with pytest.raises(InputError, match=r"^alpha must be a non-negative number, got -1; MiDaS uses 0.5\.$"):
        checks.check_positive(-1, "alpha", allow_zero=True, what="a non-negative number", hint="MiDaS uses 0.5")


def test_check_int_bounds_and_messages():
    assert checks.check_int(np.int64(3), "repeats", minimum=1) == 3
    assert type(checks.check_int(np.int64(3), "repeats")) is int
    with pytest.raises(InputError, match=r"^repeats must be an integer >= 1, got 0\.$"):
        checks.check_int(0, "repeats", minimum=1)
    with pytest.raises(InputError, match=r"^n_objects must be an integer between 0 and 50, got 51\.$"):
        checks.check_int(51, "n_objects", minimum=0, maximum=50)
    with pytest.raises(InputError, match=r"^k must be an integer <= 2, got 3\.$"):
        checks.check_int(3, "k", maximum=2)
    with pytest.raises(InputError, match=r"^seed must be an integer, got 1.0\.$"):
        checks.check_int(1.0, "seed")
    with pytest.raises(InputError, match=r"^seed must be an integer, got True\.$"):
        checks.check_int(True, "seed")


def test_check_positive_int():
    assert checks.check_positive_int(4, "scales") == 4
    with pytest.raises(InputError, match=r"^scales must be a positive integer, got 0; MiDaS uses scales=4\.$"):
        checks.check_positive_int(0, "scales", hint="MiDaS uses scales=4")
    for bad in (True, 2.0, "3", None):
        with pytest.raises(InputError, match="must be a positive integer"):
            checks.check_positive_int(bad, "n")


@pytest.mark.parametrize(
    ("closed", "inside", "outside", "interval"),
    [
        ("both", [0.0, 1.0], [-0.1, 1.1], "[0, 1]"),
        ("left", [0.0, 0.99], [1.0], "[0, 1)"),
        ("right", [1.0, 0.01], [0.0], "(0, 1]"),
        ("neither", [0.5], [0.0, 1.0], "(0, 1)"),
    ],
)
def test_check_range_respects_which_ends_are_closed(closed, inside, outside, interval):
    for v in inside:
        assert checks.check_range(v, "trim", 0, 1, closed=closed) == v
    for v in outside:
        with pytest.raises(InputError, match="^" + re.escape(f"trim must be in {interval}, got {v!r}.") + "$"):
            checks.check_range(v, "trim", 0, 1, closed=closed)


def test_check_range_refuses_nan_and_text_and_adds_unit_and_hint():
    with pytest.raises(InputError, match="got nan"):
        checks.check_range(float("nan"), "x", 0, 1)
    with pytest.raises(InputError, match=r"^threshold must be in \[0, 1\] \(normalised inverse depth\), got '1'; "
                                         r"use 0.5\.$"):
        checks.check_range("1", "threshold", 0, 1, unit="(normalised inverse depth)", hint="use 0.5")
    with pytest.raises(InputError, match=r"^trim must be a fraction in \[0, 1\), got 1.0; drop 20 %\.$"):
        checks.check_range(1.0, "trim", 0, 1, closed="left", what="a fraction", hint="drop 20 %")
    with pytest.raises(InputError, match="closed must be"):
        checks.check_range(0.5, "x", 0, 1, closed="open")


def test_check_vrange_and_percentiles():
    assert checks.check_vrange((0, 2)) == (0.0, 2.0)
    with pytest.raises(InputError, match=r"^vrange must be a pair \(lo, hi\) of numbers, got 3\.$"):
        checks.check_vrange(3)
    with pytest.raises(InputError, match="vrange must be finite with lo < hi, got \\(2, 1\\); use shared_range"):
        checks.check_vrange((2, 1))
    with pytest.raises(InputError, match="must be finite"):
        checks.check_vrange((0, float("inf")))
    assert checks.check_percentiles([2, 98]) == (2.0, 98.0)
    with pytest.raises(InputError, match=r"percentiles must be a pair \(low, high\) such as \(2, 98\), got 'ab'\."):
        checks.check_percentiles("ab")
    with pytest.raises(InputError, match=r"percentiles must satisfy 0 <= low < high <= 100, got \(0, 101\)\."):
        checks.check_percentiles((0, 101))


# ------------------------------------------------------------------------------------------ choices, types
def test_format_choices():
    assert checks.format_choices(["a"]) == "'a'"
    assert checks.format_choices(("a", "b")) == "'a' or 'b'"
    assert checks.format_choices(("a", "b", None)) == "'a', 'b' or None"


def test_check_choice_returns_value_or_lists_the_choices():
    assert checks.check_choice("depth", "align", ("disparity", "depth")) == "depth"
    with pytest.raises(InputError, match=r"^align must be 'disparity' or 'depth', got 'log'\.$"):
        checks.check_choice("log", "align", ("disparity", "depth"))
    with pytest.raises(InputError, match=r"^kind must be 'a', 'b' or 'c', got \['a'\]; pick one\.$"):
        checks.check_choice(["a"], "kind", ("a", "b", "c"), hint="pick one")
    with pytest.raises(InputError, match="got \\['a'\\]"):
        checks.check_choice(["a"], "kind", frozenset({"a"}))  # unhashable against a set: a clean error


def test_check_type():
    cam = object()
    assert checks.check_type(cam, "camera", object, "an object") is cam
    with pytest.raises(InputError, match=r"^camera must be a depthkit.synthetic.Camera, got int\.$"):
        checks.check_type(3, "camera", (str, float), "a depthkit.synthetic.Camera")


# ------------------------------------------------------------------------------------------------- arrays
def test_as_array_converts_and_refuses_text_scalars_and_empties():
    arr = checks.as_array([1, 2], "pred")
    assert arr.dtype == np.float64
    np.testing.assert_array_equal(arr, [1.0, 2.0])
    assert checks.as_array(3, "gt", allow_scalar=True).shape == ()
    assert checks.as_array([], "gt", allow_empty=True).shape == (0,)
    with pytest.raises(InputError, match="pred must be an array of numbers, got str"):
        checks.as_array("abc", "pred")
    with pytest.raises(InputError, match=r"gt must be a non-empty array, got shape \(\)"):
        checks.as_array(3, "gt")
    with pytest.raises(InputError, match=r"gt must be a non-empty array, got shape \(0,\)"):
        checks.as_array([], "gt")


def test_check_ndim_and_finite():
    x = np.zeros((2, 3))
    assert checks.check_ndim(x, "inverse_depth", 2, "(H, W)") is x
    with pytest.raises(InputError, match=r"^d must be a 2-D array \(H, W\), got shape \(3,\); pass one map\.$"):
        checks.check_ndim(np.zeros(3), "d", 2, "(H, W)", hint="pass one map")
    with pytest.raises(InputError, match=r"got shape \(1, 2, 3\)"):  # tensors print as tuples, not torch.Size
        checks.check_ndim(torch.zeros(1, 2, 3), "t", 2, "(H, W)")
    assert checks.check_finite(x, "x") is x
    with pytest.raises(InputError, match=r"^d contains NaN or inf; pass the raw finite model output\.$"):
        checks.check_finite(np.array([1.0, np.inf]), "d")


def test_as_map_squeezes_a_batch_of_one_and_keeps_float32_without_copy():
    m = np.ones((4, 5), np.float32)
    assert checks.as_map(m) is m
    out = checks.as_map(np.ones((1, 4, 5), np.float64))
    assert out.shape == (4, 5) and out.dtype == np.float32
    assert checks.as_map([[True, False]]).dtype == np.float32
    assert np.isnan(checks.as_map([[np.nan, 1.0]])[0, 0])  # NaN marks an invalid pixel unless finite=True


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, r"^inverse_depth is None; pass a \(H, W\) array of numbers\.$"),
        (np.array([["a"]]), r"must be a numeric array, got dtype <U1; pass a \(H, W\) float array\.$"),
        (np.zeros(3), r"must be a 2-D array \(H, W\), got shape \(3,\); pass a single depth map\.$"),
        (np.zeros((0, 3)), r"is empty \(shape \(0, 3\)\); pass a non-empty \(H, W\) depth map\.$"),
    ],
)
def test_as_map_messages(value, message):
    with pytest.raises(InputError, match=message):
        checks.as_map(value)


def test_as_map_finite_option():
    with pytest.raises(InputError, match=r"^depth contains NaN or inf"):
        checks.as_map([[np.nan, 1.0]], "depth", finite=True)


def test_as_image_returns_contiguous_uint8_or_raises_image_error():
    img = np.zeros((4, 6, 3), np.uint8)
    assert checks.as_image(img) is img
    view = np.zeros((4, 6, 3), np.uint8)[:, ::2]
    out = checks.as_image(view)
    assert out.flags.c_contiguous and out.shape == (4, 3, 3)
    with pytest.raises(ImageError, match=r"^image is None"):
        checks.as_image(None)
    with pytest.raises(ImageError, match=r"^frame must be a \(H, W, 3\) RGB array, got shape \(4, 6\); convert"):
        checks.as_image(np.zeros((4, 6), np.uint8), "frame")
    with pytest.raises(ImageError, match=r"must have dtype uint8 \(0-255\), got float32; convert with np.clip"):
        checks.as_image(np.zeros((4, 6, 3), np.float32))
    with pytest.raises(ImageError, match=r"is empty \(shape \(0, 6, 3\)\)"):
        checks.as_image(np.zeros((0, 6, 3), np.uint8))


def test_as_mask():
    mask = checks.as_mask(np.array([True, False]), (2,))
    assert mask.dtype == np.bool_
    with pytest.raises(InputError, match=r"mask must be a bool array, got dtype int64; build it with a comparison "
                                         r"such as gt > 0\.$"):
        checks.as_mask(np.array([1, 0], np.int64), (2,))
    with pytest.raises(InputError, match=r"^valid has shape \(2,\) but target has shape \(3,\); pass one mask value"):
        checks.as_mask(np.array([True, False]), (3,), name="valid", like="target")


def test_check_same_shape_on_arrays_and_tensors():
    checks.check_same_shape(np.zeros((2, 3)), torch.zeros(2, 3), ("pred", "gt"))
    with pytest.raises(InputError, match=r"^pred has shape \(3,\) but gt has shape \(2,\); resize the prediction to "
                                         r"the ground-truth resolution first\.$"):
        checks.check_same_shape(np.zeros(3), np.zeros(2), ("pred", "gt"))
    with pytest.raises(InputError, match=r"^pred has shape \(2, 4, 4\) but target has shape \(2, 4, 5\); resize"):
        checks.check_same_shape(torch.zeros(2, 4, 4), torch.zeros(2, 4, 5), ("pred", "target"),
                                hint="resize the prediction to the target resolution first")


def test_check_same_size():
    checks.check_same_size(np.zeros((4, 5, 3)), np.zeros((4, 5)))
    with pytest.raises(InputError, match=r"^image is 4x5 but depth_m is 4x6; resize the depth map to the image size"):
        checks.check_same_size(np.zeros((4, 5, 3)), np.zeros((4, 6)), "depth_m")


def test_as_size():
    assert checks.as_size(16) == (16, 16)
    assert checks.as_size((np.int64(3), 4.0)) == (3, 4)
    with pytest.raises(InputError, match=r"^size must be an int or a pair \(height, width\) in px, got 'x'; pass"):
        checks.as_size("x")
    with pytest.raises(InputError, match=r"^size must be between 2 and 4096 px per side, got \(1, 10\)"):
        checks.as_size((1, 10))
    with pytest.raises(InputError, match=r"^width must be between 8 and 741 px per side, got \(800, 800\)"):
        checks.as_size(800, "width", minimum=8, maximum=741)
