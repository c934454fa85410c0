"""Tests for depthkit.webcam: camera frames -> stabilised heat maps, one frame at a time, drops counted, errors."""

import io
import threading

import numpy as np
import pytest
from PIL import Image

from depthkit.video import Stabilizer
from depthkit.viz import colorize
from depthkit.webcam import CAMERA_ERRORS, FrameGate, Webcam, WebcamDepth, camera_error_sentence

H, W = 240, 320
RAMP = np.add.outer(np.linspace(0.0, 1.0, H), np.linspace(0.0, 2.0, W)).astype(np.float32)


def jpeg(seed: int = 0) -> bytes:
    """A 320 x 240 JPEG camera frame, as the browser sends it."""
    pixels = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def png_array(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == "P"  # a paletted heat map: one byte per pixel
        return np.asarray(im.convert("RGB"))


class AffineCopies:
    """Stand-in network: frame t gets the inverse depth a_t * RAMP + b_t (same scene, drifting scale and shift)."""

    def __init__(self, gate: threading.Event | None = None):
        self.t, self.gate = 0, gate

    def __call__(self, photo: np.ndarray) -> np.ndarray:
        assert photo.shape == (H, W, 3) and photo.dtype == np.uint8
        if self.gate is not None:
            assert self.gate.wait(10), "the test never released the frame"
        self.t += 1
        return (1.0 + 0.5 * self.t) * RAMP + 3.0 * self.t


def recording(cam: Webcam) -> list:
    """Record what the kernel sends to the browser: (content, buffers) per message."""
    sent = []
    cam.view.send = lambda content, buffers=None: sent.append((content, buffers))
    return sent


def test_frames_become_the_stabilised_heat_map():
    depth = WebcamDepth(AffineCopies(), method="align")
    pngs = [depth.process(jpeg(i)) for i in range(4)]
    reference = Stabilizer("align")
    maps = [reference.update((1.0 + 0.5 * t) * RAMP + 3.0 * t) for t in range(1, 5)]
    for png, stable in zip(pngs, maps, strict=True):
        np.testing.assert_array_equal(png_array(png), colorize(stable, cmap="inferno", vrange=(0.0, 1.0)))
    # affine copies of one map come out as the same map: no flicker
    np.testing.assert_allclose(depth.last_map, maps[0], atol=1e-5)
    assert depth.frames == 4 and depth.last_map.shape == (H, W) and depth.seconds > 0


def test_frames_are_scaled_down_to_max_side():
    depth = WebcamDepth(lambda photo: photo.mean(axis=2), max_side=160)
    assert png_array(depth.process(jpeg())).shape == (120, 160, 3)


def test_webcam_answers_every_frame_with_its_heat_map():
    cam = Webcam(AffineCopies(), threaded=False)
    sent = recording(cam)
    for i in range(3):
        cam.receive({"event": "frame", "seq": i + 1}, [memoryview(jpeg(i))])
    assert [content["event"] for content, _ in sent] == ["depth"] * 3
    assert [content["frames"] for content, _ in sent] == [1, 2, 3]
    assert sent[-1][1] == [cam.heatmap_png] and png_array(cam.heatmap_png).shape == (H, W, 3)
    assert cam.gate.accepted == 3 and cam.gate.dropped == 0 and cam.error == ""


def test_frames_arriving_while_one_is_processed_are_dropped_not_queued():
    release = threading.Event()
    cam = Webcam(AffineCopies(gate=release))  # threaded: the kernel stays free while a frame is processed
    sent = recording(cam)
    cam.receive({"event": "frame", "seq": 1}, [jpeg(1)])
    assert cam.gate.busy
    for seq in (2, 3, 4):
        cam.receive({"event": "frame", "seq": seq}, [jpeg(seq)])
    assert cam.gate.dropped == 3 and cam.gate.accepted == 1
    assert [content for content, _ in sent] == [{"event": "dropped", "dropped": n} for n in (1, 2, 3)]
    release.set()
    assert cam.gate.wait(10)
    for _ in range(100):  # the answer is sent just after the gate opens
        if len(sent) == 4:
            break
        threading.Event().wait(0.01)
    assert sent[-1][0]["event"] == "depth" and sent[-1][0]["frames"] == 1 and cam.heatmap_png
    cam.receive({"event": "frame", "seq": 5}, [jpeg(5)])  # idle again: the next frame is taken
    assert cam.gate.wait(10) and cam.gate.accepted == 2 and cam.gate.dropped == 3


def test_frame_gate_runs_one_at_a_time_and_reports_errors():
    results = []
    gate = FrameGate(lambda x: 1 / x, lambda result, error: results.append((result, error)), threaded=False)
    assert gate.offer(4) and gate.offer(0)
    assert results[0] == (0.25, "")
    assert results[1][0] is None and results[1][1].startswith("unexpected ZeroDivisionError")
    assert not gate.busy and gate.accepted == 2


@pytest.mark.parametrize("name", ["NotAllowedError", "NotFoundError"])
def test_camera_errors_are_one_sentence(name):
    seen = []
    cam = Webcam(AffineCopies(), on_error=seen.append, threaded=False)
    cam.receive({"event": "error", "name": name, "message": "Permission denied"})
    sentence = camera_error_sentence(name)
    assert cam.error == cam.view.message == sentence == seen[-1] == "Camera: " + CAMERA_ERRORS[name]
    assert sentence.count(".") == 1 and sentence.endswith(".")
    cam.receive({"event": "started"})  # the user allowed the camera after all: the sentence goes
    assert cam.error == cam.view.message == seen[-1] == ""


def test_unknown_camera_error_and_junk_frame_keep_the_stream_going():
    assert camera_error_sentence("AbortError", "boom") == (
        "Camera: the camera could not be started: AbortError (boom); reload the page and try again.")
    cam = Webcam(AffineCopies(), threaded=False)
    sent = recording(cam)
    cam.receive({"event": "frame", "seq": 1}, [b"this is not a JPEG"])
    assert cam.error.startswith("Camera frame skipped: ") and "not a readable image" in cam.error
    assert sent == [({"event": "dropped", "dropped": 0}, None)]  # the browser is told to send the next frame
    cam.receive("not a dict", None)  # ignored
    cam.receive({"event": "frame", "seq": 2}, [jpeg(2)])
    assert sent[-1][0]["event"] == "depth" and cam.depth.frames == 1


def test_the_browser_side_stops_the_camera_and_waits_for_answers():
    cam = Webcam(AffineCopies(), threaded=False)
    esm = cam.view._esm
    assert "getUserMedia" in esm and "t.stop()" in esm and "return () =>" in esm  # cleanup when removed
    assert 'model.on("change:active"' in esm and "waiting = true" in esm
    assert (cam.view.width, cam.view.height, cam.view.active) == (320, 240, False)
    cam.view.active = True
    cam.close()
    assert cam.view.active is False
