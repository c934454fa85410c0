"""Reading images and writing depth maps, images and point clouds to files.

:func:`read_image` turns almost anything that holds a picture (a path, bytes, an open file, a PIL image or a
numpy array) into one predictable format: an (H, W, 3) uint8 RGB array. Anything it cannot use raises an
:class:`~depthkit.errors.ImageError` with one sentence saying what is wrong and what to do.

The writers each check their input, create missing parent folders and return the written :class:`~pathlib.Path`:

========================  ==========================================================================
:func:`write_png`         (H, W, 3) uint8 RGB image -> 8-bit PNG
:func:`write_png16`       (H, W) float map (e.g. inverse depth) -> 16-bit grayscale PNG, full range
:func:`write_npy`         any numeric array -> float32 ``.npy`` (exact, for numpy)
:func:`write_pfm`         (H, W) or (H, W, 3) float map -> Portable Float Map (exact, keeps inf/NaN)
:func:`write_ply`         (N, 3) points in metres (+ (N, 3) uint8 colours) -> PLY point cloud
========================  ==========================================================================

:func:`read_pfm` reads PFM files back (for example Middlebury ground-truth disparities).

PIL is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import io as _stdio
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .errors import ImageError, InputError

__all__ = [
    "read_image",
    "read_pfm",
    "write_npy",
    "write_pfm",
    "write_ply",
    "write_png",
    "write_png16",
]

#: Default largest image (width * height, in pixels) that :func:`read_image` accepts: 40 megapixels.
DEFAULT_MAX_PIXELS = 40_000_000

# EXIF orientation tag (0x0112) -> numpy operation that puts the pixels upright (same as PIL.ImageOps).
_ORIENTATION_OPS = {
    2: lambda a: a[:, ::-1],                      # mirrored left-right
    3: lambda a: a[::-1, ::-1],                   # rotated 180 degrees
    4: lambda a: a[::-1, :],                      # mirrored top-bottom
    5: lambda a: np.swapaxes(a, 0, 1),            # transposed
    6: lambda a: np.rot90(a, k=-1),               # needs 90 degrees clockwise
    7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],  # transversed
    8: lambda a: np.rot90(a, k=1),                # needs 90 degrees counter-clockwise
}


# --------------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------------
def read_image(source, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load an image from a path, bytes, a file object, a PIL image or an array as (H, W, 3) uint8 RGB.

    Conversions, so that every caller gets the same format:

    * EXIF orientation is applied (a phone photo taken in portrait comes out upright).
    * Grayscale (``L``, ``1``, ``I;16``) is repeated into three equal channels; palette (``P``), CMYK,
      YCbCr and other colour modes are converted to RGB.
    * Transparency (RGBA, LA, a palette with a transparent colour, or an (H, W, 4) array) is composited
      on a **white** background: a fully transparent pixel becomes (255, 255, 255).
    * 16-bit data is rescaled, not clipped: a value ``v`` in 0..65535 becomes ``round(v / 257)`` in
      0..255 (so 65535 -> 255). 16-bit colour PNGs are decoded at full precision with OpenCV first.
    * Animated GIFs and other multi-frame files give their **first** frame (a PIL image you pass in gives
      its current frame).
    * Arrays: ``uint8`` as is, ``uint16`` rescaled as above, ``bool`` -> 0 or 255, floats must lie in
      [0, 1] and are mapped to ``round(255 * x)``.

    The declared width and height are checked before any pixel is decoded, so a tiny file that claims to
    be gigantic (a "decompression bomb") is refused without allocating memory. PIL's own hard limit
    (``PIL.Image.MAX_IMAGE_PIXELS``) still applies on top of ``max_pixels``.

    Args:
        source: a path (``str`` or :class:`pathlib.Path`), the encoded file content (``bytes``), a binary
            file object (``open(p, "rb")``, ``io.BytesIO``), a ``PIL.Image.Image``, or a numpy array of
            shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).
        max_pixels: largest accepted ``width * height`` in pixels (default 40 000 000).

    Returns:
        (H, W, 3) uint8 RGB array, a new C-contiguous array (safe to modify).

    Raises:
        ImageError: the source is missing, empty, not an image, truncated/corrupt, too large, or an
            array of unusable shape, dtype or values.

    Example:
        >>> import numpy as np
        >>> rgb = read_image(np.array([[0.0, 0.5], [1.0, 0.25]]))
        >>> rgb.shape, rgb.dtype
        ((2, 2, 3), dtype('uint8'))
        >>> rgb[..., 0].tolist()
        [[0, 128], [255, 64]]
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1:
        raise ImageError(f"max_pixels must be a positive integer number of pixels, got {max_pixels!r}.")
    max_pixels = int(max_pixels)

    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, max_pixels, label="the image array")

    from PIL import Image

    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, max_pixels, label="the PIL image", data=None, first_frame=False)

    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        data = _read_path_bytes(path)
        label = f"'{path}'"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = "the image data"
        if not data:
            raise ImageError("The image data is empty (0 bytes); pass the complete content of an image file.")
    elif hasattr(source, "read"):
        data = _read_file_object(source)
        label = f"the file object {getattr(source, 'name', '')!s}".rstrip()
    else:
        raise ImageError(
            f"Cannot read an image from a {type(source).__name__}; pass a file path, bytes, a binary file "
            "object, a PIL image or a numpy array."
        )
    return _decode_bytes(data, max_pixels, label)


def _read_path_bytes(path: Path) -> bytes:
    """Read the whole file at ``path``, turning every file-system problem into an ImageError."""
    if not path.exists():
        raise ImageError(
            f"Image file not found: '{path}' (working folder: '{Path.cwd()}'); check the file name and folder."
        )
    if path.is_dir():
        raise ImageError(f"'{path}' is a folder, not an image file; pass the path of one image file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"Could not open image file '{path}': {exc.strerror or exc}; check its permissions.") from None
    if not data:
        raise ImageError(f"Image file '{path}' is empty (0 bytes); re-download or re-export it.")
    return data


def _read_file_object(fileobj) -> bytes:
    """Read all bytes from a file-like object."""
    try:
        data = fileobj.read()
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes one clear sentence
        raise ImageError(f"Could not read from the file object ({exc}); pass an open binary file.") from None
    if isinstance(data, str):
        raise ImageError("The file object returned text, not bytes; open the image in binary mode: open(path, 'rb').")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"The file object's read() returned {type(data).__name__}, not bytes; pass a binary file.")
    if not data:
        raise ImageError("The file object is empty (0 bytes left to read); pass a file positioned at its start.")
    return bytes(data)


def _describe_non_image(data: bytes) -> str:
    """A short guess at what a file that is not an image contains (for the error message)."""
    head = data[:512].lstrip()
    if head[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "it looks like an HTML web page (a failed download?)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "its content is not in any image format PIL knows"
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "it looks like a text file"
    return "its content is not in any image format PIL knows"


def _size_error(label: str, width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(
        f"{label[0].upper() + label[1:]} is {width} x {height} px ({width * height:,} pixels), more than "
        f"max_pixels={max_pixels:,}; downscale it first (e.g. PIL's Image.thumbnail((4000, 4000)) or any image "
        "editor) or pass a larger max_pixels."
    )


def _decode_bytes(data: bytes, max_pixels: int, label: str) -> np.ndarray:
    """Open encoded image bytes with PIL (header only), check the size, then decode the first frame."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # Our own max_pixels check below (on the declared size, before decoding) replaces PIL's warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(_stdio.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(
                f"{label[0].upper() + label[1:]} is not a readable image: {_describe_non_image(data)}; "
                "check that you picked the right file (JPEG, PNG, BMP, GIF, TIFF or WebP)."
            ) from None
        except Image.DecompressionBombError as exc:
            match = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(match.group(1)):,} pixels" if match else "too many pixels"
            raise ImageError(
                f"{label[0].upper() + label[1:]} declares {size}, above PIL's decompression-bomb limit; "
                "downscale it with an image editor before loading it."
            ) from None
        except Exception as exc:  # noqa: BLE001 - a corrupt header can raise almost anything inside PIL
            raise ImageError(
                f"{label[0].upper() + label[1:]} could not be decoded ({type(exc).__name__}: {exc}); it is "
                "corrupt or truncated, so re-download or re-export it."
            ) from None
        with image:
            return _pil_to_rgb(image, max_pixels, label=label, data=data, first_frame=True)


def _pil_to_rgb(image, max_pixels: int, label: str, data: bytes | None, first_frame: bool) -> np.ndarray:
    """Check the size of a (possibly lazy) PIL image, decode it and convert it to (H, W, 3) uint8 RGB."""
    from PIL import Image, ImageOps

    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{label[0].upper() + label[1:]} has zero size ({width} x {height} px); pass a real image.")
    if width * height > max_pixels:
        raise _size_error(label, width, height, max_pixels)

    Label = label[0].upper() + label[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            if first_frame and getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            wide = _decode_16bit_colour_png(image, data)
            if wide is not None:
                orientation = image.getexif().get(0x0112, 1)
                wide = _ORIENTATION_OPS.get(orientation, lambda a: a)(wide)
                return _array_to_rgb(np.ascontiguousarray(wide), max_pixels, label=label)
            image.load()
            image = ImageOps.exif_transpose(image)
            return _pil_mode_to_rgb(image, label)
        except ImageError:
            raise
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt pixel data
            raise ImageError(
                f"{Label} could not be decoded ({type(exc).__name__}: {exc}); the file is truncated or corrupt, "
                "so re-download or re-export it."
            ) from None


def _decode_16bit_colour_png(image, data: bytes | None) -> np.ndarray | None:
    """Full-precision (H, W, 3|4) uint16 RGB(A) for a 16-bit colour/gray+alpha PNG, else None.

    PIL keeps only the high byte of 16-bit colour PNGs; OpenCV decodes them exactly.
    """
    if data is None or image.format != "PNG" or not image.tile:
        return None
    args = image.tile[0][3]
    rawmode = args if isinstance(args, str) else (args[0] if args else "")
    if rawmode not in ("RGB;16B", "RGBA;16B", "LA;16B"):
        return None
    import cv2

    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 3:
        return None
    order = [2, 1, 0, 3] if decoded.shape[2] == 4 else [2, 1, 0]  # OpenCV gives BGR(A)
    return decoded[..., order]


def _pil_mode_to_rgb(image, label: str) -> np.ndarray:
    """Convert a decoded PIL image of any mode to (H, W, 3) uint8 RGB (alpha composited on white)."""
    mode = image.mode
    if mode == "RGB":
        return np.array(image, dtype=np.uint8)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _array_to_rgb(np.asarray(image).astype(np.uint16), None, label=label)
    if mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(
                f"{label[0].upper() + label[1:]} holds 32-bit integers outside 0..65535; convert it to an 8- or "
                "16-bit image first."
            )
        return _array_to_rgb(values.astype(np.uint16), None, label=label)
    if mode == "F":
        return _array_to_rgb(np.asarray(image, dtype=np.float32), None, label=label)
    if mode == "1":
        return _array_to_rgb(np.asarray(image.convert("L")), None, label=label)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode == "P":
        image = image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _array_to_rgb(np.asarray(image.convert("RGBA")), None, label=label)
    if image.mode == "L":
        return _array_to_rgb(np.asarray(image), None, label=label)
    return np.array(image.convert("RGB"), dtype=np.uint8)  # CMYK, YCbCr, LAB, HSV, RGBX, ...


def _array_to_rgb(array: np.ndarray, max_pixels: int | None, label: str) -> np.ndarray:
    """Validate an image array and convert it to a new (H, W, 3) uint8 RGB array (alpha on white)."""
    Label = label[0].upper() + label[1:]
    shape = tuple(array.shape)
    if array.ndim == 3 and shape[-1] > 4 and shape[0] in (1, 3, 4):
        raise ImageError(
            f"{Label} has shape {shape}, which looks channels-first; use np.moveaxis(image, 0, -1) to get (H, W, C)."
        )
    if array.ndim not in (2, 3) or (array.ndim == 3 and shape[-1] not in (1, 3, 4)):
        raise ImageError(
            f"{Label} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {shape}; pass one image."
        )
    if array.size == 0:
        raise ImageError(f"{Label} is empty (shape {shape}); pass an image with at least one pixel.")
    height, width = shape[:2]
    if max_pixels is not None and height * width > max_pixels:
        raise _size_error(label, width, height, max_pixels)

    kind = array.dtype.kind
    if array.dtype == np.uint8:
        unit = None
        as_u8 = array
    elif array.dtype == np.uint16:
        unit = None
        as_u8 = ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif array.dtype == np.bool_:
        unit = None
        as_u8 = array.astype(np.uint8) * np.uint8(255)
    elif kind == "f":
        values = array.astype(np.float64)
        if np.isnan(values).any():
            raise ImageError(f"{Label} contains NaN values; replace them (e.g. np.nan_to_num) before loading.")
        low, high = float(values.min()), float(values.max())
        if low < -1e-6 or high > 1 + 1e-6:
            raise ImageError(
                f"{Label} is a float array with values in [{low:g}, {high:g}], but float images must lie in "
                "[0, 1]; divide 0-255 data by 255 or convert it to uint8."
            )
        unit = np.clip(values, 0.0, 1.0)
        as_u8 = None
    else:
        raise ImageError(
            f"{Label} has dtype {array.dtype}, which is not an image type; use uint8 (0-255), uint16, bool "
            "or float in [0, 1] (e.g. image.astype(np.uint8))."
        )

    has_alpha = array.ndim == 3 and shape[-1] == 4
    if has_alpha:
        if unit is None:  # exact integer data -> [0, 1] floats for compositing
            unit = array / 65535.0 if array.dtype == np.uint16 else as_u8 / 255.0
        colour, alpha = unit[..., :3], unit[..., 3:4]
        composed = colour * alpha + (1.0 - alpha)  # white background
        return np.ascontiguousarray(np.rint(composed * 255.0).astype(np.uint8))
    if as_u8 is None:
        as_u8 = np.rint(unit * 255.0).astype(np.uint8)
    if as_u8.ndim == 3 and as_u8.shape[-1] == 1:
        as_u8 = as_u8[..., 0]
    if as_u8.ndim == 2:
        return np.repeat(as_u8[..., None], 3, axis=2)
    return np.array(as_u8, dtype=np.uint8, order="C", copy=True)


# --------------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------------
def _output_path(path, suffixes: tuple[str, ...], writer: str) -> Path:
    """Check the output path's type and extension and create its parent folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{writer}: path must be a str or pathlib.Path, got {type(path).__name__}.")
    out = Path(path).expanduser()
    if out.suffix.lower() not in suffixes:
        raise InputError(
            f"{writer} writes {suffixes[0]} files, but the path '{out}' ends in '{out.suffix}'; use a path ending "
            f"in {suffixes[0]}."
        )
    if out.is_dir():
        example = out / ("out" + suffixes[0])
        raise InputError(f"{writer}: '{out}' is an existing folder; pass a file path such as '{example}'.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{writer}: cannot create the folder '{out.parent}' ({exc.strerror or exc}); choose a writable location."
        ) from None
    return out


@contextlib.contextmanager
def _write_guard(writer: str, out: Path):
    """Turn an OS error while writing ``out`` (permission denied, disk full) into an InputError."""
    try:
        yield
    except OSError as exc:
        raise InputError(
            f"{writer}: could not write '{out}' ({exc.strerror or exc}); choose a writable location."
        ) from None


def _as_real_array(array, name: str, writer: str) -> np.ndarray:
    """Return ``array`` as a numpy array of a real numeric dtype, or raise an InputError."""
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except Exception:  # noqa: BLE001
            raise InputError(f"{writer}: {name} must be a numpy array, got {type(array).__name__}.") from None
    if array.dtype.kind not in "biuf":
        raise InputError(f"{writer}: {name} must hold real numbers, got dtype {array.dtype}.")
    if array.size == 0:
        raise InputError(f"{writer}: {name} is empty (shape {tuple(array.shape)}); there is nothing to write.")
    return array


def write_png(path, rgb: np.ndarray) -> Path:
    """Write an RGB image as an 8-bit PNG.

    Args:
        path: output file ending in ``.png``; missing parent folders are created.
        rgb: (H, W, 3) uint8 RGB image (for example from :func:`read_image`).

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        InputError: ``rgb`` is not (H, W, 3) uint8, or the path is unusable.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> p = write_png(pathlib.Path(tempfile.mkdtemp()) / "a" / "red.png", np.full((2, 3, 3), (255, 0, 0), np.uint8))
        >>> read_image(p)[0, 0].tolist()
        [255, 0, 0]
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        got = f"shape {tuple(rgb.shape)} dtype {rgb.dtype}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise InputError(
            f"write_png: rgb must be an (H, W, 3) uint8 array, got {got}; use read_image() to convert images."
        )
    if rgb.size == 0:
        raise InputError(f"write_png: rgb is empty (shape {tuple(rgb.shape)}); there is nothing to write.")
    out = _output_path(path, (".png",), "write_png")
    from PIL import Image

    with _write_guard("write_png", out):
        Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="PNG")
    return out


def write_png16(path, inverse_depth: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> Path:
    """Write a float map (e.g. inverse depth) as a 16-bit grayscale PNG using the full 0..65535 range.

    Mapping: ``v16 = round((x - vmin) / (vmax - vmin) * 65535)``, clipped to 0..65535, so ``vmin`` -> 0 and
    ``vmax`` -> 65535 (for inverse depth: far = dark, near = bright). ``vmin``/``vmax`` default to the
    minimum/maximum of the finite values. Non-finite values (NaN, +-inf) are written as 0. A constant map
    (``vmin == vmax``) is written as all 0. The two limits are stored in the PNG text chunks
    ``depthkit:vmin`` and ``depthkit:vmax`` so the mapping can be undone:
    ``x = vmin + v16 / 65535 * (vmax - vmin)`` (to within ``(vmax - vmin) / 131070``).

    Args:
        path: output file ending in ``.png``; missing parent folders are created.
        inverse_depth: (H, W) real-valued map, e.g. float32 relative inverse depth (larger = nearer).
        vmin: value mapped to 0 (default: finite minimum).
        vmax: value mapped to 65535 (default: finite maximum).

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        InputError: the map is not 2-D and real-valued, or vmin/vmax are not finite with vmin <= vmax.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> from PIL import Image
        >>> p = write_png16(pathlib.Path(tempfile.mkdtemp()) / "d.png", np.array([[0.0, 0.5, 1.0, np.nan]]))
        >>> np.asarray(Image.open(p)).tolist()
        [[0, 32768, 65535, 0]]
    """
    values = _as_real_array(inverse_depth, "inverse_depth", "write_png16")
    if values.ndim != 2:
        raise InputError(
            f"write_png16: inverse_depth must be a 2-D array (H, W), got shape {tuple(values.shape)}; "
            "pass a single map."
        )
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    for name, limit in (("vmin", vmin), ("vmax", vmax)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float, np.number))
                                  or not np.isfinite(limit)):
            raise InputError(f"write_png16: {name} must be a finite number or None, got {limit!r}.")
    lo = float(vmin) if vmin is not None else (float(values[finite].min()) if finite.any() else 0.0)
    hi = float(vmax) if vmax is not None else (float(values[finite].max()) if finite.any() else 0.0)
    if lo > hi:
        raise InputError(f"write_png16: vmin ({lo:g}) must not be larger than vmax ({hi:g}).")
    scaled = np.zeros(values.shape, dtype=np.float64)
    if hi > lo:
        scaled[finite] = (values[finite] - lo) / (hi - lo) * 65535.0
    encoded = np.clip(np.rint(scaled), 0, 65535).astype(np.uint16)

    out = _output_path(path, (".png",), "write_png16")
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("depthkit:vmin", repr(lo))
    info.add_text("depthkit:vmax", repr(hi))
    with _write_guard("write_png16", out):
        Image.fromarray(encoded).save(out, format="PNG", pnginfo=info)
    return out


def write_npy(path, array: np.ndarray) -> Path:
    """Save an array as float32 ``.npy`` (exact; load with ``np.load``).

    Args:
        path: output file ending in ``.npy``; missing parent folders are created.
        array: any non-empty real-valued array (e.g. (H, W) inverse depth); stored as float32.

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        InputError: the array is empty or not real-valued, or the path is unusable.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> p = write_npy(pathlib.Path(tempfile.mkdtemp()) / "d.npy", np.array([[1, 2]]))
        >>> np.load(p).dtype
        dtype('float32')
    """
    values = _as_real_array(array, "array", "write_npy")
    out = _output_path(path, (".npy",), "write_npy")
    with _write_guard("write_npy", out), open(out, "wb") as handle:
        np.save(handle, values.astype(np.float32), allow_pickle=False)
    return out


def write_pfm(path, array: np.ndarray) -> Path:
    """Write a float map as a Portable Float Map (PFM), exactly, including inf and NaN.

    Format: a text header ``Pf`` (1 channel) or ``PF`` (3 channels), then ``width height``, then the
    scale ``-1.0`` (negative = little-endian), each on its own line, followed by float32 pixels stored
    **bottom row first**, as the PFM format requires. Middlebury stereo ground truth uses this format
    (with ``inf`` for unknown disparity).

    Args:
        path: output file ending in ``.pfm``; missing parent folders are created.
        array: (H, W) or (H, W, 3) real-valued map (stored as float32).

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        InputError: wrong shape or dtype, or the path is unusable.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> p = write_pfm(pathlib.Path(tempfile.mkdtemp()) / "d.pfm", np.array([[1.5, np.inf]], np.float32))
        >>> read_pfm(p).tolist()
        [[1.5, inf]]
    """
    values = _as_real_array(array, "array", "write_pfm")
    if not (values.ndim == 2 or (values.ndim == 3 and values.shape[-1] == 3)):
        raise InputError(
            f"write_pfm: array must have shape (H, W) or (H, W, 3), got {tuple(values.shape)}; pass one map."
        )
    out = _output_path(path, (".pfm",), "write_pfm")
    height, width = values.shape[:2]
    header = f"{'PF' if values.ndim == 3 else 'Pf'}\n{width} {height}\n-1.0\n".encode("ascii")
    body = np.ascontiguousarray(values[::-1].astype("<f4")).tobytes()
    with _write_guard("write_pfm", out):
        out.write_bytes(header + body)
    return out


def read_pfm(path) -> np.ndarray:
    """Read a Portable Float Map (PFM) file, e.g. a Middlebury ground-truth disparity ``disp0.pfm``.

    Both byte orders are read (the sign of the scale line gives it). Rows are flipped so that row 0 is the
    **top** of the image. The magnitude of the scale is not applied (as in common readers); inf/NaN are kept.

    Args:
        path: a ``.pfm`` file.

    Returns:
        (H, W) float32 array for ``Pf`` files, (H, W, 3) float32 for ``PF`` files.

    Raises:
        ImageError: the file is missing, empty, not a PFM file, or truncated.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise ImageError(f"PFM file not found: '{source}'; check the file name and folder.")
    data = source.read_bytes()
    if not data:
        raise ImageError(f"PFM file '{source}' is empty (0 bytes); re-download or re-export it.")

    tokens, pos = [], 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace() and pos - start < 32:
            pos += 1
        if pos == start or pos >= len(data):
            break
        tokens.append(data[start:pos])
    if len(tokens) < 4 or tokens[0] not in (b"Pf", b"PF"):
        raise ImageError(f"'{source}' is not a PFM file (it must start with 'Pf' or 'PF'); pass a .pfm float map.")
    try:
        width, height, scale = int(tokens[1]), int(tokens[2]), float(tokens[3])
    except ValueError:
        raise ImageError(f"'{source}' has a corrupt PFM header (width, height, scale); re-export the file.") from None
    if width < 1 or height < 1 or scale == 0 or not np.isfinite(scale):
        raise ImageError(
            f"'{source}' has an invalid PFM header ({width} x {height}, scale {scale}); re-export the file."
        )
    pos += 1  # exactly one whitespace character ends the header
    channels = 3 if tokens[0] == b"PF" else 1
    count = width * height * channels
    if len(data) - pos < 4 * count:
        raise ImageError(
            f"'{source}' is truncated: {width} x {height} x {channels} floats need {4 * count} bytes, found "
            f"{len(data) - pos}; re-download the file."
        )
    dtype = "<f4" if scale < 0 else ">f4"
    values = np.frombuffer(data, dtype=dtype, count=count, offset=pos).astype(np.float32)
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.ascontiguousarray(values.reshape(shape)[::-1])


def write_ply(path, points: np.ndarray, colors: np.ndarray | None = None, binary: bool = True) -> Path:
    """Write a coloured point cloud as a PLY file (opens in MeshLab, CloudCompare, Blender, Open3D).

    Each vertex has ``float x, y, z`` (float32, metres) and, when ``colors`` is given,
    ``uchar red, green, blue``. ``binary=True`` writes ``binary_little_endian`` (compact, fast);
    ``binary=False`` writes human-readable ASCII.

    Args:
        path: output file ending in ``.ply``; missing parent folders are created.
        points: (N, 3) float array of finite x, y, z coordinates in metres (drop invalid points first,
            e.g. ``points[np.isfinite(points).all(axis=1)]``).
        colors: optional (N, 3) uint8 RGB colours, one per point.
        binary: binary little-endian (default) or ASCII.

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        InputError: wrong shapes or dtypes, non-finite points, or mismatched lengths.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> p = write_ply(pathlib.Path(tempfile.mkdtemp()) / "c.ply", np.zeros((2, 3)), binary=False)
        >>> p.read_text().splitlines()[:3]
        ['ply', 'format ascii 1.0', 'comment written by depthkit; coordinates in metres']
    """
    pts = _as_real_array(points, "points", "write_ply")
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise InputError(
            f"write_ply: points must have shape (N, 3), got {tuple(pts.shape)}; pass one x, y, z row per point."
        )
    pts = pts.astype(np.float32)
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts).all(axis=1)).sum())
        raise InputError(
            f"write_ply: {bad} of {len(pts)} points are not finite (NaN or inf); drop them first, e.g. "
            "keep = np.isfinite(points).all(axis=1); points, colors = points[keep], colors[keep]."
        )
    if colors is not None and not (
        isinstance(colors, np.ndarray) and colors.dtype == np.uint8 and colors.shape == pts.shape
    ):
        got = (f"shape {tuple(colors.shape)} dtype {colors.dtype}" if isinstance(colors, np.ndarray)
               else type(colors).__name__)
        raise InputError(f"write_ply: colors must be an ({len(pts)}, 3) uint8 array matching points, got {got}.")
    if not isinstance(binary, bool):
        raise InputError(f"write_ply: binary must be True or False, got {binary!r}.")
    out = _output_path(path, (".ply",), "write_ply")

    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment written by depthkit; coordinates in metres",
        f"element vertex {len(pts)}",
        "property float x",
        "property float y",
        "property float z",
    ]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header.append("end_header")
    head = ("\n".join(header) + "\n").encode("ascii")

    with _write_guard("write_ply", out), open(out, "wb") as handle:
        handle.write(head)
        if binary:
            vertices = np.empty(len(pts), dtype=fields)
            vertices["x"], vertices["y"], vertices["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
            if colors is not None:
                vertices["red"], vertices["green"], vertices["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
            handle.write(vertices.tobytes())
        else:
            # %.9g keeps every float32 exactly; colours as plain integers.
            table = pts.astype(np.float64)
            fmt = ["%.9g"] * 3
            if colors is not None:
                table = np.column_stack([table, colors.astype(np.float64)])
                fmt += ["%d"] * 3
            np.savetxt(handle, table, fmt=fmt, delimiter=" ", newline="\n")
    return out
