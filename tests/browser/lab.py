"""Start and stop a private JupyterLab server for the browser test, and find Debian's Chromium.

Everything the server writes (config, runtime files, user settings, workspaces) goes to a temporary folder,
it listens on 127.0.0.1 only, on a free port, with a random token, and :meth:`LabServer.stop` ends the server and
every kernel it started (kernels run in their own process group, so they are found by their connection files,
which live in this server's private runtime folder).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
    # the webcam tab: Chromium's built-in test camera (a moving pattern), camera permission granted without a prompt
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]
SETUP_HINT = "run `bash .ci/browser-setup.sh` (installs Debian's chromium and the playwright package)"


def find_chromium() -> str:
    """Path of Debian's Chromium, or raise RuntimeError saying how to install it."""
    for candidate in (os.environ.get("DEPTHKIT_CHROMIUM", ""), *CHROMIUM_CANDIDATES, shutil.which("chromium") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"Chromium is not installed (looked for {', '.join(CHROMIUM_CANDIDATES)}); {SETUP_HINT}.")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab server rooted at ``root`` with private config/runtime/settings folders under ``home``.

    ``python`` is the interpreter that runs JupyterLab (and so the kernel, whose default spec is that interpreter),
    e.g. a student-install virtual environment's; ``env`` the environment variables to start from (default: ours).
    """

    def __init__(self, root: Path, home: Path, token: str, port: int | None = None, *, python: str | None = None,
                 env: dict[str, str] | None = None):
        self.root, self.home, self.token = Path(root), Path(home), token
        self.python = python or sys.executable
        self.base_env = dict(os.environ if env is None else env)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runtime_dir = self.home / "runtime"
        self.log_path = self.home / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def _env(self) -> dict:
        env = dict(self.base_env)
        settings = self.home / "lab-settings"
        env.update({
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
            "JUPYTER_DATA_DIR": str(self.home / "data"),
            "IPYTHONDIR": str(self.home / "ipython"),
            "HF_HUB_OFFLINE": "1",
            "DEPTHKIT_OFFLINE": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        })
        # Never let JupyterLab autosave the notebook: running it must not write outputs into the repository.
        plugin = settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
        plugin.parent.mkdir(parents=True, exist_ok=True)
        plugin.write_text(json.dumps({"autosave": False}), encoding="utf-8")
        # Render every cell (JupyterLab 4 otherwise skips cells outside the viewport, so the app may not exist yet).
        tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True, exist_ok=True)
        tracker.write_text(json.dumps({"windowingMode": "none"}), encoding="utf-8")
        news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
        return env

    def start(self, timeout: float = 60.0) -> None:
        for sub in ("config", "runtime", "workspaces", "ipython", "data"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        cmd = [
            self.python, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI runs as root
            cmd.append("--allow-root")
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.process = subprocess.Popen(cmd, cwd=self.root, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.api("GET", "/api/status", timeout=2) is not None:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, timeout: float = 10.0):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def _kernel_pids(self) -> list[int]:
        """PIDs of processes whose command line names a connection file in this server's runtime folder."""
        marker = str(self.runtime_dir).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids

    def kernel_commands(self) -> list[list[str]]:
        """The command line of every kernel this server started (to check which Python runs the lessons)."""
        commands = []
        for pid in self._kernel_pids():
            try:
                commands.append((Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")[:-1])
            except OSError:
                continue
        return commands

    def stop(self) -> None:
        """Shut down kernels and server politely, then kill whatever is left (only what this server started)."""
        if self.process is None:
            return
        try:
            if self.process.poll() is None:
                try:
                    for kernel in self.api("GET", "/api/kernels", timeout=5):
                        self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=10)
                except (urllib.error.URLError, OSError, ValueError):
                    pass
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
        finally:
            for pid in self._kernel_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._log.close()
            self.process = None
