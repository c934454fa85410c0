"""Visualise depth maps: normalisation, colour maps, figures, point clouds.

MiDaS predicts *relative inverse depth* (larger = nearer, unknown scale and shift), so the first step of every
picture is :func:`normalize`, which maps the values to [0, 1] (1 = nearest). :func:`colorize` turns that into
an RGB image with near = bright by default. For video, compute one range for all frames with
:func:`shared_range` and pass it as ``vrange`` so the colours do not flicker from frame to frame.

Functions that take ``depth_m`` expect *depth in metres* (smaller = nearer); functions that take
``inverse_depth`` accept ``units="m"`` where noted to say "these values are depth in metres instead".

Non-finite values (NaN, +/-inf; e.g. +inf depth for the sky or an invalid pixel) are always handled
explicitly: they are left out when a value range is computed, become 0.0 (the far end) in :func:`normalize`,
get the fixed ``invalid_color`` in :func:`colorize` and are dropped from :func:`point_cloud`.

Figure helpers return a :class:`matplotlib.figure.Figure` and never call ``plt.show()``; matplotlib is
imported only inside them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ImageError, InputError

__all__ = [
    "DemoDepth",
    "colorbar",
    "colorize",
    "contour_overlay",
    "demo_depth",
    "fill_invalid",
    "histogram",
    "normalize",
    "point_cloud",
    "pseudo_depth",
    "shared_range",
    "show_3d",
    "show_depth",
    "show_side_by_side",
]

_MODES = ("minmax", "percentile")
INVALID_COLOR = (128, 128, 128)


# --------------------------------------------------------------------------------------------- input checks
def _as_map(values, name: str = "inverse_depth") -> np.ndarray:
    """Return ``values`` as a (H, W) float32 array or raise :class:`InputError` with one clear sentence."""
    if values is None:
        raise InputError(f"{name} is None; pass a (H, W) array of numbers.")
    arr = np.asarray(values)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{name} must be a numeric array, got dtype {arr.dtype}; pass a (H, W) float array.")
    if arr.ndim == 3 and arr.shape[0] == 1:  # tolerate a (1, H, W) batch of one
        arr = arr[0]
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (H, W), got shape {arr.shape}; pass a single depth map.")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape}); pass a non-empty (H, W) depth map.")
    return arr.astype(np.float32, copy=False)


def _as_image(image, name: str = "image") -> np.ndarray:
    """Return ``image`` as a contiguous (H, W, 3) uint8 RGB array or raise :class:`ImageError`."""
    if image is None:
        raise ImageError(f"{name} is None; pass a (H, W, 3) uint8 RGB array.")
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"{name} must be a (H, W, 3) RGB array, got shape {arr.shape}; convert it to RGB first.")
    if arr.dtype != np.uint8:
        raise ImageError(
            f"{name} must have dtype uint8 (0-255), got {arr.dtype}; convert with np.clip(x, 0, 255).astype(np.uint8)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name} is empty (shape {arr.shape}); pass a non-empty image.")
    return np.ascontiguousarray(arr)


def _check_same_size(image: np.ndarray, values: np.ndarray, name: str = "inverse_depth") -> None:
    if image.shape[:2] != values.shape:
        raise InputError(
            f"image is {image.shape[0]}x{image.shape[1]} but {name} is {values.shape[0]}x{values.shape[1]}; "
            "resize the depth map to the image size first."
        )


def _check_units(units) -> None:
    if units not in (None, "m"):
        raise InputError(f"units must be None (relative inverse depth) or 'm' (depth in metres), got {units!r}.")


def _value_range(values: np.ndarray, mode: str, percentiles: Sequence[float], finite=None) -> tuple[float, float]:
    """(lo, hi) of the finite values by ``mode``; (0, 0) if there are none. ``finite`` may pass a precomputed
    np.isfinite(values), or True if every value is known to be finite."""
    if mode not in _MODES:
        raise InputError(f"mode must be one of {_MODES}, got {mode!r}.")
    if finite is None:
        finite = np.isfinite(values)
    data = values if finite is True or finite.all() else values[finite]
    if data.size == 0:
        return 0.0, 0.0
    if mode == "minmax":
        return float(data.min()), float(data.max())
    p_lo, p_hi = _check_percentiles(percentiles)
    lo, hi = np.percentile(data, [p_lo, p_hi])
    return float(lo), float(hi)


def _check_percentiles(percentiles) -> tuple[float, float]:
    try:
        p_lo, p_hi = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise InputError(f"percentiles must be a pair (low, high) such as (2, 98), got {percentiles!r}.") from None
    if not 0.0 <= p_lo < p_hi <= 100.0:
        raise InputError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles!r}.")
    return p_lo, p_hi


def _check_vrange(vrange) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in vrange)
    except (TypeError, ValueError):
        raise InputError(f"vrange must be a pair (lo, hi) of numbers, got {vrange!r}.") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InputError(f"vrange must be finite with lo < hi, got {vrange!r}; use shared_range() to compute one.")
    return lo, hi


# ------------------------------------------------------------------------------------------ normalisation
def normalize(inverse_depth, mode: str = "minmax", percentiles=(2, 98), vrange=None) -> np.ndarray:
    """Map a depth-like map linearly to [0, 1].

    Args:
        inverse_depth: (H, W) array, relative inverse depth (larger = nearer) or any other scalar map.
        mode: ``"minmax"`` (finite min -> 0, finite max -> 1) or ``"percentile"`` (the ``percentiles`` of the
            finite values -> 0 and 1, values outside are clipped; robust to a few outliers).
        percentiles: (low, high) in percent, used when ``mode="percentile"``.
        vrange: optional fixed (lo, hi) that overrides ``mode``; use one range for every frame of a video
            (see :func:`shared_range`) so that equal values get equal outputs in every frame.

    Returns:
        (H, W) float32 in [0, 1]. Non-finite input pixels become 0.0 (the far end) and are ignored when the
        range is computed. A map without variation (lo == hi) gives all zeros.

    Example:
        >>> normalize(np.array([[1.0, 2.0], [3.0, 5.0]])).tolist()
        [[0.0, 0.25], [0.5, 1.0]]
        >>> normalize(np.array([[0.0, 5.0, 10.0]]), vrange=(0, 20)).tolist()
        [[0.0, 0.25, 0.5]]
    """
    values = _as_map(inverse_depth)
    finite = np.isfinite(values)
    all_finite = bool(finite.all())
    if vrange is not None:
        lo, hi = _check_vrange(vrange)
    else:
        lo, hi = _value_range(values, mode, percentiles, finite=True if all_finite else finite)
    scale = np.float32(1.0 / (hi - lo)) if hi > lo else np.float32(np.inf)
    if not np.isfinite(scale):  # no variation (or a range too small for float32): all "far"
        return np.zeros(values.shape, np.float32)
    out = np.subtract(values, np.float32(lo), dtype=np.float32)
    out *= scale
    np.clip(out, 0.0, 1.0, out=out)
    if not all_finite:
        out[~finite] = 0.0
    return out


def shared_range(maps, mode: str = "percentile", percentiles=(2, 98)) -> tuple[float, float]:
    """One (lo, hi) value range for several maps (e.g. the frames of a video), for ``vrange=``.

    The range is computed over the finite values of all maps pooled together.

    Args:
        maps: iterable of (H, W) arrays (sizes may differ).
        mode: ``"percentile"`` (default, robust) or ``"minmax"``.
        percentiles: (low, high) in percent for ``mode="percentile"``.

    Returns:
        (lo, hi) as Python floats with lo < hi (hi = lo + 1 if all values are equal).

    Example:
        >>> shared_range([np.array([[0.0, 1.0]]), np.array([[3.0, 4.0]])], mode="minmax")
        (0.0, 4.0)
    """
    arrays = [_as_map(m, "each map") for m in maps]
    if not arrays:
        raise InputError("maps is empty; pass at least one (H, W) depth map.")
    pooled = np.concatenate([a[np.isfinite(a)] for a in arrays])
    if pooled.size == 0:
        raise InputError("maps contain no finite values; cannot compute a value range.")
    lo, hi = _value_range(pooled.reshape(1, -1), mode, percentiles)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _get_colormap(cmap):
    """A matplotlib Colormap from a name or a Colormap object."""
    import matplotlib
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):
        return cmap
    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        message = f"unknown colour map {cmap!r}; use a matplotlib name such as 'inferno' or 'viridis'."
        raise InputError(message) from None


def _lut_from(colormap) -> np.ndarray:
    rgba = colormap(np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.flags.writeable = False
    return lut


@functools.lru_cache(maxsize=32)
def _named_lut(name: str) -> np.ndarray:
    return _lut_from(_get_colormap(name))


def _lut(cmap) -> np.ndarray:
    """(256, 3) uint8 read-only lookup table of a matplotlib colour map (name or Colormap object)."""
    if isinstance(cmap, str):
        return _named_lut(cmap)
    return _lut_from(_get_colormap(cmap))


def colorize(
    inverse_depth,
    cmap: str = "inferno",
    mode: str = "percentile",
    vrange=None,
    percentiles=(2, 98),
    units: str | None = None,
    invalid_color=INVALID_COLOR,
) -> np.ndarray:
    """Colour a depth map with a matplotlib colour map; near = bright/warm by default.

    Args:
        inverse_depth: (H, W) relative inverse depth (larger = nearer); with ``units="m"`` depth in metres
            (smaller = nearer) instead, which is flipped so that near is still the bright end.
        cmap: any matplotlib colour map name (or Colormap object). With "inferno" (default), "magma" or
            "viridis" the high end (near) is bright.
        mode, percentiles, vrange: as in :func:`normalize` (``vrange`` in the units of the input).
        units: None for relative inverse depth, ``"m"`` for depth in metres.
        invalid_color: RGB of non-finite pixels (NaN / inf, e.g. sky), default mid-grey (128, 128, 128),
            a colour that the default colour map never produces.

    Returns:
        (H, W, 3) uint8 RGB.

    Example:
        >>> rgb = colorize(np.array([[0.0, 1.0]]), mode="minmax")
        >>> rgb.shape, rgb.dtype.name, int(rgb[0, 1].sum()) > int(rgb[0, 0].sum())
        ((1, 2, 3), 'uint8', True)
    """
    import cv2

    _check_units(units)
    values = _as_map(inverse_depth)
    lut = _lut(cmap)
    color = np.asarray(invalid_color, dtype=np.int64)
    if color.shape != (3,) or color.min() < 0 or color.max() > 255:
        raise InputError(f"invalid_color must be an RGB triple of 0-255 integers, got {invalid_color!r}.")
    unit = normalize(values, mode=mode, percentiles=percentiles, vrange=vrange)
    if units == "m":
        unit = 1.0 - unit  # small depth = near = high end of the colour map
    unit *= np.float32(255.0)
    unit += np.float32(0.5)
    index = unit.astype(np.uint8)  # round half up to one of the 256 colour-map entries
    # One uint32 per RGBA colour: a single np.take maps all three channels (much faster than lut[index]).
    packed = np.zeros((256, 4), np.uint8)
    packed[:, :3] = lut
    rgba = np.take(packed.view(np.uint32).reshape(-1), index).view(np.uint8).reshape((*index.shape, 4))
    out = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    invalid = ~np.isfinite(values)
    if invalid.any():
        out[invalid] = color.astype(np.uint8)
    return out


# -------------------------------------------------------------------------------------------------- figures
def _new_figure(figsize):
    """A pyplot-free Figure: nothing global, nothing shown, safe with the Agg backend and in Jupyter
    (the returned figure displays when it is the last expression of a cell)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _display_array(values: np.ndarray, mode, percentiles, vrange, units):
    """(array to imshow, vmin, vmax, cmap suffix) for a depth-like map."""
    if units == "m":
        lo, hi = _check_vrange(vrange) if vrange is not None else _value_range(values, mode, percentiles)
        if hi <= lo:
            hi = lo + 1.0
        shown = np.ma.masked_invalid(values)
        return shown, lo, hi
    unit = normalize(values, mode=mode, percentiles=percentiles, vrange=vrange)
    shown = np.ma.masked_array(unit, mask=~np.isfinite(values))
    return shown, 0.0, 1.0


def _colormap(cmap, units, invalid_color=INVALID_COLOR):
    colormap = _get_colormap(cmap)
    if units == "m":
        colormap = colormap.reversed()  # small depth (near) -> bright end
    return colormap.with_extremes(bad=tuple(c / 255.0 for c in invalid_color))


def colorbar(mappable, ax, units: str | None = None):
    """Add a colour bar labelled "near" / "far" next to ``ax``.

    Args:
        mappable: the image returned by ``ax.imshow`` of a depth display (see :func:`show_depth`).
        ax: the matplotlib Axes the image lives in.
        units: None when the image shows normalised relative inverse depth in [0, 1] (ticks "far" at 0 and
            "near" at 1); ``"m"`` when it shows depth in metres (ticks in metres, label "depth (m)", with
            "near" written at the small-depth end and "far" at the large-depth end).

    Returns:
        The :class:`matplotlib.colorbar.Colorbar`.
    """
    _check_units(units)
    fig = ax.figure
    cbar = fig.colorbar(mappable, ax=ax, fraction=0.046, pad=0.04)
    if units == "m":
        cbar.set_label("depth (m)")
        cbar.ax.text(0.5, -0.02, "near", transform=cbar.ax.transAxes, ha="center", va="top", fontsize=8)
        cbar.ax.text(0.5, 1.02, "far", transform=cbar.ax.transAxes, ha="center", va="bottom", fontsize=8)
    else:
        cbar.set_ticks([0.0, 1.0])
        cbar.set_ticklabels(["far", "near"])
        cbar.set_label("relative inverse depth")
    return cbar


def show_depth(
    inverse_depth,
    cmap: str = "inferno",
    mode: str = "percentile",
    vrange=None,
    percentiles=(2, 98),
    units: str | None = None,
    title: str | None = None,
    ax=None,
):
    """Show one depth map with a "near" / "far" colour bar.

    Args:
        inverse_depth: (H, W) relative inverse depth (larger = nearer), or depth in metres with ``units="m"``.
        cmap, mode, vrange, percentiles, units: as in :func:`colorize`; non-finite pixels are drawn grey.
        title: axes title (default "inverse depth" or "depth (m)").
        ax: draw into this Axes instead of a new figure.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    _check_units(units)
    values = _as_map(inverse_depth)
    colormap = _colormap(cmap, units)
    if ax is None:
        fig = _new_figure((5, 4))
        ax = fig.subplots()
    else:
        fig = ax.figure
    shown, vmin, vmax = _display_array(values, mode, percentiles, vrange, units)
    artist = ax.imshow(shown, cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title if title is not None else ("depth (m)" if units == "m" else "inverse depth"))
    ax.set_axis_off()
    colorbar(artist, ax, units=units)
    return fig


def show_side_by_side(
    image,
    inverse_depth,
    cmap: str = "inferno",
    mode: str = "percentile",
    vrange=None,
    units: str | None = None,
    titles=("image", None),
    figsize=(10, 4),
):
    """Image and its depth map next to each other, the depth with a "near" / "far" colour bar.

    Args:
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) relative inverse depth (larger = nearer); depth in metres with ``units="m"``.
        cmap, mode, vrange, units: as in :func:`colorize`.
        titles: (image title, depth title); None for the default depth title.
        figsize: matplotlib figure size in inches.

    Returns:
        A :class:`matplotlib.figure.Figure` with three axes: image, depth, colour bar.
    """
    img = _as_image(image)
    values = _as_map(inverse_depth)
    _check_same_size(img, values)
    fig = _new_figure(figsize)
    ax_img, ax_depth = fig.subplots(1, 2)
    ax_img.imshow(img)
    ax_img.set_title(titles[0])
    ax_img.set_axis_off()
    show_depth(values, cmap=cmap, mode=mode, vrange=vrange, units=units, title=titles[1], ax=ax_depth)
    return fig


def histogram(inverse_depth, bins: int = 64, units: str | None = None, percentiles=(2, 98), ax=None):
    """Histogram of the finite values of a depth map, with the ``percentiles`` marked.

    Args:
        inverse_depth: (H, W) relative inverse depth; depth in metres with ``units="m"``.
        bins: number of histogram bins.
        units: None or ``"m"`` (changes the x-axis label).
        percentiles: two percentiles drawn as dashed vertical lines (the default colour range), or None.
        ax: draw into this Axes instead of a new figure.

    Returns:
        The :class:`matplotlib.figure.Figure`; the title reports how many pixels were non-finite.
    """
    _check_units(units)
    values = _as_map(inverse_depth)
    if int(bins) < 1:
        raise InputError(f"bins must be a positive integer, got {bins!r}.")
    finite = values[np.isfinite(values)]
    if ax is None:
        fig = _new_figure((5, 3))
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.hist(finite, bins=int(bins), color="0.3")
    if percentiles is not None and finite.size:
        p_lo, p_hi = _check_percentiles(percentiles)
        for p, v in zip((p_lo, p_hi), np.percentile(finite, [p_lo, p_hi]), strict=False):
            ax.axvline(v, color="tab:red", linestyle="--", linewidth=1, label=f"percentile {p:g}")
        ax.legend(fontsize=8)
    ax.set_xlabel("depth (m), larger = farther" if units == "m" else "relative inverse depth, larger = nearer")
    ax.set_ylabel("pixels")
    ax.set_title(f"{finite.size} finite pixels, {values.size - finite.size} non-finite")
    return fig


def contour_overlay(image, inverse_depth, levels=8, cmap: str = "inferno", units: str | None = None, ax=None):
    """Draw iso-depth contour lines over the image.

    Args:
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) relative inverse depth; depth in metres with ``units="m"``.
        levels: number of contour levels, or a sequence of level values (normalised inverse depth in [0, 1]
            for relative input, metres for ``units="m"``).
        cmap: colour map of the contour lines (near = bright end).
        units: None or ``"m"``.
        ax: draw into this Axes instead of a new figure.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    _check_units(units)
    img = _as_image(image)
    values = _as_map(inverse_depth)
    _check_same_size(img, values)
    if units == "m":
        field = np.ma.masked_invalid(values)
    else:
        field = np.ma.masked_array(normalize(values, mode="minmax"), mask=~np.isfinite(values))
    if isinstance(levels, (int, np.integer)):
        if levels < 1:
            raise InputError(f"levels must be a positive integer or a sequence of values, got {levels!r}.")
        levels = int(levels)
    else:
        levels = sorted(float(v) for v in levels)
    colormap = _colormap(cmap, units)
    if ax is None:
        fig = _new_figure((5, 4))
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.imshow(img)
    ax.contour(field, levels=levels, cmap=colormap, linewidths=1.2)
    ax.set_title("iso-depth contours (m)" if units == "m" else "iso-inverse-depth contours")
    ax.set_axis_off()
    return fig


# ------------------------------------------------------------------------------------------------------ 3-D
def pseudo_depth(inverse_depth, near_m: float = 1.0, far_m: float = 10.0, mode="percentile", vrange=None):
    """Turn relative inverse depth into a *display-only* depth in metres for 3-D views.

    MiDaS output has unknown scale and shift, so no metric depth can be recovered from it alone. For a 3-D
    picture this function maps the normalised inverse depth u in [0, 1] linearly onto inverse depth between
    1/far_m (u = 0) and 1/near_m (u = 1) and inverts it. The result is NOT a measurement.

    Args:
        inverse_depth: (H, W) relative inverse depth (larger = nearer).
        near_m, far_m: depth in metres given to the nearest and farthest pixel, 0 < near_m < far_m.
        mode, vrange: as in :func:`normalize`.

    Returns:
        (H, W) float32 depth in metres in [near_m, far_m]; non-finite inputs become +inf.

    Example:
        >>> pseudo_depth(np.array([[0.0, 1.0]]), near_m=1.0, far_m=4.0, mode="minmax").tolist()
        [[4.0, 1.0]]
    """
    values = _as_map(inverse_depth)
    if not (0.0 < near_m < far_m and math.isfinite(far_m)):
        raise InputError(f"need 0 < near_m < far_m (finite), got near_m={near_m!r}, far_m={far_m!r}.")
    unit = normalize(values, mode=mode, vrange=vrange)
    inv = (1.0 / far_m) + unit * (1.0 / near_m - 1.0 / far_m)
    depth = (1.0 / inv).astype(np.float32)
    depth[~np.isfinite(values)] = np.inf
    return depth


def point_cloud(image, depth_m, fov_deg: float = 60.0, stride: int = 1):
    """Back-project a depth map into a coloured 3-D point cloud with a pinhole camera.

    Camera frame (OpenCV convention): x to the right, y down, z forward (along the optical axis), metres.
    Pixel (row i, column j) has its centre at (u, v) = (j, i); the principal point is the image centre
    ((W - 1) / 2, (H - 1) / 2) and the focal length in pixels is f = (W / 2) / tan(fov_deg / 2) for both axes
    (square pixels), so the left and right image *edges* (u = -0.5 and u = W - 0.5) lie exactly at
    x = -/+ tan(fov_deg / 2) * z.

    Args:
        image: (H, W, 3) uint8 RGB (colours of the points).
        depth_m: (H, W) depth in metres along the optical axis (z, not the ray length). Pixels whose depth is
            non-finite (e.g. +inf sky) or <= 0 are dropped.
        fov_deg: horizontal field of view in degrees, 0 < fov_deg < 180.
        stride: keep every ``stride``-th pixel in both directions (fewer points for plotting).

    Returns:
        ``(points, colors)``: (N, 3) float32 x, y, z in metres and (N, 3) uint8 RGB, row-major order.

    Example:
        >>> pts, cols = point_cloud(np.zeros((2, 2, 3), np.uint8), np.full((2, 2), 2.0), fov_deg=90)
        >>> pts[:, 2].tolist(), pts[:, 0].tolist()
        ([2.0, 2.0, 2.0, 2.0], [-1.0, 1.0, -1.0, 1.0])
    """
    img = _as_image(image)
    depth = _as_map(depth_m, "depth_m")
    _check_same_size(img, depth, "depth_m")
    if not 0.0 < float(fov_deg) < 180.0:
        raise InputError(f"fov_deg must be between 0 and 180 degrees (exclusive), got {fov_deg!r}.")
    if int(stride) != stride or stride < 1:
        raise InputError(f"stride must be a positive integer, got {stride!r}.")
    stride = int(stride)
    h, w = depth.shape
    focal = (w / 2.0) / math.tan(math.radians(float(fov_deg)) / 2.0)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    z = depth[::stride, ::stride].astype(np.float64)
    v, u = np.mgrid[0:h:stride, 0:w:stride]
    keep = np.isfinite(z) & (z > 0)
    z = z[keep]
    x = (u[keep] - cx) / focal * z
    y = (v[keep] - cy) / focal * z
    points = np.stack([x, y, z], axis=1).astype(np.float32)
    colors = img[::stride, ::stride][keep]
    return points, np.ascontiguousarray(colors)


def show_3d(
    image,
    depth_m,
    fov_deg: float = 60.0,
    stride: int = 4,
    kind: str = "scatter",
    max_points: int = 20000,
    elev: float = 20.0,
    azim: float = -70.0,
    point_size: float = 2.0,
):
    """3-D view of a coloured depth map (matplotlib scatter or surface).

    The axes show x (right), z (depth, forward) and height = -y (up), all in metres, so the picture is
    upright. For relative MiDaS output, get a display depth with :func:`pseudo_depth` first.

    Args:
        image: (H, W, 3) uint8 RGB.
        depth_m: (H, W) depth in metres; non-finite or <= 0 pixels are left out.
        fov_deg: horizontal field of view in degrees (see :func:`point_cloud`).
        stride: subsampling step in pixels.
        kind: ``"scatter"`` (coloured points) or ``"surface"`` (coloured mesh over the subsampled grid).
        max_points: the stride is increased until at most this many points are drawn (matplotlib is slow).
        elev, azim: initial camera angles of the 3-D axes, degrees.
        point_size: marker size for ``kind="scatter"``.

    Returns:
        The :class:`matplotlib.figure.Figure` with one 3-D Axes.
    """
    if kind not in ("scatter", "surface"):
        raise InputError(f"kind must be 'scatter' or 'surface', got {kind!r}.")
    img = _as_image(image)
    depth = _as_map(depth_m, "depth_m")
    _check_same_size(img, depth, "depth_m")
    if int(max_points) < 1:
        raise InputError(f"max_points must be a positive integer, got {max_points!r}.")
    h, w = depth.shape
    stride = max(int(stride), 1)
    while math.ceil(h / stride) * math.ceil(w / stride) > max_points:
        stride += 1
    fig = _new_figure((6, 5))
    ax = fig.add_subplot(projection="3d")
    if kind == "scatter":
        points, colors = point_cloud(img, depth, fov_deg=fov_deg, stride=stride)
        ax.scatter(points[:, 0], points[:, 2], -points[:, 1], c=colors / 255.0, s=point_size, depthshade=False)
    else:
        focal = (w / 2.0) / math.tan(math.radians(float(fov_deg)) / 2.0)
        z = depth[::stride, ::stride].astype(np.float64)
        z = np.where(np.isfinite(z) & (z > 0), z, np.nan)
        v, u = np.mgrid[0:h:stride, 0:w:stride]
        x = (u - (w - 1) / 2.0) / focal * z
        y = (v - (h - 1) / 2.0) / focal * z
        ax.plot_surface(x, z, -y, facecolors=img[::stride, ::stride] / 255.0, rstride=1, cstride=1,
                        linewidth=0, antialiased=False, shade=False)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("depth z (m)")
    ax.set_zlabel("height -y (m)")
    ax.view_init(elev=elev, azim=azim)
    ax.set_title(f"3-D view (one pixel in {stride}x{stride})" if stride > 1 else "3-D view (every pixel)")
    return fig


# -------------------------------------------------------------------------------------- invalid pixels, demos
def fill_invalid(inverse_depth, valid=None) -> np.ndarray:
    """Fill unmeasured pixels of an inverse-depth map with the *farthest* measured value next to them.

    Stereo ground truth has holes where only one camera sees the scene: background just beside a near
    object. So the holes are grown shut from their edges, one pixel ring at a time, each new pixel taking
    the smallest inverse depth (the farthest, i.e. the background) among its measured 3x3 neighbours.

    Args:
        inverse_depth: (H, W) inverse depth, larger = nearer (any unit, e.g. 1/metres).
        valid: optional (H, W) bool mask of measured pixels; default: the finite pixels. Non-finite pixels
            always count as unmeasured.

    Returns:
        (H, W) float32, equal to the input on measured pixels and finite everywhere.

    Example:
        >>> fill_invalid(np.array([[1.0, np.nan, 3.0, np.nan]])).tolist()
        [[1.0, 1.0, 3.0, 3.0]]
    """
    import cv2

    values = _as_map(inverse_depth)
    known = np.isfinite(values)
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape != values.shape:
            raise InputError(
                f"valid has shape {valid.shape} but inverse_depth has {values.shape}; pass a mask of the same size."
            )
        known &= valid.astype(bool)
    if not known.any():
        raise InputError("inverse_depth has no measured (valid, finite) pixel; there is nothing to fill from.")
    unknown = np.float32(np.finfo(np.float32).max)  # larger than any value: ignored by the 3x3 minimum
    work = np.where(known, values, unknown).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    while not known.all():
        grown = cv2.erode(work, kernel, borderType=cv2.BORDER_REPLICATE)  # 3x3 minimum = farthest neighbour
        new = ~known & (grown < unknown)
        work[new] = grown[new]
        known |= new
    return work


@dataclass(frozen=True)
class DemoDepth:
    """The picture and depth map a lesson works on (see :func:`demo_depth`).

    Attributes:
        name: sample name, e.g. ``"motorcycle"``.
        image: (H, W, 3) uint8 RGB.
        inverse_depth: (H, W) float32 inverse depth, larger = nearer: true 1/metres for ground truth,
            relative (no unit) for a model prediction. Unmeasured ground-truth pixels are filled or 0.
        description: one line saying where the map comes from; print it.
        ground_truth: True when ``inverse_depth`` is the stereo ground truth, not a prediction.
        valid: (H, W) bool, True where the map holds a measurement or a prediction (False = filled or 0).
        depth_m: (H, W) float32 depth in metres of ``inverse_depth`` (ground truth, or a prediction calibrated
            with two ground-truth distances), or None when no metric scale is known.
        ground_truth_m: (H, W) float32 ground-truth depth in metres (+inf unmeasured) for the motorcycle,
            else None.
        fov_deg: horizontal field of view of the camera in degrees if known (motorcycle), else None.
    """

    name: str
    image: np.ndarray
    inverse_depth: np.ndarray
    description: str
    ground_truth: bool
    valid: np.ndarray
    depth_m: np.ndarray | None = None
    ground_truth_m: np.ndarray | None = None
    fov_deg: float | None = None


def _calibration_points(depth_m: np.ndarray, valid: np.ndarray) -> list[tuple[int, int, float]]:
    """Two measured pixels (x, y, metres) at the 10th and 90th percentile of the ground-truth depth."""
    rows, cols = np.nonzero(valid)
    order = np.argsort(depth_m[rows, cols], kind="stable")
    picks = order[[len(order) // 10, (9 * len(order)) // 10]]
    return [(int(cols[i]), int(rows[i]), float(depth_m[rows[i], cols[i]])) for i in picks]


def demo_depth(model=None, name: str = "motorcycle", max_width: int | None = None, fill: bool = True) -> DemoDepth:
    """The image and inverse depth a lesson should show: a real prediction if possible, else ground truth.

    With a model that has trained weights (``model.weights_info.pretrained``) this runs it on the sample
    ``name``. Otherwise a map from random weights would be meaningless, so it returns the *ground-truth*
    depth of the Middlebury motorcycle (whatever ``name`` says) and the description says so. For the
    motorcycle, a prediction is also converted to metres with two ground-truth distances
    (:func:`depthkit.calibration.fit_scale_shift`, the pixels at the 10th and 90th depth percentile).

    Args:
        model: a model from :func:`depthkit.load_model`, or None (ground truth).
        name: sample name (see :func:`depthkit.samples.list_samples`).
        max_width: if given and smaller than the image, shrink to this width in pixels first (image with
            area averaging, ground truth with nearest neighbour so no depths are mixed).
        fill: fill unmeasured ground-truth pixels with :func:`fill_invalid` (True, for effects) or leave them
            at inverse depth 0 and depth +inf (False).

    Returns:
        A :class:`DemoDepth`.
    """
    import cv2

    from .samples import _check_name, load_sample, motorcycle

    name = _check_name(name)
    if max_width is not None and (int(max_width) != max_width or max_width < 8):
        raise InputError(f"max_width must be an integer number of pixels >= 8 or None, got {max_width!r}.")
    info = getattr(model, "weights_info", None)
    pretrained = bool(getattr(info, "pretrained", False))

    def shrink(array, interpolation):
        h, w = array.shape[:2]
        if max_width is None or w <= max_width:
            return array
        size = (int(max_width), max(round(h * max_width / w), 1))
        return cv2.resize(array, size, interpolation=interpolation)

    stereo = motorcycle() if name == "motorcycle" or not pretrained else None
    gt_m = fov = None
    if stereo is not None:
        gt_m = shrink(stereo.depth_m, cv2.INTER_NEAREST)
        fov = math.degrees(2.0 * math.atan(stereo.shape[1] / 2.0 / stereo.focal_px))
    if not pretrained:
        image = shrink(stereo.left, cv2.INTER_AREA)
        valid = np.isfinite(gt_m)
        inverse = np.where(valid, 1.0 / np.where(valid, gt_m, 1.0), 0.0).astype(np.float32)
        missing = 100.0 * (1.0 - valid.mean())
        if fill:
            inverse = fill_invalid(inverse, valid)
            how = f"{missing:.1f}% unmeasured pixels filled with the farthest measured neighbour"
        else:
            how = f"{missing:.1f}% unmeasured pixels have inverse depth 0 (depth +inf)"
        instead = "" if name == "motorcycle" else f" (instead of '{name}', which has no ground truth)"
        description = (f"No pretrained MiDaS weights, so this is the GROUND-TRUTH depth of the Middlebury motorcycle "
                       f"(stereo, metres){instead}, NOT a MiDaS prediction; {how}.")
        depth = np.where(inverse > 0, 1.0 / np.maximum(inverse, 1e-12), np.inf).astype(np.float32)
        return DemoDepth("motorcycle", image, inverse, description, True, valid, depth, gt_m, fov)

    from .calibration import fit_scale_shift
    from .inference import estimate_depth

    image = shrink(load_sample(name), cv2.INTER_AREA)
    inverse = estimate_depth(image, model).inverse_depth
    description = f"MiDaS_small prediction on '{name}' ({info.label}): relative inverse depth, no unit"
    depth = None
    if gt_m is not None:
        depth = fit_scale_shift(inverse, _calibration_points(gt_m, np.isfinite(gt_m))).depth_m
        description += "; metres from two ground-truth distances (fit_scale_shift)"
    return DemoDepth(name, image, inverse, description + ".", False, np.ones(inverse.shape, bool), depth, gt_m, fov)
