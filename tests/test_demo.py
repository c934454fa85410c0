"""Tests for depthkit.demo: the picture and depth map a lesson works on (moved from test_viz.py)."""

import math

import numpy as np
import pytest

from depthkit import demo as dm
from depthkit.errors import InputError


def test_demo_depth_without_pretrained_weights_is_the_motorcycle_ground_truth():
    from depthkit import samples

    stereo = samples.motorcycle()
    demo = dm.demo_depth(None, fill=False)
    assert demo.ground_truth and demo.name == "motorcycle"
    assert "GROUND-TRUTH" in demo.description and "NOT a MiDaS prediction" in demo.description
    valid = stereo.valid
    np.testing.assert_array_equal(demo.valid, valid)
    np.testing.assert_array_equal(demo.image, stereo.left)
    np.testing.assert_allclose(demo.inverse_depth[valid], 1.0 / stereo.depth_m[valid], rtol=1e-6)
    assert (demo.inverse_depth[~valid] == 0).all() and np.isinf(demo.depth_m[~valid]).all()
    np.testing.assert_array_equal(demo.ground_truth_m, stereo.depth_m)
    assert demo.fov_deg == pytest.approx(math.degrees(2 * math.atan(741 / 2 / 994.978)))


def test_demo_depth_fills_and_shrinks():
    demo = dm.demo_depth(None, name="coffee", max_width=100)
    assert "instead of 'coffee'" in demo.description and "filled" in demo.description
    assert demo.image.shape == (67, 100, 3) and demo.inverse_depth.shape == (67, 100)
    assert np.isfinite(demo.inverse_depth).all() and (demo.inverse_depth > 0).all()
    np.testing.assert_allclose(demo.depth_m, 1.0 / demo.inverse_depth, rtol=1e-6)
    measured = demo.valid
    np.testing.assert_allclose(demo.depth_m[measured], demo.ground_truth_m[measured], rtol=1e-6)
    assert demo.depth_m.min() > 2.0 and demo.depth_m.max() < 5.1  # the scene spans about 2.1 ... 5.0 m


def test_demo_depth_errors():
    with pytest.raises(InputError, match="Unknown sample"):
        dm.demo_depth(None, name="nope")
    with pytest.raises(InputError, match="max_width"):
        dm.demo_depth(None, max_width=2)


def test_demo_depth_with_trained_weights_runs_the_model(monkeypatch):
    """A stand-in for a trained model (no torch needed): its "prediction" is an affine function of the true
    inverse depth, as MiDaS's is ideally, so the two-point calibration must recover the metres exactly."""
    import types

    from depthkit import inference
    from depthkit.weights import WeightsInfo

    truth = dm.demo_depth(None, max_width=64)  # ground truth (filled) at the same size
    calls = []

    def fake_estimate_depth(image, model):
        calls.append((image.shape, model))
        if image.shape[:2] == truth.inverse_depth.shape and np.array_equal(image, truth.image):
            return types.SimpleNamespace(inverse_depth=3.0 * truth.inverse_depth + 0.5)
        return types.SimpleNamespace(inverse_depth=image[..., 0].astype(np.float32) / 255.0)

    monkeypatch.setattr(inference, "estimate_depth", fake_estimate_depth)
    model = types.SimpleNamespace(weights_info=WeightsInfo("file", path="trained.pt"))
    coffee = dm.demo_depth(model, name="coffee", max_width=64)
    assert calls == [((43, 64, 3), model)]
    assert not coffee.ground_truth and coffee.depth_m is None and coffee.ground_truth_m is None
    assert coffee.description.startswith("MiDaS_small prediction on 'coffee' (weights from trained.pt")
    np.testing.assert_array_equal(coffee.inverse_depth, coffee.image[..., 0] / np.float32(255.0))
    assert coffee.image.shape == (43, 64, 3) and coffee.valid.all() and coffee.fov_deg is None
    moto = dm.demo_depth(model, name="motorcycle", max_width=64)
    assert "two ground-truth distances" in moto.description and not moto.ground_truth
    np.testing.assert_allclose(moto.depth_m, truth.depth_m, rtol=1e-4)
    np.testing.assert_array_equal(moto.ground_truth_m, truth.ground_truth_m)


def test_calibration_points_are_the_10th_and_90th_percentile_pixels():
    depth = np.arange(1.0, 21.0, dtype=np.float32).reshape(4, 5)  # 20 distinct depths in raster order
    valid = np.ones((4, 5), bool)
    assert dm._calibration_points(depth, valid) == [(2, 0, 3.0), (3, 3, 19.0)]


def test_motorcycle_clip_is_a_window_sliding_over_the_ground_truth():
    clip = dm.motorcycle_clip(5, (40, 60), width=100, fps=8.0)
    truth = dm.demo_depth(None, "motorcycle", max_width=100)
    big_h, big_w = truth.inverse_depth.shape
    top = (big_h - 40) // 2
    assert clip.frames.shape == (5, 40, 60, 3) and clip.inverse_depth.shape == (5, 40, 60)
    assert clip.inverse_depth.dtype == np.float32 and clip.fps == 8.0
    for t, left in enumerate(np.rint(np.linspace(0, big_w - 60, 5)).astype(int)):
        np.testing.assert_array_equal(clip.frames[t], truth.image[top : top + 40, left : left + 60])
        np.testing.assert_array_equal(clip.inverse_depth[t], truth.inverse_depth[top : top + 40, left : left + 60])
    assert left == big_w - 60 and np.all(clip.inverse_depth > 0)  # ends at the right edge; filled, in 1/m
    assert "ground-truth inverse depth in 1/m" in clip.description


def test_motorcycle_clip_rejects_a_window_larger_than_the_photo():
    with pytest.raises(InputError, match="larger than the motorcycle"):
        dm.motorcycle_clip(3, (120, 160), width=100)
    with pytest.raises(InputError, match="n_frames"):
        dm.motorcycle_clip(1)
