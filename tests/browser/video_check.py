"""Does a video file play in Chromium? Load it in a ``<video>`` element of headless Chromium and report.

Used by tests/test_video.py (and usable by the real-browser tests): every MP4 the kit writes must reach
``readyState >= 2`` (HAVE_CURRENT_DATA: a frame is decoded) with no media error and the expected duration.

The page and the video are served by Playwright's request routing from memory (no server, no socket), with the
``Content-Type`` a web server would send, so the browser decodes the file exactly as it would from JupyterLab.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from browser.lab import CHROMIUM_ARGS, find_chromium

__all__ = ["VideoPlayback", "check_video_plays"]

_ORIGIN = "http://depthkit.video.test"
_PAGE = """<!doctype html><html><body>
<video id="v" src="/clip{suffix}" muted playsinline preload="auto"></video>
<script>
  const v = document.getElementById("v");
  window.result = null;
  const done = () => {{ if (!window.result) window.result = {{
      readyState: v.readyState, error: v.error ? v.error.code : null, duration: v.duration,
      width: v.videoWidth, height: v.videoHeight }}; }};
  v.addEventListener("loadeddata", done);
  v.addEventListener("error", done);
</script></body></html>"""
_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".gif": "image/gif"}


@dataclass(frozen=True)
class VideoPlayback:
    """What Chromium's ``<video>`` element reports for a file.

    Attributes:
        ready_state: HTMLMediaElement.readyState (2 = a frame is decoded, 4 = enough to play through).
        error: MediaError code (4 = MEDIA_ERR_SRC_NOT_SUPPORTED) or None.
        duration: duration in seconds as the browser reads it (NaN if unknown).
        width: decoded frame width in pixels (0 if none).
        height: decoded frame height in pixels.
    """

    ready_state: int
    error: int | None
    duration: float
    width: int
    height: int

    @property
    def plays(self) -> bool:
        """True when Chromium decoded a frame and reported no error."""
        return self.error is None and self.ready_state >= 2


def check_video_plays(path: str | Path, *, chromium: str | None = None, timeout_s: float = 30.0) -> VideoPlayback:
    """Load ``path`` in a ``<video>`` element of headless Chromium and return what the element reports.

    Args:
        path: the video file (.mp4 or .webm).
        chromium: the Chromium binary (default: :func:`browser.lab.find_chromium`).
        timeout_s: how long to wait for ``loadeddata`` or ``error``, in seconds.

    Returns:
        A :class:`VideoPlayback`.

    Raises:
        RuntimeError: Chromium or Playwright is missing, or the element reported nothing in time.
    """
    from playwright.sync_api import sync_playwright

    path = Path(path)
    data = path.read_bytes()
    page_html = _PAGE.format(suffix=path.suffix)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium or find_chromium(), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.route(f"{_ORIGIN}/", lambda route: route.fulfill(body=page_html, content_type="text/html"))
            page.route(f"{_ORIGIN}/clip*", lambda route: route.fulfill(
                body=data, content_type=_TYPES.get(path.suffix.lower(), "application/octet-stream")))
            page.goto(f"{_ORIGIN}/")
            try:
                page.wait_for_function("window.result !== null", timeout=timeout_s * 1000)
            except Exception as exc:
                raise RuntimeError(f"Chromium's <video> reported neither loadeddata nor error in {timeout_s} s "
                                   f"for {path}.") from exc
            r = page.evaluate("window.result")
        finally:
            browser.close()
    duration = float("nan") if r["duration"] is None else float(r["duration"])
    return VideoPlayback(int(r["readyState"]), r["error"], duration, int(r["width"]), int(r["height"]))
