"""Checks of lesson 02: blank fails, typical mistakes get their own hint, the solution passes."""

import math

import numpy as np
import pytest

from depthkit.exercises import BLANK_HINT
from depthkit.exercises import lesson02 as ex


def blank(*args):
    ...


def network_size(width, height):
    scale = min(256 / width, 256 / height)
    return tuple(max(32, round(scale * side / 32) * 32) for side in (width, height))


def to_depth(inverse_depth, s, t):
    return 1 / (s * inverse_depth + t)


def _fails_with(check, answer, hint, *args):
    verdict = check.verdict(answer, *args)
    assert not verdict.passed and verdict.line.startswith("✗ Not yet: "), verdict.line
    assert hint in verdict.line, verdict.line


def _size(width, height, pick=min, to_multiple=round):
    scale = pick(256 / width, 256 / height)
    return tuple(max(32, int(to_multiple(scale * side / 32)) * 32) for side in (width, height))


@pytest.mark.parametrize("answer, hint", [
    (blank, BLANK_HINT),
    (lambda w, h: network_size(w, h)[::-1], "you returned (height, width)"),
    (lambda w, h: _size(w, h, to_multiple=math.floor), "you rounded down"),
    (lambda w, h: _size(w, h, to_multiple=int), "you rounded down"),  # int() truncates, the same for positives
    (lambda w, h: _size(w, h, pick=max), "you scaled the shorter side"),
    (lambda w, h: (256, 256), "differ from the expected ones"),
])
def test_network_size_mistakes(answer, hint):
    _fails_with(ex.check_network_size, answer, hint)


def test_network_size_solution():
    assert ex.check_network_size.verdict(network_size).passed
    assert ex.check_network_size.verdict(network_size).passed  # the fixed sizes are used again on a second call


@pytest.mark.parametrize("answer, hint", [(..., BLANK_HINT), ((255 - 0.485) / 0.229, "divide the 8-bit value by 255"),
                                          ((1 - 0.485) * 0.229, "you multiplied"), (1 - 0.485, "divide by the std"),
                                          ((1 - 0.456) / 0.224, "green channel"), (1.0, "subtract the red channel")])
def test_white_pixel_mistakes(answer, hint):
    _fails_with(ex.check_white_pixel_red, answer, hint)


def test_white_pixel_solution_matches_prepare():
    import depthkit as dk

    answer = (255 / 255 - 0.485) / 0.229
    assert ex.check_white_pixel_red.verdict(answer).passed
    white = dk.prepare(np.full((64, 64, 3), 255, np.uint8))
    assert float(white[0, 0].mean()) == pytest.approx(answer, rel=1e-5)


N = 21_320_545  # MiDaS_small's parameter count


@pytest.mark.parametrize("answer, hint", [(..., BLANK_HINT), (N / 2**20, "4 bytes"), (N * 32 / 2**20, "counts bits"),
                                          (N * 4 / 1e6, "2**20"), (21.0, "multiply the number of parameters")])
def test_checkpoint_mistakes(answer, hint):
    _fails_with(ex.check_checkpoint_mib, answer, hint, N)


def test_checkpoint_solution():
    verdict = ex.check_checkpoint_mib.verdict(N * 4 / 2**20, N)
    assert verdict.passed and "81.3 MiB" in verdict.line


@pytest.mark.parametrize("answer, hint", [
    (blank, BLANK_HINT),
    (lambda d, s, t: s * d + t, "that is inverse depth"),
    (lambda d, s, t: s / d + t, "first s·d + t"),
    (lambda d, s, t: 1 / d, "1/d is not depth"),
])
def test_to_depth_mistakes(answer, hint):
    _fails_with(ex.check_to_depth, answer, hint)


def test_to_depth_solution():
    assert ex.check_to_depth.verdict(to_depth).passed


@pytest.mark.parametrize("answer, hint", [
    (..., BLANK_HINT),
    (37 * 49, "the class token comes in front"),
    (518 * 686 / 196, "the class token comes in front"),
    (1 + 37 * 37, "the native 518x518 grid"),
    (518 * 686 / 14, "divide each SIDE"),
    (518 * 686, "not one pixel"),
    (1 + (518 // 16) * (686 // 16), "16-pixel patches"),
    (1815, "then add the class token"),
    ("1814", "remove the quotes"),
])
def test_token_count_mistakes(answer, hint):
    _fails_with(ex.check_token_count, answer, hint)


def test_token_count_solution_is_what_the_network_sees():
    import torch

    import depthkit as dk
    from depthkit.depth_anything import DepthAnythingV2Small
    from depthkit.dpt_decoder import layer_shapes

    answer = 1 + (518 // 14) * (686 // 14)
    verdict = ex.check_token_count.verdict(answer)
    assert verdict.passed and verdict.line == "✔ 37 x 49 = 1813 patch tokens + 1 class token = 1814 tokens."
    with torch.device("meta"):
        net = DepthAnythingV2Small()
    tokens = {name: shape for name, _what, shape in layer_shapes(net, 518, 686)}["pretrained.blocks.0"]
    assert tokens == (1, answer, 384)
    photo = np.zeros((480, 640, 3), np.uint8)  # the exercise's 640x480 photo gives this 686x518 input
    assert dk.prepare(photo, "depth_anything_v2_small").shape == (1, 3, 518, 686)
