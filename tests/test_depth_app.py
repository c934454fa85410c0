"""Tests for depthkit.depth_app (``dk.app``): drive the widgets like a student would and check what the app shows.

Uploads are simulated exactly as ipywidgets 8 delivers them: ``FileUpload.value`` becomes a tuple of dicts with
name / type / size / content (memoryview) / last_modified.
"""

import base64
import datetime
import inspect
import io
import re
import tempfile
import time
import tracemalloc
import types

import numpy as np
import pytest
import torch
from browser import bad_files
from conftest import REPO
from PIL import Image

import depthkit as dk
from depthkit import depth_app as app_module
from depthkit.depth_app import DepthApp, DepthPipeline, describe_upload, downscale, fit_size, focus_pixel
from depthkit.errors import InputError
from depthkit.io import encode_gif, encode_png
from depthkit.viz import colorize, normalize
from depthkit.weights import WeightsInfo

SAMPLES = REPO / "data" / "samples"
SMALL = {"max_side": 192, "display_side": 160, "effect_side": 96, "gif_side": 64, "gif_frames": 4}


# ---------------------------------------------------------------------------------------------- helpers
def _file_value(name: str, data: bytes, mime: str = "image/jpeg"):
    return ({"name": name, "type": mime, "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)},)


def upload(app: DepthApp, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    app.upload.value = _file_value(name, data, mime)


def png_array(data: bytes) -> np.ndarray:
    """The RGB pixels of a PNG (heat maps are paletted PNGs: their indices are looked up in the palette)."""
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB") if im.mode == "P" else im)


def png_mode(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as im:
        return im.mode


def links(html: str) -> dict:
    """download file name -> decoded bytes of every data-URI link in an HTML snippet."""
    found = re.findall(r'<a download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', html)
    return {name: base64.b64decode(payload) for name, payload in found}


class BrightnessDepth(torch.nn.Module):
    """Stand-in network: "inverse depth" = mean of the normalised RGB channels (bright = near).

    The app does not care which network made the map, and this one answers in microseconds, so most tests use
    it; the tests that need MiDaS_small itself use the session's ``random_model``.
    """

    weights_info = WeightsInfo(kind="random", seed=0)

    def forward(self, x):
        return x.mean(dim=1)


@pytest.fixture()
def app():
    return DepthApp(BrightnessDepth(), **SMALL)


@pytest.fixture()
def midas_app(random_model):
    return DepthApp(random_model, **SMALL)


# ------------------------------------------------------------------------------------------- pure helpers
@pytest.mark.parametrize("size, max_side, expected", [
    ((3000, 4000), 1000, (750, 1000)),
    ((4000, 3000), 1000, (1000, 750)),
    ((300, 451), 1000, (300, 451)),      # never enlarged
    ((1, 5000), 100, (1, 100)),          # at least one pixel
    ((999, 1000), 1000, (999, 1000)),
])
def test_fit_size(size, max_side, expected):
    assert fit_size(*size, max_side) == expected


def test_fit_size_rejects_non_positive():
    with pytest.raises(InputError, match="positive sizes"):
        fit_size(0, 10, 5)


def test_downscale_keeps_dtype_and_returns_same_array_when_it_fits():
    rgb = bad_files.gradient_rgb(100, 300)
    assert downscale(rgb, 300) is rgb
    small = downscale(rgb, 150)
    assert small.shape == (50, 150, 3) and small.dtype == np.uint8
    inv = np.ones((100, 300), np.float32) * 2.5
    shrunk = downscale(inv, 30)
    assert shrunk.shape == (10, 30) and shrunk.dtype == np.float32
    np.testing.assert_allclose(shrunk, 2.5)


def test_encode_png_round_trips():
    rgb = bad_files.gradient_rgb(7, 11)
    np.testing.assert_array_equal(png_array(encode_png(rgb)), rgb)


def test_encode_gif_frames_loop_and_shared_palette():
    frames = [np.full((6, 10, 3), value, np.uint8) for value in (0, 100, 200)]
    frames[1][:, :5] = (255, 0, 0)
    with Image.open(io.BytesIO(encode_gif(frames, fps=10))) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (10, 6)
        assert gif.info["loop"] == 0 and gif.info["duration"] == 100
        gif.seek(1)
        second = np.asarray(gif.convert("RGB"))
    np.testing.assert_array_equal(second[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(second[0, 9], (100, 100, 100))


@pytest.mark.parametrize("frames, fps, match", [
    ([], 12, "non-empty list"),
    ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)], 12, "of one size"),
    ([np.zeros((4, 4), np.uint8)], 12, r"\(H, W, 3\) uint8"),
    ([np.zeros((4, 4, 3), np.uint8)], 0, "fps must be a positive"),
])
def test_encode_gif_rejects_bad_input(frames, fps, match):
    with pytest.raises(InputError, match=match):
        encode_gif(frames, fps=fps)


def test_focus_pixel_matches_the_5x5_median_that_portrait_blur_uses():
    rng = np.random.default_rng(0)
    inv = rng.random((20, 30)).astype(np.float32)
    unit = normalize(inv, mode="percentile")
    for focus in (0.0, 0.3, 0.5, 0.9, 1.0):
        x, y = focus_pixel(inv, focus)
        assert 2 <= x < 28 and 2 <= y < 18
        chosen = np.median(unit[y - 2:y + 3, x - 2:x + 3])
        # no interior pixel has a window median closer to the wanted focus
        best = min(abs(np.median(unit[j - 2:j + 3, i - 2:i + 3]) - focus) for j in range(2, 18) for i in range(2, 28))
        assert abs(chosen - focus) == pytest.approx(best, abs=1e-6)


def test_focus_pixel_on_a_ramp_and_bad_focus():
    inv = np.tile(np.linspace(0.0, 1.0, 21, dtype=np.float32), (9, 1))  # nearer to the right
    assert focus_pixel(inv, 0.0)[0] == 2 and focus_pixel(inv, 1.0)[0] == 18
    x_mid = focus_pixel(inv, 0.5)[0]
    assert 9 <= x_mid <= 11
    with pytest.raises(InputError, match="between 0 \\(far\\) and 1 \\(near\\)"):
        focus_pixel(inv, 1.5)


@pytest.mark.parametrize("name", sorted(bad_files.CONVERTED_UPLOADS))
def test_describe_upload_notes_converted_formats(name):
    _, build, _, pattern = bad_files.CONVERTED_UPLOADS[name]
    assert re.search(pattern, describe_upload(build()))


def test_describe_upload_reads_paths_too(tmp_path):
    path = tmp_path / "print.jpg"
    path.write_bytes(bad_files.cmyk_jpeg())
    assert describe_upload(path).startswith("CMYK image")
    assert describe_upload(str(path)).startswith("CMYK image")
    assert describe_upload(tmp_path / "missing.jpg") is None
    assert describe_upload(np.zeros((2, 2, 3), np.uint8)) is None


def test_describe_upload_is_silent_for_plain_and_unreadable_files():
    assert describe_upload(encode_png(bad_files.gradient_rgb())) is None
    assert describe_upload(bad_files.text_renamed_jpg()) is None
    assert describe_upload(b"") is None


# --------------------------------------------------------------------------------------------- the app
def test_dk_app_is_callable_and_displays_as_a_widget(random_model):
    shown = dk.app(random_model, **SMALL)
    assert isinstance(shown, DepthApp) and shown.result is None
    bundle = shown._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == shown.layout.model_id
    assert inspect.isfunction(dk.app) and dk.app is app_module.app and "DepthApp" in app_module.__all__
    assert type(app_module) is types.ModuleType and not callable(app_module)  # no module-class replacement


@pytest.mark.parametrize("kwargs, match", [
    ({"max_side": 0}, "max_side must be a positive integer"),
    ({"gif_frames": 2.5}, "gif_frames must be a positive integer"),
    ({"sample": "kitten"}, "Unknown sample 'kitten'; choose one of: astronaut, chelsea"),
])
def test_app_rejects_bad_settings(random_model, kwargs, match):
    with pytest.raises(InputError, match=match):
        DepthApp(random_model, **kwargs)


def test_upload_shows_photo_and_heatmap_of_the_right_shape(midas_app):
    app = midas_app
    upload(app, "chelsea.jpg", (SAMPLES / "chelsea.jpg").read_bytes())
    assert app.error == "" and app.name == "chelsea.jpg"
    original, heat = png_array(app.original.value), png_array(app.heatmap.value)
    assert original.shape == heat.shape == (107, 160, 3)  # 451 x 300 photo -> 192 x 128 -> 160 x 107
    assert app.result.inverse_depth.shape == (128, 192)  # working resolution (max_side 192)
    expected = colorize(downscale(app.result.inverse_depth, 160), cmap="inferno")
    np.testing.assert_array_equal(heat, expected)
    assert (png_mode(app.heatmap.value), png_mode(app.original.value)) == ("P", "RGB")  # the lean heat-map PNG
    assert app.upload.value == ()  # the widget does not keep the file
    assert "chelsea.jpg" in app.status.value and "451×300 px (scaled to 192×128)" in app.status.value
    assert not any(widget.disabled for widget in app._inputs)


def test_sample_picker_runs_the_sample(app):
    app.sample.value = "motorcycle"
    first = app.heatmap.value
    h, w = png_array(first).shape[:2]
    assert abs(w / h - 741 / 500) < 0.02 and max(h, w) == 160
    assert app.name == "motorcycle_left.png"
    app.sample.value = "chelsea"
    assert app.heatmap.value != first
    h, w = png_array(app.heatmap.value).shape[:2]
    assert abs(w / h - 451 / 300) < 0.02


def test_upload_resets_the_sample_picker(app):
    app.sample.value = "coffee"
    upload(app, "cat.jpg", (SAMPLES / "chelsea.jpg").read_bytes())
    assert app.sample.value == app_module._PLACEHOLDER and app.name == "cat.jpg"


def test_colormap_changes_heatmap_legend_and_download_but_not_the_data(app):
    app.sample.value = "chelsea"
    heat, legend, data = app.heatmap.value, app.legend.value, app.download_data.value
    app.cmap.value = "viridis"
    assert app.heatmap.value != heat and app.legend.value != legend
    np.testing.assert_array_equal(png_array(app.heatmap.value),
                                  colorize(downscale(app.result.inverse_depth, 160), cmap="viridis"))
    assert app.download_data.value is data or app.download_data.value == data
    assert "chelsea_heatmap_viridis.png" in links(app.download_heatmap.value)
    legend_rgb = png_array(app.legend.value)
    assert legend_rgb.shape == (12, 160, 3)
    np.testing.assert_array_equal(legend_rgb[0], colorize(np.linspace(0, 1, 160)[None], "viridis", mode="minmax")[0])


def test_downloads_hold_the_full_working_resolution_maps(app):
    app.sample.value = "chelsea"
    files = links(app.download_heatmap.value + app.download_data.value)
    assert set(files) == {"chelsea_heatmap_inferno.png", "chelsea_inverse_depth16.png", "chelsea_inverse_depth.npy"}
    inv = app.result.inverse_depth
    np.testing.assert_array_equal(np.load(io.BytesIO(files["chelsea_inverse_depth.npy"])), inv)
    np.testing.assert_array_equal(png_array(files["chelsea_heatmap_inferno.png"]), colorize(inv))
    assert png_mode(files["chelsea_heatmap_inferno.png"]) == "P"
    with Image.open(io.BytesIO(files["chelsea_inverse_depth16.png"])) as im:
        png16 = np.asarray(im)
    assert png16.shape == inv.shape and png16.dtype == np.uint16
    assert png16.min() == 0 and png16.max() == 65535
    assert png16.flat[np.argmax(inv)] == 65535  # nearest pixel = brightest


def test_effects_follow_tabs_and_sliders(app):
    app.sample.value = "chelsea"
    # only the open tab (parallax) is computed
    assert app.parallax.value and app.blur.value == b"" and app.obstacle.value == b""
    with Image.open(io.BytesIO(app.parallax.value)) as gif:
        assert gif.n_frames == 4 and gif.size == (64, 43)
    before = app.parallax.value
    app.amplitude.value = 15.0
    assert app.parallax.value != before

    app.tabs.selected_index = 1
    blurred = app.blur.value
    assert png_array(blurred).shape == (64, 96, 3)
    app.aperture.value = 25.0
    assert app.blur.value != blurred
    sharp_focus = app.blur.value
    app.focus.value = 0.1
    assert app.blur.value != sharp_focus
    app.aperture.value = 0.0  # no blur at all: the effect photo comes back unchanged
    np.testing.assert_array_equal(png_array(app.blur.value), downscale(app.result.image, 96))

    app.tabs.selected_index = 2
    overlay = app.obstacle.value
    assert png_array(overlay).shape == (64, 96, 3) and "of the box is nearer" in app.obstacle_text.value
    app.threshold.value = 0.05  # almost everything is "near": the alarm must sound
    assert "OBSTACLE ahead" in app.obstacle_text.value and app.obstacle.value != overlay


def test_busy_state_is_visible_while_working(app):
    seen = []
    app.status.observe(lambda change: seen.append((change["new"], [w.disabled for w in app._inputs])), names="value")
    app.sample.value = "coffee"
    busy = [entry for entry in seen if "working…" in entry[0]]
    assert busy and all(all(disabled) for _, disabled in busy)
    assert len(busy[0][1]) == 8  # upload, drop zone, sample, colour map and the four sliders
    assert "✔" in seen[-1][0] and not any(w.disabled for w in app._inputs)


def _widget_order(root) -> list:
    """Every widget under ``root`` in display order (depth first, as the page lays them out top to bottom)."""
    order = [root]
    for child in getattr(root, "children", ()):
        order.extend(_widget_order(child))
    return order


_ON_SCREEN = ("original", "heatmap", "parallax", "download_heatmap", "download_data")


@pytest.mark.parametrize("case", sorted(bad_files.BAD_UPLOADS))
def test_bad_upload_keeps_the_previous_photo_with_one_sentence_above_it(app, case):
    filename, build, pattern = bad_files.BAD_UPLOADS[case]
    app.sample.value = "chelsea"  # something was shown before
    shown, before = app.result, {key: getattr(app, key).value for key in _ON_SCREEN}
    upload(app, filename, build())
    assert re.search(pattern, app.error), app.error
    assert app.error.endswith(".") and "\n" not in app.error and "Traceback" not in app.message.value
    assert not re.search(r"\. [A-Z]", app.error), f"more than one sentence: {app.error}"
    assert filename in app.message.value and "depthkit-error" in app.message.value
    # the previous photo, its depth, effects and downloads stay on screen, and still belong to chelsea
    assert app.result is shown and app.name == "chelsea.jpg" and app.sample.value == "chelsea"
    assert {key: getattr(app, key).value for key in _ON_SCREEN} == before
    assert app.heatmap.layout.display is None and app.original.layout.display is None
    assert "Still showing chelsea.jpg" in app.status.value
    # the error is above the pictures
    order = _widget_order(app.layout)
    assert order.index(app.message) < order.index(app.original) < order.index(app.heatmap)
    assert not any(widget.disabled for widget in app._inputs) and app.upload.value == ()
    # ... and the next upload works, replaces the photo and clears the message
    upload(app, "ok.png", encode_png(bad_files.gradient_rgb(60, 90)), "image/png")
    assert app.error == "" and app.message.value == "" and app.name == "ok.png"
    assert png_array(app.heatmap.value).shape == (60, 90, 3)
    assert app.sample.value == app_module._PLACEHOLDER


def test_bad_upload_on_an_empty_app_shows_nothing_but_the_sentence(app):
    upload(app, "notes.jpg", bad_files.text_renamed_jpg())
    assert "not a readable image" in app.error and app.result is None
    assert "Nothing shown" in app.status.value
    assert all(getattr(app, key).value in (b"", "") for key in _ON_SCREEN)


def test_unexpected_failure_is_one_sentence_and_re_enables_the_inputs():
    class Broken(torch.nn.Module):
        weights_info = WeightsInfo(kind="random", seed=0)

        def forward(self, x):
            raise RuntimeError("boom")

    shown = DepthApp(Broken(), **SMALL)
    assert shown.run(bad_files.gradient_rgb(30, 40), "x.png") is False
    assert shown.error.startswith("unexpected RuntimeError (boom)") and shown._busy_depth == 0
    assert not any(widget.disabled for widget in shown._inputs)


def test_the_app_writes_no_temporary_files(app, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the app must encode in memory, not through temporary files")

    for name in ("mkstemp", "mkdtemp", "TemporaryDirectory", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)
    app.sample.value = "chelsea"
    app.cmap.value = "magma"
    app.tabs.selected_index = 1
    assert app.error == "" and set(links(app.download_heatmap.value + app.download_data.value)) == {
        "chelsea_heatmap_magma.png", "chelsea_inverse_depth16.png", "chelsea_inverse_depth.npy"}


def test_pipeline_alone_gives_the_three_sizes(random_model):
    pipe = DepthPipeline(random_model, max_side=100, display_side=50, effect_side=20)
    views = pipe.process(encode_png(bad_files.gradient_rgb(60, 200)))
    assert views.original_size == (60, 200) and views.note == ""
    assert views.result.inverse_depth.shape == (30, 100) and views.result.image.shape == (30, 100, 3)
    assert views.display_photo.shape == (15, 50, 3) and views.display_inv.shape == (15, 50)
    assert views.effect_photo.shape == (6, 20, 3) and views.effect_inv.shape == (6, 20)
    np.testing.assert_allclose(views.display_inv, downscale(views.result.inverse_depth, 50))
    # backend="auto" was decided when the pipeline was made, and the result names it
    assert pipe.backend == dk.backend_choice.resolve_backend(random_model) == views.result.backend


@pytest.mark.parametrize("case", sorted(bad_files.CONVERTED_UPLOADS))
def test_unusual_formats_work_and_get_a_note(app, case):
    filename, build, (h, w), pattern = bad_files.CONVERTED_UPLOADS[case]
    upload(app, filename, build())
    assert app.error == "" and re.search(pattern, app.note)
    assert re.search(pattern, app.message.value)
    assert png_array(app.heatmap.value).shape == (h, w, 3) and app.result.inverse_depth.shape == (h, w)


def test_a_fifty_megapixel_photo_is_read_scaled_down(app):
    upload(app, "huge_photo.jpg", bad_files.fifty_megapixels())
    assert app.error == "" and app.result.inverse_depth.shape == (150, 192)
    assert "8000×6250 px (scaled to 192×150)" in app.status.value
    assert np.all(app.result.image == 90)  # the grey photo, still grey after the reduced-scale decode


def test_exif_rotated_photo_reports_its_upright_size(app):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    Image.fromarray(bad_files.gradient_rgb(40, 100)).save(buffer, format="JPEG", exif=exif)
    upload(app, "portrait.jpg", buffer.getvalue())
    assert app.result.inverse_depth.shape == (100, 40) and "40×100 px" in app.status.value


def test_large_photo_is_scaled_down_before_estimation(app):
    upload(app, "wide.png", encode_png(bad_files.gradient_rgb(400, 1000)), "image/png")
    assert app.result.inverse_depth.shape == (77, 192) and app.result.image.shape == (77, 192, 3)
    assert png_array(app.heatmap.value).shape == (64, 160, 3)
    assert "1000×400 px (scaled to 192×77)" in app.status.value


def test_repeated_uploads_keep_only_the_current_result(app):
    data = (SAMPLES / "astronaut.jpg").read_bytes()
    tracemalloc.start()
    try:
        for _ in range(2):  # warm-up: caches, first allocations
            upload(app, "a.jpg", data)
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(6):
            upload(app, "a.jpg", data)
            assert app.upload.value == ()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    # one result (photo + maps + encoded images at <= 192 px) is ~0.5 MB; six leaked results would be ~3 MB
    assert grown < 300_000, f"memory grew by {grown} bytes over 6 uploads"
    assert app._effects_done == {0}


def test_run_accepts_arrays_and_reports_failure(app):
    assert app.run(bad_files.gradient_rgb(30, 40), "array") is True
    assert app.result.inverse_depth.shape == (30, 40)
    assert app.run(np.zeros((3, 4, 5)), "bad array") is False
    assert "channels-first" in app.error or "shape" in app.error


def test_weights_banner_flags_untrained_weights_in_red(app):
    banner = app.weights.value
    assert "UNTRAINED" in banner and "NOT depth predictions" in banner and "#c62828" in banner
    assert "python -m depthkit weights download" in banner
    app.sample.value = "chelsea"
    assert "UNTRAINED weights: not a depth prediction" in app.status.value


def test_weights_banner_for_trained_weights():
    model = torch.nn.Conv2d(3, 1, 1)
    model.weights_info = WeightsInfo(kind="file", path="/tmp/my.pt", sha256="ab" * 32)
    shown = DepthApp(model, **SMALL)
    assert "UNTRAINED" not in shown.weights.value and "weights from /tmp/my.pt" in shown.weights.value
    assert shown.pretrained


def _drop(app: DepthApp, name: str, data: bytes) -> None:
    """What the drop zone's JavaScript sends when a file is dropped on it (a custom message plus one buffer)."""
    app.dropzone._handle_custom_msg({"event": "drop", "name": name, "type": "image/jpeg", "size": len(data)},
                                    [memoryview(data)])


def test_drop_zone_shows_dropped_photos_and_errors(app):
    assert app.dropzone is not None, "the drop zone needs the package 'anywidget' (pip install anywidget)"
    assert app.dropzone in app._inputs and "depthkit-dropzone" in app.dropzone._esm
    app.sample.value = "coffee"
    _drop(app, "cat.jpg", (SAMPLES / "chelsea.jpg").read_bytes())
    assert app.name == "cat.jpg" and app.error == "" and app.sample.value == app_module._PLACEHOLDER
    assert png_array(app.heatmap.value).shape == (107, 160, 3)
    _drop(app, "notes.jpg", bad_files.text_renamed_jpg())
    assert "not a readable image" in app.error and "notes.jpg" in app.message.value
    app.dropzone._handle_custom_msg({"event": "something else"}, [])  # ignored
    assert "notes.jpg" in app.message.value and not app.dropzone.disabled


def test_empty_pictures_are_hidden(app):
    assert app.heatmap.layout.display == "none" and app.original.layout.display == "none"
    upload(app, "x.jpg", b"junk")  # nothing to show yet: still hidden (no broken-image icon)
    assert all(image.layout.display == "none" for image in (app.original, app.heatmap, app.parallax))
    app.sample.value = "chelsea"
    assert app.heatmap.layout.display is None and app.parallax.layout.display is None
    assert app.blur.layout.display == "none"  # its tab was never opened
    app.clear()
    assert all(image.layout.display == "none" for image in (app.original, app.heatmap, app.parallax))


def test_a_fifo_path_is_refused_without_hanging(app, tmp_path):
    import os
    import time

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert app.run(fifo, "photo.jpg") is False
    assert time.monotonic() - t0 < 5 and "photo.jpg" in app.message.value and app.error.endswith(".")


# ------------------------------------------------------------------------------------------------ webcam tab
def _jpeg_frame(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def test_webcam_tab_runs_the_camera_only_while_open(app):
    assert app.webcam is not None, "the webcam needs the package 'anywidget' (pip install anywidget)"
    assert app.tabs.get_title(4) == "Webcam" and app.webcam.view in app.tabs.children[4].children
    assert app.webcam.view.active is False  # the first tab is open: no camera
    app.tabs.selected_index = 4
    assert app.webcam.view.active is True
    app.tabs.selected_index = 1
    assert app.webcam.view.active is False


def test_webcam_frames_in_the_app_give_heat_maps_and_leave_the_photo_alone(app):
    app.sample.value = "coffee"
    photo, blur = app.heatmap.value, app.blur.value
    app.tabs.selected_index = 4
    assert app.blur.value == blur == b""  # the webcam tab computes no effect
    sent = []
    app.webcam.view.send = lambda content, buffers=None: sent.append((content, buffers))
    for seq in (1, 2):
        app.webcam.receive({"event": "frame", "seq": seq}, [_jpeg_frame(seq)])
        assert app.webcam.gate.wait(30)
    for _ in range(200):
        if len(sent) == 2:
            break
        time.sleep(0.01)
    assert [content["event"] for content, _ in sent] == ["depth", "depth"]
    heat = png_array(sent[-1][1][0])
    assert heat.shape == (240, 320, 3) and not (heat == heat[0, 0]).all()
    assert app.heatmap.value == photo and app.name == "coffee.jpg"


def test_webcam_permission_denied_is_one_sentence_in_the_app(app):
    app.webcam.receive({"event": "error", "name": "NotAllowedError", "message": "Permission denied"})
    assert app.error == app.webcam.view.message
    assert "not allowed to use the camera" in app.message.value and "depthkit-error" in app.message.value
    app.webcam.receive({"event": "started"})
    assert app.error == "" and app.message.value == ""


def test_3d_tab_shows_the_point_cloud_of_the_current_photo(app):
    app.sample.value = "coffee"
    assert app.tabs.get_title(3) == "3-D point cloud" and app.cloud in app.tabs.children[3].children
    assert app.cloud_figure is None  # computed only when the tab is opened
    app.tabs.selected_index = 3
    fig = app.cloud_figure
    (trace,) = fig.data
    h, w = app.views.effect_inv.shape
    assert trace.type == "scatter3d" and len(trace.x) == h * w <= 20_000  # small photo: every pixel
    photo = app.views.effect_photo.reshape(-1, 3)
    assert trace.marker.color[0] == "rgb({},{},{})".format(*photo[0])
    assert "no unit" in fig.layout.scene.zaxis.title.text
    assert app.webcam.view.active is False
    app.sample.value = "chelsea"  # a new photo while the tab is open: its cloud replaces the old one
    assert app.cloud_figure is not fig and app.name == "chelsea.jpg"
    assert len(app.cloud_figure.data[0].x) == app.views.effect_inv.size
    app.clear()
    assert app.cloud_figure is None
