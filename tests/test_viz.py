"""Tests for depthkit.viz: normalisation, colour maps, figures and point clouds."""

import math
import re

import matplotlib
import matplotlib.contour
import matplotlib.figure
import numpy as np
import pytest

from depthkit import viz
from depthkit.errors import ImageError, InputError


def _luminance(rgb):
    rgb = np.asarray(rgb, dtype=np.float64)
    return 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]


def _image(h=6, w=8):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------------ normalize
def test_normalize_minmax_exact_values():
    out = viz.normalize(np.array([[1.0, 2.0], [3.0, 5.0]]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0.0, 0.25], [0.5, 1.0]], np.float32))


def test_normalize_percentile_clips_outliers():
    values = np.arange(101, dtype=np.float32).reshape(1, -1)  # 0..100: percentile p is the value p
    out = viz.normalize(values, mode="percentile", percentiles=(10, 90))
    expected = np.clip((values - 10.0) / 80.0, 0.0, 1.0)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out[0, 0] == 0.0 and out[0, 100] == 1.0 and out[0, 50] == pytest.approx(0.5)


def test_normalize_fixed_vrange_ignores_content():
    a = viz.normalize(np.array([[2.0, 4.0]]), vrange=(0.0, 8.0))
    b = viz.normalize(np.array([[4.0, 100.0]]), vrange=(0.0, 8.0))
    np.testing.assert_array_equal(a, [[0.25, 0.5]])
    np.testing.assert_array_equal(b, [[0.5, 1.0]])  # same value 4.0 -> same output in both "frames"


def test_normalize_non_finite_become_zero_and_are_ignored_for_the_range():
    values = np.array([[np.nan, 1.0, 3.0, np.inf, -np.inf]])
    out = viz.normalize(values)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 1.0, 0.0, 0.0]])


def test_normalize_constant_map_is_all_zero():
    np.testing.assert_array_equal(viz.normalize(np.full((2, 3), 7.0)), np.zeros((2, 3)))


def test_normalize_accepts_batch_of_one():
    out = viz.normalize(np.array([[[0.0, 2.0]]]))
    assert out.shape == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"inverse_depth": np.zeros((2, 3, 4))}, "2-D array"),
        ({"inverse_depth": np.zeros((0, 3))}, "empty"),
        ({"inverse_depth": np.array([["a"]])}, "numeric"),
        ({"inverse_depth": np.zeros((2, 2)), "mode": "robust"}, "mode must be one of"),
        ({"inverse_depth": np.zeros((2, 2)), "vrange": (1.0, 1.0)}, "lo < hi"),
        ({"inverse_depth": np.zeros((2, 2)), "vrange": 3}, "pair"),
        ({"inverse_depth": np.zeros((2, 2)), "mode": "percentile", "percentiles": (50, 10)}, "low < high"),
    ],
)
def test_normalize_rejects_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        viz.normalize(**kwargs)


def test_shared_range_pools_all_frames():
    frames = [np.array([[0.0, 1.0]]), np.array([[3.0, np.inf, 4.0]])]
    assert viz.shared_range(frames, mode="minmax") == (0.0, 4.0)
    lo, hi = viz.shared_range([np.arange(101.0).reshape(1, -1)], percentiles=(10, 90))
    assert (lo, hi) == pytest.approx((10.0, 90.0))


def test_shared_range_errors_and_constant_input():
    assert viz.shared_range([np.full((2, 2), 3.0)]) == (3.0, 4.0)
    with pytest.raises(InputError, match="at least one"):
        viz.shared_range([])
    with pytest.raises(InputError, match="no finite values"):
        viz.shared_range([np.full((2, 2), np.nan)])


# ------------------------------------------------------------------------------------------------- colorize
@pytest.mark.parametrize("cmap", ["inferno", "magma", "viridis", "gray"])
def test_colorize_near_is_bright(cmap):
    inv = np.linspace(0.0, 1.0, 20, dtype=np.float32).reshape(4, 5)
    rgb = viz.colorize(inv, cmap=cmap, mode="minmax")
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    lum = _luminance(rgb)
    assert lum.flat[np.argmax(inv)] > lum.flat[np.argmin(inv)] + 100


def test_colorize_matches_matplotlib_colormap_ends():
    rgb = viz.colorize(np.array([[0.0, 1.0]]), cmap="viridis", mode="minmax")
    cm = matplotlib.colormaps["viridis"]
    np.testing.assert_array_equal(rgb[0, 0], np.round(np.array(cm(0.0)[:3]) * 255))
    np.testing.assert_array_equal(rgb[0, 1], np.round(np.array(cm(1.0)[:3]) * 255))


def test_colorize_accepts_a_colormap_object():
    inv = np.array([[0.0, 0.3, 1.0]])
    by_object = viz.colorize(inv, cmap=matplotlib.colormaps["cividis"], mode="minmax")
    np.testing.assert_array_equal(by_object, viz.colorize(inv, cmap="cividis", mode="minmax"))


def test_colorize_depth_in_metres_is_flipped_so_near_stays_bright():
    depth = np.array([[1.0, 10.0]])
    rgb = viz.colorize(depth, units="m", mode="minmax")
    lum = _luminance(rgb)
    assert lum[0, 0] > lum[0, 1] + 100  # 1 m (near) brighter than 10 m
    inv_rgb = viz.colorize(1.0 / depth, mode="minmax")
    np.testing.assert_array_equal(rgb, inv_rgb)


def test_colorize_non_finite_pixels_get_the_invalid_colour():
    inv = np.array([[0.0, np.nan], [np.inf, 1.0]])
    rgb = viz.colorize(inv, mode="minmax")
    np.testing.assert_array_equal(rgb[0, 1], viz.INVALID_COLOR)
    np.testing.assert_array_equal(rgb[1, 0], viz.INVALID_COLOR)
    rgb2 = viz.colorize(inv, mode="minmax", invalid_color=(0, 255, 0))
    np.testing.assert_array_equal(rgb2[0, 1], (0, 255, 0))


def test_colorize_fixed_vrange_keeps_two_frames_consistent():
    frame1 = np.array([[0.2, 0.5, 0.9]])
    frame2 = np.array([[0.5, 3.0, -1.0]])  # different content and range
    lo, hi = viz.shared_range([frame1, frame2], mode="minmax")
    c1 = viz.colorize(frame1, vrange=(lo, hi))
    c2 = viz.colorize(frame2, vrange=(lo, hi))
    np.testing.assert_array_equal(c1[0, 1], c2[0, 0])  # value 0.5 has one colour in both frames
    free1, free2 = viz.colorize(frame1), viz.colorize(frame2)
    assert not np.array_equal(free1[0, 1], free2[0, 0])  # without the shared range it flickers


def test_colorize_errors():
    with pytest.raises(InputError, match="unknown colour map"):
        viz.colorize(np.zeros((2, 2)), cmap="no_such_map")
    with pytest.raises(InputError, match="units must be"):
        viz.colorize(np.zeros((2, 2)), units="feet")
    with pytest.raises(InputError, match="invalid_color"):
        viz.colorize(np.zeros((2, 2)), invalid_color=(300, 0, 0))


# ------------------------------------------------------------------------------- colour-map levels, heat-map PNG
def _decode_png(data):
    import io

    import cv2
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        by_pil = np.asarray(im.convert("RGB"))
    by_cv2 = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(by_pil, by_cv2)  # two independent decoders agree
    return by_pil


def test_colormap_lut_is_the_colour_map_at_256_levels():
    cm = matplotlib.colormaps["magma"]
    expected = np.round(np.array([cm(i / 255)[:3] for i in range(256)]) * 255).astype(np.uint8)
    lut = viz.colormap_lut("magma")
    np.testing.assert_array_equal(lut, expected)
    assert lut.shape == (256, 3) and not lut.flags.writeable
    np.testing.assert_array_equal(viz.colormap_lut(cm), lut)


def test_colormap_indices_round_half_up_and_flip_metres():
    inv = np.array([[0.0, 0.5 / 255, 0.49 / 255, 1.0, np.nan]], np.float32)
    np.testing.assert_array_equal(viz.colormap_indices(inv, mode="minmax"), [[0, 1, 0, 255, 0]])
    depth = np.array([[1.0, 2.0, 4.0]])
    np.testing.assert_array_equal(viz.colormap_indices(depth, mode="minmax", units="m"), [[255, 170, 0]])


@pytest.mark.parametrize("kwargs", [
    {}, {"cmap": "viridis", "mode": "minmax"}, {"cmap": "gray", "vrange": (-0.5, 0.7)},
    {"units": "m", "percentiles": (5, 95)}, {"cmap": matplotlib.colormaps["cividis"], "mode": "minmax"},
])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (64, 97), (480, 640)])
def test_heatmap_png_decodes_to_exactly_the_colorize_pixels(kwargs, shape):
    rng = np.random.default_rng(shape[1])
    smooth = np.cumsum(rng.standard_normal(shape), axis=1).astype(np.float32) + 50.0  # positive: valid as metres
    data = viz.heatmap_png(smooth, **kwargs)
    assert data[25] == 3  # IHDR colour type 3: paletted, one byte per pixel
    np.testing.assert_array_equal(_decode_png(data), viz.colorize(smooth, **kwargs))


def test_heatmap_png_with_non_finite_pixels_is_the_rgb_image_of_colorize():
    inv = np.array([[0.0, np.nan, 0.5], [np.inf, 1.0, -np.inf]])
    data = viz.heatmap_png(inv, mode="minmax", invalid_color=(0, 255, 0))
    rgb = viz.colorize(inv, mode="minmax", invalid_color=(0, 255, 0))
    np.testing.assert_array_equal(_decode_png(data), rgb)
    np.testing.assert_array_equal(rgb[0, 1], (0, 255, 0))


def test_heatmap_png_levels_and_errors():
    inv = np.repeat(np.linspace(0, 1, 20, dtype=np.float32), 20).reshape(20, 20)  # runs of equal levels
    fast, small = viz.heatmap_png(inv, compress_level=0), viz.heatmap_png(inv, compress_level=9)
    np.testing.assert_array_equal(_decode_png(fast), _decode_png(small))
    assert len(small) < len(fast)
    with pytest.raises(InputError, match="unknown colour map"):
        viz.heatmap_png(inv, cmap="no_such_map")
    with pytest.raises(InputError, match="invalid_color"):
        viz.heatmap_png(inv, invalid_color=(0, 0))
    with pytest.raises(InputError, match="units must be"):
        viz.heatmap_png(inv, units="feet")
    with pytest.raises(InputError, match="compress_level"):
        viz.heatmap_png(inv, compress_level=12)


# -------------------------------------------------------------------------------------------------- figures
def _colorbar_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_show_side_by_side_has_image_depth_and_near_far_colorbar():
    img = _image()
    inv = np.linspace(0, 1, 48).reshape(6, 8)
    fig = viz.show_side_by_side(img, inv)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title() == "image"
    assert fig.axes[1].get_title() == "inverse depth"
    (cbar_ax,) = _colorbar_axes(fig)
    labels = [t.get_text() for t in cbar_ax.get_yticklabels()]
    assert labels == ["far", "near"]
    assert cbar_ax.get_ylabel() == "relative inverse depth"


def test_show_depth_in_metres_labels_the_colorbar_in_metres():
    depth = np.linspace(1, 5, 48).reshape(6, 8)
    depth[0, 0] = np.inf
    fig = viz.show_depth(depth, units="m")
    (cbar_ax,) = _colorbar_axes(fig)
    assert cbar_ax.get_ylabel() == "depth (m)"
    assert {t.get_text() for t in cbar_ax.texts} == {"near", "far"}
    assert fig.axes[0].get_title() == "depth (m)"


def test_show_depth_draws_into_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert viz.show_depth(np.eye(4), ax=ax, title="t") is fig
    assert ax.get_title() == "t"


def test_side_by_side_checks_sizes():
    with pytest.raises(InputError, match="resize"):
        viz.show_side_by_side(_image(6, 8), np.zeros((3, 4)))
    with pytest.raises(ImageError, match=r"\(H, W, 3\)"):
        viz.show_side_by_side(np.zeros((6, 8)), np.zeros((6, 8)))
    with pytest.raises(ImageError, match="uint8"):
        viz.show_side_by_side(np.zeros((6, 8, 3)), np.zeros((6, 8)))


def test_histogram_labels_and_counts_non_finite():
    inv = np.array([[0.0, 1.0, np.nan, 2.0]])
    fig = viz.histogram(inv, bins=4)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "relative inverse depth, larger = nearer"
    assert ax.get_ylabel() == "pixels"
    assert ax.get_title() == "3 finite pixels, 1 non-finite"
    assert sum(p.get_height() for p in ax.patches) == 3
    assert viz.histogram(inv, units="m").axes[0].get_xlabel().startswith("depth (m)")


def test_contour_overlay_draws_requested_levels():
    img = _image(16, 16)
    inv = np.tile(np.linspace(0, 1, 16), (16, 1))
    fig = viz.contour_overlay(img, inv, levels=[0.25, 0.5, 0.75])
    ax = fig.axes[0]
    assert len(ax.images) == 1
    (contours,) = [c for c in ax.get_children() if isinstance(c, matplotlib.contour.ContourSet)]
    np.testing.assert_allclose(contours.levels, [0.25, 0.5, 0.75])
    with pytest.raises(InputError, match="levels"):
        viz.contour_overlay(img, inv, levels=0)


# ---------------------------------------------------------------------------------------------- point cloud
def test_point_cloud_fronto_parallel_plane_matches_field_of_view():
    h, w, z, fov = 30, 40, 2.0, 60.0
    img = _image(h, w)
    points, colors = viz.point_cloud(img, np.full((h, w), z), fov_deg=fov)
    assert points.shape == (h * w, 3) and points.dtype == np.float32
    assert colors.shape == (h * w, 3) and colors.dtype == np.uint8
    np.testing.assert_allclose(points[:, 2], z)
    half_width = math.tan(math.radians(fov / 2)) * z  # x at the image edge
    pixel = 2 * half_width / w  # metres per pixel on the plane
    # outermost pixel centres lie half a pixel inside the edges
    assert points[:, 0].max() == pytest.approx(half_width - pixel / 2, rel=1e-5)
    assert points[:, 0].min() == pytest.approx(-(half_width - pixel / 2), rel=1e-5)
    # square pixels: the vertical extent scales with the height
    assert points[:, 1].max() == pytest.approx(pixel * (h - 1) / 2, rel=1e-5)
    np.testing.assert_array_equal(colors, img.reshape(-1, 3))


def test_point_cloud_x_scales_with_depth_and_drops_invalid():
    depth = np.array([[1.0, 1.0], [np.inf, 4.0]])
    depth_with_invalid = depth.copy()
    depth_with_invalid[0, 0] = -1.0
    points, colors = viz.point_cloud(_image(2, 2), depth_with_invalid, fov_deg=90)
    assert points.shape == (2, 3)  # -1 m and +inf are dropped
    np.testing.assert_allclose(points, [[0.5, -0.5, 1.0], [2.0, 2.0, 4.0]])
    np.testing.assert_array_equal(colors, _image(2, 2)[[0, 1], [1, 1]])


def test_point_cloud_stride_and_errors():
    points, _ = viz.point_cloud(_image(6, 8), np.ones((6, 8)), stride=2)
    assert points.shape == (12, 3)
    with pytest.raises(InputError, match="fov_deg"):
        viz.point_cloud(_image(6, 8), np.ones((6, 8)), fov_deg=180)
    with pytest.raises(InputError, match="stride"):
        viz.point_cloud(_image(6, 8), np.ones((6, 8)), stride=0)


def test_pseudo_depth_is_monotonic_and_bounded():
    inv = np.array([[0.0, 0.5, 1.0, np.nan]])
    depth = viz.pseudo_depth(inv, near_m=1.0, far_m=4.0, mode="minmax")
    np.testing.assert_allclose(depth[0, :3], [4.0, 1.6, 1.0], rtol=1e-6)  # 1 / (0.25 + 0.5 * 0.75) = 1.6
    assert depth[0, 3] == np.inf
    with pytest.raises(InputError, match="near_m < far_m"):
        viz.pseudo_depth(inv, near_m=5.0, far_m=1.0)


@pytest.mark.parametrize("kind", ["scatter", "surface"])
def test_show_3d_has_labelled_3d_axes(kind):
    fig = viz.show_3d(_image(12, 16), np.full((12, 16), 2.0), kind=kind, stride=2)
    (ax,) = fig.axes
    assert ax.name == "3d"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("x (m)", "depth z (m)", "height -y (m)")


def test_show_3d_limits_point_count():
    fig = viz.show_3d(_image(40, 40), np.full((40, 40), 2.0), stride=1, max_points=100)
    (scatter,) = fig.axes[0].collections
    assert len(scatter.get_offsets()) <= 100
    with pytest.raises(InputError, match="kind"):
        viz.show_3d(_image(4, 4), np.ones((4, 4)), kind="mesh")


# ------------------------------------------------------------------------------------------- fill_invalid
def test_fill_invalid_takes_the_farther_neighbour_and_keeps_measurements():
    values = np.array([[5.0, np.nan, 1.0], [5.0, 5.0, 1.0]], np.float32)
    out = viz.fill_invalid(values)
    assert out.dtype == np.float32
    # the hole touches 5 (near) and 1 (far): a stereo hole is background, so it gets the far value 1
    np.testing.assert_array_equal(out, [[5.0, 1.0, 1.0], [5.0, 5.0, 1.0]])


def test_fill_invalid_grows_over_wide_holes_ring_by_ring():
    values = np.array([[2.0, np.inf, np.nan, -np.inf, np.nan, np.nan, 7.0]])
    # each hole pixel gets the value of the measured side it is nearer to; the middle one (a tie) gets the
    # farther value 2
    np.testing.assert_array_equal(viz.fill_invalid(values), [[2.0, 2.0, 2.0, 2.0, 7.0, 7.0, 7.0]])


def test_fill_invalid_uses_the_valid_mask():
    values = np.array([[3.0, 0.0, 4.0]])
    valid = np.array([[True, False, True]])
    np.testing.assert_array_equal(viz.fill_invalid(values, valid), [[3.0, 3.0, 4.0]])
    np.testing.assert_array_equal(viz.fill_invalid(values), values)  # without a mask 0.0 is a measurement


def test_fill_invalid_errors():
    with pytest.raises(InputError, match="no measured"):
        viz.fill_invalid(np.full((2, 2), np.nan))
    with pytest.raises(InputError, match="valid has shape"):
        viz.fill_invalid(np.ones((2, 2)), np.ones((3, 2), bool))


# ------------------------------------------------------------------------------ interactive 3-D (plotly)
def _trace(fig):
    assert len(fig.data) == 1 and fig.data[0].type == "scatter3d" and fig.data[0].mode == "markers"
    tr = fig.data[0]
    return np.column_stack([tr.x, tr.y, tr.z]), tr.marker.color


def _titles(fig):
    scene = fig.layout.scene
    return [scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text]


@pytest.mark.parametrize(("shape", "budget", "stride"), [
    ((30, 40), 10**6, 1), ((30, 40), 1200, 1), ((30, 40), 1199, 2), ((30, 40), 300, 2), ((31, 41), 100, 4),
    ((31, 41), 87, 5),
])
def test_show_point_cloud_keeps_the_point_budget_with_a_regular_stride(shape, budget, stride):
    h, w = shape
    fig = viz.show_point_cloud(_image(h, w), np.full(shape, 2.0), kind="depth", max_points=budget)
    points, _ = _trace(fig)
    assert len(points) == math.ceil(h / stride) * math.ceil(w / stride) <= budget
    assert len(points) > budget or stride == 1 or math.ceil(h / (stride - 1)) * math.ceil(w / (stride - 1)) > budget


def test_show_point_cloud_colours_are_the_photo_at_the_sampled_pixels():
    img = _image(9, 13)
    fig = viz.show_point_cloud(img, np.full((9, 13), 1.5), kind="depth", max_points=30)  # stride 3: 3 x 5 = 15
    _, colors = _trace(fig)
    expected = [f"rgb({r},{g},{b})" for r, g, b in img[::3, ::3].reshape(-1, 3).tolist()]
    assert list(colors) == expected


def test_show_point_cloud_plane_at_2_m_is_the_pinhole_back_projection():
    h, w, fov = 4, 6, 90.0
    fig = viz.show_point_cloud(_image(h, w), np.full((h, w), 2.0), kind="depth", fov_deg=fov)
    points, _ = _trace(fig)
    f = w / (2 * math.tan(math.radians(fov) / 2))  # 3 px
    v, u = np.mgrid[0:h, 0:w]
    np.testing.assert_allclose(points[:, 2], 2.0)
    np.testing.assert_allclose(points[:, 0], ((u - (w - 1) / 2) / f * 2.0).ravel(), atol=1e-6)
    np.testing.assert_allclose(points[:, 1], ((v - (h - 1) / 2) / f * 2.0).ravel(), atol=1e-6)
    assert _titles(fig) == list(viz.METRIC_AXES) and "metres" in fig.layout.title.text


def test_show_point_cloud_relative_inverse_depth_never_claims_metres():
    inv = np.linspace(1.0, 5.0, 48, dtype=np.float32).reshape(6, 8)  # larger = nearer
    fig = viz.show_point_cloud(_image(), inv, far_over_near=4.0)
    points, _ = _trace(fig)
    titles = _titles(fig)
    assert titles[2] == "relative depth (no unit)" and all("(m)" not in t and "no unit" in t for t in titles)
    assert "qualitative" in fig.layout.title.text and "not to scale" in fig.layout.title.text
    np.testing.assert_allclose(points[:, 2], viz.pseudo_depth(inv, near_m=1.0, far_m=4.0).ravel(), rtol=1e-6)
    assert points[:, 2].min() == pytest.approx(1.0) and points[:, 2].max() == pytest.approx(4.0)
    assert points[0, 2] > points[-1, 2]  # smallest inverse depth = farthest


def test_show_point_cloud_calibrated_inverse_depth_is_in_metres():
    from depthkit.calibration import apply_scale_shift, calibrate_from_points

    inv = np.linspace(1.0, 4.0, 48).reshape(6, 8)
    calib = calibrate_from_points(inv, [(0, 0, 1.0), (7, 5, 0.25)])  # 1/Z = d exactly
    points, _ = _trace(viz.show_point_cloud(_image(), inv, calibration=calib))
    np.testing.assert_allclose(points[:, 2], apply_scale_shift(inv, calib.scale, calib.shift).ravel(), rtol=1e-6)
    np.testing.assert_allclose(points[:, 2], 1.0 / inv.ravel(), rtol=1e-5)


def test_show_point_cloud_drops_invalid_pixels():
    depth = np.full((4, 6), 3.0)
    depth[0, 0], depth[1, 2], depth[2, 3] = np.inf, np.nan, -1.0
    points, colors = _trace(viz.show_point_cloud(_image(4, 6), depth, kind="depth"))
    assert len(points) == len(colors) == 21 and np.isfinite(points).all()


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"kind": "disparity"}, InputError, "kind must be"),
    ({"max_points": 0}, InputError, "max_points must be a positive integer"),
    ({"fov_deg": 180.0}, InputError, "fov_deg must be between 0 and 180"),
    ({"far_over_near": 1.0}, InputError, "far_over_near must be greater than 1"),
    ({"calibration": (0.5, 0.0)}, InputError, "calibration must be a depthkit.calibration.Calibration"),
    ({"values": np.zeros((5, 8))}, InputError, "image is 6x8 but inverse_depth_or_depth is 5x8"),
    ({"values": np.full((6, 8), np.nan), "kind": "depth"}, InputError, "no valid pixel"),
    ({"image": np.zeros((6, 8), np.uint8)}, ImageError, "(H, W, 3)"),
])
def test_show_point_cloud_bad_input_is_one_sentence(kwargs, error, words):
    image, values = kwargs.pop("image", _image()), kwargs.pop("values", np.ones((6, 8)))
    with pytest.raises(error, match=re.escape(words)) as info:
        viz.show_point_cloud(image, values, **kwargs)
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_show_point_cloud_calibration_with_depth_is_refused():
    from depthkit.calibration import calibrate_from_points

    calib = calibrate_from_points(np.linspace(1.0, 4.0, 48).reshape(6, 8), [(0, 0, 1.0), (7, 5, 0.25)])
    with pytest.raises(InputError, match="kind='depth'"):
        viz.show_point_cloud(_image(), np.ones((6, 8)), kind="depth", calibration=calib)


def test_point_cloud_html_is_a_self_contained_div():
    html = viz.point_cloud_html(_image(), np.full((6, 8), 2.0), kind="depth", max_points=12)
    assert html.startswith("<div") and "<html" not in html
    assert "Plotly.newPlot" in html and " src=" not in html  # plotly.js inlined: works offline
    assert '"type":"scatter3d"' in html and "depth z (m)" in html
    page = viz.point_cloud_html(_image(), np.ones((6, 8)), include_plotlyjs="cdn", full_html=True)
    assert page.startswith("<!doctype html>\n<html>") and 'src="https://cdn.plot.ly' in page
    assert "relative depth (no unit)" in page
    assert len(page) < len(html) / 100
    with pytest.raises(InputError, match="include_plotlyjs must be"):
        viz.point_cloud_html(_image(), np.ones((6, 8)), include_plotlyjs="local")
