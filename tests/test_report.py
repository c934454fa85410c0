"""The report: image discovery, statistics, and the papermill + nbconvert run on the bundled samples."""

import json
import re

import numpy as np
import pytest
from conftest import REPO

import depthkit as dk
from depthkit.errors import DepthkitError, InputError
from depthkit.report import analyse_images, find_images, load_results, make_report, map_stats, template_path

SAMPLES = REPO / "data" / "samples"


def test_find_images_sorted_and_filtered(tmp_path):
    for name in ["b.JPG", "a.png", "notes.txt", "c.jpeg"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()  # a folder with an image-like name is not an image
    assert [p.name for p in find_images(tmp_path)] == ["a.png", "b.JPG", "c.jpeg"]
    assert [p.name for p in find_images(tmp_path, max_images=2)] == ["a.png", "b.JPG"]


def test_find_images_errors(tmp_path):
    with pytest.raises(DepthkitError, match="does not exist"):
        find_images(tmp_path / "nope")
    with pytest.raises(DepthkitError, match="holds no images"):
        find_images(tmp_path)
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(DepthkitError, match="is a file, not a folder"):
        find_images(tmp_path / "f.png")


def test_map_stats_hand_computed():
    a = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 5.0]])
    s = map_stats(a)
    assert (s["min"], s["median"], s["max"], s["mean"]) == (1.0, 3.0, 5.0, 3.0)
    assert s["finite"] == pytest.approx(5 / 6)
    assert s["std"] == pytest.approx(np.sqrt(2.0))
    with pytest.raises(InputError, match="no finite values"):
        map_stats(np.full((2, 2), np.inf))
    with pytest.raises(InputError, match=r"\(H, W\)"):
        map_stats(np.zeros(3))


def test_analyse_images_records_maps_and_errors(tmp_path, random_model):
    img = dk.samples.sample_path("chelsea")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    res = analyse_images([img, bad], random_model, tmp_path / "work", threads=1, progress=False)
    assert res["weights"]["kind"] == "random" and res["weights"]["pretrained"] is False
    good, broken = res["images"]
    assert (good["width"], good["height"], good["net_width"], good["net_height"]) == (451, 300, 256, 160)
    assert "error" in broken and "broken.jpg" in broken["error"]
    loaded = load_results(tmp_path / "work")
    assert json.loads((tmp_path / "work" / "results.json").read_text())["images"][0]["name"] == "chelsea.jpg"
    m = loaded["images"][0]["inverse_depth"]
    assert m.shape == (300, 451) and m.dtype == np.float32
    assert loaded["images"][0]["stats"]["median"] == pytest.approx(float(np.median(m)), rel=1e-6)


def test_make_report_errors(tmp_path):
    with pytest.raises(DepthkitError, match="does not exist"):
        make_report(tmp_path / "missing", tmp_path / "r.html", weights="random")
    with pytest.raises(DepthkitError, match="holds no images"):
        make_report(tmp_path, tmp_path / "r.html", weights="random")
    with pytest.raises(InputError, match=r"ending in \.html"):
        make_report(SAMPLES, tmp_path / "r.pdf", weights="random")
    with pytest.raises(InputError, match="unknown backend"):
        make_report(SAMPLES, tmp_path / "r.html", weights="random", backend="gpu")


def test_template_is_parameterised():
    nb = json.loads(template_path().read_text(encoding="utf-8"))
    params = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1
    src = "".join(params[0]["source"])
    for name in ("images_dir", "results_dir", "weights", "cmap", "max_images"):
        assert re.search(rf"^{name} = ", src, re.M)
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")


def test_report_on_samples_mentions_every_image_and_weights(tmp_path):
    out = make_report(SAMPLES, tmp_path / "out" / "report.html", weights="random", threads=1, progress=False,
                      keep_notebook=True)
    html = out.read_text(encoding="utf-8")
    for path in find_images(SAMPLES):
        assert path.name in html, f"{path.name} missing from the report"
    assert "UNTRAINED random weights (seed 0)" in html and "WARNING: untrained weights" in html
    assert html.count("data:image/png;base64,") >= len(find_images(SAMPLES))  # one figure per image
    assert "import depthkit" not in html  # code cells hidden
    assert out.with_suffix(".ipynb").is_file()


def test_find_images_lists_phone_formats_and_non_regular_files(tmp_path, random_model):
    import os

    for name in ("a.HEIC", "b.heif", "c.avif"):
        (tmp_path / name).write_bytes(b"x")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    (tmp_path / "folder.jpg").mkdir()
    names = [p.name for p in find_images(tmp_path)]
    assert names == ["a.HEIC", "b.heif", "c.avif", "pipe.jpg", "zero.jpg"]
    res = analyse_images(find_images(tmp_path)[3:], random_model, tmp_path / "work", progress=False)
    pipe, zero = res["images"]
    assert (pipe["name"], zero["name"]) == ("pipe.jpg", "zero.jpg")  # a link keeps its own name
    assert "pipe.jpg" in pipe["error"] and "zero.jpg" in zero["error"] and zero["error"].endswith(".")
