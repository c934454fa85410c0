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
imported only inside them. :func:`show_3d` is the static matplotlib 3-D view (for exported reports);
:func:`show_point_cloud` is the interactive one (a plotly WebGL figure you can rotate; plotly is imported only
there), and :func:`point_cloud_html` gives it as HTML.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .calibration import Calibration
from .checks import (
    as_image,
    as_map,
    check_choice,
    check_percentiles,
    check_positive,
    check_positive_int,
    check_same_size,
    check_type,
    check_vrange,
)
from .errors import InputError

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from matplotlib.axes import Axes
    from matplotlib.colorbar import Colorbar
    from matplotlib.figure import Figure

#: A value range (lo, hi) in the units of the map it applies to (see :func:`shared_range`), or None.
VRange = tuple[float, float] | None
#: A pair of percentiles (low, high), e.g. (2, 98).
Percentiles = tuple[float, float]

__all__ = [
    "INVALID_COLOR",
    "METRIC_AXES",
    "RELATIVE_AXES",
    "Percentiles",
    "VRange",
    "colorbar",
    "colorize",
    "colormap_indices",
    "colormap_lut",
    "contour_overlay",
    "fill_invalid",
    "heatmap_png",
    "histogram",
    "normalize",
    "point_cloud",
    "point_cloud_html",
    "pseudo_depth",
    "shared_range",
    "show_3d",
    "show_depth",
    "show_point_cloud",
    "show_side_by_side",
]

_MODES = ("minmax", "percentile")
INVALID_COLOR = (128, 128, 128)


# --------------------------------------------------------------------------------------------- input checks
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
    p_lo, p_hi = check_percentiles(percentiles)
    lo, hi = np.percentile(data, [p_lo, p_hi])
    return float(lo), float(hi)


# ------------------------------------------------------------------------------------------ normalisation
def normalize(
    inverse_depth: np.ndarray, mode: str = "minmax", percentiles: Percentiles = (2, 98), vrange: VRange = None
) -> np.ndarray:
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
    values = as_map(inverse_depth)
    finite = np.isfinite(values)
    all_finite = bool(finite.all())
    if vrange is not None:
        lo, hi = check_vrange(vrange)
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


def shared_range(
    maps: Iterable[np.ndarray], mode: str = "percentile", percentiles: Percentiles = (2, 98)
) -> tuple[float, float]:
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
    arrays = [as_map(m, "each map") for m in maps]
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


def colormap_lut(cmap: Any = "inferno") -> np.ndarray:
    """The 256 colours of a matplotlib colour map as a lookup table: the levels of :func:`colorize`.

    Entry i is the colour map at i / 255, rounded to 8 bits; index 0 is the far end, 255 the near end.

    Args:
        cmap: a matplotlib colour map name or Colormap object.

    Returns:
        (256, 3) uint8 RGB, read-only (cached for names).

    Example:
        >>> colormap_lut("gray")[[0, 128, 255]].tolist()
        [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    """
    if isinstance(cmap, str):
        return _named_lut(cmap)
    return _lut_from(_get_colormap(cmap))


def colormap_indices(
    inverse_depth: np.ndarray, mode: str = "percentile", vrange: VRange = None, percentiles: Percentiles = (2, 98),
    units: str | None = None,
) -> np.ndarray:
    """The colour-map level of every pixel, as :func:`colorize` picks it: ``round(255 * normalize(...))``.

    Args:
        inverse_depth: (H, W) relative inverse depth (larger = nearer); with ``units="m"`` depth in metres
            (smaller = nearer), flipped so that near is still the high end.
        mode, percentiles, vrange: as in :func:`normalize` (``vrange`` in the units of the input).
        units: None for relative inverse depth, ``"m"`` for depth in metres.

    Returns:
        (H, W) uint8 indices 0..255 into :func:`colormap_lut` (halves round up). Non-finite pixels get index 0
        for inverse depth and 255 for ``units="m"``; :func:`colorize` paints them ``invalid_color`` instead.

    Example:
        >>> colormap_indices(np.array([[0.0, 0.5, 1.0]]), mode="minmax").tolist()
        [[0, 128, 255]]
    """
    _check_units(units)
    unit = normalize(inverse_depth, mode=mode, percentiles=percentiles, vrange=vrange)
    if units == "m":
        unit = 1.0 - unit  # small depth = near = high end of the colour map
    unit *= np.float32(255.0)
    unit += np.float32(0.5)
    return unit.astype(np.uint8)  # round half up to one of the 256 colour-map entries


def _invalid_rgb(invalid_color: Sequence[int]) -> np.ndarray:
    color = np.asarray(invalid_color, dtype=np.int64)
    if color.shape != (3,) or color.min() < 0 or color.max() > 255:
        raise InputError(f"invalid_color must be an RGB triple of 0-255 integers, got {invalid_color!r}.")
    return color.astype(np.uint8)


def colorize(
    inverse_depth: np.ndarray, cmap: Any = "inferno", mode: str = "percentile", vrange: VRange = None,
    percentiles: Percentiles = (2, 98), units: str | None = None, invalid_color: Sequence[int] = INVALID_COLOR,
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
        (H, W, 3) uint8 RGB: ``colormap_lut(cmap)[colormap_indices(...)]`` (256 levels).

    Example:
        >>> rgb = colorize(np.array([[0.0, 1.0]]), mode="minmax")
        >>> rgb.shape, rgb.dtype.name, int(rgb[0, 1].sum()) > int(rgb[0, 0].sum())
        ((1, 2, 3), 'uint8', True)
    """
    import cv2

    _check_units(units)
    values = as_map(inverse_depth)
    lut = colormap_lut(cmap)
    color = _invalid_rgb(invalid_color)
    index = colormap_indices(values, mode=mode, vrange=vrange, percentiles=percentiles, units=units)
    # One uint32 per RGBA colour: a single np.take maps all three channels (much faster than lut[index]).
    packed = np.zeros((256, 4), np.uint8)
    packed[:, :3] = lut
    rgba = np.take(packed.view(np.uint32).reshape(-1), index).view(np.uint8).reshape((*index.shape, 4))
    out = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    invalid = ~np.isfinite(values)
    if invalid.any():
        out[invalid] = color
    return out


def heatmap_png(
    inverse_depth: np.ndarray, cmap: Any = "inferno", mode: str = "percentile", vrange: VRange = None,
    percentiles: Percentiles = (2, 98), units: str | None = None, invalid_color: Sequence[int] = INVALID_COLOR,
    compress_level: int = 1,
) -> bytes:
    """:func:`colorize` straight to PNG file content, the fast way: a paletted PNG of the colour-map levels.

    The PNG holds one byte per pixel (the :func:`colormap_indices`) and the colour map's 256 colours
    (:func:`colormap_lut`), so it decodes to exactly the RGB pixels of ``colorize(...)`` with the same
    arguments while it needs a third of the data to compress. A map with non-finite pixels (which get
    ``invalid_color``, not a colour-map level) is encoded as the RGB image of :func:`colorize` instead.

    Args:
        inverse_depth, cmap, mode, vrange, percentiles, units, invalid_color: as in :func:`colorize`.
        compress_level: zlib level 0..9 of :func:`depthkit.io.encode_png` (default 1: fast).

    Returns:
        PNG file content of the (H, W) heat map.

    Example:
        >>> heatmap_png(np.array([[0.0, 1.0]]), mode="minmax")[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    from .io import encode_png

    values = as_map(inverse_depth)
    if not np.isfinite(values).all():
        rgb = colorize(values, cmap, mode, vrange, percentiles, units, invalid_color)
        return encode_png(rgb, compress_level=compress_level)
    _invalid_rgb(invalid_color)
    index = colormap_indices(values, mode=mode, vrange=vrange, percentiles=percentiles, units=units)
    return encode_png(index, compress_level=compress_level, palette=colormap_lut(cmap))


# -------------------------------------------------------------------------------------------------- figures
def _new_figure(figsize):
    """A pyplot-free Figure: nothing global, nothing shown, safe with the Agg backend and in Jupyter
    (the returned figure displays when it is the last expression of a cell)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """(figure, axes) to draw into: those of ``ax`` if given, else a new figure of ``figsize`` inches with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = _new_figure(figsize)
    return fig, fig.subplots()


def _display_array(values: np.ndarray, mode, percentiles, vrange, units):
    """(array to imshow, vmin, vmax, cmap suffix) for a depth-like map."""
    if units == "m":
        lo, hi = check_vrange(vrange) if vrange is not None else _value_range(values, mode, percentiles)
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


def colorbar(mappable: Any, ax: Axes, units: str | None = None) -> Colorbar:
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
    inverse_depth: np.ndarray, cmap: Any = "inferno", mode: str = "percentile", vrange: VRange = None,
    percentiles: Percentiles = (2, 98), units: str | None = None, title: str | None = None, ax: Axes | None = None,
) -> Figure:
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
    values = as_map(inverse_depth)
    colormap = _colormap(cmap, units)
    fig, ax = _figure_and_axes(ax, (5, 4))
    shown, vmin, vmax = _display_array(values, mode, percentiles, vrange, units)
    artist = ax.imshow(shown, cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title if title is not None else ("depth (m)" if units == "m" else "inverse depth"))
    ax.set_axis_off()
    colorbar(artist, ax, units=units)
    return fig


def show_side_by_side(
    image: np.ndarray, inverse_depth: np.ndarray, cmap: Any = "inferno", mode: str = "percentile",
    vrange: VRange = None, units: str | None = None, titles: tuple[str, str | None] = ("image", None),
    figsize: tuple[float, float] = (10, 4),
) -> Figure:
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
    img = as_image(image)
    values = as_map(inverse_depth)
    check_same_size(img, values)
    fig = _new_figure(figsize)
    ax_img, ax_depth = fig.subplots(1, 2)
    ax_img.imshow(img)
    ax_img.set_title(titles[0])
    ax_img.set_axis_off()
    show_depth(values, cmap=cmap, mode=mode, vrange=vrange, units=units, title=titles[1], ax=ax_depth)
    return fig


def histogram(
    inverse_depth: np.ndarray, bins: int = 64, units: str | None = None, percentiles: Percentiles | None = (2, 98),
    ax: Axes | None = None,
) -> Figure:
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
    values = as_map(inverse_depth)
    if int(bins) < 1:
        raise InputError(f"bins must be a positive integer, got {bins!r}.")
    finite = values[np.isfinite(values)]
    fig, ax = _figure_and_axes(ax, (5, 3))
    ax.hist(finite, bins=int(bins), color="0.3")
    if percentiles is not None and finite.size:
        p_lo, p_hi = check_percentiles(percentiles)
        for p, v in zip((p_lo, p_hi), np.percentile(finite, [p_lo, p_hi]), strict=False):
            ax.axvline(v, color="tab:red", linestyle="--", linewidth=1, label=f"percentile {p:g}")
        ax.legend(fontsize=8)
    ax.set_xlabel("depth (m), larger = farther" if units == "m" else "relative inverse depth, larger = nearer")
    ax.set_ylabel("pixels")
    ax.set_title(f"{finite.size} finite pixels, {values.size - finite.size} non-finite")
    return fig


def contour_overlay(
    image: np.ndarray, inverse_depth: np.ndarray, levels: int | Sequence[float] = 8, cmap: Any = "inferno",
    units: str | None = None, ax: Axes | None = None,
) -> Figure:
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
    img = as_image(image)
    values = as_map(inverse_depth)
    check_same_size(img, values)
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
    fig, ax = _figure_and_axes(ax, (5, 4))
    ax.imshow(img)
    ax.contour(field, levels=levels, cmap=colormap, linewidths=1.2)
    ax.set_title("iso-depth contours (m)" if units == "m" else "iso-inverse-depth contours")
    ax.set_axis_off()
    return fig


# ------------------------------------------------------------------------------------------------------ 3-D
def pseudo_depth(
    inverse_depth: np.ndarray, near_m: float = 1.0, far_m: float = 10.0, mode: str = "percentile",
    vrange: VRange = None,
) -> np.ndarray:
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
    values = as_map(inverse_depth)
    if not (0.0 < near_m < far_m and math.isfinite(far_m)):
        raise InputError(f"need 0 < near_m < far_m (finite), got near_m={near_m!r}, far_m={far_m!r}.")
    unit = normalize(values, mode=mode, vrange=vrange)
    inv = (1.0 / far_m) + unit * (1.0 / near_m - 1.0 / far_m)
    depth = (1.0 / inv).astype(np.float32)
    depth[~np.isfinite(values)] = np.inf
    return depth


def point_cloud(
    image: np.ndarray, depth_m: np.ndarray, fov_deg: float = 60.0, stride: int = 1
) -> tuple[np.ndarray, np.ndarray]:
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
    img = as_image(image)
    depth = as_map(depth_m, "depth_m")
    check_same_size(img, depth, "depth_m")
    if not 0.0 < float(fov_deg) < 180.0:
        raise InputError(f"fov_deg must be between 0 and 180 degrees (exclusive), got {fov_deg!r}.")
    if int(stride) != stride or stride < 1:
        raise InputError(f"stride must be a positive integer, got {stride!r}.")
    stride = int(stride)
    x, y, z = _camera_grid(depth, fov_deg, stride)
    keep = np.isfinite(z)
    points = np.stack([x[keep], y[keep], z[keep]], axis=1).astype(np.float32)
    colors = img[::stride, ::stride][keep]
    return points, np.ascontiguousarray(colors)


def _camera_grid(depth: np.ndarray, fov_deg: float, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) in metres of every ``stride``-th pixel (pinhole model of :func:`point_cloud`); NaN where invalid.

    Returns three float64 arrays of shape (ceil(H / stride), ceil(W / stride)); pixels whose depth is
    non-finite or <= 0 are NaN in all three.
    """
    h, w = depth.shape
    focal = (w / 2.0) / math.tan(math.radians(float(fov_deg)) / 2.0)
    z = depth[::stride, ::stride].astype(np.float64)
    z = np.where(np.isfinite(z) & (z > 0), z, np.nan)
    v, u = np.mgrid[0:h:stride, 0:w:stride]
    return (u - (w - 1) / 2.0) / focal * z, (v - (h - 1) / 2.0) / focal * z, z


def _stride_for_budget(shape: tuple[int, int], max_points: int, start: int = 1) -> int:
    """Smallest pixel stride >= ``start`` whose regular grid of an (H, W) map has at most ``max_points`` pixels.

    The grid of stride s keeps rows 0, s, 2s, ... and the same columns: ceil(H / s) * ceil(W / s) pixels.
    """
    h, w = shape
    stride = start
    while math.ceil(h / stride) * math.ceil(w / stride) > max_points:
        stride += 1
    return stride


def show_3d(
    image: np.ndarray, depth_m: np.ndarray, fov_deg: float = 60.0, stride: int = 4, kind: str = "scatter",
    max_points: int = 20000, elev: float = 20.0, azim: float = -70.0, point_size: float = 2.0,
) -> Figure:
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
    check_choice(kind, "kind", ("scatter", "surface"))
    img = as_image(image)
    depth = as_map(depth_m, "depth_m")
    check_same_size(img, depth, "depth_m")
    if int(max_points) < 1:
        raise InputError(f"max_points must be a positive integer, got {max_points!r}.")
    stride = _stride_for_budget(depth.shape, int(max_points), start=max(int(stride), 1))
    fig = _new_figure((6, 5))
    ax = fig.add_subplot(projection="3d")
    if kind == "scatter":
        points, colors = point_cloud(img, depth, fov_deg=fov_deg, stride=stride)
        ax.scatter(points[:, 0], points[:, 2], -points[:, 1], c=colors / 255.0, s=point_size, depthshade=False)
    else:
        x, y, z = _camera_grid(depth, fov_deg, stride)
        ax.plot_surface(x, z, -y, facecolors=img[::stride, ::stride] / 255.0, rstride=1, cstride=1,
                        linewidth=0, antialiased=False, shade=False)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("depth z (m)")
    ax.set_zlabel("height -y (m)")
    ax.view_init(elev=elev, azim=azim)
    ax.set_title(f"3-D view (one pixel in {stride}x{stride})" if stride > 1 else "3-D view (every pixel)")
    return fig


# ------------------------------------------------------------------------------------- interactive 3-D (plotly)
#: Axis titles of :func:`show_point_cloud`: (x, y, z) of the camera frame, in metres or in relative units.
METRIC_AXES = ("x, right (m)", "y, down (m)", "depth z (m)")
RELATIVE_AXES = ("x, right (relative, no unit)", "y, down (relative, no unit)", "relative depth (no unit)")


def _cloud_depth(
    values: Any, kind: str, calibration: Calibration | None, far_over_near: float
) -> tuple[np.ndarray, bool]:
    """(H, W) depth for :func:`show_point_cloud` and whether it is in metres (see there for the rules)."""
    check_choice(kind, "kind", ("inverse_depth", "depth"))
    if calibration is not None:
        check_type(calibration, "calibration", Calibration, "a depthkit.calibration.Calibration",
                   hint="get one with dk.calibrate_from_points(inverse_depth, points)")
        if kind != "inverse_depth":
            raise InputError("calibration converts inverse depth to metres, but kind='depth' says the values already "
                             "are depth in metres; pass kind='inverse_depth' or drop calibration.")
        return calibration.apply(as_map(values, "inverse_depth", finite=True)), True
    if kind == "depth":
        return as_map(values, "depth"), True
    ratio = check_positive(far_over_near, "far_over_near")
    if not ratio > 1.0:
        raise InputError(f"far_over_near must be greater than 1 (farthest / nearest depth), got {far_over_near!r}.")
    return pseudo_depth(values, near_m=1.0, far_m=ratio), False


def show_point_cloud(
    image: np.ndarray, inverse_depth_or_depth: np.ndarray, *, kind: str = "inverse_depth", fov_deg: float = 60.0,
    max_points: int = 50_000, calibration: Calibration | None = None, far_over_near: float = 10.0,
    point_size: float = 2.0,
) -> go.Figure:
    """Rotatable, zoomable 3-D point cloud of a photo and its depth (plotly, WebGL), coloured from the photo.

    The points are :func:`point_cloud` of every ``stride``-th pixel in both directions, with the smallest stride
    that keeps at most ``max_points`` pixels (ceil(H / stride) * ceil(W / stride) <= max_points). Pinhole camera
    from the horizontal field of view: f = W / (2 tan(fov_deg / 2)) pixels for both axes, principal point at the
    image centre. Coordinates are the camera frame of :func:`point_cloud` (x right, y down, z forward); the view
    starts behind the camera, a little above and to the right, with -y up: the photo seen slightly from the side.

    Which depth is drawn:

    * ``kind="depth"``: the values are depth in metres (z); axes in metres.
    * ``kind="inverse_depth"`` with ``calibration``: depth = ``calibration.apply(values)`` in metres
      (Z = 1 / (scale * d + shift)); axes in metres.
    * ``kind="inverse_depth"`` alone (raw MiDaS output, unknown scale AND shift): depth = :func:`pseudo_depth`
      with near = 1, far = ``far_over_near``: the inverse depth is normalised to u in [0, 1] (2nd-98th
      percentile), shifted to the positive range [1 / far_over_near, 1] and inverted, so the nearest pixel has
      relative depth 1 and the farthest ``far_over_near``. The true shift is unknown, so this depth is not a
      measurement and the shape is qualitative only (the ratio far / near is a display choice); axes and title
      say "relative (no unit)", never metres.

    Args:
        image: (H, W, 3) uint8 RGB photo (the point colours).
        inverse_depth_or_depth: (H, W) map, inverse depth (larger = nearer) or depth in metres (see ``kind``).
            Non-finite pixels (and depth <= 0) are left out.
        kind: ``"inverse_depth"`` or ``"depth"`` (metres).
        fov_deg: horizontal field of view in degrees, 0 < fov_deg < 180.
        max_points: point budget (positive integer).
        calibration: optional :class:`depthkit.calibration.Calibration` of this inverse depth, for metres.
        far_over_near: relative depth of the farthest pixel when uncalibrated (> 1).
        point_size: marker size in screen pixels.

    Returns:
        A :class:`plotly.graph_objects.Figure` with one ``Scatter3d`` trace (``mode="markers"``) whose x, y, z
        are the (N, 3) points and ``marker.color`` the N colours as ``"rgb(r,g,b)"`` strings.

    Raises:
        InputError: bad shapes, values, kind, budget or calibration, or no valid pixel at all.

    Example:
        >>> fig = show_point_cloud(np.zeros((4, 6, 3), np.uint8), np.full((4, 6), 2.0), kind="depth", max_points=6)
        >>> len(fig.data[0].x), fig.layout.scene.zaxis.title.text  # stride 2: 2 x 3 points
        (6, 'depth z (m)')
    """
    img = as_image(image)
    depth, metric = _cloud_depth(inverse_depth_or_depth, kind, calibration, far_over_near)
    check_same_size(img, depth, "inverse_depth_or_depth")
    budget = check_positive_int(max_points, "max_points")
    stride = _stride_for_budget(depth.shape, budget)
    points, colors = point_cloud(img, depth, fov_deg=fov_deg, stride=stride)
    if len(points) == 0:
        raise InputError("inverse_depth_or_depth has no valid pixel (all non-finite or depth <= 0); nothing to draw.")
    return _plotly_cloud(points, colors, metric, stride, check_positive(point_size, "point_size"))


def _plotly_cloud(points: np.ndarray, colors: np.ndarray, metric: bool, stride: int, point_size: float) -> go.Figure:
    """The plotly figure of :func:`show_point_cloud` from (N, 3) points and (N, 3) uint8 colours."""
    import plotly.graph_objects as go

    rgb = [f"rgb({r},{g},{b})" for r, g, b in colors.tolist()]
    sampling = f"{len(points)} points, one pixel in {stride}x{stride}" if stride > 1 else f"{len(points)} points"
    if metric:
        titles, title = METRIC_AXES, f"3-D point cloud in metres ({sampling})"
    else:
        titles = RELATIVE_AXES
        title = (f"3-D shape from relative inverse depth: qualitative only, not to scale ({sampling})<br>"
                 "<sup>unknown scale and shift: nearest pixel at relative depth 1; no metres without calibration</sup>")
    trace = go.Scatter3d(
        x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers",
        marker={"size": point_size, "color": rgb, "opacity": 1.0}, hoverinfo="skip",
    )
    fig = go.Figure(trace)
    fig.update_layout(
        title={"text": title}, margin={"l": 0, "r": 0, "t": 60, "b": 0}, height=520, showlegend=False,
        scene={
            "xaxis": {"title": {"text": titles[0]}}, "yaxis": {"title": {"text": titles[1]}},
            "zaxis": {"title": {"text": titles[2]}}, "aspectmode": "data",
            # behind the camera, a little above and to the right of it (y points down): the photo, turned a little
            "camera": {"up": {"x": 0, "y": -1, "z": 0}, "eye": {"x": 0.8, "y": -0.6, "z": -1.6}},
        },
    )
    return fig


def point_cloud_html(
    image: np.ndarray, inverse_depth_or_depth: np.ndarray, *, include_plotlyjs: bool | str = True,
    full_html: bool = False, **options: Any,
) -> str:
    """:func:`show_point_cloud` as HTML, for pages and iframes (a report, a download, an app without a kernel).

    Works offline by default: ``include_plotlyjs=True`` inlines the plotly.js bundled with the ``plotly``
    package (about 4.8 MB). ``"cdn"`` links it from cdn.plot.ly instead (small, but needs internet);
    ``False`` leaves it out (the page must already have loaded plotly.js).

    Note: the result contains a ``<script>``; HTML inserted with ``innerHTML`` (such as an
    ``ipywidgets.HTML`` value) does not run scripts, so there use ``full_html=True`` inside an
    ``<iframe srcdoc=...>``, or display the figure itself (an ``ipywidgets.Output``, or
    ``plotly.graph_objects.FigureWidget(fig)``).

    Args:
        image: (H, W, 3) uint8 RGB photo.
        inverse_depth_or_depth: (H, W) inverse depth or depth in metres (see ``kind`` of :func:`show_point_cloud`).
        include_plotlyjs: ``True`` (inline, offline), ``"cdn"`` or ``False``.
        full_html: a whole ``<html>`` page (True) or one ``<div>`` (False, to embed in a page).
        **options: keyword arguments of :func:`show_point_cloud` (``kind``, ``fov_deg``, ``max_points``, ...).

    Returns:
        The HTML text.
    """
    check_choice(include_plotlyjs, "include_plotlyjs", (True, False, "cdn"))
    check_type(full_html, "full_html", bool, "True or False")
    fig = show_point_cloud(image, inverse_depth_or_depth, **options)
    return fig.to_html(include_plotlyjs=include_plotlyjs, full_html=full_html)


# ------------------------------------------------------------------------------------------ invalid pixels
def fill_invalid(inverse_depth: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
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

    values = as_map(inverse_depth)
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
