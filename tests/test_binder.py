"""Binder: repo2docker must pick the binder/ folder (and ignore root config files) and run postBuild."""

import shutil
import stat
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def _repo2docker_dockerfile(repo: Path) -> str:
    exe = shutil.which("jupyter-repo2docker") or str(Path(sys.executable).with_name("jupyter-repo2docker"))
    p = subprocess.run([exe, "--no-build", "--no-run", "--debug", str(repo)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout + p.stderr


def test_repo2docker_uses_binder_folder_and_postbuild():
    out = _repo2docker_dockerfile(REPO)
    assert "Building conda environment for python=3.11" in out
    assert '--file "binder/environment.yml"' in out
    assert "RUN ./binder/postBuild" in out
    assert "src/environment.yml" not in out  # the root (local conda) file is ignored on Binder


def test_postbuild_is_strict_and_bakes_weights():
    post = REPO / "binder" / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/bin/bash") and "\nset -e\n" in text
    assert "pip install --no-deps -e ." in text
    assert "python -m depthkit weights download" in text
    assert post.stat().st_mode & stat.S_IXUSR, "binder/postBuild must be executable"


def test_binder_pins_the_cpu_torch_that_was_tested():
    env = (REPO / "binder" / "environment.yml").read_text()
    assert "python=3.11" in env and "download.pytorch.org/whl/cpu" in env
    import torch
    import torchvision

    assert f"torch=={torch.__version__.split('+')[0]}" in env
    assert f"torchvision=={torchvision.__version__.split('+')[0]}" in env
