"""Binder: repo2docker must pick the binder/ folder (and ignore root config files) and run postBuild; the conda
environment files must install the kit from pyproject.toml (the one source of dependencies), not a second list."""

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
BINDER_ENV = REPO / "binder" / "environment.yml"
LOCAL_ENV = REPO / "environment.yml"


def _repo2docker_dockerfile(repo: Path) -> str:
    exe = shutil.which("jupyter-repo2docker") or str(Path(sys.executable).with_name("jupyter-repo2docker"))
    p = subprocess.run([exe, "--no-build", "--no-run", "--debug", str(repo)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout + p.stderr


def _pip_section(env_file: Path) -> tuple[list, list[str]]:
    """(conda dependencies that are not the pip section, the pip section's lines) of a conda environment file."""
    env = yaml.safe_load(env_file.read_text(encoding="utf-8"))
    conda = [d for d in env["dependencies"] if not isinstance(d, dict)]
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, f"{env_file.name} must have exactly one pip section"
    return conda, [str(line) for line in pips[0]]


def _split_pip_lines(lines: list[str]) -> tuple[list[str], list[Requirement], list[tuple[str, set[str]]]]:
    """(option lines, pinned requirements, local installs as (path, extras)) of a pip requirements list."""
    options, pins, local = [], [], []
    for line in lines:
        if line.startswith("--"):
            options.append(line)
            continue
        m = re.fullmatch(r"(?:-e\s+)?[\"']?(\.[^\[\"']*)(?:\[([\w,\s-]+)\])?[\"']?", line)
        if m:
            local.append((m.group(1), {e.strip() for e in (m.group(2) or "").split(",") if e.strip()}))
        else:
            pins.append(Requirement(line))
    return options, pins, local


def test_repo2docker_uses_binder_folder_and_postbuild():
    out = _repo2docker_dockerfile(REPO)
    assert "Building conda environment for python=3.11" in out
    assert '--file "binder/environment.yml"' in out
    assert "RUN ./binder/postBuild" in out
    assert "src/environment.yml" not in out  # the root (local conda) file is ignored on Binder
    # The pip section installs the repository itself, so repo2docker must install the environment after copying
    # the repository in (it does so when it sees a local requirement), and postBuild runs after that.
    copy_repo = out.index("COPY --chown")
    copy_repo = out.index("src/ ${REPO_DIR}/", copy_repo)
    env_update = out.index('env update -p ${NB_PYTHON_PREFIX} --file "binder/environment.yml"')
    assert copy_repo < env_update < out.index("RUN ./binder/postBuild")


def test_postbuild_is_strict_and_bakes_weights_only():
    post = REPO / "binder" / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/bin/bash") and "\nset -e\n" in text
    assert "python -m depthkit weights download" in text
    assert "82 MB" in text and "21 MB" not in text  # 21.3 M float32 parameters = ~82 MB
    # the packages come from binder/environment.yml (that is, from pyproject.toml): no second install here
    assert "pip install" not in text and "conda install" not in text and "mamba install" not in text
    assert post.stat().st_mode & stat.S_IXUSR, "binder/postBuild must be executable"


def test_binder_pins_the_cpu_torch_that_was_tested():
    env = BINDER_ENV.read_text()
    assert "python=3.11" in env and "download.pytorch.org/whl/cpu" in env
    import torch
    import torchvision

    assert f"torch=={torch.__version__.split('+')[0]}" in env
    assert f"torchvision=={torchvision.__version__.split('+')[0]}" in env


@pytest.mark.parametrize("env_file", [BINDER_ENV, LOCAL_ENV], ids=["binder", "local-conda"])
def test_environment_installs_every_runtime_dependency_from_pyproject(env_file):
    conda, lines = _pip_section(env_file)
    # conda brings only the interpreter and pip; every Python package comes through pip
    assert sorted(str(d).split("=")[0] for d in conda) == ["pip", "python"]
    python = next(str(d) for d in conda if str(d).startswith("python="))
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(python.split("=", 1)[1] + ".0")

    options, pins, local = _split_pip_lines(lines)
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    # exactly one local install, and it is this repository (conda and mamba run pip from the file's folder)
    assert len(local) == 1, f"{env_file.name} must install the kit once, got {local}"
    path, extras = local[0]
    assert (env_file.parent / path).resolve() == REPO.resolve()
    optional = PYPROJECT["project"]["optional-dependencies"]
    assert extras <= set(optional), f"unknown extras {extras - set(optional)}"
    assert "dev" not in extras, "the environment is the student install: no test tools"

    # No second hand-written list: the only other lines pin packages pyproject.toml already requires, to versions
    # that satisfy pyproject's own ranges (so the two can never disagree).
    runtime = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
    assert {canonicalize_name(p.name) for p in pins} == {"torch", "torchvision"}
    for pin in pins:
        (spec,) = pin.specifier
        assert spec.operator == "==", f"{pin} must be an exact pin"
        assert runtime[canonicalize_name(pin.name)].specifier.contains(spec.version), (pin, runtime[pin.name])


def test_binder_and_local_environments_pin_the_same_torch():
    binder, local = (sorted(map(str, _split_pip_lines(_pip_section(f)[1])[1])) for f in (BINDER_ENV, LOCAL_ENV))
    assert binder == local and len(binder) == 2


def test_requirement_line_parser():
    options, pins, local = _split_pip_lines(["--extra-index-url https://x/y", "torch==2.14.1", "-e ..", ".[fast]",
                                             '-e ".[dev, fast]"'])
    assert options == ["--extra-index-url https://x/y"] and [str(p) for p in pins] == ["torch==2.14.1"]
    assert local == [("..", set()), (".", {"fast"}), (".", {"dev", "fast"})]
