"""Test helpers for the transformer models: their vendored key/shape manifests and checkpoints built from them.

The manifests (tests/data/*.state_dict.json) list every key, shape and dtype of the official checkpoints
(``dpt_hybrid_384.pt``, ``depth_anything_v2_vits.pth``). A state dict with random values in exactly that layout
stands in for the official file: it must load with ``strict=True``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parent / "data"


def manifest(name: str) -> dict:
    """The manifest ``tests/data/<name>.state_dict.json``: {"model", "checkpoint", "parameters", "entries"}."""
    return json.loads((DATA / f"{name}.state_dict.json").read_text())


def layout(module: torch.nn.Module) -> list[list]:
    """``[[key, shape, dtype], ...]`` of a module's state dict, in order, as the manifests write it."""
    return [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in module.state_dict().items()]


def official_state_dict(name: str, seed: int = 0, scale: float = 0.05) -> dict[str, torch.Tensor]:
    """Random tensors in the official layout of ``name`` (seeded): what a checkpoint file in that layout holds.

    LayerNorm/GroupNorm-like 1-D weights are set near 1 so that the random network keeps a usable signal.
    """
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape, dtype in manifest(name)["entries"]:
        value = torch.randn(shape, generator=g) * scale
        is_norm_weight = "norm" in key.rsplit(".", 2)[-2] and key.endswith(".weight")
        if len(shape) == 1 and (is_norm_weight or key.endswith(".gamma")):
            value = value + 1.0
        out[key] = value.to(getattr(torch, dtype))
    return out


def build_without_init(cls: type[torch.nn.Module]) -> torch.nn.Module:
    """Build ``cls()`` on the meta device and allocate (uninitialised) CPU storage: skips the slow random init.

    Only for tests that load a full state dict right after (``load_state_dict(..., strict=True)``).
    """
    with torch.device("meta"):
        net = cls()
    return net.to_empty(device="cpu").eval()


def load_official(cls: type[torch.nn.Module], name: str, seed: int) -> tuple[torch.nn.Module, dict]:
    """``cls`` built without initialisation, with a random state dict in the official layout loaded strictly."""
    net = build_without_init(cls)
    state = official_state_dict(name, seed=seed)
    result = net.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return net, state


def assert_matches_manifest(net: torch.nn.Module, name: str, checkpoint: str, entries: int, parameters: int) -> None:
    """Every key of ``net``, in order, with its shape and dtype, is the official manifest's; counts as stated."""
    ref = manifest(name)
    assert ref["checkpoint"] == checkpoint
    assert len(ref["entries"]) == entries
    assert layout(net) == ref["entries"]
    assert sum(p.numel() for p in net.parameters()) == ref["parameters"] == parameters
