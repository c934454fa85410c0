"""Video files and temporal stability of depth maps: read and write clips, stop per-frame flicker.

Reading goes through the ffmpeg binary bundled with the ``imageio-ffmpeg`` wheel (MP4, MOV, AVI, WebM, MKV, ...);
animated GIFs are read with PIL. Writing always produces H.264 in an MP4 container, ``yuv420p`` pixels, sizes padded
to even numbers and the index at the front of the file (``+faststart``): the one combination every browser plays.
Writing streams: frames may come from a generator and memory stays constant in the clip's length.

A monocular network predicts each frame's relative inverse depth up to its own unknown scale and shift, so a clip
of per-frame predictions flickers when each frame is shown with its own colour range. :func:`stabilize` offers
three answers and :func:`flicker` measures the result.

Example:
    >>> import numpy as np
    >>> base = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    >>> clip = np.stack([a * base + b for a, b in [(1.0, 0.0), (2.0, 1.0), (0.5, -3.0)]])
    >>> round(flicker(clip), 3), round(flicker(stabilize(clip, "align")), 6)
    (0.534, 0.0)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .alignment import fit_scale_shift, is_degenerate
from .checks import (
    as_array,
    as_image,
    as_map,
    check_choice,
    check_int,
    check_percentiles,
    check_positive_int,
    check_range,
)
from .errors import DepthkitError, ImageError, InputError
from .io import check_fps, open_regular_file, output_path

__all__ = [
    "FIT_PERCENTILES",
    "FIT_PIXELS",
    "METHODS",
    "Stabilizer",
    "VideoInfo",
    "codec_of",
    "ffmpeg_exe",
    "fit_both_ways",
    "flicker",
    "iter_video",
    "probe_video",
    "read_video",
    "stabilize",
    "write_video",
]

#: Names of the stabilisation methods of :func:`stabilize`.
METHODS = ("align", "shared", "none")
#: "align" fits each frame's scale and shift on the pixels inside this percentile range (in percent) of both maps.
FIT_PERCENTILES = (1.0, 99.0)
#: Pixels per frame (about) that percentiles and the "align" fit look at: a regular grid of a large frame.
FIT_PIXELS = 16384
#: The containers read_video is meant for (anything ffmpeg demuxes works).
_KINDS = "an MP4, MOV, AVI, WebM or animated GIF file"
#: File signatures of still images: a photo is not a video.
_STILL_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"BM", "a BMP image"),
                (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"))
#: ffmpeg reads local files only (no URLs, no playlists that point elsewhere).
_INPUT_PARAMS = ["-protocol_whitelist", "file,pipe"]


@dataclass(frozen=True)
class VideoInfo:
    """What a video file says about itself (from its header; nothing is decoded).

    Attributes:
        width: frame width in pixels (after the rotation the file asks for).
        height: frame height in pixels.
        fps: frames per second (0.0 when the file does not say).
        duration: length in seconds (0.0 when the file does not say).
        codec: the video codec's short name, e.g. ``"h264"`` or ``"gif"``.
    """

    width: int
    height: int
    fps: float
    duration: float
    codec: str


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that depthkit uses (the one bundled with ``imageio-ffmpeg``).

    Raises:
        DepthkitError: ``imageio-ffmpeg`` is not installed or has no usable binary.
    """
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise DepthkitError(f"no ffmpeg binary found ({exc}); run `pip install imageio-ffmpeg` (its wheel bundles "
                            "ffmpeg), or write an animated GIF instead (depthkit.effects.save_gif).") from None
    found = exe if os.path.isfile(exe) else shutil.which(exe)
    if found is None:
        raise DepthkitError(f"the ffmpeg binary '{exe}' does not exist; reinstall imageio-ffmpeg (or fix "
                            "IMAGEIO_FFMPEG_EXE), or write an animated GIF instead (depthkit.effects.save_gif).")
    return found


# --------------------------------------------------------------------------------------------------- reading
def _video_path(path: Any) -> Path:
    """The path of an existing, regular, non-empty file that is not a still image, or one clear sentence."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"the video must be a file path (str or pathlib.Path), got {type(path).__name__}.")
    src = Path(path).expanduser()
    try:
        with open_regular_file(src, what="video") as (handle, _size):  # FIFOs, devices, folders: refused unopened
            head = handle.read(16)
    except ImageError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"Could not read video file '{src}': {exc.strerror or exc}; check its permissions.") from None
    if not head:
        raise InputError(f"Video file '{src}' is empty (0 bytes); re-download or re-export it.")
    for magic, kind in _STILL_MAGIC:
        if head.startswith(magic):
            raise InputError(f"'{src}' is {kind}, not a video; read photos with depthkit.read_image, or pass "
                             f"{_KINDS}.")
    return src.resolve()


def _is_gif(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(6) in (b"GIF87a", b"GIF89a")


def _not_a_video(path: Path, why: str) -> InputError:
    return InputError(f"'{path}' is not a video depthkit can read ({why}); pass {_KINDS}.")


def _open_ffmpeg(path: Path) -> tuple[Iterator[bytes], dict]:
    """Start ffmpeg on ``path``: the frame generator (RGB24 bytes) and its metadata dictionary."""
    import imageio_ffmpeg

    ffmpeg_exe()
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", input_params=_INPUT_PARAMS)
    log = logging.getLogger("imageio_ffmpeg")
    level = log.level
    log.setLevel(logging.ERROR)  # a phone video's rotation flag is applied, not a warning for the user
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration, ValueError) as exc:
        reader.close()
        reason = "ffmpeg found no video stream in it" if "meta" in str(exc) else str(exc).splitlines()[0]
        raise _not_a_video(path, reason) from None
    finally:
        log.setLevel(level)
    if not meta.get("size") or 0 in meta["size"]:
        reader.close()
        raise _not_a_video(path, "it has no picture")
    return reader, meta


def _gif_info(path: Path) -> tuple[VideoInfo, Any]:
    from PIL import Image, UnidentifiedImageError

    try:
        gif = Image.open(path)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise _not_a_video(path, f"the GIF is damaged: {exc}") from None
    durations = []
    for i in range(getattr(gif, "n_frames", 1)):
        gif.seek(i)
        durations.append(gif.info.get("duration", 0) or 100)  # browsers show a 0 ms frame for 100 ms
    gif.seek(0)
    fps = 1000.0 / float(np.mean(durations))
    info = VideoInfo(gif.width, gif.height, fps, float(np.sum(durations)) / 1000.0, "gif")
    return info, gif


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate, duration and codec of a video file, from its header.

    Args:
        path: the video file.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        InputError: the path is missing, not a regular file, or not a video.
    """
    src = _video_path(path)
    if _is_gif(src):
        info, gif = _gif_info(src)
        gif.close()
        return info
    reader, meta = _open_ffmpeg(src)
    reader.close()
    width, height = meta["size"]
    codec = str(meta.get("codec") or "").split(",")[0].split(" ")[0]
    return VideoInfo(int(width), int(height), float(meta.get("fps") or 0.0), float(meta.get("duration") or 0.0), codec)


def _gif_frames(gif: Any) -> Iterator[np.ndarray]:
    try:
        for i in range(getattr(gif, "n_frames", 1)):
            gif.seek(i)
            yield np.asarray(gif.convert("RGB"))
    finally:
        gif.close()


def _ffmpeg_frames(reader: Iterator[bytes], width: int, height: int) -> Iterator[np.ndarray]:
    try:
        for data in reader:
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
    finally:
        reader.close()  # stops ffmpeg when the caller stops early


def iter_video(path: str | os.PathLike, *, max_frames: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
    """Stream the frames of a video file one by one (constant memory).

    Args:
        path: the video file (MP4, MOV, AVI, WebM, MKV, animated GIF, ...).
        max_frames: stop after this many returned frames (``None``: all).
        step: return every ``step``-th frame (1: every frame).

    Yields:
        (H, W, 3) uint8 RGB frames (read-only arrays).

    Raises:
        InputError: the path is missing, not a regular file, or not a video (raised by this call, before any
            frame is decoded).
    """
    src, frames, _ = _open(path, max_frames, step)
    return _pick(frames, max_frames, step, src)


def _open(path: Any, max_frames: Any, step: Any) -> tuple[Path, Iterator[np.ndarray], VideoInfo]:
    if max_frames is not None:
        check_positive_int(max_frames, "max_frames", hint="use None to read every frame")
    check_positive_int(step, "step", hint="use 1 to read every frame")
    src = _video_path(path)
    if _is_gif(src):
        info, gif = _gif_info(src)
        return src, _gif_frames(gif), info
    reader, meta = _open_ffmpeg(src)
    width, height = (int(v) for v in meta["size"])
    info = VideoInfo(width, height, float(meta.get("fps") or 0.0), float(meta.get("duration") or 0.0), "")
    return src, _ffmpeg_frames(reader, width, height), info


def _pick(frames: Iterator[np.ndarray], max_frames: int | None, step: int, src: Path) -> Iterator[np.ndarray]:
    count = 0
    try:
        for i, frame in enumerate(frames):
            if i % step:
                continue
            yield frame
            count += 1
            if max_frames is not None and count >= max_frames:
                break
    except (OSError, RuntimeError) as exc:
        raise _not_a_video(src, f"decoding failed: {str(exc).splitlines()[0]}") from None
    finally:
        frames.close()  # type: ignore[attr-defined]
    if count == 0:
        raise _not_a_video(src, "it contains no decodable frame")


def read_video(path: str | os.PathLike, *, max_frames: int | None = None, step: int = 1) -> tuple[np.ndarray, float]:
    """Read a video file into memory as RGB frames and their frame rate.

    Args:
        path: the video file (MP4, MOV, AVI, WebM, MKV, animated GIF, ...). Photos are refused.
        max_frames: read at most this many frames (``None``: all; a long clip needs T·H·W·3 bytes, so use
            :func:`iter_video` to stream).
        step: keep every ``step``-th frame.

    Returns:
        ``(frames, fps)``: (T, H, W, 3) uint8 RGB frames and the frame rate of the returned frames in frames per
        second (the file's rate divided by ``step``; 25.0, ffmpeg's default, when the file does not state one).

    Raises:
        InputError: the path is missing, not a regular file, or not a video (one sentence, no traceback).
    """
    src, frames, info = _open(path, max_frames, step)
    stack = np.stack(list(_pick(frames, max_frames, step, src)))
    return stack, (info.fps if info.fps > 0 else 25.0) / step


# --------------------------------------------------------------------------------------------------- writing
def _checked_frame(frame: Any, index: int, shape: tuple[int, ...] | None) -> np.ndarray:
    try:
        rgb = as_image(frame, f"frame {index}")
    except ImageError as exc:
        raise InputError(f"frames must be (H, W, 3) uint8 RGB arrays: {exc}") from None
    if shape is not None and rgb.shape != shape:
        raise InputError(f"frame {index} has shape {rgb.shape} but frame 0 has {shape}; all frames of a video must "
                         "have one size, resize them first.")
    return rgb


def _even(rgb: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) frame to even height and width by repeating its last row/column (yuv420p needs it)."""
    h, w = rgb.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return rgb
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _start_writer(path: Path, height: int, width: int, fps: float, crf: int) -> Any:
    import imageio_ffmpeg

    ffmpeg_exe()
    writer = imageio_ffmpeg.write_frames(
        str(path), (width + width % 2, height + height % 2), fps=fps, codec="libx264", pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p", quality=None, macro_block_size=1, ffmpeg_log_level="error",
        output_params=["-crf", str(crf), "-preset", "veryfast", "-movflags", "+faststart"])
    writer.send(None)  # starts ffmpeg
    return writer


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = 24.0, *, crf: int = 20) -> Path:
    """Write frames as an H.264 MP4 that browsers play (yuv420p, even size, ``+faststart``), streaming.

    Args:
        frames: (H, W, 3) uint8 RGB frames of one size: a (T, H, W, 3) array, a list, or any iterator (e.g. a
            generator: frames are encoded as they come, so memory does not grow with the clip). An odd height or
            width is padded by one repeated row/column.
        path: output file ending in ``.mp4``; missing parent folders are created.
        fps: frames per second.
        crf: H.264 constant rate factor, 0 (lossless) to 51 (worst); 20 looks clean at a small size.

    Returns:
        The written :class:`pathlib.Path`.

    Raises:
        InputError: no frames, a frame that is not (H, W, 3) uint8 or of another size, bad fps/crf, or an
            unusable path (nothing is left behind on error).
        DepthkitError: ffmpeg is missing or failed.
    """
    fps = check_fps(fps)
    crf = check_int(crf, "crf", minimum=0, maximum=51, hint="20 is a good default")
    out = output_path(path, (".mp4",), writer="write_video")
    writer, shape, count = None, None, 0
    try:
        for count, frame in enumerate(frames):
            rgb = _checked_frame(frame, count, shape)
            if writer is None:
                shape = rgb.shape
                writer = _start_writer(out, rgb.shape[0], rgb.shape[1], fps, crf)
            writer.send(_even(rgb).tobytes())
        if writer is None:
            raise InputError("frames is empty; pass at least one (H, W, 3) uint8 RGB frame.")
        writer.close()
    except BaseException as exc:
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):  # ffmpeg may be gone already; report the first error
                writer.close()
        out.unlink(missing_ok=True)
        if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, DepthkitError):
            raise DepthkitError(f"ffmpeg could not write '{out}' ({str(exc).splitlines()[0]}); check the folder "
                                "is writable and has space.") from None
        raise
    return out


# ----------------------------------------------------------------------------------------------- stability
def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _grid(x: np.ndarray) -> np.ndarray:
    """Every s-th row and column of (..., H, W) maps, s chosen to keep about :data:`FIT_PIXELS` pixels per frame
    (s = 1 for small maps): percentiles and the "align" fit need thousands of pixels, not all of a video frame's."""
    step = max(1, int((x.shape[-1] * x.shape[-2] / FIT_PIXELS) ** 0.5))
    return x[..., ::step, ::step]


def _robust_range(x: np.ndarray, percentiles: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in np.percentile(_grid(x), percentiles))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def fit_both_ways(frame: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Scale and shift of ``frame`` onto ``reference``: least squares both ways, the geometric mean of the slopes.

    The least-squares slope of ``reference`` on ``frame`` (:func:`depthkit.alignment.fit_scale_shift`) is
    ``r * std(reference) / std(frame)``: every pixel that does not show the same point in both maps (a moving
    camera) lowers the correlation ``r`` and shrinks the fitted map, and frame after frame the shrinking
    multiplies until the map is flat. The geometric mean of that slope and the inverse of the other way's slope,
    ``std(reference) / std(frame)``, keeps the spread; for exact affine copies (``r = 1``) both are the same
    least-squares answer. The shift then matches the means. With a non-positive slope either way (uncorrelated or
    opposite maps) the one-way fit is returned.

    Args:
        frame: (H, W) map to align.
        reference: (H, W) map to align it to.
        mask: (H, W) bool, the pixels to use (default: all).

    Returns:
        ``(scale, shift)`` with ``scale * frame + shift`` close to ``reference``.

    Example:
        >>> d = np.arange(12.0).reshape(3, 4)
        >>> [round(v, 6) for v in fit_both_ways(3 * d + 1, d)]
        [0.333333, -0.333333]
    """
    scale, shift = fit_scale_shift(frame, reference, mask)
    back, _ = fit_scale_shift(reference, frame, mask)
    if scale <= 0 or back <= 0:
        return scale, shift
    scale = float(np.sqrt(scale / back))
    sel = np.ones(frame.shape, bool) if mask is None else mask
    return scale, float(reference[sel].mean() - scale * frame[sel].mean())


def _inliers(x: np.ndarray) -> np.ndarray:
    """Pixels inside the map's :data:`FIT_PERCENTILES` range: the ones the "align" fit uses (a hot pixel at an edge
    must not tilt the fit; for exact affine copies the same pixels are chosen in every frame)."""
    lo, hi = np.percentile(x, FIT_PERCENTILES)
    return (x >= lo) & (x <= hi)


class Stabilizer:
    """Stabilise a stream of inverse-depth maps one frame at a time (the state behind :func:`stabilize`).

    Args:
        method: ``"align"``, ``"shared"`` or ``"none"`` (see :func:`stabilize`).
        ema: for ``"align"``: weight in [0, 1) of the old reference in the running reference
            ``ref = ema·ref + (1 - ema)·frame``; ``None`` or 0: the reference is the previous stabilised frame.
        percentiles: (low, high) percentiles, in percent, that map to 0 and 1.
        vrange: for ``"shared"``: the (low, high) raw values that map to 0 and 1; ``None``: the first frame's
            robust range (a stream cannot see the whole clip; :func:`stabilize` passes the clip's range).

    Example:
        >>> s = Stabilizer("align")
        >>> m = np.arange(6.0).reshape(2, 3)
        >>> first = s.update(m)  # scaled by its 2-98 percentile range
        >>> round(float(first.min()), 2), round(float(first.max()), 2)
        (-0.02, 1.02)
        >>> np.allclose(s.update(10 * m + 5), first, atol=1e-6)  # another scale and shift: the same map
        True
    """

    def __init__(self, method: str = "align", *, ema: float | None = None,
                 percentiles: tuple[float, float] = (2.0, 98.0), vrange: tuple[float, float] | None = None) -> None:
        self.method = check_choice(method, "method", METHODS)
        self.ema = 0.0 if ema is None else check_range(ema, "ema", 0.0, 1.0, closed="left",
                                                       hint="use e.g. 0.5, or None for no averaging")
        self.percentiles = check_percentiles(percentiles)
        self.vrange = None if vrange is None else (float(vrange[0]), float(vrange[1]))
        self.reference: np.ndarray | None = None

    def update(self, inverse_depth: Any) -> np.ndarray:
        """Stabilise the next frame.

        Args:
            inverse_depth: (H, W) relative inverse depth of the next frame (finite, any scale and shift).

        Returns:
            (H, W) float32 stabilised map: about 0 (far) to 1 (near), in the units described in :func:`stabilize`.
        """
        x = as_map(inverse_depth, "inverse_depth", finite=True)  # float32; the fit accumulates in float64
        if self.method == "none":
            return _minmax(x).astype(np.float32)
        if self.method == "shared" or self.reference is None:
            if self.vrange is None and self.method == "shared":
                self.vrange = _robust_range(x, self.percentiles)
            lo, hi = self.vrange if self.method == "shared" else _robust_range(x, self.percentiles)
            out = (x - lo) / (hi - lo)
        else:
            if x.shape != self.reference.shape:
                raise InputError(f"inverse_depth has shape {x.shape} but the previous frames {self.reference.shape}; "
                                 "all frames of a clip must have one size.")
            xs, ref = _grid(x), _grid(self.reference)
            scale, shift = fit_both_ways(xs, ref, _inliers(xs) & _inliers(ref))
            out = scale * x + shift
        if self.method == "align" and not is_degenerate(x):  # a blank frame must not wipe out the reference
            self.reference = out if self.reference is None else self.ema * self.reference + (1.0 - self.ema) * out
        return out.astype(np.float32)


def stabilize(inverse_depths: Any, method: str = "align", *, ema: float | None = None,
              percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """Make a clip of per-frame inverse-depth maps comparable from frame to frame.

    Methods:
        ``"none"``: each frame min–max normalised on its own (to [0, 1]). This is what makes video depth
        flicker (MiDaS issue #174): each frame's extreme pixels set its colours. Use it to show the problem.
        ``"shared"``: one robust range for the whole clip: the clip's ``percentiles`` map to 0 and 1. Stable
        when the network's scale and shift do not drift; they usually do.
        ``"align"``: the first frame is scaled by its robust range; every later frame gets the scale and shift
        that fit it to a running reference (the previous stabilised frame, or with ``ema`` an exponential average
        of them) by least squares in both directions (:func:`fit_both_ways`, built on
        :func:`depthkit.alignment.fit_scale_shift` as in lesson 01), so that a moving camera does not make the map
        fade frame after frame. The fit uses the pixels inside both maps' :data:`FIT_PERCENTILES` range, so a few
        extreme pixels do not tilt it.
        Percentiles and fits use a regular grid of about :data:`FIT_PIXELS` pixels of each frame (all of a small one).

    Args:
        inverse_depths: (T, H, W) relative inverse depth (finite; larger = nearer), or a list of (H, W) maps.
        method: ``"align"`` (default), ``"shared"`` or ``"none"``.
        ema: ``"align"`` only: weight in [0, 1) of the old reference (``None``: no averaging).
        percentiles: (low, high) percentiles, in percent, that map to 0 and 1 for ``"shared"`` and for
            ``"align"``'s first frame.

    Returns:
        (T, H, W) float32 maps, unitless, about 0 (far) to 1 (near) (``"shared"``/``"align"`` may exceed [0, 1]
        slightly outside the percentile range; they are not clipped).

    Raises:
        InputError: not (T, H, W) finite numbers, unknown method, bad ema or percentiles.
    """
    maps = _as_clip(inverse_depths, "inverse_depths", np.float32)
    stabilizer = Stabilizer(method, ema=ema, percentiles=percentiles)
    if stabilizer.method == "shared":
        stabilizer.vrange = _robust_range(maps, stabilizer.percentiles)
    return np.stack([stabilizer.update(m) for m in maps])


def _as_clip(maps: Any, name: str, dtype: Any = np.float64) -> np.ndarray:
    clip = as_array(maps, name, dtype=dtype)
    if clip.ndim != 3:
        raise InputError(f"{name} must be a 3-D array (T, H, W) of per-frame maps, got shape {clip.shape}; stack "
                         "the frames with np.stack.")
    if not np.isfinite(clip).all():
        raise InputError(f"{name} contains NaN or inf; pass finite maps (e.g. inverse depth, 0 for the sky).")
    return clip


def flicker(maps: Any, mask: Any = None) -> float:
    """Temporal flicker of a clip: the mean change between consecutive frames, as a fraction of the clip's range.

    ``flicker = mean over t and pixels of |m[t] - m[t-1]| / (p98 - p2)``, where p2 and p98 are the 2nd and 98th
    percentiles of the whole clip (one range for the clip, so per-frame rescaling shows up as flicker). Zero
    for a still clip; a camera that really moves also gives some, so compare methods with the flicker of the
    exact depth of the same clip. It does not change if the whole clip is scaled (by a positive factor) or shifted.

    Args:
        maps: (T, H, W) maps (any unit; T ≥ 2), e.g. the output of :func:`stabilize`.
        mask: optional (H, W) or (T, H, W) bool array of the pixels to measure (True = measured).

    Returns:
        The flicker, unitless (fraction of the clip's value range per frame).

    Raises:
        InputError: fewer than two frames, NaN/inf, or a mask of another shape or without pixels.
    """
    clip = _as_clip(maps, "maps")
    if clip.shape[0] < 2:
        raise InputError(f"maps has {clip.shape[0]} frame; flicker needs at least two frames (T, H, W).")
    keep = np.ones(clip.shape, bool) if mask is None else np.broadcast_to(_flicker_mask(mask, clip.shape), clip.shape)
    steps = keep[1:] & keep[:-1]
    if not steps.any():
        raise InputError("mask selects no pixel in two consecutive frames; mark the pixels to measure with True.")
    lo, hi = np.percentile(clip[keep], (2.0, 98.0))
    return float(np.abs(np.diff(clip, axis=0))[steps].mean() / (hi - lo)) if hi > lo else 0.0


def _flicker_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.dtype != bool or arr.shape not in (shape, shape[1:]):
        raise InputError(f"mask must be a bool array of shape {shape[1:]} or {shape}, got {arr.dtype} {arr.shape}; "
                         "pass e.g. depth > 0.")
    return arr


def codec_of(path: str | os.PathLike) -> tuple[str, str]:
    """The video codec and pixel format of a file as ffmpeg reports them (``ffmpeg -i``), e.g. ``("h264", "yuv420p")``.

    Raises:
        InputError: ffmpeg reports no video stream.
    """
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                          check=False)
    found = re.search(r"Stream #\S+.*?Video: (\w+)[^,]*, (\w+)", proc.stderr)
    if found is None:
        raise InputError(f"ffmpeg reports no video stream in '{path}'; pass {_KINDS}.")
    return found.group(1), found.group(2)
