"""A live webcam in Jupyter: the browser's camera in, a stabilised inverse-depth heat map out, frame by frame.

Three parts:

* :class:`WebcamDepth`: one camera frame (JPEG bytes) in, its heat map (PNG bytes) out -- the network, then
  :class:`depthkit.video.Stabilizer` (``"align"``: each frame's scale and shift fitted to the previous stabilised
  frames, so the colours do not flicker), then :func:`depthkit.viz.colorize` on the fixed range 0 (far) .. 1 (near).
  No widgets.
* :class:`FrameGate`: at most one frame is processed at a time (in a worker thread, so the kernel stays
  responsive); a frame that arrives while one is being processed is dropped and counted, never queued.
* :class:`Webcam`: the anywidget component (``getUserMedia`` at 320 x 240 in the browser) connected to the two.
  The browser sends the next frame only after the kernel answered the previous one (with its heat map or with
  "dropped"), so frames never pile up; the camera is stopped (``track.stop()``) when :attr:`Webcam.active` turns
  False (the app's tab is left) or the widget is removed from the page.

A camera the browser may not use (permission denied, no camera, camera busy) is reported as one sentence
(:func:`camera_error_sentence`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import DepthkitError

__all__ = ["CAMERA_ERRORS", "FrameGate", "Webcam", "WebcamDepth", "camera_error_sentence"]

#: One sentence per DOMException name that ``getUserMedia`` raises.
CAMERA_ERRORS = {
    "NotAllowedError": "the browser was not allowed to use the camera; allow camera access for this page "
                       "(the camera icon in the address bar) and open the tab again.",
    "NotFoundError": "no camera was found; connect a camera and open the tab again.",
    "NotReadableError": "the camera is in use by another program or could not be started; close that program "
                        "and open the tab again.",
    "OverconstrainedError": "the camera cannot deliver 320×240 video; try another camera.",
    "SecurityError": "this page may not use the camera (it needs https or localhost).",
    "TypeError": "this browser does not offer camera access (getUserMedia) on this page.",
}


def camera_error_sentence(name: str, message: str = "") -> str:
    """The one sentence shown when the browser's camera cannot be used.

    Args:
        name: the JavaScript error's name (e.g. ``"NotAllowedError"`` for a denied permission).
        message: the browser's own message, used only for an unknown ``name``.

    Returns:
        One sentence saying what is wrong and what to do.

    Example:
        >>> camera_error_sentence("NotFoundError")
        'Camera: no camera was found; connect a camera and open the tab again.'
    """
    text = CAMERA_ERRORS.get(str(name))
    if text is None:
        detail = f" ({message})" if message else ""
        text = f"the camera could not be started: {name}{detail}; reload the page and try again."
    return "Camera: " + text


class WebcamDepth:
    """Camera frames in, stabilised inverse-depth heat maps out (no widgets).

    Args:
        model: a model from :func:`depthkit.load_model`, or any callable (H, W, 3) uint8 RGB ->
            (H, W) relative inverse depth.
        method: stabilisation of :class:`depthkit.video.Stabilizer` (``"align"``, ``"shared"`` or ``"none"``).
        cmap: matplotlib colour map of the heat map (near = bright for "inferno").
        max_side: frames are scaled down to this longest side (px) before the depth is estimated.

    Attributes:
        frames: frames turned into heat maps so far.
        last_map: (H, W) float32 stabilised map of the last frame (about 0 = far .. 1 = near), or None.
        seconds: time (s) the last frame took, decoding to encoding.
    """

    def __init__(self, model: Any, *, method: str = "align", cmap: str = "inferno", max_side: int = 320) -> None:
        from .video import Stabilizer

        self.model, self.cmap, self.max_side = model, cmap, max_side
        self.backend = "eager"
        if hasattr(model, "state_dict"):  # a network: backend="auto" is chosen now, not in the camera's thread
            from .backend_choice import resolve_backend

            self.backend = resolve_backend(model)
        self.stabilizer = Stabilizer(method)
        self.frames, self.seconds = 0, 0.0
        self.last_map: np.ndarray | None = None

    def _inverse_depth(self, photo: np.ndarray) -> np.ndarray:
        if callable(self.model) and not hasattr(self.model, "state_dict"):
            return np.asarray(self.model(photo), dtype=np.float32)
        from .inference import estimate_depth

        return estimate_depth(photo, self.model, backend=self.backend).inverse_depth

    def process(self, frame: Any) -> bytes:
        """Turn one camera frame into its stabilised heat map.

        Args:
            frame: the frame as encoded bytes (JPEG/PNG, as the browser sends it) or an (H, W, 3) uint8 array.

        Returns:
            PNG bytes of the (h, w, 3) heat map, h and w at most ``max_side`` px.

        Raises:
            DepthkitError: the frame is not a readable image (one sentence).
        """
        from .io import read_image
        from .viz import heatmap_png

        t0 = time.perf_counter()
        photo = read_image(frame, max_size=self.max_side)
        stable = self.stabilizer.update(self._inverse_depth(photo))
        png = heatmap_png(stable, cmap=self.cmap, vrange=(0.0, 1.0))  # decodes to colorize(stable, ...) exactly
        self.last_map, self.frames = stable, self.frames + 1
        self.seconds = time.perf_counter() - t0
        return png

    def reset(self) -> None:
        """Forget the running reference (a new stream starts afresh)."""
        self.stabilizer.reference = None


class FrameGate:
    """Process at most one frame at a time in a worker thread; frames offered while busy are dropped.

    Args:
        work: frame -> result, run in the worker thread.
        done: called in the worker thread with (result, error sentence or "") when a frame is finished.
        threaded: False runs ``work`` in the caller's thread (for tests and scripts).

    Attributes:
        accepted, dropped: frames processed / dropped so far.
    """

    def __init__(self, work: Callable[[Any], Any], done: Callable[[Any, str], None], *, threaded: bool = True) -> None:
        self.work, self.done, self.threaded = work, done, threaded
        self.accepted = self.dropped = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        """True while a frame is being processed."""
        return not self._idle.is_set()

    def offer(self, frame: Any) -> bool:
        """Process ``frame`` unless one is already being processed (then drop it).

        Returns:
            True if the frame was accepted, False if it was dropped.
        """
        with self._lock:
            if not self._idle.is_set():
                self.dropped += 1
                return False
            self._idle.clear()
            self.accepted += 1
        if self.threaded:
            threading.Thread(target=self._run, args=(frame,), daemon=True, name="depthkit-webcam").start()
        else:
            self._run(frame)
        return True

    def _run(self, frame: Any) -> None:
        result, error = None, ""
        try:
            result = self.work(frame)
        except DepthkitError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a live stream must survive anything and say what happened
            error = f"unexpected {type(exc).__name__} ({exc}) while processing a camera frame."
        finally:
            self._idle.set()
        self.done(result, error)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no frame is being processed; True if idle within ``timeout`` seconds."""
        return self._idle.wait(timeout)


_WEBCAM_ESM = """
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "depthkit-webcam";
  const video = document.createElement("video");
  video.className = "depthkit-webcam-camera";
  video.muted = true; video.playsInline = true; video.autoplay = true;
  const heat = document.createElement("img");
  heat.className = "depthkit-webcam-heatmap";
  heat.alt = "inverse depth (bright = near)";
  const note = document.createElement("div");
  note.className = "depthkit-webcam-message";
  box.append(video, heat);
  el.append(box, note);
  const canvas = document.createElement("canvas");
  let stream = null, seq = 0, waiting = false, timer = null, url = null, alive = true;
  const showNote = () => { note.textContent = model.get("message"); };
  model.on("change:message", showNote);
  showNote();
  const stop = () => {
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
    video.srcObject = null; waiting = false; clearTimeout(timer);
  };
  const sendFrame = () => {
    if (!stream || waiting || !alive) return;
    if (video.readyState < 2) { clearTimeout(timer); timer = setTimeout(sendFrame, 50); return; }
    canvas.width = model.get("width"); canvas.height = model.get("height");
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(async (blob) => {
      if (!blob || !stream) return;
      waiting = true; seq += 1;
      model.send({ event: "frame", seq }, undefined, [await blob.arrayBuffer()]);
      timer = setTimeout(() => { waiting = false; sendFrame(); }, 10000);  // lost answer: try again
    }, "image/jpeg", 0.8);
  };
  const start = async () => {
    if (stream || !alive) return;
    try {
      stream = await navigator.mediaDevices.getUserMedia(
        { video: { width: model.get("width"), height: model.get("height") }, audio: false });
    } catch (err) {
      model.send({ event: "error", name: err.name || "TypeError", message: String(err.message || err) });
      return;
    }
    if (!alive || !model.get("active")) { stop(); return; }
    model.send({ event: "started" });
    video.srcObject = stream;
    sendFrame();
  };
  model.on("msg:custom", (msg, buffers) => {
    if (msg.event !== "depth" && msg.event !== "dropped") return;
    if (msg.event === "depth" && buffers && buffers.length) {
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(new Blob([buffers[0]], { type: "image/png" }));
      heat.src = url;
    }
    clearTimeout(timer); waiting = false;
    sendFrame();
  });
  const sync = () => { if (model.get("active")) start(); else stop(); };
  model.on("change:active", sync);
  sync();
  return () => { alive = false; stop(); if (url) URL.revokeObjectURL(url); };
}
export default { render };
"""

_WEBCAM_CSS = """
.depthkit-webcam { display: flex; gap: 8px; align-items: flex-start; }
.depthkit-webcam video, .depthkit-webcam img { width: 320px; height: 240px; background: #eee; object-fit: contain; }
.depthkit-webcam-message { color: #c62828; min-height: 1.2em; }
"""

_WIDGET_CLASS = None


def _widget_class() -> type:
    """The anywidget class of the camera view (built on first use: anywidget is imported only then)."""
    global _WIDGET_CLASS
    if _WIDGET_CLASS is None:
        import anywidget
        import traitlets

        class WebcamView(anywidget.AnyWidget):
            """The browser side: the camera (320 x 240) and the last heat map, side by side."""

            _esm = _WEBCAM_ESM
            _css = _WEBCAM_CSS
            active = traitlets.Bool(False).tag(sync=True)
            width = traitlets.Int(320).tag(sync=True)
            height = traitlets.Int(240).tag(sync=True)
            message = traitlets.Unicode("").tag(sync=True)

        _WIDGET_CLASS = WebcamView
    return _WIDGET_CLASS


class Webcam:
    """The live webcam: the browser's camera, the network, the stabilised heat map. Needs ``anywidget``.

    Args:
        model: as in :class:`WebcamDepth`.
        on_error: called with the sentence when the camera cannot be used or a frame fails (e.g. the app shows
            it), and with "" when the camera has started.
        threaded: False processes frames in the message handler's thread (tests).
        **kwargs: passed to :class:`WebcamDepth` (``method``, ``cmap``, ``max_side``).

    Attributes:
        view: the anywidget to display; ``view.active = True`` starts the camera, False stops it.
        depth: the :class:`WebcamDepth`; gate: the :class:`FrameGate` (``gate.dropped`` counts dropped frames).
        heatmap_png: PNG bytes of the last heat map sent to the browser (b"" before the first).
        error: the last error sentence, or "".
    """

    def __init__(self, model: Any, *, on_error: Callable[[str], None] | None = None, threaded: bool = True,
                 **kwargs: Any) -> None:
        self.depth = WebcamDepth(model, **kwargs)
        self.gate = FrameGate(self.depth.process, self._finished, threaded=threaded)
        self.on_error = on_error
        self.heatmap_png, self.error = b"", ""
        self.view = _widget_class()()
        self.view.on_msg(lambda _widget, content, buffers: self.receive(content, buffers))

    def receive(self, content: Any, buffers: list | None = None) -> None:
        """Handle one message from the browser: a frame (``{"event": "frame"}`` + JPEG buffer) or an error."""
        if not isinstance(content, dict):
            return
        event = content.get("event")
        if event == "frame":
            data = bytes(buffers[0]) if buffers else b""
            if not self.gate.offer(data):
                self.view.send({"event": "dropped", "dropped": self.gate.dropped})
        elif event == "error":
            self._report(camera_error_sentence(str(content.get("name", "")), str(content.get("message", ""))))
        elif event == "started":
            self.depth.reset()
            self._report("")

    def _finished(self, png: bytes | None, error: str) -> None:
        if error:
            self._report(f"Camera frame skipped: {error}")
            self.view.send({"event": "dropped", "dropped": self.gate.dropped})
            return
        self.heatmap_png = png
        self.view.send({"event": "depth", "frames": self.depth.frames, "dropped": self.gate.dropped,
                        "seconds": round(self.depth.seconds, 3)}, buffers=[png])

    def _report(self, sentence: str) -> None:
        self.error = sentence
        self.view.message = sentence
        if self.on_error is not None:
            self.on_error(sentence)

    def close(self) -> None:
        """Stop the camera and close the widget."""
        self.view.active = False
        self.view.close()
