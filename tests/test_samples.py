"""Tests for depthkit.samples: the bundled photos and the Middlebury motorcycle stereo sample."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from depthkit import samples
from depthkit.errors import ImageError, InputError
from depthkit.io import read_pfm

EXPECTED_SHAPES = {
    "astronaut": (512, 512, 3),
    "chelsea": (300, 451, 3),
    "coffee": (400, 600, 3),
    "grace_hopper": (600, 512, 3),
    "motorcycle": (500, 741, 3),
    "rocket": (427, 640, 3),
}


@pytest.fixture(scope="module")
def stereo():
    return samples.motorcycle()


def test_list_samples():
    assert samples.list_samples() == sorted(EXPECTED_SHAPES)


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPES))
def test_every_sample_loads(name):
    rgb = samples.load_sample(name)
    assert rgb.shape == EXPECTED_SHAPES[name] and rgb.dtype == np.uint8
    assert rgb.std() > 10  # a real photo, not a blank image
    path = samples.sample_path(name)
    assert path.is_file() and path.parent == samples.samples_dir()
    assert path.stat().st_size < 1_000_000


def test_committed_files_are_small():
    files = [p for p in samples.samples_dir().iterdir() if p.is_file()]
    assert len(files) >= 10
    assert all(p.stat().st_size < 2_000_000 for p in files), [(p.name, p.stat().st_size) for p in files]


def test_names_are_forgiving_about_case_and_dashes():
    assert samples.sample_path("Grace-Hopper") == samples.sample_path("grace_hopper")


@pytest.mark.parametrize("name", ["cat", "", 3, None])
def test_unknown_name_lists_valid_names(name):
    with pytest.raises(InputError, match=r"Unknown sample .*; choose one of: astronaut, chelsea, coffee, "
                                         r"grace_hopper, motorcycle, rocket\."):
        samples.load_sample(name)


def test_env_override(tmp_path, monkeypatch):
    shutil.copy(samples.sample_path("chelsea"), tmp_path / "chelsea.jpg")
    monkeypatch.setenv("DEPTHKIT_SAMPLES", str(tmp_path))
    assert samples.samples_dir() == tmp_path
    assert samples.sample_path("chelsea") == tmp_path / "chelsea.jpg"
    assert samples.load_sample("chelsea").shape == (300, 451, 3)
    with pytest.raises(ImageError, match=r"coffee\.jpg' is missing"):
        samples.load_sample("coffee")
    with pytest.raises(ImageError, match=r"motorcycle_calib\.json' is missing"):
        samples.motorcycle()


def test_env_override_to_missing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPTHKIT_SAMPLES", str(tmp_path / "nowhere"))
    with pytest.raises(ImageError, match=r"DEPTHKIT_SAMPLES is set to .*nowhere', which is not a folder"):
        samples.load_sample("chelsea")


def test_missing_package_folder_is_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPTHKIT_SAMPLES", raising=False)
    fake_module = tmp_path / "pkg" / "depthkit" / "samples.py"
    fake_module.parent.mkdir(parents=True)
    monkeypatch.setattr(samples, "__file__", str(fake_module))
    with pytest.raises(ImageError, match=r"sample folder was not found .*set DEPTHKIT_SAMPLES"):
        samples.samples_dir()


def test_motorcycle_arrays(stereo):
    assert stereo.left.shape == stereo.right.shape == (500, 741, 3)
    assert stereo.left.dtype == stereo.right.dtype == np.uint8
    assert stereo.disparity_px.shape == stereo.shape == (500, 741)
    assert stereo.disparity_px.dtype == np.float32
    assert not np.isnan(stereo.disparity_px).any()
    assert (stereo.disparity_px == np.inf).sum() == 27226
    np.testing.assert_array_equal(stereo.valid, np.isfinite(stereo.disparity_px))


def test_motorcycle_matches_scikit_image_exactly(stereo):
    import skimage.data as skdata  # a dev dependency (pyproject [dev])
    left, right, disparity = skdata.stereo_motorcycle()
    np.testing.assert_array_equal(stereo.left, left)
    np.testing.assert_array_equal(stereo.right, right)
    np.testing.assert_array_equal(stereo.disparity_px, disparity)  # bit-exact, inf included


def test_motorcycle_calibration_is_the_quarter_size_one(stereo):
    calib = json.loads((samples.samples_dir() / "motorcycle_calib.json").read_text())
    full = calib["original_full_size"]
    assert (calib["width"], calib["height"]) == (full["width"] / 4, full["height"] / 4) == (741, 500)
    assert stereo.focal_px == pytest.approx(full["focal_px"] / 4, abs=5e-4) == 994.978
    assert stereo.doffs_px == pytest.approx(full["doffs_px"] / 4, abs=5e-4) == 31.086
    assert stereo.baseline_m == pytest.approx(0.193001)
    assert stereo.doffs_px == pytest.approx(calib["cx1_px"] - calib["cx0_px"], abs=1e-3)


def test_disparity_is_in_pixels_of_the_shipped_images(stereo):
    # Warping the right view by the disparity reproduces the left view far better than any rescaled disparity.
    height, width = stereo.shape
    rows, cols = np.mgrid[0:height, 0:width]
    disparity = np.where(stereo.valid, stereo.disparity_px, 0.0)
    left, right = stereo.left.astype(np.float32), stereo.right.astype(np.float32)

    def error(scale):
        source = np.rint(cols - scale * disparity).astype(int)
        ok = stereo.valid & (source >= 0) & (source < width)
        return np.abs(left[rows[ok], cols[ok]] - right[rows[ok], source[ok]]).mean()

    assert error(1.0) < 0.5 * min(error(0.5), error(2.0), error(4.0))


def test_motorcycle_depth(stereo):
    depth = stereo.depth_m
    assert depth.shape == (500, 741) and depth.dtype == np.float32
    valid = stereo.valid
    assert np.isinf(depth[~valid]).all() and (depth[~valid] > 0).all()
    assert 1.5 < depth[valid].min() < depth[valid].max() < 6.0  # metres: about 2.1 m to 5.0 m
    for y, x in [(250, 370), (100, 600), (450, 120), tuple(np.argwhere(valid)[0])]:
        d = float(stereo.disparity_px[y, x])
        assert np.isfinite(d)
        assert depth[y, x] == pytest.approx(0.193001 * 994.978 / (d + 31.086), rel=1e-6)
    nearest = np.unravel_index(np.argmax(np.where(valid, stereo.disparity_px, -1)), stereo.shape)
    assert depth[nearest] == depth[valid].min()  # largest disparity = nearest point


def test_inverse_depth(stereo):
    inverse = stereo.inverse_depth
    valid = stereo.valid
    np.testing.assert_allclose(inverse[valid], 1.0 / stereo.depth_m[valid], rtol=1e-6)
    assert (inverse[~valid] == 0).all()


def test_disparity_file_keeps_inf():
    raw = read_pfm(samples.samples_dir() / "motorcycle_disparity.pfm")
    assert np.isposinf(raw).sum() == 27226 and not np.isnan(raw).any()


def test_stereo_sample_is_frozen_and_validated(stereo):
    with pytest.raises(dataclasses.FrozenInstanceError):
        stereo.focal_px = 1.0
    with pytest.raises(InputError, match=r"views must both be \(500, 741, 3\)"):
        samples.StereoSample(stereo.left[:10], stereo.right, stereo.disparity_px, 994.978, 0.193, 31.086)
    with pytest.raises(InputError, match="focal_px must be a positive number"):
        samples.StereoSample(stereo.left, stereo.right, stereo.disparity_px, 0.0, 0.193, 31.086)
    small = samples.StereoSample(
        np.zeros((1, 3, 3), np.uint8), np.zeros((1, 3, 3), np.uint8),
        np.array([[10.0, np.inf, -40.0]], np.float32), focal_px=100.0, baseline_m=0.5, doffs_px=30.0,
    )
    # d + doffs <= 0 gives no positive depth: treated as invalid.
    assert small.valid.tolist() == [[True, False, False]]
    assert small.depth_m.tolist() == [[pytest.approx(0.5 * 100.0 / 40.0), np.inf, np.inf]]


def test_check_name_is_public_and_canonical():
    assert samples.check_name(" Grace-Hopper ") == "grace_hopper"
    assert samples.check_name("MOTORCYCLE") == "motorcycle"
    for bad in ("nope", None, 3):
        with pytest.raises(InputError, match=r"Unknown sample .*; choose one of: astronaut, chelsea, coffee"):
            samples.check_name(bad)
