"""Where MiDaS_small's weights come from: the one place that finds, downloads, verifies and caches them.

``weights`` is one of

* ``"auto"`` (default): the value of the ``DEPTHKIT_WEIGHTS`` environment variable if it is set; otherwise the
  official checkpoint if it is cached or can be downloaded, else seeded random weights with a loud warning;
* ``"pretrained"``: the official checkpoint (cached, or downloaded now), or a
  :class:`~depthkit.errors.WeightsError` saying how to get it;
* ``"random"``: a seeded, deterministic initialisation (for tests; the output is not a depth prediction);
* a path to a checkpoint file in the official key layout.

Set ``DEPTHKIT_OFFLINE=1`` to skip the download attempt (without a network a failed attempt takes well under a
second; a slow server is given 5 s to answer).

The cache is torch's hub checkpoint folder, ``torch.hub.get_dir()/checkpoints/midas_v21_small_256.pt``, so a file
that ``torch.hub.load("intel-isl/MiDaS", "MiDaS_small")`` cached earlier is reused. A checkpoint is verified
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

if TYPE_CHECKING:
    from .model import MidasSmall

__all__ = [
    "CHECKPOINT_NAME", "CHECKPOINT_URL", "ENV_VAR", "OFFLINE_ENV_VAR", "UntrainedWeightsWarning", "WeightsInfo",
    "cache_path", "cached_checkpoint", "check_state_dict", "download", "install", "load_checkpoint", "load_model",
    "resolve_weights", "sha256_file", "verify_cached",
]

CHECKPOINT_NAME = "midas_v21_small_256.pt"
CHECKPOINT_URL = "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt"
ENV_VAR = "DEPTHKIT_WEIGHTS"
#: Set to 1 to make "auto" skip the download attempt (it then uses the cache or random weights).
OFFLINE_ENV_VAR = "DEPTHKIT_OFFLINE"

_HOW_TO_GET = ("run `python -m depthkit weights download` where there is internet, or "
               "`python -m depthkit weights install FILE` for a midas_v21_small_256.pt copied from elsewhere")


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
    """

    kind: str
    path: str | None = None
    sha256: str | None = None
    seed: int | None = None

    @property
    def pretrained(self) -> bool:
        """True when the weights are a trained checkpoint (official or a file), False for random weights."""
        return self.kind != "random"

    @property
    def label(self) -> str:
        """One line for captions and reports, e.g. ``"pretrained MiDaS v2.1 small (sha256 1a2b3c4d…)"``."""
        if self.kind == "random":
            return (f"UNTRAINED random weights (seed {self.seed}): not a depth prediction; "
                    f"to get the real model, {_HOW_TO_GET}")
        short = f"sha256 {self.sha256[:12]}…" if self.sha256 else "unverified"
        if self.kind == "pretrained":
            return f"pretrained MiDaS v2.1 small ({CHECKPOINT_NAME}, {short})"
        return f"weights from {self.path} ({short})"

    def __str__(self) -> str:
        return self.label


def cache_path() -> Path:
    """Path of the cached official checkpoint: ``torch.hub.get_dir()/checkpoints/midas_v21_small_256.pt``."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / CHECKPOINT_NAME


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _expected_shapes() -> dict:
    """Key -> shape of MiDaS_small's state dict (building the network once per process, not per check)."""
    from .model import MidasSmall

    return {k: tuple(v.shape) for k, v in MidasSmall().state_dict().items()}


def check_state_dict(state_dict: Mapping, source: str = "the checkpoint") -> None:
    """Raise :class:`WeightsError` naming the first key or shape that differs from MiDaS_small's.

    Args:
        state_dict: mapping of parameter name -> tensor (the official key layout, e.g.
            ``pretrained.layer1.0.weight``, ``scratch.output_conv.4.bias``).
        source: how to name the checkpoint in the message.
    """
    import torch

    expected = _expected_shapes()
    for key, shape in expected.items():
        if key not in state_dict:
            raise WeightsError(f"{source} is not a MiDaS_small checkpoint: key {key!r} is missing; "
                               f"use midas_v21_small_256.pt ({_HOW_TO_GET}).")
        value = state_dict[key]
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source} is not a MiDaS_small checkpoint: {key!r} is a {type(value).__name__}, "
                               "not a tensor.")
        if tuple(value.shape) != shape:
            raise WeightsError(f"{source} does not match MiDaS_small: {key!r} has shape {tuple(value.shape)}, "
                               f"expected {shape}; is it a different MiDaS model (only midas_v21_small_256.pt fits)?")
    extra = [k for k in state_dict if k not in expected]
    if extra:
        raise WeightsError(f"{source} is not a MiDaS_small checkpoint: unexpected key {extra[0]!r} "
                           f"({len(extra)} unexpected in all); only midas_v21_small_256.pt fits.")


def load_checkpoint(path: str | os.PathLike, *, name: str | None = None) -> dict:
    """Load and check a checkpoint file safely (``torch.load(..., weights_only=True)``).

    Accepts a plain state dict or the training format ``{"model": state_dict, "optimizer": ...}``.

    Args:
        path: checkpoint file.
        name: how to call the file in error messages (default: its path).

    Returns:
        The state dict (parameter name -> CPU tensor), checked against MiDaS_small's keys and shapes.

    Raises:
        WeightsError: the file is missing, truncated, not a checkpoint, contains code (refused by
            ``weights_only``) or does not match MiDaS_small.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    name = name or str(path)
    if not path.is_file():
        raise WeightsError(f"weights file {name} does not exist; check the path or {_HOW_TO_GET}.")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch zip format or legacy pickle
        raise WeightsError(f"{name} is not a readable PyTorch checkpoint (truncated or corrupt, or an error page "
                           f"saved in its place: it starts with {head!r}); delete it and {_HOW_TO_GET}.")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(f"{name} was refused by the safe loader (weights_only=True) because it contains code "
                           "or objects other than tensors; use the official midas_v21_small_256.pt.") from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, TypeError, AttributeError,
            zipfile.BadZipFile) as e:  # what torch.load raises on truncated or corrupt archives and pickles
        raise WeightsError(f"{name} is not a readable PyTorch checkpoint (truncated or corrupt: "
                           f"{str(e).splitlines()[0][:100]}); delete it and {_HOW_TO_GET}.") from None
    if isinstance(obj, Mapping) and "model" in obj and "optimizer" in obj:
        obj = obj["model"]  # the layout MiDaS's own BaseModel.load accepts
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{name} holds a {type(obj).__name__}, not a state dict; use midas_v21_small_256.pt.")
    check_state_dict(obj, source=name)
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


def verify_cached(path: str | os.PathLike | None = None) -> str:
    """Check a cached checkpoint against its recorded SHA-256 (recording it the first time); return the hash.

    The contents are not loaded here (see :func:`load_checkpoint`): this only proves the file is the one verified.

    Args:
        path: the cached checkpoint; defaults to :func:`cache_path`.

    Returns:
        The file's hex SHA-256 (64 characters).

    Raises:
        WeightsError: the file is missing, or changed since it was verified.
    """
    path = Path(path) if path is not None else cache_path()
    if not path.is_file():
        raise WeightsError(f"there is no cached checkpoint at {path}; {_HOW_TO_GET}.")
    with _cache_lock(path.parent):
        digest = sha256_file(path)
        recorded = _recorded(path)
        if recorded is None:  # e.g. a file torch.hub cached earlier: verified by load_checkpoint, record it now
            with suppress(WeightsError):  # a full or read-only disk: the file is still usable, recorded next time
                _record(path, digest)
        elif recorded != digest:
            raise WeightsError(f"the cached checkpoint {path} changed since it was verified (SHA-256 {digest[:12]}… "
                               f"instead of {recorded[:12]}…); delete it and {_HOW_TO_GET}.")
    return digest


def _disk_error(error: OSError, folder: Path) -> WeightsError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return WeightsError(f"the disk holding {folder} is full, so the checkpoint (about 85 MB) could not be saved "
                            "and nothing was cached; free some space (or set TORCH_HOME to a folder on another "
                            "disk) and try again.")
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
        raise _disk_error(e, dest.parent) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _place_in_cache(tmp: Path, dest: Path, name: str) -> Path:
    """Verify ``tmp`` (a complete file in ``dest``'s folder), then, under the lock, rename it and its hash into place.

    The hash is written to its own temporary file first, so a full disk changes nothing in the cache.
    """
    try:
        load_checkpoint(tmp, name=name)
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


def cached_checkpoint() -> Path | None:
    """The cached official checkpoint if the file exists, else ``None`` (no verification here)."""
    p = cache_path()
    return p if p.is_file() else None


def _url_chunks(url: str, timeout: float, progress: bool, label: str) -> Iterator[bytes]:
    """The bytes of ``url`` in 64 KiB chunks; network failures and short transfers raise WeightsError."""
    import http.client
    import urllib.error
    import urllib.request

    from tqdm.auto import tqdm

    got, total = 0, None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    got += len(chunk)
                    bar.update(len(chunk))
                    yield chunk
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise WeightsError(f"could not download {url} ({reason}); check the internet connection, or copy "
                           "midas_v21_small_256.pt from another machine and run "
                           "`python -m depthkit weights install FILE`.") from None
    if total is not None and got != total:
        raise WeightsError(f"the download of {url} stopped after {got} of {total} bytes; run "
                           "`python -m depthkit weights download` again.")


def _file_chunks(file: Path) -> Iterator[bytes]:
    try:
        with open(file, "rb") as f:
            yield from iter(lambda: f.read(1 << 20), b"")
    except OSError as e:
        raise WeightsError(f"could not read {file} ({e.strerror or e}); check the file and try again.") from None


def _target(dest: str | os.PathLike | None) -> Path:
    dest = Path(dest) if dest is not None else cache_path()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _disk_error(e, dest.parent) from None
    return dest


def download(url: str = CHECKPOINT_URL, dest: str | os.PathLike | None = None, *, progress: bool = True,
             timeout: float = 10.0) -> Path:
    """Download the checkpoint to a temporary file, verify it, then rename it into the cache atomically.

    An interrupted or failed download, or a full disk, leaves nothing in the cache. Two downloads (or installs) at
    once leave one valid file and its hash (see the module docstring).

    Args:
        url: where to download from (the official MiDaS v2.1 release by default).
        dest: target file; defaults to :func:`cache_path`.
        progress: show a tqdm progress bar.
        timeout: seconds to wait for the server to answer (and between packets).

    Returns:
        The path of the verified checkpoint.

    Raises:
        WeightsError: no connection, an incomplete transfer, a full disk, or a file that is not MiDaS_small.
    """
    dest = _target(dest)
    tmp = _write_temp(dest, _url_chunks(url, timeout, progress, dest.name))
    return _place_in_cache(tmp, dest, name=f"the file downloaded from {url}")


def install(file: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Verify a checkpoint copied from elsewhere and place it in the cache (copy, fsync, verify, atomic rename).

    Args:
        file: a ``midas_v21_small_256.pt`` obtained on another machine.
        dest: target file; defaults to :func:`cache_path`.

    Returns:
        The path of the installed checkpoint.

    Raises:
        WeightsError: the file is not a MiDaS_small checkpoint, or the disk is full (nothing is cached then).
    """
    file = Path(file)
    load_checkpoint(file)  # fail before copying anything
    dest = _target(dest)
    tmp = _write_temp(dest, _file_chunks(file))
    return _place_in_cache(tmp, dest, name=str(file))


def resolve_weights(weights: str | os.PathLike = "auto", *, seed: int = 0) -> tuple[dict | None, WeightsInfo]:
    """Decide where the weights come from and load them.

    Args:
        weights: ``"auto"``, ``"pretrained"``, ``"random"`` or a checkpoint path (see the module docstring).
        seed: seed of the random initialisation.

    Returns:
        ``(state_dict, info)``; ``state_dict`` is ``None`` for random weights.
    """
    if weights == "auto" and os.environ.get(ENV_VAR):
        weights = os.environ[ENV_VAR]
    if isinstance(weights, str) and weights == "random":
        return None, WeightsInfo("random", seed=seed)
    if isinstance(weights, str) and weights in ("auto", "pretrained"):
        path, why = cached_checkpoint(), ""
        if path is None and os.environ.get(OFFLINE_ENV_VAR, "0") in ("", "0"):
            try:
                path = download(progress=True, timeout=5.0)
            except WeightsError as e:
                why = f" (download failed: {e})"
        if path is None:
            if weights == "pretrained":
                raise WeightsError(f"the pretrained MiDaS_small checkpoint is not in {cache_path().parent}{why}; "
                                   f"{_HOW_TO_GET}.")
            warnings.warn("no pretrained MiDaS_small checkpoint is available, so the model uses UNTRAINED random "
                          f"weights (seed {seed}): its maps are NOT depth predictions; {_HOW_TO_GET}.",
                          UntrainedWeightsWarning, stacklevel=3)
            return None, WeightsInfo("random", seed=seed)
        state = load_checkpoint(path)
        return state, WeightsInfo("pretrained", path=str(path), sha256=verify_cached(path))
    if not isinstance(weights, (str, os.PathLike)):
        raise WeightsError(f"weights must be 'auto', 'pretrained', 'random' or a file path, got "
                           f"{type(weights).__name__}.")
    path = Path(weights)
    if not path.exists() and isinstance(weights, str) and "/" not in weights and not weights.endswith(".pt"):
        raise WeightsError(f"unknown weights {weights!r}: use 'auto', 'pretrained', 'random' or a checkpoint path.")
    state = load_checkpoint(path)
    return state, WeightsInfo("file", path=str(path), sha256=sha256_file(path))


def load_model(weights: str | os.PathLike = "auto", *, seed: int = 0, threads: int | None = None) -> MidasSmall:
    """Build MiDaS_small and load its weights: the one entry point for notebooks, CLI and tests.

    Args:
        weights: ``"auto"`` (default; also reads ``DEPTHKIT_WEIGHTS``), ``"pretrained"``, ``"random"`` or a path.
        seed: seed of the random initialisation (used when the weights are random).
        threads: if given, sets torch's **process-wide** CPU thread count (``torch.set_num_threads(threads)``)
            and leaves it set, so the rest of the session (every later forward pass) uses it. For a change that
            lasts one call only, use ``estimate_depth(..., threads=n)`` or
            ``with depthkit.runtime.num_threads(n):``.

    Returns:
        :class:`~depthkit.model.MidasSmall` in eval mode on the CPU, with ``model.weights_info`` set.

    Example:
        >>> model = load_model("random")
        >>> model.weights_info.kind, model.training
        ('random', False)
    """
    import torch

    from .model import MidasSmall

    if threads is not None:
        torch.set_num_threads(check_positive_int(threads, "threads", hint="or None to keep torch's setting"))
    state, info = resolve_weights(weights, seed=seed)
    if state is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = MidasSmall()
    else:
        model = MidasSmall()
        model.load_state_dict(state, strict=True)
    model.weights_info = info
    return model.eval()
