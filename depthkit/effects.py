"""Depth effects: parallax ("3-D photo") animation, portrait blur, obstacle warning, anaglyph.

All effects take an image (H, W, 3) uint8 RGB and its inverse depth (H, W) float32 (relative, MiDaS output:
larger = nearer, unknown scale and shift). The inverse depth is first mapped to [0, 1] with
:func:`depthkit.viz.normalize` (1 = nearest); non-finite pixels count as farthest (0). Everything is
vectorised numpy / OpenCV: there are no per-pixel Python loops except in the two *reference* functions kept
for comparison (:func:`parallax_naive`, which is slow on purpose, and :func:`portrait_blur_threshold`, which
is fast but shows the halo artefact).
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checks import as_image, as_map, check_choice, check_range, check_same_size, check_vrange
from .errors import InputError
from .io import encode_gif, output_path, write_file
from .viz import VRange, normalize

__all__ = [
    "DEFAULT_ROI",
    "ObstacleResult",
    "anaglyph",
    "draw_obstacle_overlay",
    "obstacle_warning",
    "parallax_frames",
    "parallax_naive",
    "parallax_view",
    "portrait_blur",
    "portrait_blur_threshold",
    "save_gif",
    "save_mp4",
]

def _image_and_map(image: Any, inverse_depth: Any) -> tuple[np.ndarray, np.ndarray]:
    """The checked (H, W, 3) uint8 image and (H, W) float32 map of one effect, of the same size."""
    img = as_image(image)
    values = as_map(inverse_depth)
    check_same_size(img, values)
    return img, values


# ------------------------------------------------------------------------------------------------- parallax
def _shift_pair(shift_px, name: str = "shift_px") -> tuple[float, float]:
    try:
        dx, dy = (float(v) for v in shift_px)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (dx, dy) of pixels, got {shift_px!r}.") from None
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise InputError(f"{name} must be finite, got {shift_px!r}.")
    return dx, dy


def _unit_depth(inverse_depth, mode: str, vrange) -> np.ndarray:
    """Normalised inverse depth in [0, 1], C-contiguous float32 (non-finite -> 0 = far).

    Adding +0.0 turns any -0.0 into +0.0: the z-buffer compares float bit patterns as integers, and the bit
    pattern of -0.0 is negative.
    """
    unit = np.ascontiguousarray(normalize(inverse_depth, mode=mode, vrange=vrange), dtype=np.float32)
    unit += np.float32(0.0)
    return unit


@functools.lru_cache(maxsize=4)
def _flat_index(n: int) -> np.ndarray:
    """Read-only int64 array 0..n-1 (cached: the same frame size is warped many times in an animation)."""
    index = np.arange(n, dtype=np.int64)
    index.flags.writeable = False
    return index


def _targets(unit: np.ndarray, dx: float, dy: float, pivot: float) -> tuple[np.ndarray, np.ndarray]:
    """Target columns and rows (float32 holding exact integers) of every source pixel.

    Rounds half up (floor(x + 0.5)), not half to even like np.rint: with rint a uniform shift of 2.5 px
    would send even columns 2 px and odd columns 3 px, tearing a flat surface into a comb of holes.
    """
    h, w = unit.shape
    weight = unit if pivot == 0.0 else unit - np.float32(pivot)
    tx = np.multiply(weight, np.float32(dx))
    tx += np.arange(w, dtype=np.float32)
    tx += np.float32(0.5)
    np.floor(tx, out=tx)
    ty = np.multiply(weight, np.float32(dy))
    ty += np.arange(h, dtype=np.float32)[:, None]
    ty += np.float32(0.5)
    np.floor(ty, out=ty)
    return tx, ty


def _forward_warp(image: np.ndarray, unit: np.ndarray, dx: float, dy: float, pivot: float):
    """Z-buffered forward splat. Returns (warped uint8 with holes = 0, hole mask, warped unit depth).

    Each source pixel moves by (dx, dy) * (unit - pivot), rounded to whole pixels. Several sources can land
    on one target; the nearest one (largest unit inverse depth) must win. We pack a 64-bit key per source:
    the float32 bit pattern of its unit inverse depth in the high 32 bits (for non-negative floats the bit
    pattern orders exactly like the value) and its flat source index in the low 32 bits, then take the
    maximum key per target with ``np.maximum.at`` (a z-buffer). Ties in depth go to the later pixel in raster
    order, which makes the result deterministic. Read back as two int32 halves, the z-buffer directly gives
    the winning source index (low half) and its depth (high half); empty targets keep the key -1, i.e. index
    -1 and depth bits 0xFFFFFFFF (a NaN).
    """
    import cv2

    h, w = unit.shape
    n = h * w
    tx, ty = _targets(unit, dx, dy, pivot)
    outside = tx < 0
    outside |= tx >= w
    outside |= ty < 0
    outside |= ty >= h
    if n <= 2**24:  # flat target index, exact in float32 up to 16.7 megapixels
        ty *= np.float32(w)
        ty += tx
        ty[outside] = n  # one extra bucket collects everything that leaves the frame
        target = ty.astype(np.intp)
    else:
        target = ty.astype(np.intp) * w + tx.astype(np.intp)
        target[outside] = n
    key = unit.view(np.int32).astype(np.int64)
    key <<= 32
    key += _flat_index(n).reshape(h, w)
    zbuf = np.full(n + 1, -1, dtype=np.int64)
    np.maximum.at(zbuf, target.ravel(), key.ravel())
    halves = zbuf[:n].view(np.int32).reshape(n, 2)
    if sys.byteorder == "little":
        source, depth_bits = halves[:, 0], halves[:, 1]
    else:  # pragma: no cover - big-endian machines
        source, depth_bits = halves[:, 1], halves[:, 0]
    holes = (source < 0).reshape(h, w)
    # Gather the winners' colours: one uint32 per RGBA pixel so one np.take moves all channels; index -1
    # (a hole) picks the extra black pixel at the end.
    packed = np.zeros(n + 1, dtype=np.uint32)
    cv2.cvtColor(image, cv2.COLOR_RGB2RGBA, dst=packed[:n].view(np.uint8).reshape(h, w, 4))
    packed[n] = 0
    gathered = np.take(packed, source).view(np.uint8).reshape(h, w, 4)
    warped = cv2.cvtColor(gathered, cv2.COLOR_RGBA2RGB)
    warped_unit = depth_bits.copy().view(np.float32).reshape(h, w)  # NaN in holes
    return warped, holes, warped_unit


def _fill_background_rows(warped: np.ndarray, holes: np.ndarray, warped_unit: np.ndarray):
    """Fill each horizontal run of holes from the farther of its two neighbours (left or right).

    Works on the hole pixels only (one scan of the mask finds them): consecutive hole pixels of one row form
    a run; the valid pixels just left and right of a run are its candidates. Returns (filled image, mask of
    holes still unfilled, i.e. runs spanning a whole row).
    """
    _h, w = holes.shape
    flat = np.flatnonzero(holes)  # row-major, so the pixels of one run are consecutive
    rows, cols = np.divmod(flat, w)
    starts = np.ones(flat.size, dtype=bool)
    starts[1:] = (flat[1:] != flat[:-1] + 1) | (cols[1:] == 0)
    ends = np.ones(flat.size, dtype=bool)
    ends[:-1] = starts[1:]
    run_id = np.cumsum(starts) - 1
    run_rows = rows[starts]
    left, right = cols[starts] - 1, cols[ends] + 1
    has_left, has_right = left >= 0, right < w
    depth_left = np.where(has_left, warped_unit[run_rows, np.maximum(left, 0)], np.inf)
    depth_right = np.where(has_right, warped_unit[run_rows, np.minimum(right, w - 1)], np.inf)
    # Smaller inverse depth = farther = what the hole really hides (a run at the frame border has one side).
    source_col = np.where(depth_left <= depth_right, left, right)
    ok = (has_left | has_right)[run_id]
    out = warped.copy()
    out[rows[ok], cols[ok]] = warped[rows[ok], source_col[run_id[ok]]]
    remaining = np.zeros_like(holes)
    remaining.reshape(-1)[flat[~ok]] = True
    return out, remaining


def _fill_holes(warped, holes, warped_unit, dx, dy, method):
    import cv2

    if not holes.any():
        return warped
    if method == "inpaint":
        return cv2.inpaint(warped, holes.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    if abs(dx) >= abs(dy):
        out, remaining = _fill_background_rows(warped, holes, warped_unit)
    else:
        out_t, remaining_t = _fill_background_rows(
            np.ascontiguousarray(warped.transpose(1, 0, 2)), holes.T.copy(), warped_unit.T.copy()
        )
        out, remaining = np.ascontiguousarray(out_t.transpose(1, 0, 2)), remaining_t.T
    if remaining.any():  # whole rows (columns) without any valid pixel: let OpenCV inpaint them
        out = cv2.inpaint(out, remaining.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return out


def _check_fill(fill_method: str) -> None:
    check_choice(fill_method, "fill_method", ("background", "inpaint"))


def _check_pivot(pivot: float) -> float:
    return check_range(pivot, "pivot", 0.0, 1.0, unit="(normalised inverse depth: 0 = far, 1 = near)")


def parallax_view(
    image: np.ndarray, inverse_depth: np.ndarray, shift_px: Sequence[float] = (8.0, 0.0), *, pivot: float = 0.0,
    fill_holes: bool = True, fill_method: str = "background", mode: str = "minmax", vrange: VRange = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Render a novel view as if the camera moved sideways: near pixels move most (motion parallax).

    Every pixel is moved by ``shift_px * (u - pivot)`` pixels (rounded), where u in [0, 1] is its normalised
    inverse depth. This is the right model: for a small sideways camera move, image motion is proportional to
    inverse depth. Where several pixels land on one spot the nearest wins (a z-buffer, see source), so near
    objects occlude far ones. Spots that nothing lands on are *disocclusion holes*: background that was
    hidden behind a near object in the original photo.

    Hole filling (``fill_method``):

    - ``"background"`` (default): each hole pixel copies the nearest valid pixel along the motion direction,
      taking from whichever side (left/right, or up/down) is *farther*. A hole is uncovered background, so it
      must be filled with background; propagating from the near side would smear the foreground object into
      its own shadow ("rubber-sheet" look).
    - ``"inpaint"``: OpenCV Telea inpainting, which blends both sides and so lets foreground colour bleed in;
      kept for comparison.

    Args:
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) relative inverse depth, larger = nearer.
        shift_px: (dx, dy) in pixels that the nearest pixels (u = 1) move; positive = right/down.
        pivot: normalised inverse depth that stays still (0 = far end fixed, 0.5 = middle fixed so near moves
            one way and far the other).
        fill_holes: if False, return the raw warp (holes are black) and the hole mask, for teaching.
        fill_method: ``"background"`` or ``"inpaint"`` (see above).
        mode, vrange: how inverse depth is normalised (see :func:`depthkit.viz.normalize`); pass a fixed
            ``vrange`` to make shifts comparable across images.

    Returns:
        (H, W, 3) uint8 view; with ``fill_holes=False`` the tuple ``(view, holes)`` where ``holes`` is an
        (H, W) bool mask of pixels that received no source pixel (they are black in ``view``).

    Example:
        >>> img = np.arange(12, dtype=np.uint8).reshape(1, 4, 3)
        >>> view, holes = parallax_view(img, np.ones((1, 4)), (1, 0), vrange=(0, 1), fill_holes=False)
        >>> holes.tolist(), view[0, 1].tolist()
        ([[True, False, False, False]], [0, 1, 2])
    """
    img, values = _image_and_map(image, inverse_depth)
    dx, dy = _shift_pair(shift_px)
    pivot = _check_pivot(pivot)
    _check_fill(fill_method)
    unit = _unit_depth(values, mode, vrange)
    return _render(img, unit, dx, dy, pivot, fill_holes, fill_method)


def _render(img: np.ndarray, unit: np.ndarray, dx: float, dy: float, pivot: float, fill_holes: bool,
            fill_method: str) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    warped, holes, warped_unit = _forward_warp(img, unit, dx, dy, pivot)
    if not fill_holes:
        return warped, holes
    return _fill_holes(warped, holes, warped_unit, dx, dy, fill_method)


def parallax_naive(image: np.ndarray, inverse_depth: np.ndarray, shift_px: Sequence[float] = (8.0, 0.0), *,
                   pivot: float = 0.0, mode: str = "minmax", vrange: VRange = None) -> np.ndarray:
    """REFERENCE ONLY: the original per-pixel Python double loop, kept for the speed benchmark.

    Same model and same z-buffer rule as :func:`parallax_view` with ``fill_holes=False`` (and the same output
    on any input), but it visits every pixel in Python, which is roughly a thousand times slower. It leaves
    disocclusion holes black and does not fill them. Use :func:`parallax_view` for real work.

    Args:
        image, inverse_depth, shift_px, pivot, mode, vrange: as in :func:`parallax_view`.

    Returns:
        (H, W, 3) uint8 view with holes left black.
    """
    img, values = _image_and_map(image, inverse_depth)
    dx, dy = _shift_pair(shift_px)
    pivot = _check_pivot(pivot)
    unit = _unit_depth(values, mode, vrange)
    h, w = unit.shape
    out = np.zeros_like(img)
    zbuf = np.full((h, w), -1.0, dtype=np.float32)
    fdx, fdy, fpivot, half = np.float32(dx), np.float32(dy), np.float32(pivot), np.float32(0.5)
    for y in range(h):
        for x in range(w):
            u = unit[y, x]
            tx = int(np.floor((u - fpivot) * fdx + np.float32(x) + half))  # round half up, like _targets
            ty = int(np.floor((u - fpivot) * fdy + np.float32(y) + half))
            if 0 <= tx < w and 0 <= ty < h and u >= zbuf[ty, tx]:
                zbuf[ty, tx] = u
                out[ty, tx] = img[y, x]
    return out


def parallax_frames(
    image: np.ndarray, inverse_depth: np.ndarray, n_frames: int = 24, amplitude_px: float = 8.0, path: str = "circle",
    *, pivot: float = 0.5, fill_method: str = "background", mode: str = "minmax", vrange: VRange = None,
) -> list[np.ndarray]:
    """Frames of a looping "3-D photo" animation (the camera moves on a closed path).

    Frame k uses the angle t = 2*pi*k / n_frames and the shift (of the nearest pixels)
    ``"circle"``: amplitude * (cos t, sin t); ``"horizontal"``: amplitude * (cos t, 0);
    ``"vertical"``: amplitude * (0, cos t). The last frame leads smoothly back to the first.

    Args:
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) relative inverse depth, larger = nearer.
        n_frames: number of frames (>= 1).
        amplitude_px: largest shift in pixels of a pixel at the pivot's far/near extreme.
        path: ``"circle"``, ``"horizontal"`` or ``"vertical"``.
        pivot, fill_method, mode, vrange: as in :func:`parallax_view` (default pivot 0.5: the middle depth
            stays still, which looks like the camera orbiting the scene).

    Returns:
        list of ``n_frames`` (H, W, 3) uint8 RGB frames, holes filled.
    """
    img, values = _image_and_map(image, inverse_depth)
    if int(n_frames) != n_frames or n_frames < 1:
        raise InputError(f"n_frames must be a positive integer, got {n_frames!r}.")
    check_choice(path, "path", ("circle", "horizontal", "vertical"))
    amplitude = float(amplitude_px)
    if not math.isfinite(amplitude):
        raise InputError(f"amplitude_px must be a finite number of pixels, got {amplitude_px!r}.")
    pivot = _check_pivot(pivot)
    _check_fill(fill_method)
    unit = _unit_depth(values, mode, vrange)
    frames = []
    for k in range(int(n_frames)):
        t = 2.0 * math.pi * k / n_frames
        c, s = math.cos(t), math.sin(t)
        dx, dy = {"circle": (c, s), "horizontal": (c, 0.0), "vertical": (0.0, c)}[path]
        frames.append(_render(img, unit, amplitude * dx, amplitude * dy, pivot, True, fill_method))
    return frames


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 12.0) -> Path:
    """Write frames as a looping animated GIF (encoded by :func:`depthkit.io.encode_gif`).

    Args:
        frames: sequence of (H, W, 3) uint8 RGB frames of one size (e.g. from :func:`parallax_frames`).
        path: output file ending in ``.gif``; missing parent folders are created.
        fps: frames per second (GIF stores whole milliseconds per frame).

    Returns:
        The written :class:`pathlib.Path`.

    Raises:
        InputError: bad frames or fps, or an unusable path.
    """
    return write_file(path, encode_gif(frames, fps), suffixes=(".gif",), writer="save_gif")


def save_mp4(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 24.0) -> Path:
    """Write frames as an H.264 MP4 that plays in browsers and JupyterLab (via :func:`depthkit.video.write_video`).

    Args:
        frames: sequence (or iterator) of (H, W, 3) uint8 RGB frames of one size; odd sizes are padded to even.
        path: output file ending in ``.mp4``; missing parent folders are created.
        fps: frames per second.

    Returns:
        The written :class:`pathlib.Path`.

    Raises:
        InputError: bad frames or fps, or an unusable path.
        DepthkitError: if ffmpeg (bundled with imageio-ffmpeg) is missing (use :func:`save_gif` instead).
    """
    from .video import write_video

    path = output_path(path, (".mp4",), writer="save_mp4")
    return write_video(frames, path, fps)


# --------------------------------------------------------------------------------------------- portrait blur
def _focus_value(unit: np.ndarray, focus) -> float:
    """Normalised inverse depth to keep sharp."""
    h, w = unit.shape
    if focus is None:  # automatic: median of the central third of the frame
        return float(np.median(unit[h // 3 : max(2 * h // 3, h // 3 + 1), w // 3 : max(2 * w // 3, w // 3 + 1)]))
    if isinstance(focus, str):
        if focus == "center":
            x, y = (w - 1) // 2, (h - 1) // 2
        elif focus == "nearest":
            return float(np.percentile(unit, 99))
        else:
            raise InputError(f"focus must be None, 'center', 'nearest' or an (x, y) pixel, got {focus!r}.")
    else:
        try:
            x, y = (int(v) for v in focus)
        except (TypeError, ValueError):
            raise InputError(f"focus must be None, 'center', 'nearest' or an (x, y) pixel, got {focus!r}.") from None
        if not (0 <= x < w and 0 <= y < h):
            raise InputError(f"focus pixel (x={x}, y={y}) is outside the {w}x{h} image.")
    window = unit[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]  # 5x5 median: robust to one noisy pixel
    return float(np.median(window))


def _disk_kernel(radius: float) -> np.ndarray:
    """Normalised disk ("bokeh") kernel with an anti-aliased edge; radius in pixels."""
    r = math.ceil(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    dist = np.sqrt(xx * xx + yy * yy)
    kernel = np.clip(radius + 0.5 - dist, 0.0, 1.0).astype(np.float32)
    return kernel / kernel.sum()


_DIRECT_RADIUS = 3.0  # larger disks are applied at reduced resolution (same result up to resampling)


def _disk_blur(stack: np.ndarray, radius: float) -> np.ndarray:
    """Blur a (H, W, C) float32 stack with a disk of ``radius`` pixels.

    A big disk kernel is slow to convolve directly, so for radius > 3 px the stack is shrunk by
    s = radius / 3 (area averaging), blurred with a 3 px disk and enlarged again (bilinear). The result is
    smooth at the scale of the blur anyway, so little is lost.
    """
    import cv2

    h, w = stack.shape[:2]
    if radius <= _DIRECT_RADIUS:
        return cv2.filter2D(stack, -1, _disk_kernel(radius), borderType=cv2.BORDER_REFLECT)
    scale = radius / _DIRECT_RADIUS
    small_size = (max(round(w / scale), 1), max(round(h / scale), 1))
    small = cv2.resize(stack, small_size, interpolation=cv2.INTER_AREA)
    small_radius = radius * small_size[0] / w
    small = cv2.filter2D(small, -1, _disk_kernel(small_radius), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def portrait_blur(
    image: np.ndarray,
    inverse_depth: np.ndarray,
    focus: str | tuple[int, int] | None = None,
    aperture: float = 12.0,
    n_layers: int = 6,
    depth_of_field: float = 0.0,
    *,
    mode: str = "percentile",
    vrange: VRange = None,
) -> np.ndarray:
    """Synthetic shallow depth of field ("portrait mode") without halos.

    The blur radius of a pixel is ``aperture * max(|u - u_focus| - depth_of_field, 0)`` pixels, with u its
    normalised inverse depth: like a real lens, whose circle of confusion grows with the difference of
    *inverse* depths. Rather than a separate blur per pixel, ``n_layers`` radii are used (0, ..., aperture);
    each pixel belongs to the two layers whose radii bracket its own, with linear weights (so the blur
    changes smoothly with depth). Each layer is blurred with a disk kernel as a *normalised* (premultiplied)
    convolution: ``blur(image * mask) / blur(mask)``. Only pixels of that layer contribute to it, so the
    colours of the sharp subject never bleed into the blurred background around it (no halo; compare
    :func:`portrait_blur_threshold`). Pixels whose radius is 0 are returned unchanged.

    Limitation: a blurred *foreground* object keeps a sharp silhouette (real lenses would let it spill over
    the subject), because each pixel only gathers from its own layer.

    Args:
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) relative inverse depth, larger = nearer.
        focus: what to keep sharp: None (median of the central third of the frame), ``"center"`` (the centre
            pixel), ``"nearest"`` (99th percentile of inverse depth) or an (x, y) pixel.
        aperture: blur radius in pixels for the largest possible depth difference (u difference of 1).
        n_layers: number of blur radii (>= 2); more layers = smoother transitions, slower.
        depth_of_field: half-width, in normalised inverse depth, of the band around the focus kept sharp.
        mode, vrange: how inverse depth is normalised (see :func:`depthkit.viz.normalize`).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    img, values = _image_and_map(image, inverse_depth)
    aperture, n_layers, depth_of_field = _check_blur(aperture, n_layers, depth_of_field)
    unit = normalize(values, mode=mode, vrange=vrange)
    u_focus = _focus_value(unit, focus)
    radius = aperture * np.maximum(np.abs(unit - np.float32(u_focus)) - np.float32(depth_of_field), 0.0)
    if aperture == 0.0 or not radius.any():
        return img.copy()
    return _blend_layers(img, radius, aperture / (n_layers - 1), n_layers)


def _check_blur(aperture: Any, n_layers: Any, depth_of_field: Any) -> tuple[float, int, float]:
    """The checked (aperture in px, number of layers, depth of field) of :func:`portrait_blur`."""
    aperture = float(aperture)
    if not (math.isfinite(aperture) and aperture >= 0):
        raise InputError(f"aperture must be a non-negative blur radius in pixels, got {aperture!r}.")
    if int(n_layers) != n_layers or n_layers < 2:
        raise InputError(f"n_layers must be an integer >= 2, got {n_layers!r}.")
    depth_of_field = float(depth_of_field)
    if not 0.0 <= depth_of_field < 1.0:
        raise InputError(f"depth_of_field must be in [0, 1), got {depth_of_field!r}.")
    return aperture, int(n_layers), depth_of_field


def _blend_layers(img: np.ndarray, radius: np.ndarray, step: float, n_layers: int) -> np.ndarray:
    """Sum of the normalised disk blurs of the depth layers (radius ``k * step`` px), weighted per pixel."""
    import cv2

    position = radius / np.float32(step)  # fractional layer index in [0, n_layers - 1]
    lower = np.minimum(position.astype(np.int32), n_layers - 2)  # layer below; the one above gets `frac`
    frac = np.subtract(position, lower, dtype=np.float32)
    one_minus_frac = 1.0 - frac
    zero = np.float32(0.0)
    # (R, G, B, 1): premultiplying it by a layer mask gives the layer's colour sum and weight sum at once.
    rgb1 = cv2.cvtColor(img, cv2.COLOR_RGB2RGBA).astype(np.float32)
    rgb1[..., 3] = 1.0
    out = np.zeros(rgb1.shape, np.float32)
    for k in range(n_layers):
        weight = np.where(lower == k, one_minus_frac, np.where(lower == k - 1, frac, zero))
        member = (weight > 0).view(np.uint8)
        if not member.any():
            continue
        if k == 0:  # radius 0: the sharp image itself, so in-focus pixels come back unchanged
            cv2.accumulateProduct(rgb1, cv2.merge([weight] * 4), out)
            continue
        # Normalised convolution: blur(image * mask) / blur(mask), mask = pixels of this layer only, so the
        # colours of other layers (e.g. the sharp subject) never leak into this layer's blur.
        blurred = _disk_blur(cv2.copyTo(rgb1, member), k * step)
        factor = weight / np.maximum(blurred[..., 3], 1e-6)
        cv2.accumulateProduct(blurred, cv2.merge([factor] * 4), out)
    return cv2.convertScaleAbs(cv2.cvtColor(out, cv2.COLOR_RGBA2RGB))  # round, saturate to uint8


def portrait_blur_threshold(
    image: np.ndarray, inverse_depth: np.ndarray, threshold: float = 0.5, blur_px: int = 21
) -> np.ndarray:
    """REFERENCE: the original hard-threshold portrait blur, for comparison with :func:`portrait_blur`.

    Pixels whose normalised inverse depth (min-max) is >= ``threshold`` are kept sharp, all others are
    replaced by a Gaussian blur of the *whole* image. Because that blur also averages the subject's colours
    into the background next to it, a bright halo appears around the subject, and the blur does not grow
    with distance.

    Args:
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) relative inverse depth, larger = nearer.
        threshold: normalised inverse depth in [0, 1] above which pixels stay sharp.
        blur_px: Gaussian kernel size in pixels (odd; even values are rounded up).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    import cv2

    img, values = _image_and_map(image, inverse_depth)
    check_range(threshold, "threshold", 0.0, 1.0, unit="(normalised inverse depth)")
    if int(blur_px) < 1:
        raise InputError(f"blur_px must be a positive kernel size in pixels, got {blur_px!r}.")
    k = int(blur_px) | 1
    sharp = normalize(values, mode="minmax") >= float(threshold)
    blurred = cv2.GaussianBlur(img, (k, k), 0)
    return np.where(sharp[..., None], img, blurred)


# ------------------------------------------------------------------------------------------ obstacle warning
@dataclass(frozen=True)
class ObstacleResult:
    """Outcome of :func:`obstacle_warning`.

    Attributes:
        alarm: True if the fraction of near pixels in the ROI is >= ``min_fraction``.
        fraction: fraction (0-1) of ROI pixels that are nearer than the threshold.
        nearest_box: (x0, y0, x1, y1) pixel box (x1, y1 exclusive) of the connected near region that holds the
            nearest ROI pixel, or None if no ROI pixel is near.
        threshold: the threshold used, in ``units``.
        units: ``"m"`` (depth in metres; near = depth <= threshold) or ``"relative"`` (normalised inverse
            depth in [0, 1]; near = value >= threshold).
        roi: (x0, y0, x1, y1) region of interest in pixels (x1, y1 exclusive).
        min_fraction: the fraction needed to raise the alarm.
    """

    alarm: bool
    fraction: float
    nearest_box: tuple[int, int, int, int] | None
    threshold: float
    units: str
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)
    min_fraction: float = 0.0


DEFAULT_ROI = (0.25, 0.5, 0.75, 1.0)


def _roi_pixels(roi, h: int, w: int) -> tuple[int, int, int, int]:
    try:
        fx0, fy0, fx1, fy1 = (float(v) for v in roi)
    except (TypeError, ValueError):
        raise InputError(f"roi must be (x0, y0, x1, y1) as fractions of the width/height, got {roi!r}.") from None
    if not (0.0 <= fx0 < fx1 <= 1.0 and 0.0 <= fy0 < fy1 <= 1.0):
        raise InputError(f"roi fractions must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, got {roi!r}.")
    x0, y0 = round(fx0 * w), round(fy0 * h)
    x1, y1 = max(round(fx1 * w), x0 + 1), max(round(fy1 * h), y0 + 1)
    return x0, y0, min(x1, w), min(y1, h)


def obstacle_warning(
    inverse_depth: np.ndarray | None = None,
    roi: Sequence[float] | None = None,
    threshold: float = 0.75,
    depth_m: np.ndarray | None = None,
    threshold_m: float | None = None,
    min_fraction: float = 0.05,
    *,
    mode: str = "minmax",
    vrange: VRange = None,
) -> ObstacleResult:
    """Is something too near in the region ahead (e.g. for a robot or a walking aid)?

    Relative mode (``depth_m`` None): near = normalised inverse depth >= ``threshold``. Because MiDaS depth
    is relative, normalising each frame on its own always makes *something* the nearest (value 1); pass a
    fixed ``vrange`` (e.g. from :func:`depthkit.viz.shared_range`) for a stable meaning across frames.
    Metric mode (``depth_m`` given): near = finite depth <= ``threshold_m`` metres. Non-finite pixels are
    never near.

    Args:
        inverse_depth: (H, W) relative inverse depth, larger = nearer (ignored when ``depth_m`` is given).
        roi: (x0, y0, x1, y1) fractions of width and height; default the lower centre (0.25, 0.5, 0.75, 1.0).
        threshold: relative threshold in [0, 1].
        depth_m: optional (H, W) depth in metres; switches to metric mode.
        threshold_m: distance in metres for metric mode (required with ``depth_m``).
        min_fraction: alarm when at least this fraction of the ROI is near (0 < min_fraction <= 1).
        mode, vrange: normalisation of ``inverse_depth`` (see :func:`depthkit.viz.normalize`).

    Returns:
        :class:`ObstacleResult`.

    Example:
        >>> inv = np.zeros((8, 8)); inv[6:, 3:5] = 1.0
        >>> r = obstacle_warning(inv, threshold=0.5, min_fraction=0.1)
        >>> r.alarm, r.fraction, r.nearest_box
        (True, 0.25, (3, 6, 5, 8))
    """
    check_range(min_fraction, "min_fraction", 0.0, 1.0, closed="right", what="a fraction")
    if depth_m is not None:
        near, nearness, used_threshold, units = _near_metric(depth_m, threshold_m)
    else:
        near, nearness, used_threshold, units = _near_relative(inverse_depth, threshold, mode, vrange)
    h, w = near.shape
    x0, y0, x1, y1 = _roi_pixels(DEFAULT_ROI if roi is None else roi, h, w)
    near_roi = near[y0:y1, x0:x1]
    fraction = float(near_roi.mean())
    box = _nearest_box(near_roi, nearness[y0:y1, x0:x1], (x0, y0))
    return ObstacleResult(
        alarm=fraction >= float(min_fraction), fraction=fraction, nearest_box=box, threshold=used_threshold,
        units=units, roi=(x0, y0, x1, y1), min_fraction=float(min_fraction),
    )


def _near_metric(depth_m: Any, threshold_m: Any) -> tuple[np.ndarray, np.ndarray, float, str]:
    """(near mask, nearness = -depth, threshold, "m") for metric depth: near = finite depth <= threshold_m."""
    if threshold_m is None or not (math.isfinite(float(threshold_m)) and float(threshold_m) > 0):
        raise InputError("with depth_m you must pass threshold_m, a positive distance in metres.")
    values = as_map(depth_m, "depth_m")
    finite = np.isfinite(values)
    near = finite & (values <= float(threshold_m))
    return near, np.where(finite, -values, -np.inf), float(threshold_m), "m"


def _near_relative(inverse_depth: Any, threshold: Any, mode: str, vrange: VRange):
    """(near mask, normalised inverse depth, threshold, "relative"): near = normalised value >= threshold."""
    if inverse_depth is None:
        raise InputError("pass inverse_depth (relative) or depth_m (metres) to obstacle_warning.")
    check_range(threshold, "threshold", 0.0, 1.0, unit="(normalised inverse depth)")
    if vrange is not None:
        check_vrange(vrange)
    values = as_map(inverse_depth)
    nearness = normalize(values, mode=mode, vrange=vrange)
    return np.isfinite(values) & (nearness >= float(threshold)), nearness, float(threshold), "relative"


def _nearest_box(near_roi: np.ndarray, nearness_roi: np.ndarray, offset: tuple[int, int]):
    """(x0, y0, x1, y1) frame box of the connected near region holding the nearest ROI pixel, or None."""
    import cv2

    if not near_roi.any():
        return None
    _, labels, stats, _ = cv2.connectedComponentsWithStats(near_roi.astype(np.uint8), connectivity=8)
    candidates = np.where(near_roi, nearness_roi, -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(candidates)), candidates.shape)
    bx, by, bw, bh = (int(v) for v in stats[labels[iy, ix], :4])
    x0, y0 = offset
    return (x0 + bx, y0 + by, x0 + bx + bw, y0 + by + bh)


def draw_obstacle_overlay(image: np.ndarray, result: ObstacleResult) -> np.ndarray:
    """Draw the ROI (yellow), the nearest obstacle box (red) and a banner onto a copy of the image.

    The banner is red with "OBSTACLE" when ``result.alarm`` is True, else green with "clear"; it also prints
    the near fraction of the ROI and the threshold with its units.

    Args:
        image: (H, W, 3) uint8 RGB, the frame the result was computed on.
        result: an :class:`ObstacleResult` from :func:`obstacle_warning`.

    Returns:
        (H, W, 3) uint8 RGB (a new array).
    """
    import cv2

    img = as_image(image)
    if not isinstance(result, ObstacleResult):
        raise InputError(f"result must be an ObstacleResult from obstacle_warning(), got {type(result).__name__}.")
    out = img.copy()
    h, w = out.shape[:2]
    thick = max(1, round(min(h, w) / 200))
    x0, y0, x1, y1 = result.roi
    cv2.rectangle(out, (x0, y0), (max(x1 - 1, x0), max(y1 - 1, y0)), (255, 220, 0), thick)
    if result.nearest_box is not None:
        bx0, by0, bx1, by1 = result.nearest_box
        cv2.rectangle(out, (bx0, by0), (max(bx1 - 1, bx0), max(by1 - 1, by0)), (255, 0, 0), thick + 1)
    unit = "m" if result.units == "m" else "(relative)"
    relation = "<=" if result.units == "m" else ">="
    text = (f"{'OBSTACLE' if result.alarm else 'clear'}: {100 * result.fraction:.0f}% of ROI "
            f"{relation} {result.threshold:g} {unit}")
    banner_h = max(12, h // 10)
    scale = banner_h / 40.0
    colour = (200, 0, 0) if result.alarm else (0, 140, 0)
    cv2.rectangle(out, (0, 0), (w - 1, banner_h), colour, cv2.FILLED)
    cv2.putText(out, text, (4, int(banner_h * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, round(scale * 1.5)), cv2.LINE_AA)
    return out


# ------------------------------------------------------------------------------------------------- anaglyph
def anaglyph(image: np.ndarray, inverse_depth: np.ndarray, max_shift_px: float = 8.0, *, pivot: float = 0.5,
             mode: str = "minmax", vrange: VRange = None) -> np.ndarray:
    """Red-cyan stereo picture (wear red filter on the LEFT eye) from one image and its inverse depth.

    Two views are synthesised with :func:`parallax_view`: the left-eye view shifts pixels by
    ``+max_shift_px / 2 * (u - pivot)`` horizontally, the right-eye view by the opposite amount, so the
    disparity between them is ``max_shift_px * (u - pivot)`` pixels (near = positive = in front of the
    screen). The red channel comes from the left view, green and blue from the right view.

    Args:
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) relative inverse depth, larger = nearer.
        max_shift_px: disparity in pixels between the nearest and farthest points when pivot is 0.
        pivot: normalised inverse depth that appears on the screen plane (zero disparity).
        mode, vrange: normalisation (see :func:`depthkit.viz.normalize`).

    Returns:
        (H, W, 3) uint8 RGB anaglyph.
    """
    half = float(max_shift_px) / 2.0
    left = parallax_view(image, inverse_depth, (half, 0.0), pivot=pivot, mode=mode, vrange=vrange)
    right = parallax_view(image, inverse_depth, (-half, 0.0), pivot=pivot, mode=mode, vrange=vrange)
    return np.dstack([left[..., 0], right[..., 1], right[..., 2]])
