"""The network a benchmark runs: ``--weights auto|random|fitted|PATH``.

``fitted`` is the test suite's trained stand-in checkpoint (``tests/trained_checkpoint.py``: MiDaS_small fitted
for 30 Adam steps to synthetic scenes, about 25 s of CPU), for measurements whose result depends on the weights —
the agreement of bf16 and int8 with fp32, and so what ``backend="auto"`` chooses. It is not the MiDaS release:
no depth-quality number comes from it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: What --weights accepts besides a path.
CHOICES_HELP = "auto (default), random, fitted (the tests' trained stand-in checkpoint) or a checkpoint path"


def load(weights: str) -> Any:
    """``depthkit.load_model(weights)`` without the untrained warning, or the fitted checkpoint for ``"fitted"``."""
    from depthkit.bench import BenchmarkRun

    if weights != "fitted":
        return BenchmarkRun.load_model(weights)
    import torch

    sys.path.insert(0, str(REPO / "tests"))
    from trained_checkpoint import fit_state_dict

    state, _ = fit_state_dict()
    path = Path(tempfile.mkdtemp(prefix="depthkit-bench-")) / "fitted_midas_v21_small_256.pt"
    torch.save(state, path)
    return BenchmarkRun.load_model(str(path))
