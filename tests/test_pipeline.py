"""The end-to-end user path: photo bytes -> depth -> colours -> PNG, with the encoder users run."""

import io

import numpy as np
import pytest
from PIL import Image

import depthkit as dk
from depthkit.bench import photo_jpeg
from depthkit.errors import ImageError, InputError
from depthkit.pipeline import photo_to_png


@pytest.fixture(scope="module")
def jpeg():
    return photo_jpeg(dk.samples.load_sample("chelsea"), size=(96, 64))


def test_photo_to_png_round_trip(random_model, jpeg):
    png = photo_to_png(jpeg, random_model, backend="eager")
    with Image.open(io.BytesIO(png)) as im:
        assert (im.format, im.size, im.mode) == ("PNG", (96, 64), "P")  # paletted: one byte per pixel
        heat = np.asarray(im.convert("RGB"))
    expected = dk.colorize(dk.estimate_depth(jpeg, random_model, backend="eager").inverse_depth)
    np.testing.assert_array_equal(heat, expected)  # exactly the RGB heat map of colorize


def test_photo_to_png_uses_the_heatmap_encoder_and_the_backend(random_model, jpeg):
    inv = dk.estimate_depth(jpeg, random_model, backend="eager").inverse_depth
    expected = dk.viz.heatmap_png(inv, cmap="viridis")
    assert photo_to_png(jpeg, random_model, backend="eager", cmap="viridis") == expected  # byte for byte
    onnx = np.asarray(Image.open(io.BytesIO(photo_to_png(jpeg, random_model, backend="onnx"))).convert("RGB"))
    eager = np.asarray(Image.open(io.BytesIO(photo_to_png(jpeg, random_model, backend="eager"))).convert("RGB"))
    assert onnx.shape == eager.shape == (64, 96, 3)
    assert np.abs(onnx.astype(int) - eager.astype(int)).max() <= 2  # same map up to float rounding of the colours


def test_photo_to_png_bad_input(random_model):
    with pytest.raises(ImageError):
        photo_to_png(b"this is not a photo", random_model)
    with pytest.raises(InputError, match="unknown backend 'gpu'"):
        photo_to_png(np.zeros((32, 32, 3), np.uint8), random_model, backend="gpu")
