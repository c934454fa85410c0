"""Checks for lesson 02 (inference): the official resize rule, the input normalisation, the checkpoint's size,
converting inverse depth to depth and counting a vision transformer's tokens.

Each check prints one line (see :mod:`depthkit.exercises`). None of them depends on the model's weights.
"""

from __future__ import annotations

import math

import numpy as np

from . import Mistake, check_value, compare_function, exercise_check

__all__ = ["check_checkpoint_mib", "check_network_size", "check_to_depth", "check_token_count", "check_white_pixel_red"]


def _network_size(width: int, height: int) -> np.ndarray:
    from ..transforms import network_size

    return np.array(network_size(width, height))


def _rule(width: int, height: int, *, scale_by: str = "longer", to_multiple=round) -> np.ndarray:
    """The resize rule with one part changed: the scale choice or the rounding to a multiple of 32."""
    scale = (min if scale_by == "longer" else max)(256 / width, 256 / height)
    return np.array([max(32, int(to_multiple(scale * side / 32)) * 32) for side in (width, height)])


_FIXED = [(1280, 720), (640, 480), (300, 200), (4032, 3024), (500, 375), (1000, 333)]


def _photo_sizes():
    """``rng -> (width, height)``: the common photo sizes of _FIXED first, then random ones."""
    fixed = list(_FIXED)

    def make(rng: np.random.Generator) -> tuple[int, int]:
        return fixed.pop(0) if fixed else (int(rng.integers(40, 5000)), int(rng.integers(40, 5000)))

    return make


@exercise_check
def check_network_size(student_fn) -> str:
    """Judge ``network_size(width, height) -> (net_width, net_height)`` against depthkit.transforms.network_size."""
    compare_function(student_fn, _network_size, _photo_sizes(), trials=len(_FIXED) + 10, rtol=0, atol=0,
                     name="network_size", mistakes=[
        Mistake("you returned (height, width): return the width first, like the photo size 1280x720.",
                lambda w, h: _network_size(w, h)[::-1]),
        Mistake("you rounded down: the rule rounds to the NEAREST multiple of 32 (halves to even, like round()).",
                lambda w, h: _rule(w, h, to_multiple=math.floor)),
        Mistake("you scaled the shorter side to 256: scale by the LONGER side, so that both sides stay <= 256.",
                lambda w, h: _rule(w, h, scale_by="shorter")),
    ])
    return "network_size follows the official resize rule on 16 photo sizes."


_MEAN_R, _STD_R = 0.485, 0.229  # ImageNet statistics of the red channel (depthkit.transforms)


@exercise_check
def check_white_pixel_red(answer) -> str:
    """The red-channel value of a white pixel in the network input: (255/255 - mean) / std = 2.2489."""
    from ..transforms import IMAGENET_MEAN, IMAGENET_STD

    mean, std = float(IMAGENET_MEAN[0]), float(IMAGENET_STD[0])
    check_value(answer, (1 - mean) / std, rtol=1e-4, name="the red value", mistakes=[
        Mistake("divide the 8-bit value by 255 first: the mean and std are for values in 0…1.", (255 - mean) / std),
        Mistake("you multiplied by the standard deviation: normalisation DIVIDES by it.", (1 - mean) * std),
        Mistake("after subtracting the mean, divide by the std (standard deviation) too.", 1 - mean),
        Mistake("that is the green channel's mean and std: red is the first channel (mean 0.485, std 0.229).",
                (1 - float(IMAGENET_MEAN[1])) / float(IMAGENET_STD[1])),
    ], wrong="divide by 255, subtract the red channel's ImageNet mean, divide by its standard deviation.")
    return f"a white pixel's red value is (1 - {mean}) / {std} = {(1 - mean) / std:.4f}."


@exercise_check
def check_checkpoint_mib(answer, n_parameters: int) -> str:
    """The size in MiB of ``n_parameters`` float32 parameters: n * 4 / 2**20 (about 81 MiB for MiDaS_small)."""
    n = int(n_parameters)
    check_value(answer, n * 4 / 2**20, rtol=2e-3, name="the size", mistakes=[
        Mistake("each float32 parameter takes 4 bytes; you counted one byte per parameter.", n / 2**20),
        Mistake("that counts bits: a float32 has 32 bits = 4 bytes; sizes are given in bytes.", n * 32 / 2**20),
        Mistake("1 MiB is 2**20 = 1,048,576 bytes, not 1,000,000 (that would be MB).", n * 4 / 1e6),
    ], wrong="multiply the number of parameters by the bytes per float32 value, then divide by 2**20.")
    return f"{n:,} float32 parameters take {n * 4 / 2**20:.1f} MiB, about the size of the checkpoint file."


def _to_depth_reference(inverse_depth: np.ndarray, s: float, t: float) -> np.ndarray:
    return 1.0 / (s * inverse_depth + t)


def _relative_map(rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    shape = (int(rng.integers(4, 20)), int(rng.integers(4, 20)))
    return rng.uniform(0.5, 10.0, shape), float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.01, 0.2))


@exercise_check
def check_to_depth(student_fn) -> str:
    """Judge ``to_depth(inverse_depth, s, t) -> depth in metres`` given 1/Z = s·d + t (s in 1/m, t in 1/m)."""
    compare_function(student_fn, _to_depth_reference, _relative_map, trials=5, rtol=1e-6, atol=1e-9,
                     name="to_depth", mistakes=[
        Mistake("that is inverse depth (1/m): depth is its reciprocal, Z = 1 / (s·d + t).",
                lambda d, s, t: s * d + t),
        Mistake("scale and shift apply to the inverse depth: first s·d + t, then take the reciprocal.",
                lambda d, s, t: s / d + t),
        Mistake("1/d is not depth: the prediction has its own scale and shift; undo them before inverting.",
                lambda d, s, t: 1 / d),
    ])
    return "to_depth turns relative inverse depth into metres: Z = 1 / (s·d + t)."


#: Exercise 5's input: a 640x480 photo after Depth Anything V2's resize (518 x 686 px), and the ViT-S/14 patch side.
_TOKEN_INPUT = (518, 686)
_PATCH = 14


@exercise_check
def check_token_count(answer) -> str:
    """Tokens a ViT with 14-px patches sees for a 518 x 686 input: 1 class token + 37 x 49 patch tokens = 1814."""
    (h, w), p = _TOKEN_INPUT, _PATCH
    rows, cols = h // p, w // p
    sixteen = f"that is for 16-pixel patches (ViT-B/16); DINOv2's ViT-S/14 cuts {p}x{p}-pixel patches."
    per_area = f"divide each SIDE by the patch size: (H / {p}) x (W / {p}) patches, not H x W / {p}."
    per_pixel = f"a token is one {p}x{p}-pixel patch, not one pixel."
    check_value(answer, 1 + rows * cols, rtol=0, atol=0, name="the token count", mistakes=[
        Mistake("those are the patch tokens only: the class token comes in front of them, one more.", rows * cols),
        Mistake(f"that is the native 518x518 grid (37 x 37 patches): the width {w} px gives {w} / {p} = {cols} "
                "columns.", 1 + 37 * 37),
        *(Mistake(per_area, v) for v in (h * w / p, 1 + h * w / p)),
        *(Mistake(per_pixel, v) for v in (h * w, 1 + h * w)),
        *(Mistake(sixteen, v) for v in (1 + (h // 16) * (w // 16), (h // 16) * (w // 16), 1 + h * w / 256,
                                        h * w / 256)),
    ], wrong=f"count the patches ({h} / {p} rows times {w} / {p} columns), then add the class token.")
    return f"{rows} x {cols} = {rows * cols} patch tokens + 1 class token = {1 + rows * cols} tokens."
