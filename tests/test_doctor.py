"""``python -m depthkit doctor``: correct with and without weights, offline and online, and fast offline.

The network is never used: the internet check is pointed at a port on 127.0.0.1 (closed, or served by the test),
or ``socket.create_connection`` is replaced.
"""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
import torch

from depthkit import doctor
from depthkit.weights import CHECKPOINT_NAME, sha256_file


def run_doctor(*args, env):
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "depthkit", "doctor", *args], capture_output=True, text=True,
                       timeout=120, env=env)
    return p, time.monotonic() - t0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """A fresh TORCH_HOME for doctor (in this process and in subprocesses), no proxy."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return {**os.environ, "TORCH_HOME": str(tmp_path / "torch")}


@pytest.fixture(scope="module")
def installed_home(tmp_path_factory, random_model):
    """A TORCH_HOME holding a checkpoint in the official key layout, installed with `python -m depthkit weights
    install` (once per module: it takes a while)."""
    folder = tmp_path_factory.mktemp("doctor")
    file = folder / "copied" / CHECKPOINT_NAME
    file.parent.mkdir()
    torch.save(random_model.state_dict(), file)
    env = {**os.environ, "TORCH_HOME": str(folder / "torch")}
    p = subprocess.run([sys.executable, "-m", "depthkit", "weights", "install", str(file)], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    return folder / "torch"


@pytest.fixture()
def installed(installed_home, home, tmp_path):
    """This test's TORCH_HOME with a copy of the installed checkpoint and its recorded SHA-256."""
    source, target = installed_home / "hub" / "checkpoints", tmp_path / "torch" / "hub" / "checkpoints"
    shutil.copytree(source, target)
    return target / CHECKPOINT_NAME


def _lines(out: str) -> dict:
    """topic -> (mark, line, fix line or None)."""
    lines = out.splitlines()
    found = {}
    for i, line in enumerate(lines):
        if line[:1] in "✔✘":
            fix = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith("    fix: ") else None
            found[line[2:].split(":")[0]] = (line[0], line, fix)
    return found


def test_without_weights_offline(home):
    p, seconds = run_doctor("--url", f"http://127.0.0.1:{closed_port()}/midas.pt", env=home)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    lines = _lines(p.stdout)
    assert set(lines) >= {"Python", "torch", "CPU", "JupyterLab", "widgets", "weights", "internet", "backends"}
    mark, line, fix = lines["weights"]
    assert mark == "✘" and str(home["TORCH_HOME"]) in line and "UNTRAINED" in line
    assert fix.startswith("fix: python -m depthkit weights install FILE")  # offline: download cannot help
    mark, line, fix = lines["internet"]
    assert mark == "✘" and "offline" in line and fix.startswith("fix: python -m depthkit weights install")
    assert lines["Python"][0] == "✔" and sys.version.split()[0] in lines["Python"][1]
    assert torch.__version__ in lines["torch"][1]
    assert seconds < 60  # mostly importing torch; the network part is measured below


def test_with_installed_weights_offline_is_no_problem(installed, home):
    p, _ = run_doctor("--url", f"http://127.0.0.1:{closed_port()}/midas.pt", env=home)
    lines = _lines(p.stdout)
    mark, line, fix = lines["weights"]
    assert mark == "✔" and fix is None and str(installed) in line and f"sha256 {sha256_file(installed)}" in line
    mark, line, _ = lines["internet"]
    assert mark == "✔" and "offline" in line and "not needed: the weights are here" in line


def test_without_weights_online_suggests_the_download(home, capsys):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert doctor.main(url=f"http://127.0.0.1:{port}/midas.pt") == 1
    lines = _lines(capsys.readouterr().out)
    assert lines["internet"][0] == "✔" and f"127.0.0.1:{port} reachable" in lines["internet"][1]
    assert lines["weights"][0] == "✘" and lines["weights"][2] == "fix: python -m depthkit weights download"


def test_changed_checkpoint_is_reported_with_the_fix(installed, home, monkeypatch):
    with open(installed, "r+b") as f:  # same size, one byte different: keys and shapes still load
        data = bytearray(f.read())
        data[-100] ^= 0xFF
        f.seek(0)
        f.write(data)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    found = doctor.check_weights(online=True)
    assert not found.ok and found.fix == "python -m depthkit weights download"
    assert "is not usable" in found.detail and str(installed) in found.detail


def _refuse(*args, **kwargs):
    raise OSError(101, "Network is unreachable")


def test_offline_answers_fast_and_says_offline(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", _refuse)
    t0 = time.monotonic()
    found = doctor.check_internet()
    assert time.monotonic() - t0 < 1.0
    assert not found.ok and found.detail.startswith("offline: github.com:443 not reachable (Network is unreachable)")


def test_a_hanging_name_lookup_is_cut_at_the_timeout(monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):  # a lookup that never answers (until the test ends: no stray thread afterwards)
        release.wait(30)
        raise OSError(110, "Connection timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    t0 = time.monotonic()
    found = doctor.check_internet(timeout=0.5)
    assert time.monotonic() - t0 < 1.5
    release.set()
    assert not found.ok and "no answer within 0.5 s" in found.detail


def test_proxy_is_what_is_checked(monkeypatch):
    seen = []
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: seen.append(address) or _refuse())
    found = doctor.check_internet()
    assert seen == [("proxy.example", 3128)] and "proxy proxy.example:3128" in found.detail


def test_main_offline_is_fast_and_every_problem_has_a_fix(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(socket, "create_connection", _refuse)
    t0 = time.monotonic()
    code = doctor.main()
    assert time.monotonic() - t0 < 5.0
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("✘")]
    assert code == 1 and problems and out.count("    fix: ") == len(problems)
    assert f"{len(problems)} problem" in out.splitlines()[-1]


def test_report_format():
    text = doctor.report([doctor.Finding("a", True, "fine"), doctor.Finding("b", False, "broken", "fix-it --now")])
    assert text.splitlines() == ["depthkit doctor", "✔ a: fine", "✘ b: broken", "    fix: fix-it --now",
                                 "1 problem found: run the fix line under each ✘."]


def test_cuda_build_without_gpu_is_flagged(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    found = doctor.check_torch()
    assert not found.ok and "CUDA 12.1 build without a usable GPU" in found.detail
    assert found.fix.endswith("--index-url https://download.pytorch.org/whl/cpu")
    monkeypatch.setattr(torch.version, "cuda", None)
    assert doctor.check_torch().ok and "CPU build" in doctor.check_torch().detail


def test_missing_widgets_name_the_install(monkeypatch):
    real = doctor._version
    monkeypatch.setattr(doctor, "_version", lambda dist: None if dist == "anywidget" else real(dist))
    lab, widgets = doctor.check_jupyter()
    assert lab.ok and not widgets.ok and "anywidget missing" in widgets.detail
    assert widgets.fix.startswith("python -m pip install --force-reinstall") and "anywidget" in widgets.fix


def test_cpu_line_comes_from_runtime():
    from depthkit.runtime import cpu_features

    assert cpu_features().summary() in doctor.check_cpu().detail


def test_weights_info_shows_the_verified_hash(installed, capsys):
    from depthkit.cli import main

    assert main(["weights", "info"]) == 0
    out = capsys.readouterr().out
    assert f"sha256 {sha256_file(installed)}, unchanged since it was verified" in out and str(installed) in out
