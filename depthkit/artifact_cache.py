"""Files depthkit derives from a model and keeps on disk: exported ONNX graphs, int8 models, the backend choice.

Exporting MiDaS_small to ONNX takes seconds and quantising it to int8 takes longer, so each is done once per
machine and kept in a cache folder, keyed by what the file depends on:

* the **weights**: :func:`weights_digest`, the SHA-256 of every parameter and buffer (names, shapes, dtypes and
  bytes), so a fine-tuned network never reuses the file of the network it started from;
* the **library versions** (:func:`library_versions`): torch, onnx, ONNX Runtime, OpenVINO, NNCF and depthkit,
  so an upgrade rebuilds instead of loading a file an older exporter wrote.

The folder is ``$DEPTHKIT_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/depthkit`` (``~/.cache/depthkit``).
Deleting it is always safe: everything in it is rebuilt on demand. Files appear atomically (written under a
temporary name in the same folder, then renamed), so two notebooks building the same file at once cannot leave a
half-written one behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["CACHE_ENV", "FORMAT_VERSION", "LIBRARIES", "artifact_dir", "build_once", "cache_root", "library_versions",
           "read_json", "weights_digest", "weights_version", "write_json"]

#: Environment variable naming the cache folder (tests point it at a temporary folder).
CACHE_ENV = "DEPTHKIT_CACHE_DIR"
#: Distributions whose versions are part of every cache key.
LIBRARIES = ("torch", "onnx", "onnxruntime", "openvino", "nncf", "depthkit")

#: model -> (fingerprint, digest): the digest is computed once per state of the weights.
_DIGESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cache_root() -> Path:
    """The cache folder: ``$DEPTHKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/depthkit``, else ``~/.cache/depthkit``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "depthkit"


def library_versions() -> dict[str, str]:
    """Installed version of each of :data:`LIBRARIES` (``"-"`` when not installed), read once per process.

    Reading package metadata takes milliseconds, and a library upgraded while Python runs is still the old one in
    memory, so the first reading is the right one for the whole process.

    Example:
        >>> versions = library_versions()
        >>> sorted(versions) == sorted(LIBRARIES) and versions["torch"] != "-"
        True
    """
    return dict(_read_versions())


@functools.lru_cache(maxsize=1)
def _read_versions() -> tuple[tuple[str, str], ...]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return tuple(out.items())


def weights_version(model: torch.nn.Module) -> tuple[tuple[int, int], ...]:
    """A cheap stamp of a network's weights: it changes whenever any parameter or buffer is modified in place.

    It is the tuple of the state-dict tensors' storage addresses and version counters: in-place changes
    (``load_state_dict``, optimiser steps) advance a counter, and ``load_state_dict(..., assign=True)`` or a
    replaced parameter brings new storage. Equal stamps of one network mean unchanged weights; to compare two
    networks use :func:`weights_digest`.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(2, 1)
        >>> before = weights_version(net)
        >>> with torch.no_grad():
        ...     _ = net.bias.add_(1.0)
        >>> weights_version(net) == before
        False
    """
    return tuple((t.data_ptr(), t._version) for t in model.state_dict(keep_vars=True).values())


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 (hex) of a network's weights: every state-dict entry's name, dtype, shape and bytes, in order.

    Two networks with equal state dicts have equal digests, whatever file (or seed) they came from; any change to
    any value changes it. It is computed once per state of the weights (about 0.2 s for MiDaS_small's 85 MB).

    Example:
        >>> import torch
        >>> a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        >>> weights_digest(a) == weights_digest(b)
        True
        >>> with torch.no_grad():
        ...     _ = b.bias.add_(1.0)
        >>> weights_digest(a) == weights_digest(b)
        False
    """
    import torch

    fp = weights_version(model)
    known = _DIGESTS.get(model)
    if known is not None and known[0] == fp:
        return known[1]
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    digest = h.hexdigest()
    _DIGESTS[model] = (fp, digest)
    return digest


#: Bumped whenever the way depthkit writes its derived files changes (an editable install keeps its version number).
FORMAT_VERSION = 1


def _versions_key() -> str:
    text = json.dumps({**library_versions(), "format": FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def artifact_dir(model: torch.nn.Module, model_name: str) -> Path:
    """The folder of one network's derived files: ``<cache>/<name>/<weights digest[:16]>-<versions key>``.

    The versions key hashes :func:`library_versions` and :data:`FORMAT_VERSION`.

    Args:
        model: the network (its weights are hashed with :func:`weights_digest`).
        model_name: the folder's name, e.g. the network's class name ``"MidasSmall"`` or ``"MidasSmall-int8"``.

    Returns:
        The folder path (not created).
    """
    return cache_root() / model_name / f"{weights_digest(model)[:16]}-{_versions_key()}"


@contextmanager
def _temporary_sibling(dest: Path) -> Iterator[Path]:
    """A fresh temporary folder next to ``dest`` (same file system, so a rename is atomic); removed afterwards."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_once(dest: Path, build: Callable[[Path], None], *, message: str | None = None) -> Path:
    """Return ``dest`` (a folder), building it with ``build(tmp_folder)`` first if it does not exist yet.

    ``build`` writes its files into an empty temporary folder, which is then renamed to ``dest`` in one step; if
    another process finished first, its folder is kept and this one discarded.

    Args:
        dest: the folder to produce.
        build: writes the folder's files into the folder it is given.
        message: printed once before building (e.g. "quantising MiDaS_small to int8, once per machine ...").

    Returns:
        ``dest``.
    """
    if dest.is_dir():
        return dest
    if message:
        print(message, flush=True)
    with _temporary_sibling(dest) as tmp:
        build(tmp)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():  # pragma: no cover - a real file-system error, not a lost race
                raise
    return dest


def read_json(path: Path) -> dict:
    """A JSON object from ``path``, or ``{}`` when the file is missing or unreadable (a cache is never required)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
