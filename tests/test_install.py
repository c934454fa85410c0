"""Installs by role: the default install (``pip install -e .``) is the student install and brings every module the
lessons import and JupyterLab; ``fast`` adds the accelerated backends; ``dev`` adds the test tools.

The fast tests read pyproject.toml and the imports (parsed with :mod:`ast`) in this environment. The test marked
``install`` builds a fresh virtual environment with the student install and imports everything there (about three
minutes on 2 cores, most of it writing torch and its CUDA libraries, ~4 GB, to disk); deselect it with
``-m "not install"`` when iterating locally.
"""

import json
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from student_env import notebook_imports, readme_commands, source_imports, student_install_args, student_venv, venv_env

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))
TEMPLATES = sorted((REPO / "depthkit" / "templates").glob("*.ipynb"))
PACKAGE_FILES = sorted((REPO / "depthkit").rglob("*.py"))
# the test tools (distributions, and the modules they provide): dev only, never in the student install
DEV_TOOLS = {"pytest": "pytest", "nbval": "nbval", "hypothesis": "hypothesis", "ruff": "ruff",
             "playwright": "playwright", "jupyter-repo2docker": "repo2docker", "scikit-image": "skimage"}


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _third_party(modules: set[str]) -> set[str]:
    roots = {m.split(".")[0] for m in modules}
    return {r for r in roots if r not in sys.stdlib_module_names and r != "depthkit"}


def _lesson_modules() -> set[str]:
    """Every module the lessons and the report template import (full dotted names)."""
    return set().union(*(notebook_imports(nb) for nb in [*LESSONS, *TEMPLATES]))


def _undeclared(modules: set[str], declared: set[str]) -> dict[str, list[str]]:
    """Third-party top-level modules whose distribution (in this environment) is not in ``declared``."""
    provides = packages_distributions()
    return {m: provides.get(m, ["(not installed here)"]) for m in sorted(_third_party(modules))
            if not _names(provides.get(m, [])) & declared}


def test_import_parsers(tmp_path):
    src = "import a.b as c, d\nfrom e.f import g\nfrom . import h\nfrom .i import j\ndef k():\n    import l.m\n"
    assert source_imports(src) == {"a.b", "d", "e.f", "l.m"}
    cells = [{"cell_type": "code", "source": ["%matplotlib inline\n", "import numpy as np\n", "!pip list\n"]},
             {"cell_type": "markdown", "source": "import not_code"},
             {"cell_type": "code", "source": "%%time\nfrom depthkit.exercises import lesson03 as ex"}]
    nb = tmp_path / "x.ipynb"
    nb.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert notebook_imports(nb) == {"numpy", "depthkit.exercises"}
    assert _third_party({"numpy.linalg", "os.path", "depthkit.io", "PIL.Image"}) == {"numpy", "PIL"}


def test_lessons_are_found():
    assert [p.name[:2] for p in LESSONS] == [f"{i:02d}" for i in range(len(LESSONS))] and len(LESSONS) >= 6
    assert {"numpy", "torch", "depthkit"} <= {m.split(".")[0] for m in _lesson_modules()}


def test_every_module_the_lessons_import_is_a_default_dependency():
    undeclared = _undeclared(_lesson_modules(), _names(PROJECT["dependencies"]))
    assert not undeclared, f"the lessons import {undeclared} (module: distributions), which pyproject.toml's " \
                           "[project] dependencies do not list; add them there (the student install)"


def test_every_module_the_package_imports_is_declared():
    modules = set().union(*(source_imports(p.read_text(encoding="utf-8")) for p in PACKAGE_FILES))
    optional = PROJECT["optional-dependencies"]
    undeclared = _undeclared(modules, _names(PROJECT["dependencies"]) | _names(optional["fast"]))
    assert not undeclared, f"depthkit/ imports {undeclared} (module: distributions), which neither [project] " \
                           "dependencies nor the fast extra of pyproject.toml list"


def test_roles_of_the_extras():
    optional = PROJECT["optional-dependencies"]
    assert set(optional) == {"fast", "dev"}
    runtime, fast, dev = _names(PROJECT["dependencies"]), _names(optional["fast"]), _names(optional["dev"])
    # students get JupyterLab and the widgets with the default install, not from an extra
    assert {"jupyterlab", "ipykernel", "ipywidgets", "anywidget", "torch", "timm"} <= runtime
    assert not (runtime & (fast | dev)), "a default dependency is repeated in an extra"
    assert {"onnxruntime", "openvino"} <= fast
    # dev = the fast extra (by reference, not a copy) + the test tools
    assert "depthkit[fast]" in optional["dev"] and not (fast & (dev - {"depthkit"}))
    assert set(DEV_TOOLS) <= dev and not (runtime & set(DEV_TOOLS))


@pytest.mark.install
@pytest.mark.timeout(1200)
def test_student_install_runs_the_lessons_imports_and_jupyterlab():
    venv = student_venv()
    env, python = venv_env(venv), str(venv / "bin" / "python")
    modules = sorted(_lesson_modules())
    # every module the lessons import, and every module of the package (nothing in depthkit/ may need a dev tool)
    script = (
        "import importlib, importlib.util, json, pkgutil\n"
        "import depthkit\n"
        f"names = {modules!r} + sorted(m.name for m in pkgutil.walk_packages(depthkit.__path__, 'depthkit.')"
        " if m.name != 'depthkit.__main__')\n"
        "failed = {}\n"
        "for name in names:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = f'{type(exc).__name__}: {exc}'\n"
        f"dev = {{m: importlib.util.find_spec(m) is not None for m in {sorted(DEV_TOOLS.values())!r}}}\n"
        "print(json.dumps({'n': len(names), 'failed': failed, 'dev': dev, 'depthkit': depthkit.__file__}))\n"
    )
    p = subprocess.run([python, "-c", script], capture_output=True, text=True, env=env, timeout=300, cwd=venv)
    assert p.returncode == 0, p.stderr[-3000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}, report["failed"]
    assert report["n"] > len(modules) + 20  # the lessons' modules and the package's
    assert Path(report["depthkit"]).resolve() == (REPO / "depthkit" / "__init__.py").resolve()  # the editable kit
    assert not any(report["dev"].values()), f"the student install must not bring test tools: {report['dev']}"

    lab = subprocess.run([str(venv / "bin" / "jupyter"), "lab", "--version"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert lab.returncode == 0, lab.stderr[-2000:]
    assert re.fullmatch(r"4\.\d+\.\d+\S*", lab.stdout.strip()), lab.stdout
    # the widget front ends the app needs are installed as prebuilt JupyterLab extensions
    ext = subprocess.run([str(venv / "bin" / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                         env=env, timeout=120)
    listing = ext.stdout + ext.stderr
    assert "@jupyter-widgets/jupyterlab-manager" in listing and "anywidget" in listing, listing
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True, env=env, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_readme_student_lines():
    venv_line, install_line, lab_line = readme_commands("student:commands")  # exactly three lines
    assert venv_line.startswith("python3 -m venv .venv && . .venv/bin/activate")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in install_line  # no 2.5 GB CUDA torch
    # the student install is the default install: the kit itself, no extras
    assert student_install_args() == ["-e", str(REPO)]
    assert lab_line.startswith("jupyter lab ")
    assert (REPO / lab_line.split()[-1]).is_file()
    assert lab_line.split()[-1] == "notebooks/00_quickstart.ipynb"
