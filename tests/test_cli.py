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


# ------------------------------------------------------------------------------------------------- --model NAME
@pytest.fixture(scope="module")
def dav2_checkpoint(tmp_path_factory):
    """(Depth Anything V2 Small network, its checkpoint in the official layout as depth_anything_v2_vits.pth)."""
    import torch
    from official_layout import load_official

    from depthkit.depth_anything import DepthAnythingV2Small

    net, state = load_official(DepthAnythingV2Small, "depth_anything_v2_vits", seed=6)
    path = tmp_path_factory.mktemp("dav2") / "depth_anything_v2_vits.pth"
    torch.save(state, path)
    return net, path


def test_weights_info_names_the_model_its_cache_and_commands(torch_home, capsys):
    assert main(["weights", "info", "--model", "dpt_hybrid"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "model: dpt_hybrid (MiDaS v3.0 DPT-Hybrid; MiDaS v3.0 DPT-Hybrid weights and code: MIT licence (Intel ISL, "
        "github.com/isl-org/MiDaS))",
        "official checkpoint: https://github.com/isl-org/MiDaS/releases/download/v3/dpt_hybrid_384.pt",
        f"cache: {torch_home / 'dpt_hybrid_384.pt'}",
        "present: no — run `python -m depthkit weights download --model dpt_hybrid` (internet) or "
        "`python -m depthkit weights install FILE --model dpt_hybrid`",
    ]


def test_weights_install_and_info_per_model(torch_home, dav2_checkpoint, capsys):
    from depthkit.weights import sha256_file

    _, path = dav2_checkpoint
    assert main(["weights", "install", str(path), "--model", "depth_anything_v2_small"]) == 0
    assert capsys.readouterr().out == f"verified and cached: {torch_home / 'depth_anything_v2_vits.pth'}\n"
    assert main(["weights", "info", "--model", "depth_anything_v2_small"]) == 0
    out = capsys.readouterr().out
    assert f"sha256 {sha256_file(path)}, unchanged since it was verified" in out and "Apache-2.0" in out
    assert main(["weights", "info"]) == 0  # MiDaS_small's cache is another file, still empty
    assert "present: no" in capsys.readouterr().out
    assert main(["weights", "install", "--model", "dpt_hybrid"]) == 2  # the command it names is one that parses
    assert capsys.readouterr().err == ("depthkit: error: weights install needs the checkpoint file: python -m "
                                       "depthkit weights install FILE --model dpt_hybrid.\n")
    assert main(["weights", "install", str(path)]) == 2  # without --model: the file is not MiDaS_small's
    assert "is a Depth Anything V2 Small checkpoint, not a MiDaS_small one; load it with " \
           "model='depth_anything_v2_small'" in capsys.readouterr().err


def test_weights_download_uses_the_models_url(torch_home, dav2_checkpoint, capsys, monkeypatch):
    asked = []

    def chunks(url, timeout, progress, model):
        asked.append(url)
        yield dav2_checkpoint[1].read_bytes()

    monkeypatch.setattr("depthkit.weights._url_chunks", chunks)
    assert main(["weights", "download", "--model", "depth_anything_v2_small"]) == 0
    assert asked == ["https://huggingface.co/depth-anything/Depth-Anything-V2-Small/resolve/main/"
                     "depth_anything_v2_vits.pth"]
    assert (torch_home / "depth_anything_v2_vits.pth").is_file()


def test_predict_runs_the_chosen_model_with_a_checkpoint_path(tmp_path, dav2_checkpoint, capsys):
    import torch

    from depthkit import depth_anything
    from depthkit.model_registry import prepare
    from depthkit.weights import sha256_file

    net, path = dav2_checkpoint
    photo = np.random.default_rng(4).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "square.png")
    out = tmp_path / "out"
    code = main(["predict", str(tmp_path / "square.png"), "--out", str(out), "--model", "depth_anything_v2_small",
                 "--weights", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "UNTRAINED" not in captured.err
    assert captured.out.splitlines()[-1] == (f"weights: Depth Anything V2 Small weights from {path} "
                                             f"(sha256 {sha256_file(path)[:12]}…)")
    got = np.load(out / "square_inverse_depth.npy")
    with torch.inference_mode():  # the network's own 518 x 518 input and bilinear upsampling
        want = depth_anything.upsample(net(prepare(photo, "depth_anything_v2_small")), (30, 30))[0].numpy()
    assert got.shape == (30, 30) and want.std() > 0
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * float(np.abs(want).max()))


@pytest.mark.parametrize("argv", [["weights", "info", "--model", "dpt_large"],
                                  ["predict", "photo.jpg", "--out", "o", "--model", "dpt_large"]])
def test_an_unknown_model_is_one_sentence_listing_the_choices(argv, capsys, monkeypatch):
    import depthkit.weights

    def no_model(*args, **kwargs):
        raise AssertionError("nothing is loaded for an unknown model")

    monkeypatch.setattr(depthkit.weights, "load_model", no_model)
    assert main(argv) == 2
    assert capsys.readouterr().err == ("depthkit: error: --model must be 'midas_small', 'dpt_hybrid' or "
                                       "'depth_anything_v2_small', got 'dpt_large'.\n")


@pytest.mark.parametrize("command", ["predict", "weights"])
def test_help_lists_the_registrys_models(command, capsys):
    from depthkit.model_registry import DEFAULT_MODEL, model_names

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"--model NAME network: {DEFAULT_MODEL} (default), " in text
    assert all(name in text for name in model_names())


def test_backends_prints_the_cpu_the_table_and_the_choice(capsys):
    import depthkit as dk

    assert main(["backends", "--weights", "random"]) == 0
    out = capsys.readouterr().out
    choice = dk.backend_choice.choose_backend(dk.load_model("random"))  # what the command measured and cached
    assert f"CPU: {dk.runtime.cpu_features()}" in out
    assert "installed backends: eager, onnx, openvino, bf16, int8" in out
    assert "| backend | median ms (256x256) | speed-up vs eager | min Pearson r | max rel err | status |" in out
    assert f"Chosen: **{choice.backend}**" in out and "| eager |" in out
    assert "UNTRAINED random weights" in out  # the weights the numbers belong to
    assert main(["backends", "--weights", "random", "--all"]) == 0
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("| ") and "backend" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["eager", "onnx", "openvino", "bf16", "int8"]
    assert "not checked" not in table  # --all measures every backend's agreement
