"""Where a network's weights come from: the one place that finds, downloads, verifies and caches them.

Every function takes ``model=``, a name of :mod:`depthkit.model_registry` (default ``"midas_small"``;
``"dpt_hybrid"``, ``"depth_anything_v2_small"``): that entry names the checkpoint file, its URL and the network
its keys and shapes are checked against. Each model has its own cache file and ``.sha256`` record.

``weights`` is one of

* ``"auto"`` (default): for MiDaS_small, the value of the ``DEPTHKIT_WEIGHTS`` environment variable if it is set;
  otherwise the official checkpoint if it is cached or can be downloaded, else seeded random weights with a loud
  warning;
* ``"pretrained"``: the official checkpoint (cached, or downloaded now), or a
  :class:`~depthkit.errors.WeightsError` saying how to get it;
* ``"random"``: a seeded, deterministic initialisation (for tests; the output is not a depth prediction);
* a path to a checkpoint file in the official key layout (``.pt`` or ``.pth``).

Set ``DEPTHKIT_OFFLINE=1`` to skip the download attempt (without a network a failed attempt takes well under a
second; a slow server is given 5 s to answer).

The cache is torch's hub checkpoint folder, e.g. ``torch.hub.get_dir()/checkpoints/midas_v21_small_256.pt``, so a
file that ``torch.hub.load("intel-isl/MiDaS", "MiDaS_small")`` cached earlier is reused. A checkpoint is verified
(loaded with ``weights_only=True``, every key and shape checked) before it enters the cache; its SHA-256 is then
recorded beside it (``.sha256``) and checked on every later load; a file changed after that is refused. The
label of the weights (:attr:`WeightsInfo.label`) shows the start of that SHA-256 and :attr:`WeightsInfo.sha256` the
whole of it, so it can be compared with the release.

Under faults: a download or install is written to a temporary file in the cache folder, fsynced, verified, and only
then renamed over the cached file (``os.replace``), together with its hash, while the folder is locked
(``fcntl.flock``). So two ``weights download`` / ``weights install`` runs at once leave one valid file and its hash,
and an interrupted transfer or a full disk leaves nothing in the cache (with one sentence saying what happened).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .checks import check_positive_int
from .errors import WeightsError
from .model_registry import DEFAULT_MODEL, MODELS, ModelSpec, get_spec

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "CHECKPOINT_NAME", "CHECKPOINT_URL", "ENV_VAR", "OFFLINE_ENV_VAR", "UntrainedWeightsWarning", "WeightsInfo",
    "cache_path", "cached_checkpoint", "check_state_dict", "download", "install", "load_checkpoint", "load_model",
    "resolve_weights", "sha256_file", "verify_cached",
]

#: The default model's (MiDaS_small's) checkpoint file and URL; other models: ``get_spec(model).checkpoint_name``.
CHECKPOINT_NAME = MODELS[DEFAULT_MODEL].checkpoint_name
CHECKPOINT_URL = MODELS[DEFAULT_MODEL].url
#: Selects MiDaS_small's weights for "auto" (the other models' "auto" reads their cache).
ENV_VAR = "DEPTHKIT_WEIGHTS"
#: Set to 1 to make "auto" skip the download attempt (it then uses the cache or random weights).
OFFLINE_ENV_VAR = "DEPTHKIT_OFFLINE"



def _command(action: str, model: str) -> str:
    """The CLI command of a weights action, e.g. ``python -m depthkit weights install FILE --model dpt_hybrid``."""
    file = " FILE" if action == "install" else ""
    option = "" if model == DEFAULT_MODEL else f" --model {model}"
    return f"python -m depthkit weights {action}{file}{option}"


def _how_to_get(model: str = DEFAULT_MODEL) -> str:
    """The two ways to get a model's official checkpoint, as the end of a sentence."""
    return (f"run `{_command('download', model)}` where there is internet, or `{_command('install', model)}` "
            f"for a {get_spec(model).checkpoint_name} copied from elsewhere")


def _called(model: str) -> str:
    """How messages name a model: ``"MiDaS_small"`` (as torch.hub does) or the registry's title."""
    return "MiDaS_small" if model == DEFAULT_MODEL else get_spec(model).title


class UntrainedWeightsWarning(UserWarning):
    """Warned when a model runs with random weights: its output is not a depth prediction."""


@dataclass(frozen=True)
class WeightsInfo:
    """Provenance of a model's weights; travels with the model and every result.

    Attributes:
        kind: ``"pretrained"`` (the official checkpoint from the cache), ``"file"`` (a checkpoint given by path)
            or ``"random"`` (seeded initialisation, untrained).
        path: the checkpoint file, or ``None`` for random weights.
        sha256: hex SHA-256 of the checkpoint file, or ``None``.
        seed: the seed of a random initialisation, or ``None``.
        model: the registry name of the network the weights belong to (see :mod:`depthkit.model_registry`).
    """

    kind: str
    path: str | None = None
    sha256: str | None = None
    seed: int | None = None
    model: str = DEFAULT_MODEL

    @property
    def pretrained(self) -> bool:
        """True when the weights are a trained checkpoint (official or a file), False for random weights."""
        return self.kind != "random"

    @property
    def label(self) -> str:
        """One line for captions and reports, naming the model for all but the default one.

        Example:
            >>> WeightsInfo("pretrained", sha256="1a2b3c4d5e6f7a8b", model="dpt_hybrid").label
            'pretrained MiDaS v3.0 DPT-Hybrid (dpt_hybrid_384.pt, sha256 1a2b3c4d5e6f…)'
        """
        spec = get_spec(self.model)
        title = "" if self.model == DEFAULT_MODEL else f"{spec.title} "
        if self.kind == "random":
            return (f"UNTRAINED random {title}weights (seed {self.seed}): not a depth prediction; "
                    f"to get the real model, {_how_to_get(self.model)}")
        short = f"sha256 {self.sha256[:12]}…" if self.sha256 else "unverified"
        if self.kind == "pretrained":
            return f"pretrained {spec.title} ({spec.checkpoint_name}, {short})"
        return f"{title}weights from {self.path} ({short})"

    def __str__(self) -> str:
        return self.label


def cache_path(model: str = DEFAULT_MODEL) -> Path:
    """Path of a model's cached official checkpoint, e.g. ``torch.hub.get_dir()/checkpoints/midas_v21_small_256.pt``.

    Example:
        >>> cache_path("depth_anything_v2_small").name
        'depth_anything_v2_vits.pth'
    """
    return get_spec(model).cache_path()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.cache
def _meta_network(model: str) -> nn.Module:
    """The model's network built on the meta device (shapes only: no memory, no random initialisation), once per
    process and model: it gives the expected keys and shapes, and copies of it receive loaded weights."""
    import torch

    with torch.device("meta"):
        return get_spec(model).build()


@functools.cache
def _expected_shapes(model: str = DEFAULT_MODEL) -> dict:
    """Key -> shape of a model's state dict (from :func:`_meta_network`, not a network built per check)."""
    return {k: tuple(v.shape) for k, v in _meta_network(model).state_dict().items()}


def _other_model(state_dict: Mapping, model: str) -> ModelSpec | None:
    """The other registry entry whose keys and shapes the state dict has exactly, if any (for the error message)."""
    shapes = {k: tuple(getattr(v, "shape", ())) for k, v in state_dict.items()}
    return next((spec for name, spec in MODELS.items() if name != model and _expected_shapes(name) == shapes), None)


def check_state_dict(state_dict: Mapping, source: str = "the checkpoint", *, model: str = DEFAULT_MODEL) -> None:
    """Raise :class:`WeightsError` naming the first key or shape that differs from the model's own state dict.

    A checkpoint of another registered model is named as such (with the ``model=`` that loads it).

    Args:
        state_dict: mapping of parameter name -> tensor (the official key layout, e.g.
            ``pretrained.layer1.0.weight``, ``scratch.output_conv.4.bias``).
        source: how to name the checkpoint in the message.
        model: the registry name of the network the checkpoint must fit.
    """
    import torch

    expected, spec, called = _expected_shapes(model), get_spec(model), _called(model)
    fits = f"only {spec.checkpoint_name} fits"
    if any(key not in state_dict or tuple(getattr(state_dict[key], "shape", ())) != shape
           for key, shape in expected.items()) and (other := _other_model(state_dict, model)) is not None:
        raise WeightsError(f"{source} is a {other.title} checkpoint, not a {called} one; load it with "
                           f"model={other.name!r}, or use {spec.checkpoint_name} for model={model!r}.")
    for key, shape in expected.items():
        if key not in state_dict:
            raise WeightsError(f"{source} is not a {called} checkpoint: key {key!r} is missing; "
                               f"use {spec.checkpoint_name} ({_how_to_get(model)}).")
        value = state_dict[key]
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source} is not a {called} checkpoint: {key!r} is a {type(value).__name__}, "
                               "not a tensor.")
        if tuple(value.shape) != shape:
            kind = "MiDaS model" if model == DEFAULT_MODEL else "network"
            raise WeightsError(f"{source} does not match {called}: {key!r} has shape {tuple(value.shape)}, "
                               f"expected {shape}; is it a different {kind} ({fits})?")
    extra = [k for k in state_dict if k not in expected]
    if extra:
        raise WeightsError(f"{source} is not a {called} checkpoint: unexpected key {extra[0]!r} "
                           f"({len(extra)} unexpected in all); {fits}.")


def load_checkpoint(path: str | os.PathLike, *, name: str | None = None, model: str = DEFAULT_MODEL) -> dict:
    """Load and check a checkpoint file safely (``torch.load(..., weights_only=True)``).

    Accepts a plain state dict or the training format ``{"model": state_dict, "optimizer": ...}``.

    Args:
        path: checkpoint file.
        name: how to call the file in error messages (default: its path).
        model: the registry name of the network the checkpoint must fit (default ``"midas_small"``).

    Returns:
        The state dict (parameter name -> CPU tensor), checked against the model's keys and shapes.

    Raises:
        WeightsError: the file is missing, truncated, not a checkpoint, contains code (refused by
            ``weights_only``) or does not match the model.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    name, how, official = name or str(path), _how_to_get(model), get_spec(model).checkpoint_name
    if not path.is_file():
        raise WeightsError(f"weights file {name} does not exist; check the path or {how}.")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch zip format or legacy pickle
        raise WeightsError(f"{name} is not a readable PyTorch checkpoint (truncated or corrupt, or an error page "
                           f"saved in its place: it starts with {head!r}); delete it and {how}.")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(f"{name} was refused by the safe loader (weights_only=True) because it contains code "
                           f"or objects other than tensors; use the official {official}.") from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, TypeError, AttributeError,
            zipfile.BadZipFile) as e:  # what torch.load raises on truncated or corrupt archives and pickles
        raise WeightsError(f"{name} is not a readable PyTorch checkpoint (truncated or corrupt: "
                           f"{str(e).splitlines()[0][:100]}); delete it and {how}.") from None
    if isinstance(obj, Mapping) and "model" in obj and "optimizer" in obj:
        obj = obj["model"]  # the layout MiDaS's own BaseModel.load accepts
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{name} holds a {type(obj).__name__}, not a state dict; use {official}.")
    check_state_dict(obj, source=name, model=model)
    return dict(obj)


@contextmanager
def _cache_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on the cache folder itself while a checkpoint and its hash change.

    Every depthkit process that places, verifies or records a checkpoint takes this lock, so two ``weights
    download`` / ``weights install`` runs at once are serialised: each renames its own complete, verified file into
    place together with its own hash, and the last one wins as a consistent pair. The folder is locked (not a
    separate lock file), so the cache holds nothing but the checkpoint and its ``.sha256``. Where ``fcntl`` does
    not exist (Windows) the rename is still atomic but concurrent runs are not serialised.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _sidecar_line(path: Path, digest: str) -> bytes:
    return f"{digest}  {path.name}\n".encode()


def _record(path: Path, digest: str) -> None:
    """Write the ``.sha256`` sidecar atomically (temporary file, fsync, rename); call it holding the lock."""
    os.replace(_write_temp(_sidecar(path), [_sidecar_line(path, digest)]), _sidecar(path))


def _recorded(path: Path) -> str | None:
    side = _sidecar(path)
    return (side.read_text().split() or [""])[0] if side.is_file() else None


def verify_cached(path: str | os.PathLike | None = None, *, model: str = DEFAULT_MODEL) -> str:
    """Check a cached checkpoint against its recorded SHA-256 (recording it the first time); return the hash.

    The contents are not loaded here (see :func:`load_checkpoint`): this only proves the file is the one verified.

    Args:
        path: the cached checkpoint; defaults to ``cache_path(model)``.
        model: the registry name of the network (names the file and the commands in messages).

    Returns:
        The file's hex SHA-256 (64 characters).

    Raises:
        WeightsError: the file is missing, or changed since it was verified.
    """
    path = Path(path) if path is not None else cache_path(model)
    if not path.is_file():
        raise WeightsError(f"there is no cached checkpoint at {path}; {_how_to_get(model)}.")
    with _cache_lock(path.parent):
        digest = sha256_file(path)
        recorded = _recorded(path)
        if recorded is None:  # e.g. a file torch.hub cached earlier: verified by load_checkpoint, record it now
            with suppress(WeightsError):  # a full or read-only disk: the file is still usable, recorded next time
                _record(path, digest)
        elif recorded != digest:
            raise WeightsError(f"the cached checkpoint {path} changed since it was verified (SHA-256 {digest[:12]}… "
                               f"instead of {recorded[:12]}…); delete it and {_how_to_get(model)}.")
    return digest


def _disk_error(error: OSError, folder: Path, file: str = "the checkpoint") -> WeightsError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return WeightsError(f"the disk holding {folder} is full, so {file} could not be saved and nothing was "
                            "cached; free some space (or set TORCH_HOME to a folder on another disk) and try again.")
    return WeightsError(f"could not write the checkpoint into {folder} ({error.strerror or error}), so nothing was "
                        "cached; check that the folder is writable (or set TORCH_HOME to another folder).")


def _write(out: BinaryIO, chunk: bytes) -> None:
    out.write(chunk)


def _write_temp(dest: Path, chunks: Iterable[bytes]) -> Path:
    """Write ``chunks`` to a new temporary file beside ``dest`` and fsync it; on any failure delete it.

    Raises:
        WeightsError: the disk is full or not writable (one sentence); errors raised by ``chunks`` pass through.
    """
    fd, name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                _write(out, chunk)
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:  # from write, flush or fsync: the disk (reading errors arrive as WeightsError)
        tmp.unlink(missing_ok=True)
        raise _disk_error(e, dest.parent, dest.name) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _place_in_cache(tmp: Path, dest: Path, name: str, model: str) -> Path:
    """Verify ``tmp`` (a complete file in ``dest``'s folder), then, under the lock, rename it and its hash into place.

    The hash is written to its own temporary file first, so a full disk changes nothing in the cache.
    """
    try:
        load_checkpoint(tmp, name=name, model=model)
        line = _sidecar_line(dest, sha256_file(tmp))
        with _cache_lock(dest.parent):
            side_tmp = _write_temp(_sidecar(dest), [line])
            try:
                os.replace(tmp, dest)
                os.replace(side_tmp, _sidecar(dest))
            finally:
                side_tmp.unlink(missing_ok=True)
        _fsync_folder(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable (the folder's entries), where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that cannot fsync a folder
        pass
    finally:
        os.close(fd)


def cached_checkpoint(model: str = DEFAULT_MODEL) -> Path | None:
    """A model's cached official checkpoint if the file exists, else ``None`` (no verification here)."""
    p = cache_path(model)
    return p if p.is_file() else None


def _url_chunks(url: str, timeout: float, progress: bool, model: str) -> Iterator[bytes]:
    """The bytes of ``url`` in 64 KiB chunks; network failures and short transfers raise WeightsError."""
    import http.client
    import urllib.error
    import urllib.request

    from tqdm.auto import tqdm

    got, total = 0, None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=get_spec(model).checkpoint_name,
                      disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    got += len(chunk)
                    bar.update(len(chunk))
                    yield chunk
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise WeightsError(f"could not download {url} ({reason}); check the internet connection, or copy "
                           f"{get_spec(model).checkpoint_name} from another machine and run "
                           f"`{_command('install', model)}`.") from None
    if total is not None and got != total:
        raise WeightsError(f"the download of {url} stopped after {got} of {total} bytes; run "
                           f"`{_command('download', model)}` again.")


def _file_chunks(file: Path) -> Iterator[bytes]:
    try:
        with open(file, "rb") as f:
            yield from iter(lambda: f.read(1 << 20), b"")
    except OSError as e:
        raise WeightsError(f"could not read {file} ({e.strerror or e}); check the file and try again.") from None


def _target(dest: str | os.PathLike | None, model: str) -> Path:
    dest = Path(dest) if dest is not None else cache_path(model)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _disk_error(e, dest.parent) from None
    return dest


def download(url: str | None = None, dest: str | os.PathLike | None = None, *, progress: bool = True,
             timeout: float = 10.0, model: str = DEFAULT_MODEL) -> Path:
    """Download a checkpoint to a temporary file, verify it, then rename it into the cache atomically.

    An interrupted or failed download, or a full disk, leaves nothing in the cache. Two downloads (or installs) at
    once leave one valid file and its hash (see the module docstring).

    Args:
        url: where to download from; ``None`` (default): the model's official release (``get_spec(model).url``).
        dest: target file; defaults to ``cache_path(model)``.
        progress: show a tqdm progress bar.
        timeout: seconds to wait for the server to answer (and between packets).
        model: the registry name of the network (default ``"midas_small"``).

    Returns:
        The path of the verified checkpoint.

    Raises:
        WeightsError: no connection, an incomplete transfer, a full disk, or a file that does not fit the model.
    """
    url = get_spec(model).url if url is None else url
    dest = _target(dest, model)
    tmp = _write_temp(dest, _url_chunks(url, timeout, progress, model))
    return _place_in_cache(tmp, dest, name=f"the file downloaded from {url}", model=model)


def install(file: str | os.PathLike, dest: str | os.PathLike | None = None, *, model: str = DEFAULT_MODEL) -> Path:
    """Verify a checkpoint copied from elsewhere and place it in the cache (copy, fsync, verify, atomic rename).

    Args:
        file: the model's official checkpoint obtained on another machine (e.g. ``midas_v21_small_256.pt``).
        dest: target file; defaults to ``cache_path(model)``.
        model: the registry name of the network (default ``"midas_small"``).

    Returns:
        The path of the installed checkpoint.

    Raises:
        WeightsError: the file does not fit the model, or the disk is full (nothing is cached then).
    """
    file = Path(file)
    load_checkpoint(file, model=model)  # fail before copying anything
    dest = _target(dest, model)
    tmp = _write_temp(dest, _file_chunks(file))
    return _place_in_cache(tmp, dest, name=str(file), model=model)


def _official(weights: str, seed: int, model: str) -> tuple[dict | None, WeightsInfo]:
    """``"auto"`` / ``"pretrained"`` without a path: the cached checkpoint, else a download, else random or an error."""
    path, why = cached_checkpoint(model), ""
    if path is None and os.environ.get(OFFLINE_ENV_VAR, "0") in ("", "0"):
        try:
            path = download(progress=True, timeout=5.0, model=model)
        except WeightsError as e:
            why = f" (download failed: {e})"
    if path is None:
        if weights == "pretrained":
            raise WeightsError(f"the pretrained {_called(model)} checkpoint is not in {cache_path(model).parent}"
                               f"{why}; {_how_to_get(model)}.")
        warnings.warn(f"no pretrained {_called(model)} checkpoint is available, so the model uses UNTRAINED random "
                      f"weights (seed {seed}): its maps are NOT depth predictions; {_how_to_get(model)}.",
                      UntrainedWeightsWarning, stacklevel=4)
        return None, WeightsInfo("random", seed=seed, model=model)
    state = load_checkpoint(path, model=model)
    return state, WeightsInfo("pretrained", path=str(path), sha256=verify_cached(path, model=model), model=model)


def resolve_weights(weights: str | os.PathLike = "auto", *, seed: int = 0,
                    model: str = DEFAULT_MODEL) -> tuple[dict | None, WeightsInfo]:
    """Decide where the weights come from and load them.

    Args:
        weights: ``"auto"``, ``"pretrained"``, ``"random"`` or a checkpoint path (see the module docstring).
        seed: seed of the random initialisation.
        model: the registry name of the network (default ``"midas_small"``); ``DEPTHKIT_WEIGHTS`` applies to the
            default model only.

    Returns:
        ``(state_dict, info)``; ``state_dict`` is ``None`` for random weights.
    """
    get_spec(model)  # an unknown name: one sentence listing the models
    if weights == "auto" and model == DEFAULT_MODEL and os.environ.get(ENV_VAR):
        weights = os.environ[ENV_VAR]
    if isinstance(weights, str) and weights == "random":
        return None, WeightsInfo("random", seed=seed, model=model)
    if isinstance(weights, str) and weights in ("auto", "pretrained"):
        return _official(weights, seed, model)
    if not isinstance(weights, (str, os.PathLike)):
        raise WeightsError(f"weights must be 'auto', 'pretrained', 'random' or a file path, got "
                           f"{type(weights).__name__}.")
    path = Path(weights)
    if not path.exists() and isinstance(weights, str) and "/" not in weights and not weights.endswith((".pt", ".pth")):
        raise WeightsError(f"unknown weights {weights!r}: use 'auto', 'pretrained', 'random' or a checkpoint path.")
    state = load_checkpoint(path, model=model)
    return state, WeightsInfo("file", path=str(path), sha256=sha256_file(path), model=model)


def _empty_network(spec: ModelSpec) -> nn.Module:
    """The network with allocated but uninitialised weights, for a full state dict loaded right after.

    A copy of the meta-device network, so neither the random initialisation (about 2 s for DPT-Hybrid's 123 M
    parameters) nor a second build is paid. A network with buffers outside its state dict (which no loading would
    fill) is built normally.
    """
    import copy

    template = _meta_network(spec.name)
    saved = template.state_dict().keys()
    if any(name not in saved for name, _ in template.named_buffers()):
        return spec.build()
    return copy.deepcopy(template).to_empty(device="cpu")


def load_model(weights: str | os.PathLike = "auto", *, model: str = DEFAULT_MODEL, seed: int = 0,
               threads: int | None = None) -> nn.Module:
    """Build a network of the registry and load its weights: the one entry point for notebooks, CLI and tests.

    Args:
        weights: ``"auto"`` (default; for MiDaS_small also reads ``DEPTHKIT_WEIGHTS``), ``"pretrained"``,
            ``"random"`` or a checkpoint path (``.pt`` / ``.pth`` in the model's official key layout).
        model: ``"midas_small"`` (default), ``"dpt_hybrid"`` or ``"depth_anything_v2_small"``
            (see :mod:`depthkit.model_registry`).
        seed: seed of the random initialisation (used when the weights are random).
        threads: if given, sets torch's **process-wide** CPU thread count (``torch.set_num_threads(threads)``)
            and leaves it set, so the rest of the session (every later forward pass) uses it. For a change that
            lasts one call only, use ``estimate_depth(..., threads=n)`` or
            ``with depthkit.runtime.num_threads(n):``.

    Returns:
        The network (e.g. :class:`~depthkit.model.MidasSmall`) in eval mode on the CPU, its weights loaded with
        ``strict=True``, with ``model.weights_info`` set (:class:`WeightsInfo`, naming the model).

    Example:
        >>> net = load_model("random")
        >>> net.weights_info.kind, net.weights_info.model, net.training
        ('random', 'midas_small', False)
    """
    import torch

    spec = get_spec(model)
    if threads is not None:
        torch.set_num_threads(check_positive_int(threads, "threads", hint="or None to keep torch's setting"))
    state, info = resolve_weights(weights, seed=seed, model=model)
    if state is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = spec.build()
    else:
        net = _empty_network(spec)
        net.load_state_dict(state, strict=True)
    net.weights_info = info
    return net.eval()
