"""Depth of every frame of a video: the network over a clip, stabilised, streamed to a browser-playable MP4.

:func:`estimate_depth_video` returns the whole clip's inverse depth as one array; :func:`iter_depth_video` yields
it frame by frame (constant memory in the clip's length); :func:`depth_video_file` goes from a video file to an
H.264 MP4 of heat maps (optionally beside the input) and a ``.npy`` of the maps, streaming
(decode -> depth -> colour -> encode). Frames run through :func:`depthkit.estimate_depth` in batches, with the
fastest backend that agrees with fp32 on this machine by default (``backend="auto"``, see
:mod:`depthkit.backend_choice`), and a tqdm progress bar.

Example:
    >>> import numpy as np
    >>> from depthkit.weights import load_model
    >>> frames = np.zeros((3, 48, 64, 3), np.uint8)
    >>> estimate_depth_video(frames, load_model("random"), batch=2, backend="eager", progress=False).shape
    (3, 48, 64)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from io import BytesIO
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from . import video
from .backends import check_backend
from .checks import check_choice, check_positive_int
from .errors import InputError
from .inference import estimate_depth
from .io import output_path
from .viz import colorize

__all__ = ["STABILIZE_CHOICES", "depth_video_file", "estimate_depth_video", "iter_depth_video"]

#: ``stabilize=`` choices: the methods of :func:`depthkit.video.stabilize`, or None for the raw network output.
STABILIZE_CHOICES = (*video.METHODS, None)


def _frames(frames: Any) -> Iterator[np.ndarray]:
    """Frames from a video path, a (T, H, W, 3) array or any iterable of (H, W, 3) uint8 frames."""
    if isinstance(frames, (str, os.PathLike)):
        return video.iter_video(frames)
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise InputError(f"frames must be a (T, H, W, 3) uint8 array, got shape {frames.shape}; stack the frames "
                         "with np.stack.")
    return iter(frames)


def _depth_pairs(frames: Iterable[np.ndarray], model: Any, batch: int, backend: str, progress: bool,
                 total: int | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(frame, raw inverse depth)`` per frame, running ``batch`` frames at a time through the network."""
    from tqdm.auto import tqdm

    it = iter(frames)
    with tqdm(total=total, desc="depth", unit="frame", disable=not progress) as bar:
        while chunk := list(islice(it, batch)):
            results = estimate_depth(chunk, model, backend=backend)
            for frame, result in zip(chunk, results, strict=True):
                yield frame, result.inverse_depth
            bar.update(len(chunk))


def _check(batch: Any, backend: Any, stabilize: Any) -> tuple[int, str]:
    check_positive_int(batch, "batch", hint="4 suits two cores")
    check_choice(stabilize, "stabilize", STABILIZE_CHOICES)
    return batch, check_backend("auto" if backend is None else backend)


def iter_depth_video(frames: Any, model: Any = None, *, batch: int = 4, backend: str = "auto",
                     stabilize: str | None = "align", ema: float | None = None, progress: bool = True,
                     total: int | None = None) -> Iterator[np.ndarray]:
    """Stream the stabilised inverse depth of a clip, frame by frame (memory constant in the clip's length).

    Args:
        frames: a video file path, a (T, H, W, 3) uint8 array, or any iterable (e.g. a generator) of
            (H, W, 3) uint8 RGB frames of one size.
        model: a model from :func:`depthkit.load_model` (``None``: :func:`depthkit.inference.default_model`).
        batch: frames per forward pass.
        backend: how to run the network (default ``"auto"``: see :mod:`depthkit.backend_choice`).
        stabilize: ``"align"``, ``"shared"``, ``"none"`` (see :func:`depthkit.video.stabilize`) or ``None`` for
            the raw network output. A stream cannot see the future, so ``"shared"`` here uses the first frame's
            robust range (:func:`estimate_depth_video` uses the whole clip's).
        ema: ``"align"`` only: weight in [0, 1) of the old reference (see :class:`depthkit.video.Stabilizer`).
        progress: show a tqdm bar.
        total: number of frames, for the bar (optional).

    Yields:
        (H, W) float32 maps: relative inverse depth (``stabilize=None``) or stabilised, about 0 (far) to 1 (near).

    Raises:
        InputError: bad frames, batch, backend or stabilize (checked before the first frame is decoded).
    """
    batch, backend = _check(batch, backend, stabilize)
    stabilizer = None if stabilize is None else video.Stabilizer(stabilize, ema=ema)
    return _stabilised((m for _, m in _depth_pairs(_frames(frames), model, batch, backend, progress, total)),
                       stabilizer)


def _stabilised(maps: Iterable[np.ndarray], stabilizer: video.Stabilizer | None) -> Iterator[np.ndarray]:
    for m in maps:
        yield m if stabilizer is None else stabilizer.update(m)


def estimate_depth_video(frames: Any, model: Any = None, *, batch: int = 4, backend: str = "auto",
                         stabilize: str | None = "align", ema: float | None = None,
                         progress: bool = True) -> np.ndarray:
    """Relative inverse depth of every frame of a clip, stabilised over time.

    Args:
        frames: a video file path, a (T, H, W, 3) uint8 array, or an iterable of (H, W, 3) uint8 RGB frames.
        model: a model from :func:`depthkit.load_model` (``None``: the default model).
        batch: frames per forward pass.
        backend: how to run the network (default ``"auto"``: see :mod:`depthkit.backend_choice`).
        stabilize: ``"align"`` (default), ``"shared"`` (one robust range for the whole clip), ``"none"``
            (per-frame min–max, flickers) or ``None`` (raw network output); see :func:`depthkit.video.stabilize`.
        ema: ``"align"`` only: weight in [0, 1) of the old reference.
        progress: show a tqdm bar.

    Returns:
        (T, H, W) float32: raw relative inverse depth (larger = nearer, no unit) or the stabilised maps
        (unitless, about 0 = far to 1 = near).

    Raises:
        InputError: bad frames or arguments.
    """
    batch, backend = _check(batch, backend, stabilize)
    total = len(frames) if hasattr(frames, "__len__") and not isinstance(frames, (str, os.PathLike)) else None
    pairs = _depth_pairs(_frames(frames), model, batch, backend, progress, total)
    raw = np.stack([m for _, m in pairs])
    return raw if stabilize is None else video.stabilize(raw, stabilize, ema=ema)


def _npy_header(shape: tuple[int, ...], size: int = 128) -> bytes:
    """A ``.npy`` (version 1.0) header for float32 data of ``shape``, padded to exactly ``size`` bytes."""
    buf = BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    raw = buf.getvalue()  # magic (6) + version (2) + header length (2) + dict padded with spaces + newline
    body = raw[10:].rstrip(b" \n").ljust(size - 11) + b"\n"
    return raw[:8] + len(body).to_bytes(2, "little") + body


class _NpyStream:
    """Write (H, W) float32 maps one by one into a ``.npy`` of shape (T, H, W); T goes into the header at the end."""

    def __init__(self, path: Path) -> None:
        self.path, self.handle, self.shape, self.count = path, None, (0, 0), 0

    def write(self, m: np.ndarray) -> None:
        if self.handle is None:
            self.shape = m.shape
            self.handle = open(self.path, "wb")  # noqa: SIM115 - closed in close()
            self.handle.write(_npy_header((0, *self.shape)))
        self.handle.write(np.ascontiguousarray(m, dtype="<f4").tobytes())
        self.count += 1

    def close(self, ok: bool) -> None:
        if self.handle is None:
            return
        if ok:
            self.handle.seek(0)
            self.handle.write(_npy_header((self.count, *self.shape)))
        self.handle.close()
        if not ok:
            self.path.unlink(missing_ok=True)


def _heat(m: np.ndarray, frame: np.ndarray, cmap: str, side_by_side: bool) -> np.ndarray:
    """The heat map of a stabilised map (0 = far = dark, 1 = near = bright), beside its frame if asked."""
    rgb = colorize(m, cmap=cmap, vrange=(0.0, 1.0))
    return np.concatenate([frame, rgb], axis=1) if side_by_side else rgb


def depth_video_file(source: str | os.PathLike, out: str | os.PathLike, model: Any = None, *,
                     stabilize: str = "align", side_by_side: bool = False, max_frames: int | None = None,
                     step: int = 1, npy: str | os.PathLike | None = None, batch: int = 4, backend: str = "auto",
                     cmap: str = "inferno", progress: bool = True) -> Path:
    """Video file in, H.264 MP4 of depth heat maps out (decode -> depth -> colour -> encode, streaming).

    Memory stays constant in the clip's length: frames are decoded, run through the network in batches,
    stabilised, coloured and encoded one batch at a time.

    Args:
        source: the input video (MP4, MOV, AVI, WebM, animated GIF, ...).
        out: the output ``.mp4`` (H.264, yuv420p: plays in browsers); missing folders are created.
        model: a model from :func:`depthkit.load_model` (``None``: the default model).
        stabilize: ``"align"``, ``"shared"`` (the first frame's range, as in :func:`iter_depth_video`) or ``"none"``.
        side_by_side: put the input frame left of its heat map (the video is then twice as wide).
        max_frames: process at most this many frames (``None``: all).
        step: process every ``step``-th frame (the output plays at the input's fps divided by ``step``).
        npy: optional ``.npy`` path for the (T, H, W) float32 stabilised maps (written as they come).
        batch: frames per forward pass.
        backend: how to run the network (default ``"auto"``: see :mod:`depthkit.backend_choice`).
        cmap: matplotlib colour map of the heat maps (near = bright with the default).
        progress: show a tqdm bar.

    Returns:
        The written MP4's :class:`pathlib.Path`.

    Raises:
        InputError: an unreadable or non-video input, a bad output path or argument (checked before any work).
    """
    check_choice(stabilize, "stabilize", video.METHODS)
    batch, backend = _check(batch, backend, stabilize)
    out_path = output_path(out, (".mp4",), writer="depth_video_file")
    maps_file = None if npy is None else _NpyStream(output_path(npy, (".npy",), writer="depth_video_file"))
    info = video.probe_video(source)
    fps = (info.fps if info.fps > 0 else 25.0) / step
    total = round(info.duration * info.fps / step) if info.duration and info.fps else None
    total = min(total, max_frames) if total and max_frames else total
    frames = video.iter_video(source, max_frames=max_frames, step=step)
    stabilizer = video.Stabilizer(stabilize)

    def coloured() -> Iterator[np.ndarray]:
        for frame, raw in _depth_pairs(frames, model, batch, backend, progress, total):
            m = stabilizer.update(raw)
            if maps_file is not None:
                maps_file.write(m)
            yield _heat(m, frame, cmap, side_by_side)

    ok = False
    try:
        video.write_video(coloured(), out_path, fps)
        ok = True
    finally:
        if maps_file is not None:
            maps_file.close(ok)
    return out_path
