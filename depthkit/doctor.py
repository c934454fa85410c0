"""``python -m depthkit doctor``: what this machine has for the kit, in a few lines, and how to fix what is missing.

:func:`diagnose` runs the checks and returns one :class:`Finding` per line:

* Python and torch (a CUDA build of torch on a machine without a GPU is flagged: the CPU build is ~2 GB smaller);
* the CPU's features (:func:`depthkit.runtime.cpu_features`: AVX2, AVX-512, VNNI, bf16, AMX);
* JupyterLab, and the widgets the app needs (ipywidgets with its JupyterLab extension, anywidget);
* the weights cache: where it is, whether the MiDaS_small checkpoint is there and verified (every key and shape, and
  the SHA-256 recorded when it entered the cache);
* whether the internet is reachable for the download (a TCP connection to the checkpoint's host, or to the proxy in
  ``https_proxy``, with a 5 s limit: offline answers in at most 5 s and says "offline");
* which inference backends (:mod:`depthkit.backends`) can run here.

Every problem names the one command that fixes it. :func:`report` formats the findings; :func:`main` prints them
and returns the exit code (0: no problem, 1: at least one).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import DepthkitError

__all__ = ["Finding", "check_backends", "check_cpu", "check_internet", "check_jupyter", "check_python", "check_torch",
           "check_weights", "diagnose", "main", "report"]

#: Seconds the internet check may take.
NETWORK_TIMEOUT = 5.0
_CPU_TORCH = ("python -m pip install --force-reinstall torch torchvision "
              "--index-url https://download.pytorch.org/whl/cpu")


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report.

    Attributes:
        topic: what was checked ("Python", "torch", "CPU", "JupyterLab", "widgets", "weights", "internet", "backends").
        ok: False when it is a problem for running the lessons.
        detail: what was found, one line.
        fix: the one command that fixes the problem (None when there is nothing to fix).
    """

    topic: str
    ok: bool
    detail: str
    fix: str | None = None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_install(*names: str, force: bool = False) -> str:
    """``python -m pip install ...`` with each name's requirement as depthkit declares it (e.g. ``"jupyterlab>=4"``)."""
    try:
        declared = [r.split(";")[0].strip() for r in importlib.metadata.requires("depthkit") or []]
    except importlib.metadata.PackageNotFoundError:
        declared = []
    specs = []
    for name in names:
        spec = next((r for r in declared if _norm(re.match(r"[\w.\-]*", r).group()) == _norm(name)), name)
        specs.append(f'"{spec}"' if spec != name else name)
    return "python -m pip install " + ("--force-reinstall " if force else "") + " ".join(specs)


def check_python() -> Finding:
    """The Python version and interpreter (the one JupyterLab's kernel should be)."""
    return Finding("Python", True, f"{platform.python_version()} ({sys.executable})")


def check_torch() -> Finding:
    """torch's version and build; a CUDA build without a usable GPU is a problem (the CPU build is ~2 GB smaller)."""
    version = _version("torch")
    if version is None or importlib.util.find_spec("torch") is None:
        return Finding("torch", False, "not installed.", _CPU_TORCH)
    import torch

    threads = torch.get_num_threads()
    cuda = getattr(torch.version, "cuda", None)
    if cuda and not torch.cuda.is_available():
        return Finding("torch", False, f"{torch.__version__}, a CUDA {cuda} build without a usable GPU (~2.5 GB the "
                       "kit never uses: it runs on the CPU).", _CPU_TORCH)
    build = f"CUDA {cuda} build, GPU present" if cuda else "CPU build"
    return Finding("torch", True, f"{torch.__version__} ({build}), {threads} threads")


def check_cpu() -> Finding:
    """The CPU's name and features, as :func:`depthkit.runtime.cpu_features` detects them (never assumed)."""
    from .runtime import cpu_features

    features = cpu_features()
    return Finding("CPU", True, f"{features.summary()}; {features.logical_cores} logical cores, torch uses "
                                f"{features.torch_capability or 'an unknown'} kernels")


def _labextension(name: str) -> bool:
    """Whether a JupyterLab prebuilt extension folder ``name`` is installed in one of Jupyter's data folders."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return False
    return any((Path(folder) / name / "package.json").is_file() for folder in jupyter_path("labextensions"))


def check_jupyter() -> list[Finding]:
    """JupyterLab, and the widgets the app needs: ipywidgets + its JupyterLab extension, and anywidget."""
    lab = _version("jupyterlab")
    findings = [Finding("JupyterLab", True, f"{lab}") if lab else Finding(
        "JupyterLab", False, "not installed: the lessons cannot be opened.", _pip_install("jupyterlab"))]
    parts, missing = [], []
    for dist, module, extension in (("ipywidgets", "ipywidgets", None),
                                    ("jupyterlab_widgets", "jupyterlab_widgets", "@jupyter-widgets/jupyterlab-manager"),
                                    ("anywidget", "anywidget", "anywidget")):
        version = _version(dist)
        if version is None or importlib.util.find_spec(module) is None:
            missing.append(dist)
            parts.append(f"{dist} missing")
        elif extension is not None and not _labextension(extension):
            missing.append(dist)
            parts.append(f"{dist} {version} without its JupyterLab extension")
        else:
            parts.append(f"{dist} {version}")
    if missing:
        fix = _pip_install(*missing, force=True)
        findings.append(Finding("widgets", False, ", ".join(parts) + ": the app will not display.", fix))
    else:
        findings.append(Finding("widgets", True, ", ".join(parts)))
    return findings


def _verify(path: Path) -> str:
    """Check the cached checkpoint: the SHA-256 recorded when it entered the cache, then every key and shape."""
    from .weights import load_checkpoint, verify_cached

    digest = verify_cached(path)
    load_checkpoint(path)
    return digest


def check_weights(online: bool | None = None) -> Finding:
    """Where the weights cache is, and whether the checkpoint is there and verified.

    Args:
        online: whether the internet is reachable (chooses the fix: download, or install a copied file);
            None: unknown (download is suggested).
    """
    from . import weights

    get = ("python -m depthkit weights install FILE  # FILE: midas_v21_small_256.pt copied from a machine with "
           "internet" if online is False else "python -m depthkit weights download")
    env = os.environ.get(weights.ENV_VAR)
    path = weights.cache_path()
    if not path.is_file():
        where = f"; {weights.ENV_VAR}={env} is set" if env else ""
        return Finding("weights", False, f"no checkpoint in {path.parent}{where}: the lessons would run with "
                       "UNTRAINED random weights.", get)
    try:
        digest = _verify(path)
    except DepthkitError as exc:
        return Finding("weights", False, f"{path} is not usable: {exc}", get)
    extra = f"; note: {weights.ENV_VAR}={env} overrides it" if env else ""
    return Finding("weights", True, f"{path} verified (sha256 {digest}){extra}")


def _target(url: str) -> tuple[str, int, str]:
    """(host, port, description) to connect to for ``url``: the HTTPS proxy if one is set, else the URL's host."""
    proxy = os.environ.get("https_proxy") or os.environ.get("HTTPS_PROXY")
    if proxy:
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        return parsed.hostname or proxy, parsed.port or 8080, f"proxy {parsed.hostname}:{parsed.port or 8080}"
    parsed = urlparse(url)
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    return parsed.hostname or url, port, f"{parsed.hostname}:{port}"


def check_internet(url: str | None = None, timeout: float = NETWORK_TIMEOUT) -> Finding:
    """Whether the checkpoint's host (or the HTTPS proxy) accepts a connection within ``timeout`` seconds.

    The name lookup runs in a helper thread, so a missing DNS server cannot make this wait longer than ``timeout``.
    """
    from .weights import CHECKPOINT_URL

    host, port, what = _target(url or CHECKPOINT_URL)
    outcome: list = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    t0 = time.monotonic()
    worker = threading.Thread(target=connect, name="depthkit-doctor-net", daemon=True)
    worker.start()
    worker.join(timeout)
    seconds = time.monotonic() - t0
    if outcome and outcome[0] is None:
        return Finding("internet", True, f"{what} reachable in {seconds:.2f} s (the weights can be downloaded)")
    reason = f"{outcome[0].strerror or outcome[0]}" if outcome else f"no answer within {timeout:g} s"
    return Finding("internet", False, f"offline: {what} not reachable ({reason}); the weights cannot be downloaded "
                   "here.", "python -m depthkit weights install FILE  # a midas_v21_small_256.pt copied from elsewhere")


def check_backends() -> Finding:
    """Which inference backends can run here (:func:`depthkit.backends.check_backend` for each)."""
    from .backends import BACKENDS, check_backend

    ready, absent = [], []
    for name in BACKENDS:
        try:
            check_backend(name)
            ready.append(name)
        except DepthkitError as exc:
            command = re.search(r"`([^`]+)`", str(exc))
            absent.append(f"{name} ({command.group(1) if command else exc})")
    detail = ", ".join(ready) + (f"; not available: {', '.join(absent)}" if absent else "")
    return Finding("backends", True, detail)


def diagnose(*, url: str | None = None, timeout: float = NETWORK_TIMEOUT) -> list[Finding]:
    """Run every check, in the order :func:`report` prints them.

    Args:
        url: the download URL whose host the internet check connects to (default: the official checkpoint's).
        timeout: seconds the internet check may take.

    Returns:
        One :class:`Finding` per line.
    """
    internet = check_internet(url, timeout)
    weights = check_weights(online=internet.ok)
    if not internet.ok and weights.ok:  # the weights are already here: being offline is no problem
        internet = Finding("internet", True, internet.detail.split("; ")[0] + " (not needed: the weights are here)")
    return [check_python(), check_torch(), check_cpu(), *check_jupyter(), weights, internet, check_backends()]


def report(findings: Sequence[Finding]) -> str:
    """The findings as text: ``✔``/``✘`` lines, each problem followed by ``fix: <command>``, then a summary."""
    lines = ["depthkit doctor"]
    for f in findings:
        lines.append(f"{'✔' if f.ok else '✘'} {f.topic}: {f.detail}")
        if not f.ok and f.fix:
            lines.append(f"    fix: {f.fix}")
    problems = sum(not f.ok for f in findings)
    lines.append("no problems found." if problems == 0 else
                 f"{problems} problem{'s' if problems > 1 else ''} found: run the fix line under each ✘.")
    return "\n".join(lines)


def main(*, url: str | None = None, timeout: float = NETWORK_TIMEOUT) -> int:
    """Print the doctor's report; return 0 when nothing is wrong, 1 when a fix is needed."""
    findings = diagnose(url=url, timeout=timeout)
    print(report(findings))
    return 0 if all(f.ok for f in findings) else 1
