import subprocess
import sys

import numpy as np
import pytest
from browser import bad_files
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


def test_predict_max_size_sets_the_longest_side_of_every_map(tmp_path, image_file):
    out = tmp_path / "small"
    assert main(["predict", str(image_file), "--out", str(out), "--weights", "random", "--max-size", "60"]) == 0
    assert np.load(out / "photo_inverse_depth.npy").shape == (45, 60)  # 120 x 90 photo, longest side 60
    assert Image.open(out / "photo_inverse_depth.png").size == (60, 45)
    assert Image.open(out / "photo_inverse_depth16.png").size == (60, 45)
    # a photo that already fits keeps its size, as without --max-size
    same = tmp_path / "same"
    assert main(["predict", str(image_file), "--out", str(same), "--weights", "random", "--max-size", "500"]) == 0
    assert np.load(same / "photo_inverse_depth.npy").shape == (90, 120)


def test_predict_max_size_decodes_a_big_jpeg_at_reduced_scale(tmp_path):
    big = tmp_path / "phone.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (60, 80, 3), np.uint8)).resize((4000, 3000)).save(
        big, quality=80)
    out = tmp_path / "out"
    assert main(["predict", str(big), "--out", str(out), "--weights", "random", "--max-size", "256"]) == 0
    assert np.load(out / "phone_inverse_depth.npy").shape == (192, 256)


@pytest.mark.parametrize("value", ["0", "-3", "big", "1.5"])
def test_predict_max_size_must_be_a_positive_whole_number(tmp_path, image_file, capsys, value):
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(image_file), "--out", str(tmp_path), "--max-size", value])
    assert stop.value.code == 2
    assert "--max-size: must be a positive whole number of pixels" in capsys.readouterr().err


def test_help_documents_max_size_and_doctor(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--max-size N" in text and "longest side in px of the written maps" in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "doctor" in capsys.readouterr().out


def test_doctor_command_runs(tmp_path, capsys, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    code = main(["doctor", "--timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("depthkit doctor\n") and "✘ internet: offline" in out


def test_predict_loads_a_fifty_megapixel_photo_by_default(tmp_path, capsys):
    big = tmp_path / "phone.jpg"
    big.write_bytes(bad_files.fifty_megapixels())
    assert main(["predict", str(big), "--out", str(tmp_path / "o"), "--weights", "random"]) == 0
    assert np.load(tmp_path / "o" / "phone_inverse_depth.npy").shape == (3200, 4096)
    assert "4096x3200 px (photo 8000x6250 px, scaled down)" in capsys.readouterr().out


def test_predict_refuses_unreadable_inputs_before_loading_the_model(tmp_path, capsys, monkeypatch):
    import os
    import time

    import depthkit.weights

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded when no input is readable")

    monkeypatch.setattr(depthkit.weights, "load_model", no_model)
    empty, folder, fifo = tmp_path / "empty.jpg", tmp_path / "folder.jpg", tmp_path / "pipe.jpg"
    empty.write_bytes(b"")
    folder.mkdir()
    os.mkfifo(fifo)
    t0 = time.monotonic()
    code = main(["predict", str(empty), str(folder), str(fifo), "--out", str(tmp_path / "o")])
    assert code == 1 and time.monotonic() - t0 < 5
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 3 and all(line.startswith("depthkit: error: ") for line in errors)
    assert all(name in line for name, line in zip(("empty.jpg", "folder.jpg", "pipe.jpg"), errors, strict=True))
    assert "weights:" not in captured.out and not (tmp_path / "o").exists()
