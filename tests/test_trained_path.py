"""The trained-weights path end to end: a checkpoint installed with ``weights install`` drives every command.

The checkpoint is the fitted stand-in of :mod:`trained_checkpoint` (fixture ``trained_torch_home``). Every
command must finish, take the trained branch (no "untrained" text, the weights named by file and SHA-256) and
show results computed from that checkpoint: each map is compared with ``estimate_depth`` run on a network
that had the checkpoint's state dict loaded directly, not through :mod:`depthkit.weights`.

The lessons are run with this checkpoint (and the exercise solutions pasted in) by ``tests/test_notebooks.py``,
which applies :func:`trained_checkpoint.assert_trained_lesson` to each executed lesson.
"""

import base64
import datetime
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trained_checkpoint import assert_trained_text

import depthkit as dk
from depthkit.weights import CHECKPOINT_NAME, sha256_file

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"


def _cli(checkpoint, *args, cwd=None, timeout=300):
    """``python -m depthkit ARGS`` as a user would run it, with the trained checkpoint's TORCH_HOME, offline."""
    done = subprocess.run([sys.executable, "-m", "depthkit", *args], capture_output=True, text=True,
                          env=checkpoint.env(), cwd=cwd or REPO, timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr.strip()}"
    return done


@pytest.fixture(scope="module")
def direct(trained_torch_home):
    """``name -> map``: estimate_depth of each sample with the checkpoint's state dict loaded directly."""
    net = trained_torch_home.model()
    return {name: dk.estimate_depth(dk.load_sample(name), net).inverse_depth for name in dk.list_samples()}


def _assert_same_map(got, expected, what):
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale, err_msg=what)


def _roughness(inverse_depth):
    """Mean absolute difference of horizontal neighbours, relative to the map's spread (0 = perfectly smooth)."""
    return float(np.abs(np.diff(inverse_depth, axis=1)).mean() / inverse_depth.std())


# ------------------------------------------------------------------------------------------- the fixture
def test_checkpoint_installed_in_a_temporary_torch_home_only(trained_torch_home, tmp_path_factory):
    ck = trained_torch_home
    assert ck.installed == ck.torch_home / "hub" / "checkpoints" / CHECKPOINT_NAME
    assert ck.installed.read_bytes() == ck.file.read_bytes()
    assert ck.sha256 == sha256_file(ck.file)
    sidecar = ck.installed.with_name(CHECKPOINT_NAME + ".sha256")
    assert sidecar.read_text().split()[0] == ck.sha256  # recorded by `weights install`
    assert ck.torch_home.is_relative_to(tmp_path_factory.getbasetemp())
    assert ck.torch_home != Path.home() / ".cache" / "torch"
    # the fit's budget is 60 s; it runs on one thread, so its CPU time does not grow with the machine's load
    assert ck.fit_cpu_seconds < 60, f"the fit took {ck.fit_cpu_seconds:.0f} CPU s (budget: 60 s)"
    print(f"trained checkpoint: fit {ck.fit_cpu_seconds:.0f} CPU s, built in {ck.build_seconds:.0f} s wall")


def test_checkpoint_is_fitted_not_the_random_initialisation(trained_torch_home, random_model):
    first, last = trained_torch_home.loss
    assert last < 0.6 * first, f"the fit did not learn: loss {first:.3f} -> {last:.3f}"
    state, init = trained_torch_home.state_dict(), random_model.state_dict()
    changed = [k for k, v in state.items() if v.is_floating_point() and not np.allclose(v, init[k])]
    assert "scratch.output_conv.4.weight" in changed and "pretrained.layer1.0.weight" in changed


def test_maps_are_smooth_varied_and_differ_per_photo(direct, random_model):
    for name, inv in direct.items():
        assert np.isfinite(inv).all() and (inv >= -0.05 * inv.max()).all(), name
        assert inv.std() > 0.2 * abs(inv.mean()), f"{name}: the map is almost constant"
        assert (inv <= 0).mean() < 0.1, f"{name}: {100 * (inv <= 0).mean():.0f}% of the map is clipped to 0"
        noisy = dk.estimate_depth(dk.load_sample(name), random_model).inverse_depth
        assert _roughness(inv) < min(0.03, 0.7 * _roughness(noisy)), name  # smooth, unlike the random initialisation
    small = {n: np.asarray(Image.fromarray(m).resize((48, 48), Image.BILINEAR)).ravel() for n, m in direct.items()}
    corr = np.corrcoef(np.stack(list(small.values())))
    assert np.max(corr - 2 * np.eye(len(small))) < 0.99, "two photos give the same map"


# ---------------------------------------------------------------------------------------------- library
def test_load_model_auto_takes_the_installed_checkpoint(trained_weights, direct):
    model = dk.load_model()
    info = model.weights_info
    assert info.kind == "pretrained" and info.pretrained and info.sha256 == trained_weights.sha256
    assert_trained_text(info.label, trained_weights, "the weights label")
    result = dk.estimate_depth(dk.load_sample("chelsea"), model)
    assert result.caption == "relative inverse depth (bright = near)"
    _assert_same_map(result.inverse_depth, direct["chelsea"], "load_model('auto') on chelsea")


# -------------------------------------------------------------------------------------------------- CLI
def test_predict_cli(trained_torch_home, direct, tmp_path):
    out = tmp_path / "out"
    done = _cli(trained_torch_home, "predict", str(SAMPLES / "chelsea.jpg"), str(SAMPLES / "rocket.jpg"),
                "--out", str(out))
    assert_trained_text(done.stdout + done.stderr, trained_torch_home, "predict's output")
    for name in ("chelsea", "rocket"):
        _assert_same_map(np.load(out / f"{name}_inverse_depth.npy"), direct[name], f"predict {name}.npy")
        heat = np.asarray(Image.open(out / f"{name}_inverse_depth.png").convert("RGB"))
        assert np.array_equal(heat, dk.colorize(np.load(out / f"{name}_inverse_depth.npy")))


def test_demo_cli(trained_torch_home, direct, tmp_path):
    out = tmp_path / "demo"
    done = _cli(trained_torch_home, "demo", "--out", str(out))
    assert_trained_text(done.stdout + done.stderr, trained_torch_home, "demo's output")
    page = (out / "index.html").read_text(encoding="utf-8")
    assert_trained_text(page, trained_torch_home, "demo's index.html")
    assert 'class="warn"' not in page
    for name, expected in direct.items():
        _assert_same_map(np.load(out / f"{name}_inverse_depth.npy"), expected, f"demo {name}.npy")
        assert f'src="{name}_inverse_depth.png"' in page


def test_report_cli(trained_torch_home, direct, tmp_path):
    images = tmp_path / "photos"
    images.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg"):
        shutil.copy(SAMPLES / name, images / name)
    html_file = tmp_path / "report.html"
    done = _cli(trained_torch_home, "report", str(images), "--out", str(html_file))
    assert_trained_text(done.stdout + done.stderr, trained_torch_home, "report's output", named=False)
    page = html_file.read_text(encoding="utf-8")
    assert_trained_text(page, trained_torch_home, "report.html")
    for name in ("chelsea", "coffee"):  # the numbers in the report's table are those of the checkpoint's maps
        stats = dk.report.map_stats(direct[name])
        assert f"{stats['p2']:.3g} .. {stats['p98']:.3g}" in page, f"report.html: {name}'s p2 .. p98 differ"
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', page)) >= 2


# -------------------------------------------------------------------------------------------------- app
def _widget_text(ui) -> str:
    import ipywidgets as w

    def walk(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    texts = [x.value for x in walk(ui.layout) if isinstance(x, (w.HTML, w.Label))]
    return "\n".join([*texts, repr(ui), ui.weights_label])


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_app_driven_from_code(trained_weights, monkeypatch):
    monkeypatch.setattr(dk.inference, "_DEFAULT_MODEL", None)  # dk.app() must build "auto" in this TORCH_HOME
    ui = dk.app(sample="chelsea")
    assert ui.pretrained and ui.model.weights_info.sha256 == trained_weights.sha256
    assert ui.error == "" and ui.result is not None
    net = trained_weights.model()
    photo = dk.depth_app.downscale(dk.read_image(SAMPLES / "chelsea.jpg"), ui.max_side)
    expected = dk.estimate_depth(photo, net).inverse_depth
    _assert_same_map(ui.result.inverse_depth, expected, "the app's map of chelsea")
    shown = _png(ui.heatmap.value)
    assert np.array_equal(shown, dk.colorize(dk.depth_app.downscale(expected, ui.display_side)))

    data = (SAMPLES / "rocket.jpg").read_bytes()  # the upload path, as the FileUpload widget delivers it
    ui.upload.value = ({"name": "rocket.jpg", "type": "image/jpeg", "size": len(data), "content": memoryview(data),
                        "last_modified": datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)},)
    assert ui.error == "" and ui.name == "rocket.jpg"
    photo = dk.depth_app.downscale(dk.read_image(data), ui.max_side)
    _assert_same_map(ui.result.inverse_depth, dk.estimate_depth(photo, net).inverse_depth, "the app's upload")
    for tab, image in enumerate((ui.parallax, ui.blur, ui.obstacle)):  # the effects follow the same map
        ui.tabs.selected_index = tab
        assert image.value, f"effect tab {tab} shows nothing"
        assert "⚠" not in ui.message.value, ui.message.value
    assert_trained_text(_widget_text(ui), trained_weights, "the app's widgets")
    link = re.search(r'download="rocket_inverse_depth\.npy" href="data:application/octet-stream;base64,([^"]+)"',
                     ui.download_data.value)
    assert link is not None, ui.download_data.value[:300]
    _assert_same_map(np.load(io.BytesIO(base64.b64decode(link.group(1)))), ui.result.inverse_depth,
                     "the app's .npy download")
