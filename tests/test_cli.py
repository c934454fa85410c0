import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from depthkit.cli import main


def run_cli(*args, env=None):
    """Run ``python -m depthkit`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "depthkit", *args], capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.fixture()
def image_file(tmp_path):
    path = tmp_path / "photo.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(path)
    return path


def test_predict_writes_three_files(tmp_path, image_file):
    out = tmp_path / "out"
    p = run_cli("predict", str(image_file), "--out", str(out), "--weights", "random")
    assert p.returncode == 0, p.stderr
    names = sorted(f.name for f in out.iterdir())
    assert names == ["photo_inverse_depth.npy", "photo_inverse_depth.png", "photo_inverse_depth16.png"]
    assert np.load(out / "photo_inverse_depth.npy").shape == (90, 120)
    assert Image.open(out / "photo_inverse_depth.png").size == (120, 90)
    assert Image.open(out / "photo_inverse_depth16.png").mode.startswith("I")
    assert "UNTRAINED" in p.stderr and "Traceback" not in p.stderr


def test_predict_bad_image_exit_code_and_one_line(tmp_path, image_file, capsys):
    junk = tmp_path / "junk.jpg"
    junk.write_text("not an image at all")
    code = main(["predict", str(junk), str(image_file), "--out", str(tmp_path / "o"), "--weights", "random"])
    assert code == 1
    err_lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("depthkit: error")]
    assert len(err_lines) == 1 and "junk.jpg" in err_lines[0]
    assert (tmp_path / "o" / "photo_inverse_depth.npy").exists()  # the good image was still processed


def test_missing_weights_file_exit_2(tmp_path, image_file, capsys):
    code = main(["predict", str(image_file), "--out", str(tmp_path), "--weights", str(tmp_path / "none.pt")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("depthkit: error:") and err.count("\n") == 1


def test_pretrained_offline_exit_2(tmp_path, image_file, capsys):
    code = main(["predict", str(image_file), "--out", str(tmp_path), "--weights", "pretrained"])
    err = capsys.readouterr().err
    assert code == 2 and "weights download" in err and "weights install FILE" in err


def test_weights_info(capsys):
    assert main(["weights", "info"]) == 0
    out = capsys.readouterr().out
    assert "midas_v21_small_256.pt" in out and "present: no" in out


def test_weights_install_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    assert main(["weights", "install", str(bad)]) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_demo_writes_page_for_every_sample(tmp_path, capsys):
    from depthkit.samples import list_samples

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--weights", "random"]) == 0
    assert "UNTRAINED" in capsys.readouterr().err
    page = (out / "index.html").read_text()
    assert "UNTRAINED random weights" in page
    assert page.count("UNTRAINED weights: not a depth prediction") == len(list_samples())
    for name in list_samples():
        assert (out / f"{name}_inverse_depth.png").exists()
        assert f'src="{name}_inverse_depth.png"' in page
