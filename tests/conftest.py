"""Shared test set-up: offline, isolated caches, one random-weights model per session."""

import os
import tempfile
from pathlib import Path

# Before anything imports torch or timm: never reach for a hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
from trained_checkpoint import trained_torch_home, trained_weights  # noqa: F401 - shared fixtures for every test file

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "tests" / "data" / "midas_v21_small_256.state_dict.json"  # vendored key/shape manifest
_TEST_TORCH_HOME = tempfile.mkdtemp(prefix="depthkit-test-torch-home-")
# Exported / quantised models and the backend choice: one fresh folder per test session, shared with the lesson
# kernels and CLI subprocesses the tests start (they inherit the environment), never the user's ~/.cache/depthkit.
os.environ["DEPTHKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="depthkit-test-cache-")


@pytest.fixture(autouse=True)
def _isolated_weights(monkeypatch):
    """Unit tests never see the user's weights cache or DEPTHKIT_WEIGHTS, and "auto" does not try to download
    (tests that need a download attempt delete DEPTHKIT_OFFLINE themselves). Notebooks run by nbval are not
    affected: they use the real cache, so they show pretrained results where the checkpoint is installed."""
    monkeypatch.setenv("TORCH_HOME", _TEST_TORCH_HOME)
    monkeypatch.setenv("DEPTHKIT_OFFLINE", "1")
    monkeypatch.delenv("DEPTHKIT_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def random_model():
    """MiDaS_small with seeded random weights (seed 0), eval mode. Do not modify it in tests."""
    import depthkit as dk

    return dk.load_model("random")


@pytest.fixture()
def torch_home(tmp_path, monkeypatch):
    """A fresh, empty torch hub folder for one test; returns the checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"
