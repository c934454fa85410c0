"""The quick-start notebook and its upload app, driven in a real browser (JupyterLab + headless Chromium).

A private JupyterLab server is started on 127.0.0.1 (free port, random token, temporary config/runtime/settings
folders, autosave off) from the student install: a fresh virtual environment made with the README's student line
(``tests/student_env.py``, no dev extras), so the test proves that this install gives a JupyterLab in which lesson 00
and its app run. Playwright drives Debian's Chromium (Playwright's own browser download does not work
offline): it opens notebooks/00_quickstart.ipynb, runs all cells, uploads sample photos and a junk file through the
app's file input, and checks what the page shows. Screenshots go to test-artifacts/browser/.

Needs: `bash .ci/browser-setup.sh` (chromium + playwright). Without them the test FAILS with that hint.
"""

import base64
import io
import json
import re
import secrets
import time

import numpy as np
import pytest
from browser.lab import CHROMIUM_ARGS, SETUP_HINT, LabServer, find_chromium
from conftest import REPO
from PIL import Image
from student_env import student_venv, venv_env

from depthkit.depth_app import fit_size

NOTEBOOK = REPO / "notebooks" / "00_quickstart.ipynb"
ARTIFACTS = REPO / "test-artifacts" / "browser"
SAMPLES = REPO / "data" / "samples"


@pytest.fixture(scope="module")
def chromium_path():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(f"the Python package 'playwright' is not installed; {SETUP_HINT}.", pytrace=False)
    try:
        return find_chromium()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def student_python():
    """The interpreter of a fresh virtual environment with the README's student install (no dev extras)."""
    venv = student_venv()
    return str(venv / "bin" / "python"), venv_env(venv)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, student_python):
    python, env = student_python
    home = tmp_path_factory.mktemp("jupyterlab")
    env = {**env, "TORCH_HOME": str(home / "torch")}  # never the user's weights cache: the lesson runs untrained
    server = LabServer(REPO, home, token=secrets.token_urlsafe(24), python=python, env=env)
    try:
        server.start(timeout=90)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(lab, chromium_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1100})
            tab.set_default_timeout(60_000)
            yield tab
        finally:
            browser.close()


def _shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def _image_size(page, css):
    """(naturalWidth, naturalHeight) of the app's <img> with class ``css`` (0, 0 while it has no picture)."""
    return page.eval_on_selector(f"img.{css}", "img => [img.naturalWidth, img.naturalHeight]")


def _wait_for_status(page, text, timeout=60_000):
    page.wait_for_function(
        """text => { const s = document.querySelector('.depthkit-status');
                     return s && s.textContent.includes(text) && s.textContent.includes('✔'); }""",
        arg=text, timeout=timeout)


def _upload(page, path):
    with page.expect_file_chooser() as chooser:
        page.click("button.depthkit-upload")
    chooser.value.set_files(str(path))


_DROP_JS = """
([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const zone = document.querySelector(".depthkit-dropzone");
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}
"""


def _drop(page, path, mime="image/jpeg"):
    """Drag a file onto the app's drop zone (the events a real drag-and-drop fires, with the file's bytes)."""
    page.evaluate(_DROP_JS, [base64.b64encode(path.read_bytes()).decode("ascii"), path.name, mime])


def test_quickstart_app_in_jupyterlab(page, lab, tmp_path):
    try:
        _drive_quickstart(page, lab, tmp_path)
        _drive_point_cloud(page)
        _drive_webcam(page)
    except Exception:
        _shot(page, "99_failure")  # look at test-artifacts/browser/99_failure.png
        print("JupyterLab log tail:\n" + lab.log_tail())
        raise


def _drive_quickstart(page, lab, tmp_path):
    before = NOTEBOOK.read_bytes()
    started = time.monotonic()
    page.goto(f"{lab.url}/lab/tree/notebooks/{NOTEBOOK.name}?token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_function(
        "() => document.querySelector('.jp-StatusBar-Widget, #jp-main-statusbar')?.textContent.includes('Idle')",
        timeout=90_000)

    # Run > Run All Cells
    page.click("#jp-menu-panel >> text=Run")
    page.click(".lm-Menu-content >> text=Run All Cells")
    # done when every code cell has run (its prompt shows an execution count instead of [ ] or [*])
    code_cells = sum(c["cell_type"] == "code" for c in json.loads(before)["cells"])
    page.wait_for_function(
        """n => { const ps = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
                  return ps.length === n && ps.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim())); }""",
        arg=code_cells, timeout=150_000)
    prompts = page.eval_on_selector_all(".jp-CodeCell .jp-InputArea-prompt", "els => els.map(e => e.textContent)")
    assert len(prompts) == code_cells and all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts), prompts
    outputs = page.eval_on_selector_all(".jp-OutputArea-output", "els => els.map(e => e.textContent)")
    assert not any("Traceback" in text for text in outputs), [t for t in outputs if "Traceback" in t][:1]
    page.wait_for_selector(".depthkit-app img.depthkit-heatmap", state="attached", timeout=30_000)
    page.locator(".depthkit-app").first.scroll_into_view_if_needed()
    page.wait_for_selector(".depthkit-app img.depthkit-heatmap", state="visible", timeout=30_000)

    # the kernel that ran the lesson is the student install's Python
    kernels = lab.kernel_commands()
    assert kernels and all(cmd[0] == lab.python for cmd in kernels), (lab.python, kernels)

    # after "Run All" the app shows what the lesson's code gave it last (ui.run(dk.load_sample("coffee"), "coffee"))
    _wait_for_status(page, "coffee")
    assert "UNTRAINED" in page.inner_text(".depthkit-weights")
    _shot(page, "01_after_run_all")

    # upload sample photos through the FileUpload's file input
    for filename in ("astronaut.jpg", "motorcycle_left.png"):
        _upload(page, SAMPLES / filename)
        _wait_for_status(page, filename)
        with Image.open(SAMPLES / filename) as im:
            width, height = im.size
        heat_w, heat_h = _image_size(page, "depthkit-heatmap")
        photo_w, photo_h = _image_size(page, "depthkit-original")
        assert heat_w > 0 and heat_h > 0, "the heat map image is empty"
        assert (heat_w, heat_h) == (photo_w, photo_h)
        assert abs(heat_w / heat_h - width / height) < 0.02, (heat_w, heat_h, width, height)
        assert page.inner_text(".depthkit-message").strip() == ""
    _shot(page, "02_uploaded_photo")

    # a junk file: one clear sentence above the pictures, no traceback, and the previous photo stays on screen
    shown = (_image_size(page, "depthkit-original"), _image_size(page, "depthkit-heatmap"))
    junk = tmp_path / "holiday.jpg"
    junk.write_text("Dear diary, this is not a photo.\n")
    _upload(page, junk)
    page.wait_for_selector(".depthkit-message .depthkit-error", timeout=60_000)
    message = page.inner_text(".depthkit-message")
    assert "holiday.jpg" in message and "not a readable image" in message and "Traceback" not in message
    page.wait_for_function("() => document.querySelector('.depthkit-status')?.textContent.includes('Still showing')")
    assert "Still showing motorcycle_left.png" in page.inner_text(".depthkit-status")
    assert (_image_size(page, "depthkit-original"), _image_size(page, "depthkit-heatmap")) == shown
    message_box = page.locator(".depthkit-message").bounding_box()
    heat_box = page.locator("img.depthkit-heatmap").bounding_box()
    assert message_box["y"] + message_box["height"] <= heat_box["y"], (message_box, heat_box)  # the error is above
    _shot(page, "03_junk_upload")

    # the app keeps working; this time the photo is dragged onto the drop zone
    _drop(page, SAMPLES / "coffee.jpg")
    _wait_for_status(page, "coffee.jpg")
    heat_w, heat_h = _image_size(page, "depthkit-heatmap")
    assert heat_h > 0 and abs(heat_w / heat_h - 600 / 400) < 0.02
    assert page.inner_text(".depthkit-message").strip() == ""
    assert _image_size(page, "depthkit-heatmap")[0] > 0
    # the effect tabs: open "Portrait blur" and wait for its picture
    page.click(".depthkit-app .lm-TabBar-tab >> text=Portrait blur")
    page.wait_for_function("() => document.querySelector('img.depthkit-blur')?.naturalWidth > 0", timeout=60_000)
    page.locator("img.depthkit-blur").scroll_into_view_if_needed()
    _shot(page, "04_recovered_and_blur")

    # the sample picker, and a real download of the .npy through its data-URI link
    page.select_option(".depthkit-sample select", "grace_hopper")
    _wait_for_status(page, "grace_hopper.jpg")
    page.locator(".depthkit-status").scroll_into_view_if_needed()
    _shot(page, "05_sample_status_downloads")
    with page.expect_download() as download:
        page.click("a.depthkit-download[download$='_inverse_depth.npy']")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with Image.open(SAMPLES / "grace_hopper.jpg") as im:
        width, height = im.size
    inverse_depth = np.load(saved)
    assert saved.name == "grace_hopper_inverse_depth.npy" and inverse_depth.dtype == np.float32
    assert inverse_depth.shape == fit_size(height, width, 1024) and np.isfinite(inverse_depth).all()

    assert NOTEBOOK.read_bytes() == before, "JupyterLab wrote into the committed notebook"
    assert time.monotonic() - started < 180


_HEATMAPS_ARRIVE_JS = """
n => { const img = document.querySelector('.depthkit-app img.depthkit-webcam-heatmap');
       if (!img || !img.src || !img.complete || img.naturalWidth === 0) return false;
       (window.__depthkitSeen = window.__depthkitSeen || new Set()).add(img.src);
       return window.__depthkitSeen.size >= n; }
"""


def _drive_point_cloud(page):
    """The 3-D tab: plotly draws the photo's point cloud into a WebGL canvas (many colours, not a blank canvas)."""
    started = time.monotonic()
    page.click(".depthkit-app .lm-TabBar-tab >> text=3-D point cloud")
    canvas = page.locator(".depthkit-app .js-plotly-plot .gl-container canvas").first
    canvas.wait_for(state="visible", timeout=45_000)
    canvas.scroll_into_view_if_needed()
    assert canvas.evaluate("c => !!(c.getContext('webgl') || c.getContext('webgl2'))"), "not a WebGL canvas"
    time.sleep(1.0)  # let plotly finish its first frame
    with Image.open(io.BytesIO(canvas.screenshot())) as shot:
        pixels = np.asarray(shot.convert("RGB")).reshape(-1, 3)
    colours = np.unique(pixels, axis=0)
    assert len(colours) > 100 and pixels.std(axis=0).max() > 10, (len(colours), pixels.std(axis=0))
    _shot(page, "06_point_cloud")
    print(f"3-D tab: {time.monotonic() - started:.1f} s, {len(colours)} colours in the WebGL canvas")


def _drive_webcam(page):
    """The webcam tab with Chromium's fake camera: heat maps arrive and change; leaving the tab stops the camera."""
    started = time.monotonic()
    page.click(".depthkit-app .lm-TabBar-tab >> text=Webcam")
    page.locator(".depthkit-app .depthkit-webcam").first.scroll_into_view_if_needed()
    page.wait_for_function(_HEATMAPS_ARRIVE_JS, arg=3, timeout=45_000)  # three different heat maps, one by one
    heat = page.eval_on_selector(".depthkit-app img.depthkit-webcam-heatmap",
                                 "img => [img.naturalWidth, img.naturalHeight]")
    assert heat == [320, 240], heat
    camera = page.eval_on_selector(".depthkit-app video.depthkit-webcam-camera", """v => {
        window.__depthkitTracks = v.srcObject.getTracks();
        return [v.readyState, v.videoWidth, v.videoHeight, window.__depthkitTracks.map(t => t.readyState)]; }""")
    assert camera[0] >= 2 and camera[1:3] == [320, 240] and camera[3] == ["live"], camera
    assert page.inner_text(".depthkit-app .depthkit-webcam-message").strip() == ""
    _shot(page, "07_webcam")

    page.click(".depthkit-app .lm-TabBar-tab >> text=Parallax")  # leaving the tab stops the camera
    page.wait_for_function("() => window.__depthkitTracks.every(t => t.readyState === 'ended')", timeout=15_000)
    assert page.eval_on_selector(".depthkit-app video.depthkit-webcam-camera", "v => v.srcObject") is None
    print(f"webcam tab: {time.monotonic() - started:.1f} s")
    assert time.monotonic() - started < 60
