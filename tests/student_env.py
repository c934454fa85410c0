"""The student install, built for tests: a fresh virtual environment with ``pip install -e .`` (no extras).

:func:`student_venv` builds it once per test process (later calls return the same folder) and removes it at exit.
It runs the README's student install line (between the ``<!-- student:commands -->`` markers) with the torch pair
pinned in ``binder/environment.yml`` (the versions tested together), through pip's own configuration: on a machine
without internet, its local index or wheel folder. The line's ``--extra-index-url`` (PyTorch's CPU wheels) is left
out: the tests run offline, where that index cannot be reached, and which torch build is installed does not change
what the tests check.

:func:`notebook_imports` and :func:`source_imports` list the modules a notebook or a Python file imports (every
``import`` statement, those inside functions included), parsed with :mod:`ast`.
"""

from __future__ import annotations

import ast
import atexit
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BINDER_ENV = REPO / "binder" / "environment.yml"
INSTALL_TIMEOUT_S = 900

_built: dict[str, Path] = {}


def source_imports(source: str) -> set[str]:
    """Absolute module names imported anywhere in Python ``source`` (relative imports are left out).

    ``import a.b as c`` gives ``a.b``; ``from a.b import c`` gives ``a.b`` (``c`` may be a name, not a module).
    """
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def _cell_source(cell: dict) -> str:
    """A code cell's Python: IPython magics (``%…``, ``%%…``) and shell lines (``!…``) are left out."""
    text = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def notebook_imports(path: Path) -> set[str]:
    """Absolute module names imported in the code cells of the notebook at ``path``."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    modules = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            modules |= source_imports(_cell_source(cell))
    return modules


def readme_commands(block: str) -> list[str]:
    """The command lines between ``<!-- block -->`` and ``<!-- /block -->`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"<!-- {block} -->\n```bash\n(.*?)```\n<!-- /{block} -->", text, re.S)
    if m is None:
        raise RuntimeError(f"README.md has no ```bash block between <!-- {block} --> and <!-- /{block} -->")
    return [line for line in m.group(1).splitlines() if line.strip()]


def student_install_args() -> list[str]:
    """The arguments of ``pip install`` in the README's student install line, as run from the repository root.

    The ``--extra-index-url`` option is left out (its index is on the internet; see the module's docstring) and a
    local path (``.``) becomes the repository's absolute path.
    """
    line = readme_commands("student:commands")[1]
    words = shlex.split(line)
    prefix = ["python", "-m", "pip", "install"]
    if words[:4] != prefix:
        raise RuntimeError(f"the README's student install line must start with {' '.join(prefix)}: {line}")
    args, rest = [], iter(words[4:])
    for word in rest:
        if word == "--extra-index-url":
            next(rest)
        elif word.startswith("."):
            args.append(str(REPO / word) if word == "." else str(REPO) + word[1:])
        else:
            args.append(word)
    return args


def binder_torch_pins() -> list[str]:
    """The ``torch==…`` and ``torchvision==…`` lines of ``binder/environment.yml``."""
    pins = re.findall(r"^\s*-\s*(torch(?:vision)?==[\w.+]+)\s*$", BINDER_ENV.read_text(encoding="utf-8"), re.M)
    if sorted(p.split("==")[0] for p in pins) != ["torch", "torchvision"]:
        raise RuntimeError(f"binder/environment.yml must pin torch and torchvision once each, found {pins}")
    return pins


def venv_env(venv: Path) -> dict[str, str]:
    """Environment variables for running the virtual environment's programs, isolated from the caller's."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv), PYTHONNOUSERSITE="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", HF_HUB_OFFLINE="1", DEPTHKIT_OFFLINE="1")
    return env


def _remove_later(folder: Path) -> None:
    """Delete ``folder`` in a detached process: removing a 4 GB environment (torch with its CUDA libraries) takes
    minutes of disk time on a busy machine, which the test run need not wait for."""
    try:
        subprocess.Popen(["rm", "-rf", "--", str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)


def student_venv() -> Path:
    """Folder of a fresh virtual environment with the student install (built on the first call, ~1.5–3 min)."""
    if "venv" in _built:
        return _built["venv"]
    root = Path(tempfile.mkdtemp(prefix="depthkit-student-venv-"))
    atexit.register(_remove_later, root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    start = time.monotonic()
    # --no-compile: byte-compiling all of torch costs time and the test imports only what the lessons use
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-compile", "--no-input", "--quiet",
           *binder_torch_pins(), *student_install_args()]
    p = subprocess.run(cmd, capture_output=True, text=True, env=venv_env(venv), timeout=INSTALL_TIMEOUT_S)
    if p.returncode != 0:
        raise RuntimeError(f"the student install failed ({' '.join(cmd)}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    print(f"student install: {time.monotonic() - start:.0f} s in {venv}", file=sys.stderr)
    _built["venv"] = venv
    return venv
