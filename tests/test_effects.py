"""Behaviour tests for depthkit.effects (parallax, portrait blur, obstacle warning, anaglyph)."""

import cv2
import numpy as np
import pytest
from PIL import Image

from depthkit import effects as fx
from depthkit.errors import DepthkitError, ImageError, InputError


def _texture(h, w, seed=0, low=1):
    """Random RGB texture with no pure-black pixel (so black = hole is unambiguous)."""
    return np.random.default_rng(seed).integers(low, 256, (h, w, 3), dtype=np.uint8)


def _square_scene(h=20, w=24, top=6, left=6, size=6):
    """Textured far background (inverse depth 0) with a red near square (inverse depth 1)."""
    img = _texture(h, w)
    img[..., 0] = np.minimum(img[..., 0], 200)  # no background pixel is pure red
    inv = np.zeros((h, w), np.float32)
    img[top : top + size, left : left + size] = (255, 0, 0)
    inv[top : top + size, left : left + size] = 1.0
    return img, inv


# -------------------------------------------------------------------------------------------------- parallax
def test_fronto_parallel_plane_shifts_uniformly_right():
    img = _texture(16, 24)
    inv = np.full((16, 24), 0.5, np.float32)  # with vrange (0, 1): u = 0.5 everywhere
    view, holes = fx.parallax_view(img, inv, (8, 0), vrange=(0, 1), fill_holes=False)
    np.testing.assert_array_equal(view[:, 4:], img[:, :-4])  # 8 px * 0.5 = 4 px
    assert holes[:, :4].all() and not holes[:, 4:].any()
    assert (view[holes] == 0).all()


def test_fronto_parallel_plane_shifts_uniformly_up():
    img = _texture(16, 24, seed=1)
    inv = np.full((16, 24), 3.0, np.float32)
    view, holes = fx.parallax_view(img, inv, (0, -6), vrange=(0, 6), fill_holes=False)
    np.testing.assert_array_equal(view[:-3], img[3:])
    assert holes[-3:].all() and not holes[:-3].any()


def test_half_pixel_shift_rounds_half_up_without_tearing():
    img = _texture(8, 16, seed=4)
    view, holes = fx.parallax_view(img, np.full((8, 16), 0.5), (5, 0), vrange=(0, 1), fill_holes=False)
    np.testing.assert_array_equal(view[:, 3:], img[:, :-3])  # 2.5 px -> 3 px for every column
    assert holes[:, :3].all() and not holes[:, 3:].any()


def test_pivot_plane_does_not_move():
    img = _texture(10, 12)
    view, holes = fx.parallax_view(img, np.full((10, 12), 0.5), (7, 3), pivot=0.5, vrange=(0, 1),
                                   fill_holes=False)
    np.testing.assert_array_equal(view, img)
    assert not holes.any()


def test_near_square_occludes_far_background_and_leaves_a_hole_behind():
    img, inv = _square_scene()
    view, holes = fx.parallax_view(img, inv, (4, 0), fill_holes=False)
    # the square moved 4 px right and covers the background that stayed there
    np.testing.assert_array_equal(view[6:12, 10:16], np.broadcast_to((255, 0, 0), (6, 6, 3)))
    # background outside the square is untouched
    np.testing.assert_array_equal(view[:6], img[:6])
    np.testing.assert_array_equal(view[6:12, 16:], img[6:12, 16:])
    # where the square used to be, the hidden background is unknown: a disocclusion hole
    expected_holes = np.zeros_like(holes)
    expected_holes[6:12, 6:10] = True
    np.testing.assert_array_equal(holes, expected_holes)


def test_background_fill_uses_the_farther_side():
    img, inv = _square_scene()
    filled = fx.parallax_view(img, inv, (4, 0))
    # the hole is filled with the far background to its left (column 5), not with the red square
    for row in range(6, 12):
        np.testing.assert_array_equal(filled[row, 6:10], np.broadcast_to(img[row, 5], (4, 3)))
    np.testing.assert_array_equal(filled[6:12, 10:16], np.broadcast_to((255, 0, 0), (6, 6, 3)))
    # moving the other way, the hole opens on the right and is filled from the right (farther) side
    filled_left = fx.parallax_view(img, inv, (-4, 0))
    for row in range(6, 12):
        np.testing.assert_array_equal(filled_left[row, 8:12], np.broadcast_to(img[row, 12], (4, 3)))


@pytest.mark.parametrize("shift", [(9, 0), (-7, 5), (3, -11), (10, 3), (2, 12)])
@pytest.mark.parametrize("method", ["background", "inpaint"])
def test_filling_leaves_no_holes(shift, method):
    rng = np.random.default_rng(3)
    img = _texture(24, 32, seed=2, low=40)
    inv = cv2.GaussianBlur(rng.random((24, 32)).astype(np.float32), (0, 0), 2)
    inv[8:16, 10:20] += 1.0  # a near block -> real disocclusions
    _, holes = fx.parallax_view(img, inv, shift, fill_holes=False)
    assert holes.any()
    filled = fx.parallax_view(img, inv, shift, fill_method=method)
    assert filled.shape == img.shape and filled.dtype == np.uint8
    assert (filled.max(axis=2) > 0).all()  # no black hole pixel remains


def test_constant_plane_with_empty_rows_is_filled():
    img = _texture(12, 16, low=50)
    view = fx.parallax_view(img, np.ones((12, 16)), (10, 3), vrange=(0, 1))  # top 3 rows receive nothing
    assert (view.max(axis=2) > 0).all()


@pytest.mark.parametrize("shift,pivot", [((5, 0), 0.0), ((-3, 4), 0.5), ((2.5, -7.3), 0.2)])
def test_vectorised_warp_equals_the_naive_loop(shift, pivot):
    rng = np.random.default_rng(7)
    img = _texture(12, 15, seed=5)
    inv = rng.random((12, 15)).astype(np.float32)
    inv[3:7, 4:9] = 0.8  # equal depths: ties must resolve the same way
    fast, _ = fx.parallax_view(img, inv, shift, pivot=pivot, fill_holes=False)
    np.testing.assert_array_equal(fast, fx.parallax_naive(img, inv, shift, pivot=pivot))


def test_non_finite_inverse_depth_counts_as_far():
    img = _texture(6, 10)
    inv = np.ones((6, 10), np.float32)
    inv[:, :5] = np.nan
    inv[0, 0] = 0.0
    view, _holes = fx.parallax_view(img, inv, (2, 0), fill_holes=False)
    np.testing.assert_array_equal(view[:, :5], img[:, :5])  # NaN pixels stay put like the far end
    np.testing.assert_array_equal(view[:, 7:], img[:, 5:8])


def test_negative_zero_inverse_depth_is_not_lost():
    img = _texture(4, 6)
    inv = np.full((4, 6), -0.0, np.float32)
    view, holes = fx.parallax_view(img, inv, (5, 0), vrange=(0, 1), fill_holes=False)
    assert not holes.any()
    np.testing.assert_array_equal(view, img)


def test_parallax_frames_follow_a_closed_camera_path():
    img, inv = _square_scene()
    frames = fx.parallax_frames(img, inv, n_frames=4, amplitude_px=6, path="horizontal")
    assert len(frames) == 4 and all(f.shape == img.shape and f.dtype == np.uint8 for f in frames)
    np.testing.assert_array_equal(frames[0], fx.parallax_view(img, inv, (6, 0), pivot=0.5))
    np.testing.assert_array_equal(frames[2], fx.parallax_view(img, inv, (-6, 0), pivot=0.5))
    circle = fx.parallax_frames(img, inv, n_frames=4, amplitude_px=6, path="circle")
    np.testing.assert_array_equal(circle[1], fx.parallax_view(img, inv, (0, 6), pivot=0.5))
    with pytest.raises(InputError, match="path"):
        fx.parallax_frames(img, inv, path="spiral")
    with pytest.raises(InputError, match="n_frames"):
        fx.parallax_frames(img, inv, n_frames=0)


def test_parallax_rejects_bad_arguments():
    img = _texture(4, 5)
    with pytest.raises(InputError, match="resize"):
        fx.parallax_view(img, np.zeros((5, 4)))
    with pytest.raises(InputError, match="shift_px"):
        fx.parallax_view(img, np.zeros((4, 5)), shift_px=3)
    with pytest.raises(InputError, match="pivot"):
        fx.parallax_view(img, np.zeros((4, 5)), pivot=2)
    with pytest.raises(InputError, match="fill_method"):
        fx.parallax_view(img, np.zeros((4, 5)), fill_method="magic")
    with pytest.raises(ImageError, match="uint8"):
        fx.parallax_view(img.astype(np.float32), np.zeros((4, 5)))


# ------------------------------------------------------------------------------------------- GIF and MP4
def _solid_frames():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    return [np.full((16, 24, 3), c, np.uint8) for c in colours]


def test_save_gif_writes_a_looping_animation(tmp_path):
    path = fx.save_gif(_solid_frames(), tmp_path / "a.gif", fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        assert gif.info["duration"] == 100
        assert gif.info["loop"] == 0
        gif.seek(1)
        assert gif.convert("RGB").getpixel((3, 3)) == (0, 255, 0)


def test_save_mp4_round_trip(tmp_path):
    path = fx.save_mp4(_solid_frames(), tmp_path / "a.mp4", fps=5)
    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(frame)
        ok, frame = capture.read()
    capture.release()
    assert len(frames) == 3 and frames[0].shape == (16, 24, 3)
    assert frames[1][8, 12, 1] > 200 and frames[1][8, 12, 0] < 60  # green frame (BGR order when read)


def test_save_mp4_reports_a_missing_encoder(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-ffmpeg"))  # save_mp4 encodes through ffmpeg (H.264)
    with pytest.raises(DepthkitError, match="save_gif"):
        fx.save_mp4(_solid_frames(), tmp_path / "a.mp4")
    assert not (tmp_path / "a.mp4").exists()


def test_frame_writers_validate_input(tmp_path):
    with pytest.raises(InputError, match="empty"):
        fx.save_gif([], tmp_path / "a.gif")
    with pytest.raises(InputError, match="same shape"):
        fx.save_gif([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], tmp_path / "a.gif")
    with pytest.raises(InputError, match="fps"):
        fx.save_mp4(_solid_frames(), tmp_path / "a.mp4", fps=0)


# --------------------------------------------------------------------------------------------- portrait blur
BAND_VALUES = (1.0, 0.7, 0.4, 0.0)  # inverse depth of four vertical bands, 40 px wide, near to far


def _bands():
    img = _texture(48, 160, seed=11, low=0)
    inv = np.repeat(np.array(BAND_VALUES, np.float32), 40)[None, :].repeat(48, axis=0)
    return img, inv


def _high_frequency_energy(img):
    grey = img.astype(np.float64).mean(axis=2)
    return float(np.mean(np.diff(grey, axis=1) ** 2))


def test_portrait_blur_keeps_focus_sharp_and_blur_grows_with_depth_difference():
    img, inv = _bands()
    out = fx.portrait_blur(img, inv, focus="nearest", aperture=10, n_layers=5, mode="minmax")
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :40], img[:, :40])  # in-focus band unchanged
    energies = [_high_frequency_energy(out[8:40, 40 * b + 14 : 40 * b + 26]) for b in range(4)]
    assert energies[0] > energies[1] > energies[2] > energies[3]
    assert energies[3] < 0.1 * energies[0]


def test_portrait_blur_focus_on_a_pixel():
    img, inv = _bands()
    out = fx.portrait_blur(img, inv, focus=(100, 20), aperture=8, mode="minmax")  # third band (0.4)
    np.testing.assert_array_equal(out[:, 80:120], img[:, 80:120])
    assert _high_frequency_energy(out[:, 4:36]) < 0.5 * _high_frequency_energy(img[:, 4:36])


def test_portrait_blur_depth_of_field_band_stays_sharp():
    img, inv = _bands()
    out = fx.portrait_blur(img, inv, focus="nearest", aperture=8, depth_of_field=0.35, mode="minmax")
    np.testing.assert_array_equal(out[:, :80], img[:, :80])  # 1.0 and 0.7 are within 0.35 of the focus
    assert not np.array_equal(out[:, 80:], img[:, 80:])


def test_portrait_blur_has_no_halo_unlike_the_threshold_version():
    img = np.full((40, 40, 3), 20, np.uint8)  # dark far background
    inv = np.zeros((40, 40), np.float32)
    img[12:28, 12:28] = 250  # bright near subject
    inv[12:28, 12:28] = 1.0
    out = fx.portrait_blur(img, inv, focus="nearest", aperture=12, mode="minmax")
    ring = np.zeros((40, 40), bool)
    ring[9:31, 9:31] = True
    ring[12:28, 12:28] = False  # 3 px of background around the subject
    assert np.abs(out[ring].astype(int) - 20).max() <= 1
    np.testing.assert_array_equal(out[12:28, 12:28], img[12:28, 12:28])
    seed = fx.portrait_blur_threshold(img, inv, threshold=0.5, blur_px=15)
    assert seed[ring].astype(int).max() > 60  # the subject's brightness bled into the background


def test_portrait_blur_threshold_is_a_hard_switch():
    img, inv = _bands()
    out = fx.portrait_blur_threshold(img, inv, threshold=0.5)
    np.testing.assert_array_equal(out[:, :80], img[:, :80])  # 1.0 and 0.7 >= 0.5
    np.testing.assert_array_equal(out[:, 80:], cv2.GaussianBlur(img, (21, 21), 0)[:, 80:])


def test_portrait_blur_arguments():
    img, inv = _bands()
    np.testing.assert_array_equal(fx.portrait_blur(img, inv, aperture=0), img)
    with pytest.raises(InputError, match="n_layers"):
        fx.portrait_blur(img, inv, n_layers=1)
    with pytest.raises(InputError, match="focus"):
        fx.portrait_blur(img, inv, focus="left")
    with pytest.raises(InputError, match="outside"):
        fx.portrait_blur(img, inv, focus=(500, 3))
    with pytest.raises(InputError, match="aperture"):
        fx.portrait_blur(img, inv, aperture=-1)


# ------------------------------------------------------------------------------------------ obstacle warning
def _scene_with_box(x, size=8, top=40, h=64, w=64):
    inv = np.full((h, w), 0.1, np.float32)
    inv[top : top + size, x : x + size] = 1.0
    depth = np.full((h, w), 5.0, np.float32)
    depth[top : top + size, x : x + size] = 0.8
    return inv, depth


@pytest.mark.parametrize("metric", [False, True])
def test_obstacle_alarm_fires_exactly_when_the_box_enters_the_roi(metric):
    # default ROI = lower centre: x in [16, 48), y in [32, 64) -> 1024 pixels
    for x in range(0, 57, 2):
        inv, depth = _scene_with_box(x)
        if metric:
            result = fx.obstacle_warning(depth_m=depth, threshold_m=1.0, min_fraction=0.01)
        else:
            result = fx.obstacle_warning(inv, threshold=0.5, min_fraction=0.01)
        overlap_cols = max(0, min(x + 8, 48) - max(x, 16))
        expected_fraction = overlap_cols * 8 / 1024
        assert result.fraction == pytest.approx(expected_fraction)
        assert result.alarm == (expected_fraction >= 0.01), f"box at x={x}"
        assert result.roi == (16, 32, 48, 64)
        if overlap_cols:
            assert result.nearest_box == (max(x, 16), 40, min(x + 8, 48), 48)
        else:
            assert result.nearest_box is None
        assert result.units == ("m" if metric else "relative")
        assert result.threshold == (1.0 if metric else 0.5)


def test_obstacle_nearest_box_picks_the_nearest_blob_and_ignores_invalid_depth():
    depth = np.full((40, 40), 6.0)
    depth[30:34, 12:16] = 0.9
    depth[25:35, 22:26] = 0.4  # nearer
    depth[20:40, 10:12] = np.inf  # sky / invalid is never an obstacle
    result = fx.obstacle_warning(depth_m=depth, threshold_m=1.0, roi=(0, 0.5, 1, 1))
    assert result.nearest_box == (22, 25, 26, 35)
    assert result.fraction == pytest.approx((16 + 40) / (40 * 20))
    assert result.alarm


def test_obstacle_relative_mode_with_fixed_range_sees_nothing_near():
    inv = np.full((20, 20), 0.2)
    assert not fx.obstacle_warning(inv, vrange=(0, 1)).alarm
    assert not fx.obstacle_warning(inv).alarm  # constant map normalises to 0 (far)


def test_obstacle_argument_errors():
    inv = np.zeros((8, 8))
    with pytest.raises(InputError, match="threshold_m"):
        fx.obstacle_warning(depth_m=inv)
    with pytest.raises(InputError, match="roi"):
        fx.obstacle_warning(inv, roi=(0.5, 0.5, 0.2, 1.0))
    with pytest.raises(InputError, match="min_fraction"):
        fx.obstacle_warning(inv, min_fraction=0)
    with pytest.raises(InputError, match="inverse_depth"):
        fx.obstacle_warning()


@pytest.mark.parametrize("alarm", [True, False])
def test_draw_obstacle_overlay(alarm):
    img = np.full((120, 400, 3), 90, np.uint8)
    inv = np.zeros((120, 400), np.float32)
    if alarm:
        inv[80:110, 180:220] = 1.0
    result = fx.obstacle_warning(inv, threshold=0.5)
    assert result.alarm == alarm
    out = fx.draw_obstacle_overlay(img, result)
    assert out.shape == img.shape and out.dtype == np.uint8 and out is not img
    assert (img == 90).all()  # input untouched
    banner = (200, 0, 0) if alarm else (0, 140, 0)
    np.testing.assert_array_equal(out[2, 398], banner)
    x0, _y0, x1, y1 = result.roi
    np.testing.assert_array_equal(out[y1 - 1, (x0 + x1) // 2], (255, 220, 0))  # ROI outline
    if alarm:
        bx0, by0, _, _ = result.nearest_box
        np.testing.assert_array_equal(out[by0, bx0 + 5], (255, 0, 0))  # obstacle box outline
    with pytest.raises(InputError, match="ObstacleResult"):
        fx.draw_obstacle_overlay(img, {"alarm": True})


# ------------------------------------------------------------------------------------------------- anaglyph
def test_anaglyph_takes_red_from_left_view_and_cyan_from_right_view():
    img = _texture(16, 24, seed=9)
    inv = np.ones((16, 24), np.float32)
    out = fx.anaglyph(img, inv, max_shift_px=8, pivot=0.0, vrange=(0, 1))
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, 4:, 0], img[:, :-4, 0])  # left eye: +4 px
    np.testing.assert_array_equal(out[:, :-4, 1:], img[:, 4:, 1:])  # right eye: -4 px
    left = fx.parallax_view(img, inv, (4, 0), vrange=(0, 1))
    right = fx.parallax_view(img, inv, (-4, 0), vrange=(0, 1))
    np.testing.assert_array_equal(out, np.dstack([left[..., 0], right[..., 1], right[..., 2]]))


def test_anaglyph_screen_plane_has_no_disparity():
    img = _texture(10, 12)
    out = fx.anaglyph(img, np.full((10, 12), 0.5), max_shift_px=10, pivot=0.5, vrange=(0, 1))
    np.testing.assert_array_equal(out, img)


def test_save_gif_creates_folders_checks_the_suffix_and_writes_the_io_encoding(tmp_path):
    from depthkit.io import encode_gif

    path = fx.save_gif(_solid_frames(), tmp_path / "new" / "sub" / "a.gif", fps=10)
    assert path == tmp_path / "new" / "sub" / "a.gif"
    assert path.read_bytes() == encode_gif(_solid_frames(), fps=10)
    with pytest.raises(InputError, match=r"save_gif writes \.gif files, but the path .* ends in '\.png'"):
        fx.save_gif(_solid_frames(), tmp_path / "a.png")
    with pytest.raises(InputError, match=r"save_mp4 writes \.mp4 files"):
        fx.save_mp4(_solid_frames(), tmp_path / "a.gif")
    assert "encode_gif" not in fx.__all__  # one GIF encoder, in depthkit.io
