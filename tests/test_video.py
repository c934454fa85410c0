"""depthkit.video (reading, H.264 writing, stabilisation, flicker) and depthkit.video_depth (network over a clip)."""

import os
import re
import subprocess
import sys
import tracemalloc

import imageio_ffmpeg
import numpy as np
import pytest
from browser.video_check import check_video_plays

from depthkit import effects
from depthkit.errors import DepthkitError, InputError
from depthkit.inference import estimate_depth
from depthkit.video import (
    Stabilizer,
    codec_of,
    flicker,
    iter_video,
    probe_video,
    read_video,
    stabilize,
    write_video,
)
from depthkit.video_depth import depth_video_file, estimate_depth_video, iter_depth_video

COLOURS = [(230, 20, 20), (20, 230, 20), (20, 20, 230), (230, 230, 20), (20, 230, 230), (128, 128, 128)]


def solid_clip(h=37, w=51, colours=COLOURS):
    """(T, H, W, 3) uint8: one solid colour per frame, so every frame can be recognised after lossy coding."""
    return np.stack([np.full((h, w, 3), c, np.uint8) for c in colours])


def ffmpeg_stream(path):
    """(codec, pixel format, width, height) of the first video stream, parsed from `ffmpeg -i` stderr."""
    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                         text=True).stderr
    m = re.search(r"Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)", err)
    assert m, err
    return m.group(1), m.group(2), int(m.group(3)), int(m.group(4))


def mean_colours(frames):
    return frames.reshape(len(frames), -1, 3).mean(axis=1)


def one_sentence(exc):
    text = str(exc.value)
    assert "\n" not in text and text.endswith("."), text
    return text


# ------------------------------------------------------------------------------------------------ writing
def test_write_video_is_h264_yuv420p_padded_to_even_and_reads_back(tmp_path):
    clip = solid_clip()
    path = write_video(clip, tmp_path / "sub" / "clip.mp4", fps=6)
    assert path == tmp_path / "sub" / "clip.mp4"
    assert ffmpeg_stream(path) == ("h264", "yuv420p", 52, 38)  # 51x37 padded by one column and one row
    assert codec_of(path) == ("h264", "yuv420p")
    frames, fps = read_video(path)
    assert frames.shape == (6, 38, 52, 3) and frames.dtype == np.uint8 and fps == 6.0
    np.testing.assert_allclose(mean_colours(frames[:, :37, :51]), np.array(COLOURS, float), atol=6)
    np.testing.assert_array_equal(frames[:, 37], frames[:, 36])  # the padding repeats the last row
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.codec) == (52, 38, 6.0, "h264")
    assert info.duration == pytest.approx(1.0, abs=0.05)


def test_write_video_puts_the_index_first_for_browsers(tmp_path):
    data = write_video(solid_clip(), tmp_path / "a.mp4", fps=6).read_bytes()
    boxes, i = [], 0
    while i + 8 <= len(data):  # top-level MP4 boxes: 4-byte size, 4-byte type
        size = int.from_bytes(data[i:i + 4], "big")
        boxes.append(data[i + 4:i + 8].decode("latin-1"))
        i += size if size >= 8 else len(data)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # +faststart


def test_write_video_streams_from_a_generator_in_constant_memory(tmp_path):
    def frames(n):
        for i in range(n):
            yield np.full((64, 64, 3), (i * 7) % 256, np.uint8)

    tracemalloc.start()
    write_video(frames(150), tmp_path / "long.mp4", fps=30)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10 * 64 * 64 * 3, peak  # far below the 150 frames (1.8 MB) the clip holds
    frames_read, _ = read_video(tmp_path / "long.mp4")
    assert len(frames_read) == 150


def test_write_video_refuses_bad_frames_and_leaves_no_file(tmp_path):
    out = tmp_path / "a.mp4"
    with pytest.raises(InputError, match="frames is empty") as e:
        write_video(iter([]), out)
    one_sentence(e)
    mixed = [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)]
    with pytest.raises(InputError, match=r"frame 1 has shape \(8, 10, 3\) but frame 0 has \(8, 8, 3\)") as e:
        write_video(mixed, out)
    one_sentence(e)
    assert not out.exists()
    with pytest.raises(InputError, match="uint8"):
        write_video([np.zeros((8, 8, 3), np.float32)], out)
    with pytest.raises(InputError, match=r"write_video writes \.mp4 files"):
        write_video(solid_clip(), tmp_path / "a.avi")
    with pytest.raises(InputError, match="fps"):
        write_video(solid_clip(), out, fps=0)
    with pytest.raises(InputError, match="crf"):
        write_video(solid_clip(), out, crf=60)
    assert not out.exists()


def test_missing_ffmpeg_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "nothing-here"))
    with pytest.raises(DepthkitError, match="imageio-ffmpeg") as e:
        write_video(solid_clip(), tmp_path / "a.mp4")
    one_sentence(e)
    assert not (tmp_path / "a.mp4").exists()


def test_effects_save_mp4_writes_h264(tmp_path):
    path = effects.save_mp4(list(solid_clip(16, 24)), tmp_path / "p.mp4", fps=5)
    assert ffmpeg_stream(path) == ("h264", "yuv420p", 24, 16)


# ------------------------------------------------------------------------------------------------ reading
def _encode(path, clip, fps, codec):
    writer = imageio_ffmpeg.write_frames(str(path), (clip.shape[2], clip.shape[1]), fps=fps, codec=codec,
                                         macro_block_size=1, ffmpeg_log_level="error")
    writer.send(None)
    for frame in clip:
        writer.send(frame.tobytes())
    writer.close()
    return path


@pytest.mark.parametrize(("name", "codec"), [("clip.mov", "libx264"), ("clip.avi", "mpeg4"),
                                             ("clip.webm", "libvpx-vp9"), ("clip.mkv", "libx264")])
def test_read_video_reads_common_containers(tmp_path, name, codec):
    clip = solid_clip(32, 48)
    frames, fps = read_video(_encode(tmp_path / name, clip, 10, codec))
    assert frames.shape == (6, 32, 48, 3) and fps == 10.0
    np.testing.assert_allclose(mean_colours(frames), np.array(COLOURS, float), atol=12)


def test_read_video_reads_animated_gifs_with_pil(tmp_path):
    from PIL import Image

    clip = solid_clip(20, 30)
    images = [Image.fromarray(f) for f in clip]
    images[0].save(tmp_path / "a.gif", save_all=True, append_images=images[1:], duration=50, loop=0)
    frames, fps = read_video(tmp_path / "a.gif")
    assert frames.shape == (6, 20, 30, 3) and fps == 20.0
    np.testing.assert_allclose(mean_colours(frames), np.array(COLOURS, float), atol=3)
    assert probe_video(tmp_path / "a.gif").codec == "gif"


def test_a_rotated_phone_video_is_read_upright(tmp_path):
    clip = np.zeros((3, 48, 64, 3), np.uint8)
    clip[:, :10, :, 0] = 255  # a red band along the top
    src = write_video(clip, tmp_path / "landscape.mp4", fps=3)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-display_rotation", "90", "-i", str(src),
                    "-c", "copy", str(tmp_path / "phone.mp4")], check=True)  # what a phone held upright stores
    frames, _ = read_video(tmp_path / "phone.mp4")
    assert frames.shape == (3, 64, 48, 3)
    assert frames[0, :, :8, 0].mean() > 200 and frames[0, :, -8:, 0].mean() < 60  # the band is now on the left
    assert (probe_video(tmp_path / "phone.mp4").width, probe_video(tmp_path / "phone.mp4").height) == (48, 64)


def test_max_frames_and_step_pick_the_right_frames(tmp_path):
    path = write_video(solid_clip(), tmp_path / "a.mp4", fps=6)
    frames, fps = read_video(path, step=2, max_frames=2)
    assert frames.shape[0] == 2 and fps == 3.0
    np.testing.assert_allclose(mean_colours(frames[:, :37, :51]), np.array(COLOURS[0:4:2], float), atol=6)
    streamed = list(iter_video(path, max_frames=4))
    assert len(streamed) == 4 and streamed[0].shape == (38, 52, 3)
    with pytest.raises(InputError, match="max_frames must be a positive integer"):
        read_video(path, max_frames=0)
    with pytest.raises(InputError, match="step must be a positive integer"):
        read_video(path, step=1.5)


def test_what_is_not_a_video_gets_one_sentence(tmp_path):
    from PIL import Image

    (tmp_path / "text.mp4").write_text("this is not a video")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photo.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photo.jpg")
    (tmp_path / "empty.mp4").write_bytes(b"")
    good = write_video(solid_clip(), tmp_path / "good.mp4", fps=6).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[:200])
    cases = {"text.mp4": "not a video depthkit can read", "photo.png": "is a PNG image, not a video",
             "photo.jpg": "is a JPEG image, not a video", "empty.mp4": "is empty", "cut.mp4": "not a video",
             "missing.mp4": "Video file not found", ".": "is a folder"}
    for name, words in cases.items():
        with pytest.raises(InputError, match=words) as e:
            read_video(tmp_path / name)
        one_sentence(e)
    with pytest.raises(InputError, match="file path"):
        read_video(123)


def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.mp4")
    with pytest.raises(InputError, match=r"is a FIFO .*not a regular video file"):
        read_video(tmp_path / "pipe.mp4")


# ------------------------------------------------------------------------------------------------ stability
def scene(h=48, w=64, seed=0):
    """A smooth (H, W) inverse-depth map: a slanted floor with two blobs (values about 0.2 to 1.2)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    blobs = np.exp(-((xx - 0.3) ** 2 + (yy - 0.4) ** 2) / 0.01) + 0.6 * np.exp(-((xx - 0.7) ** 2 + (yy - 0.5) ** 2)
                                                                               / 0.02)
    return 0.2 + yy + blobs


def affine_copies(t=10, noise=1e-3, outliers=False, seed=0):
    """Maps a_t·D + b_t (a_t > 0) plus Gaussian noise of std ``noise``·a_t; optionally one hot pixel per frame."""
    rng = np.random.default_rng(seed)
    d = scene()
    a = rng.uniform(0.3, 4.0, t)
    b = rng.uniform(-2.0, 2.0, t)
    maps = np.stack([a[i] * (d + noise * rng.standard_normal(d.shape)) + b[i] for i in range(t)])
    hot = np.zeros(maps.shape, bool)
    if outliers:  # a few extreme pixels per frame, as networks produce at edges: they rule per-frame min-max
        for i in range(t):
            idx = rng.integers(0, d.size, 3)
            maps[i].flat[idx] = b[i] + a[i] * rng.uniform(1.5, 4.0, 3)
            hot[i].flat[idx] = True
    return (d, maps, hot) if outliers else (d, maps)


def test_align_makes_affine_copies_equal_up_to_the_noise():
    d, maps = affine_copies(noise=1e-3)
    out = stabilize(maps, "align")
    assert out.shape == maps.shape and out.dtype == np.float32
    lo, hi = np.percentile(d, (2, 98))
    noise_in_output = 1e-3 / (hi - lo)  # frame 0 is scaled by its 2-98 percentile range
    spread = np.abs(out - out[0]).max(axis=(1, 2))
    assert spread.max() < 8 * noise_in_output, spread  # Gaussian noise: |n_t - n_0| stays below ~6 sigma
    np.testing.assert_allclose(out[0], (d - lo) / (hi - lo), atol=8 * noise_in_output)
    # the raw clip is nowhere near: the network's scale and shift change from frame to frame
    assert np.abs(maps - maps[0]).max() > 100 * spread.max()


def test_align_with_ema_keeps_the_contract_and_checks_ema():
    _, maps = affine_copies(noise=1e-3, seed=1)
    out = stabilize(maps, "align", ema=0.7)
    assert np.abs(out - out[0]).max() < 0.05
    with pytest.raises(InputError, match=r"ema must be in \[0, 1\)") as e:
        stabilize(maps, "align", ema=1.0)
    one_sentence(e)


def test_none_is_per_frame_minmax_and_shared_is_one_clip_range():
    _, maps = affine_copies(noise=0.0)
    none = stabilize(maps, "none")
    np.testing.assert_allclose(none.min(axis=(1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(none.max(axis=(1, 2)), 1.0, atol=1e-6)
    shared = stabilize(maps, "shared")
    lo, hi = np.percentile(maps, (2, 98))
    np.testing.assert_allclose(shared, (maps - lo) / (hi - lo), atol=1e-5)
    assert np.percentile(shared, 2) == pytest.approx(0.0, abs=1e-5)
    assert np.percentile(shared, 98) == pytest.approx(1.0, abs=1e-5)


def test_a_blank_frame_does_not_break_the_reference():
    _, maps = affine_copies(t=6, noise=0.0)
    maps[3] = 5.0  # one constant frame (e.g. the lens covered)
    out = stabilize(maps, "align")
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[4], out[2], atol=1e-5)  # frames after it align to the frames before it


def test_stabilize_checks_its_input():
    with pytest.raises(InputError, match=r"3-D array \(T, H, W\)") as e:
        stabilize(np.zeros((4, 4)))
    one_sentence(e)
    with pytest.raises(InputError, match="NaN or inf"):
        stabilize(np.full((2, 3, 3), np.nan))
    with pytest.raises(InputError, match="method must be 'align', 'shared' or 'none'"):
        stabilize(np.zeros((2, 3, 3)), "median")
    s = Stabilizer("align")
    s.update(np.arange(12.0).reshape(3, 4))
    with pytest.raises(InputError, match="one size"):
        s.update(np.arange(12.0).reshape(4, 3))


def test_flicker_is_zero_when_still_positive_when_flickering_and_align_cures_it():
    d = scene()
    assert flicker(np.stack([d] * 5)) == 0.0
    _, raw, hot = affine_copies(noise=1e-3, outliers=True)
    scene_pixels = ~hot  # measured on the scene, not on the hot pixels themselves
    f_raw = flicker(raw, scene_pixels)
    f_none, f_shared, f_align = (flicker(stabilize(raw, m), scene_pixels) for m in ("none", "shared", "align"))
    assert f_raw > 0.3  # the network's own scale/shift changes
    assert f_none > 0.02 and f_shared > 0.3  # min-max follows the hot pixels; one range cannot undo the drift
    assert f_align < f_none / 10, (f_align, f_none)
    assert f_align < 5e-3


def test_flicker_definition_invariance_and_mask():
    rng = np.random.default_rng(0)
    clip = rng.random((4, 8, 8))
    expected = np.abs(np.diff(clip, axis=0)).mean() / np.subtract(*np.percentile(clip, (98, 2)))
    assert flicker(clip) == pytest.approx(expected)
    assert flicker(3.0 * clip - 7.0) == pytest.approx(flicker(clip))  # one affine change for the whole clip
    mask = np.zeros((8, 8), bool)
    mask[:, :4] = True
    part = clip[:, :, :4]
    assert flicker(clip, mask) == pytest.approx(np.abs(np.diff(part, axis=0)).mean()
                                                / np.subtract(*np.percentile(part, (98, 2))))
    with pytest.raises(InputError, match="at least two frames"):
        flicker(clip[:1])
    with pytest.raises(InputError, match="mask must be a bool array"):
        flicker(clip, mask.astype(int))
    with pytest.raises(InputError, match="selects no pixel"):
        flicker(clip, np.zeros((8, 8), bool))


# ------------------------------------------------------------------------------------------------ video_depth
@pytest.fixture(scope="module")
def moving_clip():
    """(5, 48, 64, 3) uint8: a texture sliding to the right by 3 px per frame."""
    rng = np.random.default_rng(3)
    base = (rng.random((48, 80, 3)) * 255).astype(np.uint8)
    return np.stack([base[:, 3 * i:3 * i + 64] for i in range(5)])


def test_estimate_depth_video_batches_the_per_frame_estimate(moving_clip, random_model):
    raw = estimate_depth_video(moving_clip, random_model, batch=2, backend="eager", stabilize=None, progress=False)
    assert raw.shape == (5, 48, 64) and raw.dtype == np.float32
    single = np.stack([estimate_depth(f, random_model).inverse_depth for f in moving_clip])
    np.testing.assert_allclose(raw, single, rtol=1e-4, atol=1e-4 * np.abs(single).max())
    out = estimate_depth_video(moving_clip, random_model, batch=3, backend="eager", progress=False)
    np.testing.assert_allclose(out, stabilize(single, "align"), atol=1e-3)
    with pytest.raises(InputError, match="stabilize must be"):
        estimate_depth_video(moving_clip, random_model, stabilize="smooth")
    with pytest.raises(InputError, match="batch must be a positive integer"):
        estimate_depth_video(moving_clip, random_model, batch=0)


def test_iter_depth_video_pulls_frames_lazily(moving_clip, random_model):
    pulled = []

    def frames():
        for f in moving_clip:
            pulled.append(1)
            yield f

    maps = iter_depth_video(frames(), random_model, batch=2, backend="eager", progress=False)
    assert pulled == []  # nothing decoded before the first map is asked for
    first = next(maps)
    assert first.shape == (48, 64) and len(pulled) == 2  # one batch, not the clip
    assert len(list(maps)) == 4


def test_depth_video_file_streams_to_h264_and_npy(tmp_path, moving_clip, random_model):
    src = write_video(moving_clip, tmp_path / "in.mp4", fps=10)
    out = depth_video_file(src, tmp_path / "out" / "depth.mp4", random_model, side_by_side=True,
                           npy=tmp_path / "out" / "depth.npy", backend="eager", progress=False, max_frames=4)
    assert ffmpeg_stream(out) == ("h264", "yuv420p", 128, 48)
    maps = np.load(tmp_path / "out" / "depth.npy")
    expected = np.stack(list(iter_depth_video(read_video(src, max_frames=4)[0], random_model, backend="eager",
                                              progress=False)))
    assert maps.shape == (4, 48, 64) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, expected, atol=1e-5)
    frames, fps = read_video(out)
    assert frames.shape == (4, 48, 128, 3) and fps == 10.0
    from_path = estimate_depth_video(src, random_model, backend="eager", progress=False)  # a path works too
    np.testing.assert_allclose(from_path[:4], expected, atol=1e-5)
    with pytest.raises(InputError, match=r"writes \.npy files"):
        depth_video_file(src, tmp_path / "b.mp4", random_model, npy=tmp_path / "b.txt", backend="eager")
    assert not (tmp_path / "b.mp4").exists()


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "depthkit", *args], capture_output=True, text=True, timeout=300)


def test_cli_video_writes_a_browser_playable_mp4_and_npy(tmp_path, moving_clip):
    src = write_video(moving_clip, tmp_path / "in.mp4", fps=10)
    p = run_cli("video", str(src), "--out", str(tmp_path / "o.mp4"), "--weights", "random", "--backend", "eager",
                "--stabilize", "shared", "--side-by-side", "--max-frames", "3", "--npy", str(tmp_path / "o.npy"))
    assert p.returncode == 0, p.stderr
    assert "wrote" in p.stdout and "stabilize=shared" in p.stdout and "UNTRAINED" in p.stderr
    assert "frame" in p.stderr  # the progress bar
    assert ffmpeg_stream(tmp_path / "o.mp4") == ("h264", "yuv420p", 128, 48)
    assert np.load(tmp_path / "o.npy").shape == (3, 48, 64)


def test_cli_video_bad_input_is_one_line_and_nonzero(tmp_path):
    (tmp_path / "junk.mp4").write_text("not a video")
    for args in (["video", str(tmp_path / "junk.mp4"), "--out", str(tmp_path / "o.mp4")],
                 ["video", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "o.mp4")]):
        p = run_cli(*args, "--weights", "random")
        assert p.returncode == 2
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("depthkit: error: "), p.stderr
    assert not (tmp_path / "o.mp4").exists()


# ------------------------------------------------------------------------------------------------ browser
def test_the_kits_mp4s_play_in_chromium_and_opencvs_mp4v_does_not(tmp_path):
    import cv2

    clip = solid_clip(36, 48)
    played = check_video_plays(write_video(clip, tmp_path / "kit.mp4", fps=6))
    assert played.plays and played.error is None and played.ready_state >= 2
    assert played.duration == pytest.approx(1.0, abs=0.05) and (played.width, played.height) == (48, 36)
    played = check_video_plays(effects.save_mp4(list(clip), tmp_path / "fx.mp4", fps=12))
    assert played.plays and played.duration == pytest.approx(0.5, abs=0.05)
    # the old writer (OpenCV, mp4v): the check does fail on what Chromium cannot decode (issue 14)
    old = cv2.VideoWriter(str(tmp_path / "mp4v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 6, (48, 36))
    for frame in clip:
        old.write(frame)
    old.release()
    played = check_video_plays(tmp_path / "mp4v.mp4")
    assert not played.plays and played.error == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED


def test_fit_both_ways_is_least_squares_for_affine_copies_and_keeps_the_spread_under_motion():
    from depthkit.alignment import fit_scale_shift
    from depthkit.video import fit_both_ways

    d = scene()
    np.testing.assert_allclose(fit_both_ways(2.5 * d - 0.3, d), fit_scale_shift(2.5 * d - 0.3, d), atol=1e-9)
    moved = np.roll(d, 6, axis=1)  # the camera moved: pixels no longer show the same points
    one_way, _ = fit_scale_shift(moved, d)
    both, _ = fit_both_ways(moved, d)
    assert one_way < 0.95 and abs(both - d.std() / moved.std()) < 1e-9  # least squares shrinks; both ways does not


def test_align_does_not_fade_when_the_camera_moves():
    import depthkit as dk

    truth = np.asarray(dk.demo.motorcycle_clip(n_frames=24).inverse_depth, np.float64)
    out = stabilize(truth, "align")
    assert 0.8 < out[-1].std() / out[0].std() < 1.25  # one-way least squares shrank it about 100-fold here
    s, t = dk.alignment.fit_scale_shift(out, truth)
    spread = np.percentile(truth, 98) - np.percentile(truth, 2)
    assert np.abs(s * out + t - truth).mean() < 0.05 * spread
