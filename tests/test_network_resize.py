"""The official resize rule with its three methods, and its agreement with MiDaS_small's transform."""

import numpy as np
import pytest
import torch

from depthkit import transforms
from depthkit.errors import InputError
from depthkit.network_resize import RESIZE_METHODS, fit_size, resize_normalize, upsample_prediction


@pytest.mark.parametrize("method,wh,expected", [
    ("upper_bound", (640, 480), (256, 192)), ("upper_bound", (1920, 1080), (256, 128)),
    ("lower_bound", (640, 480), (686, 518)), ("lower_bound", (300, 200), (784, 518)),
    ("minimal", (640, 480), (512, 384)), ("minimal", (300, 200), (384, 256)),
])
def test_fit_size_examples(method, wh, expected):
    size, multiple = {"upper_bound": (256, 32), "lower_bound": (518, 14), "minimal": (384, 32)}[method]
    assert fit_size(*wh, size=size, multiple=multiple, method=method) == expected


def test_upper_bound_is_midas_small_network_size_on_many_photo_sizes():
    rng = np.random.default_rng(0)
    for w, h in rng.integers(1, 6000, size=(300, 2)):
        w, h = int(w), int(h)
        assert fit_size(w, h, size=256, multiple=32, method="upper_bound") == transforms.network_size(w, h)


@pytest.mark.parametrize("method", RESIZE_METHODS)
def test_sizes_are_multiples_and_respect_the_bound(method):
    rng = np.random.default_rng(3)
    for w, h in rng.integers(1, 6000, size=(200, 2)):
        nw, nh = fit_size(int(w), int(h), size=384, multiple=32, method=method)
        assert nw % 32 == 0 and nh % 32 == 0 and nw >= 32 and nh >= 32
        if method == "upper_bound":
            assert max(nw, nh) <= 384
        if method == "lower_bound":
            assert min(nw, nh) >= 384


def test_resize_normalize_equals_midas_small_prepare_array():
    photo = np.random.default_rng(0).integers(0, 256, size=(123, 301, 3), dtype=np.uint8)
    net = transforms.network_size(301, 123)
    mine = resize_normalize(photo, net, transforms.IMAGENET_MEAN, transforms.IMAGENET_STD)
    np.testing.assert_array_equal(mine, transforms.prepare_array(photo))


def _official_resize_normalize(image, net_size, mean, std):
    """The official float64 steps written out: /255, cv2 INTER_CUBIC, (x - mean) / std, CHW, float32."""
    import cv2

    x = image.astype(np.float64) / 255.0
    x = cv2.resize(x, net_size, interpolation=cv2.INTER_CUBIC)
    x = (x - np.asarray(mean, np.float64)) / np.asarray(std, np.float64)
    return np.ascontiguousarray(x.transpose(2, 0, 1)).astype(np.float32)


@pytest.mark.parametrize("hw, net, mean, std", [
    ((480, 640), (256, 192), transforms.IMAGENET_MEAN, transforms.IMAGENET_STD),  # downscale
    ((37, 50), (64, 32), transforms.IMAGENET_MEAN, transforms.IMAGENET_STD),  # upscale one side, shrink the other
    ((480, 640), (518, 392), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # Depth Anything / DPT normalisation
    ((1, 1), (32, 32), (0.1, 0.2, 0.3), (0.9, 0.8, 0.7)),
])
def test_resize_normalize_is_bit_exact_to_the_official_float64_steps(hw, net, mean, std):
    photo = np.random.default_rng(hw[1]).integers(0, 256, size=(*hw, 3), dtype=np.uint8)
    mine = resize_normalize(photo, net, mean, std)
    assert mine.dtype == np.float32 and mine.shape == (3, net[1], net[0]) and mine.flags.c_contiguous
    np.testing.assert_array_equal(mine, _official_resize_normalize(photo, net, mean, std))


def test_upsample_prediction_uses_the_given_interpolation():
    pred = torch.rand(2, 5, 7, generator=torch.Generator().manual_seed(0))
    cubic = upsample_prediction(pred, (10, 14), mode="bicubic", align_corners=False)
    linear = upsample_prediction(pred, (10, 14), mode="bilinear", align_corners=True)
    assert cubic.shape == linear.shape == (2, 10, 14)
    assert torch.equal(linear[:, 0, 0], pred[:, 0, 0]) and not torch.equal(cubic[:, 0, 0], pred[:, 0, 0])
    with pytest.raises(InputError, match="mode must be 'bicubic' or 'bilinear', got 'nearest'"):
        upsample_prediction(pred, (10, 14), mode="nearest", align_corners=False)


def test_bad_arguments_raise_one_sentence():
    with pytest.raises(InputError, match="method must be 'upper_bound', 'lower_bound' or 'minimal'"):
        fit_size(640, 480, size=384, multiple=32, method="nearest")
    with pytest.raises(InputError, match="image size must be positive"):
        fit_size(0, 480, size=384, multiple=32, method="minimal")
    with pytest.raises(InputError, match=r"\(H, W, 3\) uint8 RGB"):
        resize_normalize(np.zeros((4, 4), np.uint8), (32, 32), (0.5,) * 3, (0.5,) * 3)
