import numpy as np
import pytest

from depthkit.errors import InputError
from depthkit.transforms import IMAGENET_MEAN, IMAGENET_STD, network_size, prepare, prepare_array


@pytest.mark.parametrize("w,h,expected", [
    (640, 480, (256, 192)),
    (1920, 1080, (256, 128)),   # 144 px -> 4.5 multiples of 32 -> rounds half to even -> 128
    (300, 200, (256, 160)),
    (480, 640, (192, 256)),      # portrait
    (256, 256, (256, 256)),
    (100, 100, (256, 256)),      # small photos are upscaled
    (2000, 100, (256, 32)),      # a side never collapses to 0
])
def test_network_size_examples(w, h, expected):
    assert network_size(w, h) == expected


def test_network_size_always_bounded_multiple_of_32():
    rng = np.random.default_rng(0)
    for w, h in rng.integers(32, 5000, size=(200, 2)):
        nw, nh = network_size(int(w), int(h))
        assert nw % 32 == 0 and nh % 32 == 0
        assert 32 <= nw <= 256 and 32 <= nh <= 256
        assert max(nw, nh) == 256


def test_prepare_shape_dtype_and_layout():
    x = prepare(np.zeros((480, 640, 3), np.uint8))
    assert tuple(x.shape) == (1, 3, 192, 256)
    assert str(x.dtype) == "torch.float32"


def test_constant_image_normalised_exactly():
    # cubic resizing keeps a constant image constant, so each channel must equal (c / 255 - mean) / std
    rgb = np.array([10, 128, 250], np.uint8)
    img = np.broadcast_to(rgb, (200, 300, 3)).copy()
    x = prepare_array(img)
    expected = (rgb / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    assert x.shape == (3, 160, 256)
    np.testing.assert_allclose(x.reshape(3, -1).mean(1), expected, rtol=1e-6)
    np.testing.assert_allclose(x.reshape(3, -1).std(1), 0, atol=1e-5)


def test_channel_order_is_rgb_chw():
    img = np.zeros((64, 64, 3), np.uint8)
    img[..., 0] = 255  # pure red
    x = prepare_array(img)
    np.testing.assert_allclose(x[0].mean(), (1 - 0.485) / 0.229, rtol=1e-6)
    np.testing.assert_allclose(x[1].mean(), (0 - 0.456) / 0.224, rtol=1e-6)


def test_resize_is_cubic_on_float_image():
    import cv2

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    x = prepare_array(img)  # 90x120 -> 192x256
    ref = cv2.resize(img.astype(np.float64) / 255.0, (192, 256), interpolation=cv2.INTER_CUBIC)
    ref = ((ref - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(x, ref)
    # and it is not the nearest or linear resize
    lin = cv2.resize(img.astype(np.float64) / 255.0, (192, 256), interpolation=cv2.INTER_LINEAR)
    assert not np.allclose(x, ((lin - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1), atol=1e-3)


@pytest.mark.parametrize("bad", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), "not an array"])
def test_prepare_array_rejects_bad_input(bad):
    with pytest.raises(InputError, match=r"\(H, W, 3\) uint8"):
        prepare_array(bad)


def test_network_size_rejects_empty():
    with pytest.raises(InputError, match="positive"):
        network_size(0, 10)
