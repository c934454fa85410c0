"""A trained MiDaS_small checkpoint for the tests: the kit's trained-weights path, without the real download.

No model hub is reachable from the tests, so :func:`build` makes a stand-in for ``midas_v21_small_256.pt``:

1. the network is initialised deterministically (``torch.manual_seed(SEED)``, the RNG state is restored after);
2. it is fitted for :data:`STEPS` Adam steps to the exact inverse depth of :data:`N_SCENES` procedural scenes
   (:func:`depthkit.synthetic.render_scene`, :data:`SIZE` px), mapped to ``OFFSET + inverse_depth / max`` so that
   every target is positive; the loss is taken before the head's final ReLU, so that no unit dies at the start;
3. the state dict (official key layout) is saved and installed with ``python -m depthkit weights install FILE``
   in a subprocess, into a fresh temporary ``TORCH_HOME`` that is never the user's own cache.

The fit runs on one thread and takes about 25 s of CPU time (30 steps at 96 x 96 px). Its maps are smooth (a
short fit learns the low frequencies first), not constant, positive, and differ from photo to photo; they
resemble depth only loosely, which is the point: lesson code must work for *any* checkpoint, not just for the
official one.

``conftest.py`` exposes the session fixture :func:`trained_torch_home` (built once per test session) and the
per-test :func:`trained_weights`, which also points ``TORCH_HOME`` at it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SEED = 0
STEPS = 30
BATCH = 4
N_SCENES = 8
SIZE = 96
LEARNING_RATE = 3e-4
OFFSET = 0.2
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TrainedCheckpoint:
    """Where the test checkpoint is and what it is.

    Attributes:
        file: the fitted checkpoint as written by the fit (official key layout), outside the cache.
        torch_home: the temporary ``TORCH_HOME`` it was installed into.
        installed: ``torch_home/hub/checkpoints/midas_v21_small_256.pt``.
        sha256: hex SHA-256 of the installed file.
        build_seconds: wall time of fit + save + install, in seconds (grows with the machine's load).
        fit_cpu_seconds: CPU time of the fit (one thread), in seconds; the budget is 60 s.
        loss: (first, last) training loss (mean squared error on the targets, no unit).
    """

    file: Path
    torch_home: Path
    installed: Path
    sha256: str
    build_seconds: float
    fit_cpu_seconds: float
    loss: tuple[float, float]

    def env(self, **extra: str) -> dict:
        """Environment for a subprocess that must take the trained branch offline (``TORCH_HOME`` set)."""
        env = {k: v for k, v in os.environ.items() if k != "DEPTHKIT_WEIGHTS"}
        env.update(TORCH_HOME=str(self.torch_home), DEPTHKIT_OFFLINE="1", HF_HUB_OFFLINE="1",
                   PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
        env.update(extra)
        return env

    def state_dict(self) -> dict:
        """The checkpoint's tensors, read straight from the file (not through depthkit.weights)."""
        import torch

        return torch.load(self.file, map_location="cpu", weights_only=True)

    def model(self):
        """A bare :class:`~depthkit.model.MidasSmall` with this state dict loaded directly (eval mode)."""
        from depthkit.model import MidasSmall

        net = MidasSmall()
        net.load_state_dict(self.state_dict(), strict=True)
        return net.eval()


def _training_data():
    """(N, 3, SIZE, SIZE) normalised images and (N, SIZE, SIZE) positive targets from seeded scenes."""
    import torch

    from depthkit.synthetic import render_scene
    from depthkit.transforms import IMAGENET_MEAN, IMAGENET_STD

    scenes = [render_scene(seed, size=(SIZE, SIZE)) for seed in range(N_SCENES)]
    x = np.stack([((s.image / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1) for s in scenes])
    y = np.stack([OFFSET + s.inverse_depth / max(float(s.inverse_depth.max()), 1e-6) for s in scenes])
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def fit_state_dict(steps: int = STEPS, seed: int = SEED) -> tuple[dict, tuple[float, float]]:
    """Deterministic initialisation + a short seeded fit; returns (state dict, (first, last) loss)."""
    import torch

    from depthkit.model import MidasSmall

    x, y = _training_data()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same numbers on every machine, and no spinning under load
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = MidasSmall().eval()  # batch-norm statistics stay at their initial values
    head = net.scratch.output_conv
    final_relu, head[5] = head[5], torch.nn.Identity()  # fit before the ReLU: no dead output at the start
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    losses = []
    try:
        for step in range(steps):
            first = (step * BATCH) % N_SCENES
            idx = torch.arange(first, first + BATCH) % N_SCENES
            loss = torch.mean((net(x[idx]) - y[idx]) ** 2)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            losses.append(float(loss.detach()))
    finally:
        head[5] = final_relu
        torch.set_num_threads(threads)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return state, (losses[0], losses[-1])


def build(folder: Path) -> TrainedCheckpoint:
    """Fit, save and install the checkpoint under ``folder``; see the module docstring."""
    import torch

    from depthkit.weights import CHECKPOINT_NAME, check_state_dict, sha256_file

    t0, cpu0 = time.perf_counter(), time.process_time()
    state, loss = fit_state_dict()
    fit_cpu = time.process_time() - cpu0
    check_state_dict(state, source="the test checkpoint")
    file = folder / "fitted" / CHECKPOINT_NAME
    file.parent.mkdir(parents=True)
    torch.save(state, file)
    torch_home = folder / "torch-home"
    env = {k: v for k, v in os.environ.items() if k != "DEPTHKIT_WEIGHTS"}
    env.update(TORCH_HOME=str(torch_home), DEPTHKIT_OFFLINE="1", HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "depthkit", "weights", "install", str(file)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"weights install failed ({done.returncode}): {done.stderr.strip()}")
    installed = torch_home / "hub" / "checkpoints" / CHECKPOINT_NAME
    if str(installed) not in done.stdout:
        raise RuntimeError(f"weights install did not report {installed}: {done.stdout.strip()}")
    return TrainedCheckpoint(file=file, torch_home=torch_home, installed=installed, sha256=sha256_file(installed),
                             build_seconds=time.perf_counter() - t0, fit_cpu_seconds=fit_cpu, loss=loss)


#: What the kit says on the untrained branch (labels, captions, warnings, the report's banner). Plain "untrained"
#: alone is not enough: lesson 01's experiment table has an "untrained" row (a network before its training).
UNTRAINED = re.compile(r"UNTRAINED|[Uu]ntrained (random )?weights|weights are untrained|not a depth prediction|"
                       r"NOT depth predictions|depthkit-untrained")


def assert_trained_text(text: str, checkpoint: TrainedCheckpoint, where: str, *, named: bool = True) -> None:
    """``text`` (an output, log or HTML page) took the trained branch: none of the kit's untrained-weights texts
    (:data:`UNTRAINED`) and, if ``named``, the weights named by file name and SHA-256 (first 12 hex digits at least)."""
    from depthkit.weights import CHECKPOINT_NAME

    found = UNTRAINED.search(text)
    assert found is None, f"{where} says {text[max(found.start() - 80, 0):found.end() + 80]!r}"
    if named:
        assert CHECKPOINT_NAME in text, f"{where} does not name the weights file {CHECKPOINT_NAME}"
        assert checkpoint.sha256[:12] in text, f"{where} does not show the SHA-256 {checkpoint.sha256[:12]}…"


def notebook_output_text(nb) -> str:
    """All text a student sees in an executed notebook: streams, text/plain, HTML and Markdown outputs,
    error messages and stored widget state (a dict or an nbformat node, as papermill returns it)."""
    if isinstance(nb, (str, os.PathLike)):
        nb = json.loads(Path(nb).read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            for mime in ("text/plain", "text/html", "text/markdown"):
                value = out.get("data", {}).get(mime)
                if value is not None:
                    parts.append("".join(value) if isinstance(value, list) else value)
            if out.get("output_type") == "error":
                parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    widgets = nb.get("metadata", {}).get("widgets")
    if widgets:
        parts.append(json.dumps(widgets))
    return "\n".join(parts)


def loads_a_model(nb) -> bool:
    """True if a code cell of the notebook builds the model (then it must name the weights)."""
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return bool(re.search(r"\b(load_model|default_model)\(|\bdk\.app\(", code))


def assert_trained_lesson(nb, checkpoint: TrainedCheckpoint, name: str) -> None:
    """An executed lesson (papermill run with ``checkpoint.env()``) took the trained branch everywhere."""
    if isinstance(nb, (str, os.PathLike)):
        nb = json.loads(Path(nb).read_text(encoding="utf-8"))
    assert_trained_text(notebook_output_text(nb), checkpoint, f"lesson {name}", named=loads_a_model(nb))


@pytest.fixture(scope="session")
def trained_torch_home(tmp_path_factory) -> TrainedCheckpoint:
    """The trained test checkpoint, installed in a temporary TORCH_HOME (built once per session, ~35 s)."""
    return build(tmp_path_factory.mktemp("trained-checkpoint"))


@pytest.fixture()
def trained_weights(trained_torch_home, monkeypatch) -> TrainedCheckpoint:
    """Like :func:`trained_torch_home`, and this test's ``TORCH_HOME`` points at it (``load_model("auto")`` and
    ``"pretrained"`` then load it)."""
    monkeypatch.setenv("TORCH_HOME", str(trained_torch_home.torch_home))
    monkeypatch.setenv("DEPTHKIT_OFFLINE", "1")
    monkeypatch.delenv("DEPTHKIT_WEIGHTS", raising=False)
    return trained_torch_home
