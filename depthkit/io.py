"""Reading images, and encoding and writing depth maps, images, animations and point clouds.

:func:`read_image` turns almost anything that holds a picture (a path, bytes, an open file, a PIL image or a
numpy array) into one predictable format: an (H, W, 3) uint8 RGB array. Anything it cannot use raises an
:class:`~depthkit.errors.ImageError` with one sentence saying what is wrong and what to do. Formats read:
JPEG, PNG, BMP, GIF, TIFF, WebP, HEIC/HEIF (through ``pillow-heif``) and AVIF (where this Pillow supports it),
plus every other format PIL knows.

Reading is safe for files a student uploads: only regular files are opened (a FIFO, a device such as
``/dev/zero``, a socket or a folder is refused before anything is read), at most :data:`DEFAULT_MAX_FILE_BYTES`
(200 MB; ``max_bytes=`` or the environment variable ``DEPTHKIT_MAX_FILE_BYTES``) are read, and an image that
declares more than :data:`MAX_DECODE_PIXELS` pixels (250 MP) is refused before any pixel is decoded. Big phone
photos (48-200 MP) load with ``max_size=`` (longest side) or ``fit_pixels=True``: JPEGs are then decoded at 1/2,
1/4 or 1/8 scale. :func:`image_size` gives the upright size from the header alone.

Conversions, so that every caller of :func:`read_image` gets the same format:

* EXIF orientation is applied (a phone photo taken in portrait comes out upright), for JPEG and HEIC alike.
* Grayscale (``L``, ``1``, ``I;16``) is repeated into three equal channels; palette (``P``), CMYK, YCbCr and
  other colour modes are converted to RGB.
* Transparency (RGBA, LA, a palette with a transparent colour, or an (H, W, 4) array) is composited on a
  **white** background: a fully transparent pixel becomes (255, 255, 255).
* 16-bit data is rescaled, not clipped: a value ``v`` in 0..65535 becomes ``round(v / 257)`` in 0..255
  (so 65535 -> 255). 16-bit colour PNGs are decoded at full precision with OpenCV first.
* Animated GIFs and other multi-frame files give their **first** frame (a PIL image you pass in gives its
  current frame).
* Arrays: ``uint8`` as is, ``uint16`` rescaled as above, ``bool`` -> 0 or 255, floats must lie in [0, 1]
  and are mapped to ``round(255 * x)``.

Every file format is produced by one in-memory encoder; the ``write_*`` functions are thin wrappers that
share one path policy (:func:`write_file`: the suffix is checked and missing parent folders are created):

=====================  =====================  ===========================================================
encoder (-> bytes)     writer (-> Path)       what
=====================  =====================  ===========================================================
:func:`encode_png`     :func:`write_png`      (H, W, 3) uint8 RGB image (or indices + palette) -> 8-bit PNG
:func:`encode_png16`   :func:`write_png16`    (H, W) float map (e.g. inverse depth) -> 16-bit grey PNG
:func:`encode_npy`     :func:`write_npy`      any numeric array -> float32 ``.npy`` (exact, for numpy)
:func:`encode_pfm`     :func:`write_pfm`      (H, W) or (H, W, 3) float map -> Portable Float Map (exact)
:func:`encode_ply`     :func:`write_ply`      (N, 3) points in metres (+ (N, 3) uint8 colours) -> PLY
:func:`encode_gif`     (effects.save_gif)     frames (H, W, 3) uint8 -> looping animated GIF
=====================  =====================  ===========================================================

:func:`read_pfm` reads PFM files back (for example Middlebury ground-truth disparities).

PIL and OpenCV are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import io as _stdio
import math
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .checks import as_image, check_positive
from .errors import ImageError, InputError

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MAX_DECODE_PIXELS",
    "MAX_FILE_BYTES_ENV",
    "OVERSIZE_SIDE",
    "check_fps",
    "check_frames",
    "encode_gif",
    "encode_npy",
    "encode_pfm",
    "encode_ply",
    "encode_png",
    "encode_png16",
    "image_size",
    "max_file_bytes",
    "open_regular_file",
    "output_path",
    "read_image",
    "read_pfm",
    "read_photo",
    "write_file",
    "write_npy",
    "write_pfm",
    "write_ply",
    "write_png",
    "write_png16",
]

#: Default largest image (width * height, in pixels) that :func:`read_image` returns: 40 megapixels.
DEFAULT_MAX_PIXELS = 40_000_000
#: Most pixels an image may declare for :func:`read_image` to decode it: 250 megapixels (phone cameras reach
#: 200 MP; at full size that is about 1 GB inside PIL, while a JPEG that large decodes at 1/8 scale in about a
#: second). An image that declares more is refused as a decompression bomb before anything is decoded.
MAX_DECODE_PIXELS = 250_000_000
#: Longest side (px) at which :func:`read_photo` reads a photo of more than :data:`DEFAULT_MAX_PIXELS` pixels
#: (the 48-200 MP modes of phone cameras): the network sees 256 px, so 4096 px keeps every visible detail.
OVERSIZE_SIDE = 4096
#: Default cap on the bytes read from one path or file object: 200 MB (a 200 MP phone JPEG is about 60 MB).
DEFAULT_MAX_FILE_BYTES = 200_000_000
#: Environment variable that overrides :data:`DEFAULT_MAX_FILE_BYTES` (a whole number of bytes).
MAX_FILE_BYTES_ENV = "DEPTHKIT_MAX_FILE_BYTES"

_CHUNK = 1 << 20  # file objects are read 1 MiB at a time
_FORMATS = "JPEG, PNG, BMP, GIF, TIFF, WebP, HEIC or AVIF"
_PIL_LIMIT_LOCK = threading.Lock()

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


def _cap(label: str) -> str:
    """``label`` with its first letter in upper case (labels start sentences)."""
    return label[0].upper() + label[1:]


# --------------------------------------------------------------------------------------------------------
# reading: the entry point and its limits
# --------------------------------------------------------------------------------------------------------
def read_image(
    source: Any, max_pixels: int = DEFAULT_MAX_PIXELS, *, max_size: int | None = None, fit_pixels: bool = False,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Load an image from a path, bytes, a file object, a PIL image or an array as (H, W, 3) uint8 RGB.

    Every source gives the same format (see "Conversions" in the module docstring): EXIF orientation applied
    (JPEG and HEIC alike), grey repeated into three channels, transparency composited on **white**, 16-bit data
    rescaled by 1/257, the first frame of an animation. With ``max_size``, an image whose longest side is larger
    is shrunk (area averaging, aspect ratio kept) to that longest side; a JPEG is then decoded directly at 1/2,
    1/4 or 1/8 scale (the largest reduction that keeps the longest side >= ``max_size``), so that a 200 MP phone
    photo needs little memory. Without ``max_size`` (the default) the image keeps its full size, as before.
    With ``fit_pixels=True`` an image over ``max_pixels`` is shrunk the same way until it fits, instead of refused.

    Limits, checked before any pixel is decoded: the result may have at most ``max_pixels`` pixels (without
    ``max_size`` that is the declared size, so a tiny file claiming to be gigantic is refused without allocating
    memory); no image that declares more than :data:`MAX_DECODE_PIXELS` pixels is decoded; only regular files
    are opened (never a FIFO, a device, a socket or a folder), and at most ``max_bytes`` bytes are read.

    Args:
        source: a path (``str`` or :class:`pathlib.Path`), the encoded file content (``bytes``), a binary
            file object (``open(p, "rb")``, ``io.BytesIO``), a ``PIL.Image.Image``, or a numpy array of
            shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).
        max_pixels: largest accepted ``width * height`` of the result in pixels (default 40 000 000).
        max_size: longest side of the result in pixels, or None (default: the full size).
        fit_pixels: shrink an image over ``max_pixels`` to fit (True) instead of refusing it (False, default).
        max_bytes: most bytes read from a path or file object; None uses ``$DEPTHKIT_MAX_FILE_BYTES`` or
            :data:`DEFAULT_MAX_FILE_BYTES` (200 MB).

    Returns:
        (H, W, 3) uint8 RGB array, a new C-contiguous array (safe to modify).

    Raises:
        ImageError: the source is missing, not a regular file, empty, too big, not an image, truncated or
            corrupt, too large in pixels, or an array of unusable shape, dtype or values.

    Example:
        >>> rgb = read_image(np.array([[0.0, 0.5], [1.0, 0.25]]))
        >>> rgb.shape, rgb.dtype, rgb[..., 0].tolist()
        ((2, 2, 3), dtype('uint8'), [[0, 128], [255, 64]])
        >>> read_image(np.zeros((300, 400, 3), np.uint8), max_size=100).shape
        (75, 100, 3)
    """
    limits = _limits(max_pixels, max_size, fit_pixels)
    if isinstance(source, np.ndarray):
        return _array_source(source, limits)
    return _read_encoded(source, limits, max_bytes)


def read_photo(source: Any, *, max_size: int | None = None, max_bytes: int | None = None) -> np.ndarray:
    """Load a photo as (H, W, 3) uint8 RGB the way the kit's commands do: big phone photos are scaled down.

    A photo of at most :data:`DEFAULT_MAX_PIXELS` (40 MP) keeps its full size; a larger one (a 48-200 MP phone
    photo) is read with its longest side shrunk to :data:`OVERSIZE_SIDE` px (a JPEG is decoded directly at reduced
    scale, so memory stays small). ``max_size`` overrides both. Everything else is as :func:`read_image`.

    Args:
        source: anything :func:`read_image` accepts.
        max_size: longest side of the result in pixels, or None for the rule above.
        max_bytes: most bytes read from a path or file object (see :func:`max_file_bytes`).

    Returns:
        (H, W, 3) uint8 RGB array.

    Raises:
        ImageError: as :func:`read_image`.

    Example:
        >>> photo = np.zeros((30, 40, 3), np.uint8)
        >>> read_photo(photo).shape, read_photo(photo, max_size=20).shape
        ((30, 40, 3), (15, 20, 3))
    """
    encoded = _encoded_source(source, max_bytes)  # a path or file object is read once, for the size and the pixels
    if encoded is None:  # a PIL image or an array (anything else: image_size says what is wrong)
        if max_size is None and math.prod(image_size(source)) > DEFAULT_MAX_PIXELS:
            max_size = OVERSIZE_SIDE
        return read_image(source, max_size=max_size)
    data, label = encoded
    if max_size is None and math.prod(_header_size(data, label)) > DEFAULT_MAX_PIXELS:
        max_size = OVERSIZE_SIDE
    return _decode_bytes(data, _limits(DEFAULT_MAX_PIXELS, max_size, False), label)


def image_size(source: Any, *, max_bytes: int | None = None) -> tuple[int, int]:
    """(height, width) in pixels of an image as :func:`read_image` would return it at full size, from its header.

    Only the header is decoded (no pixels); the EXIF orientation is applied, so a portrait phone photo gives
    its upright size. The same sources and the same file safety rules as :func:`read_image` apply.

    Args:
        source: a path, bytes, a binary file object, a PIL image or a numpy array (as for :func:`read_image`).
        max_bytes: most bytes read from a path or file object (see :func:`max_file_bytes`).

    Returns:
        ``(height, width)`` of the upright image, in pixels.

    Raises:
        ImageError: the source cannot be read or is not an image (same sentences as :func:`read_image`).

    Example:
        >>> image_size(np.zeros((3, 5)))
        (3, 5)
    """
    from PIL import Image

    if isinstance(source, np.ndarray):
        _check_array_shape(source, "the image array")
        return int(source.shape[0]), int(source.shape[1])
    if isinstance(source, Image.Image):
        return _upright_size(source)
    encoded = _encoded_source(source, max_bytes)
    if encoded is None:
        return _read_encoded(source, _Limits(DEFAULT_MAX_PIXELS, None), max_bytes).shape[:2]  # raises the sentence
    return _header_size(*encoded)


def _header_size(data: bytes, label: str) -> tuple[int, int]:
    """(height, width) of the upright image in encoded ``data``, from its header (see :func:`image_size`)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with _open_pil(data, label) as image:
            width, height = image.size
            if width * height > MAX_DECODE_PIXELS:  # refuse before getexif(), which decodes a whole PNG
                raise _bomb_error(label, width, height)
            return _upright_size(image)


def _upright_size(image: Any) -> tuple[int, int]:
    """(height, width) of a PIL image after its EXIF orientation is applied (orientations 5-8 swap the sides)."""
    width, height = image.size
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a corrupt EXIF block only loses the orientation, as in read_image
        orientation = 1
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def _read_encoded(source: Any, limits: _Limits, max_bytes: int | None) -> np.ndarray:
    """:func:`read_image` for every source but a numpy array: a PIL image, a path, bytes or a file object."""
    from PIL import Image

    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, limits, label="the PIL image", data=None, first_frame=False)
    encoded = _encoded_source(source, max_bytes)
    if encoded is not None:
        data, label = encoded
        return _decode_bytes(data, limits, label)
    raise ImageError(
        f"Cannot read an image from a {type(source).__name__}; pass a file path, bytes, a binary file "
        "object, a PIL image or a numpy array."
    )


def _encoded_source(source: Any, max_bytes: int | None) -> tuple[bytes, str] | None:
    """``(encoded bytes, label for messages)`` of a path, bytes or a binary file object (read once, capped at
    :func:`max_file_bytes`); None for any other source (a PIL image, an array, or something unreadable)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        return _read_path_bytes(path, max_file_bytes(max_bytes)), f"'{path}'"
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise ImageError("The image data is empty (0 bytes); pass the complete content of an image file.")
        return bytes(source), "the image data"
    if hasattr(source, "read"):
        label = f"the file object {getattr(source, 'name', '')!s}".rstrip()
        return _read_file_object(source, max_file_bytes(max_bytes)), label
    return None


def _limits(max_pixels: Any, max_size: Any, fit_pixels: Any) -> _Limits:
    """The validated limits of one read (one sentence for a bad ``max_pixels``, ``max_size`` or ``fit_pixels``)."""
    if not isinstance(fit_pixels, bool):
        raise ImageError(f"fit_pixels must be True or False, got {fit_pixels!r}.")
    return _Limits(_positive_int(max_pixels, "max_pixels", "pixels", ImageError),
                   None if max_size is None else _positive_int(max_size, "max_size", "pixels", ImageError),
                   fit_pixels)


class _Limits:
    """The size limits of one :func:`read_image` call: ``max_pixels`` and ``max_size`` of the result."""

    __slots__ = ("fit_pixels", "max_pixels", "max_size")

    def __init__(self, max_pixels: int, max_size: int | None, fit_pixels: bool = False) -> None:
        self.max_pixels = max_pixels
        self.max_size = max_size
        self.fit_pixels = fit_pixels

    def target(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the result for an image of ``width`` x ``height`` px (shrunk to the limits)."""
        scale = 1.0
        if self.max_size is not None and max(width, height) > self.max_size:
            scale = self.max_size / max(width, height)
        if self.fit_pixels and width * height * scale * scale > self.max_pixels:
            scale = math.sqrt(self.max_pixels / (width * height))
            return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
        if scale == 1.0:
            return width, height
        return max(1, round(width * scale)), max(1, round(height * scale))

    def check(self, label: str, width: int, height: int) -> tuple[int, int]:
        """The result size, after checking it against ``max_pixels``; raises ImageError when it is too large."""
        if width < 1 or height < 1:
            raise ImageError(f"{_cap(label)} has zero size ({width} x {height} px); pass a real image.")
        out_w, out_h = self.target(width, height)
        if out_w * out_h > self.max_pixels:
            shrunk = (out_w, out_h) if (out_w, out_h) != (width, height) else None
            raise _size_error(label, width, height, self.max_pixels, shrunk)
        return out_w, out_h


def _positive_int(value: Any, name: str, unit: str, error: type[Exception] = InputError) -> int:
    """``value`` as a Python int >= 1, or ``error`` with one sentence."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise error(f"{name} must be a positive integer number of {unit}, got {value!r}.")
    return int(value)


def max_file_bytes(max_bytes: int | None = None) -> int:
    """The cap on bytes read from one file: ``max_bytes``, else ``$DEPTHKIT_MAX_FILE_BYTES``, else 200 MB.

    Args:
        max_bytes: an explicit cap in bytes (>= 1), or None for the environment variable or the default.

    Returns:
        The cap in bytes.

    Raises:
        ImageError: the cap (or the environment variable) is not a positive whole number of bytes.

    Example:
        >>> max_file_bytes(1000)
        1000
    """
    if max_bytes is not None:
        return _positive_int(max_bytes, "max_bytes", "bytes", ImageError)
    text = os.environ.get(MAX_FILE_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_FILE_BYTES
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ImageError(f"{MAX_FILE_BYTES_ENV}={text!r} is not a positive whole number of bytes; fix or unset it.")
    return value


def _size_error(label: str, width: int, height: int, max_pixels: int, shrunk: tuple[int, int] | None) -> ImageError:
    """The one sentence for an image larger than ``max_pixels`` (``shrunk``: its size after ``max_size``)."""
    if shrunk is not None:
        return ImageError(
            f"{_cap(label)} shrunk to {shrunk[0]} x {shrunk[1]} px ({shrunk[0] * shrunk[1]:,} pixels) is still more "
            f"than max_pixels={max_pixels:,}; pass a smaller max_size or a larger max_pixels."
        )
    return ImageError(
        f"{_cap(label)} is {width} x {height} px ({width * height:,} pixels), more than "
        f"max_pixels={max_pixels:,}; downscale it first (e.g. PIL's Image.thumbnail((4000, 4000)) or any image "
        "editor), pass max_size= (the longest side to load) or pass a larger max_pixels."
    )


# --------------------------------------------------------------------------------------------------------
# reading: bytes from a path or a file object, safely
# --------------------------------------------------------------------------------------------------------
def _file_kind(mode: int) -> str | None:
    """What a non-regular file is, in a few words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device (a disk)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _refuse_kind(path: Path, kind: str, what: str) -> ImageError:
    if kind == "a folder":
        return ImageError(f"'{path}' is a folder, not {_article(what)} {what} file; pass the path of one {what} file.")
    link = f"links to '{os.path.realpath(path)}', which is" if os.path.islink(path) else "is"
    return ImageError(f"'{path}' {link} {kind}, not a regular {what} file, so it is not read; pass the path of "
                      f"{_article(what)} {what} file.")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _too_big(label: str, cap: int) -> ImageError:
    return ImageError(
        f"{_cap(label)} is larger than {cap:,} bytes, the most depthkit reads from one file; pass a smaller file, "
        f"or raise the cap with max_bytes= or the environment variable {MAX_FILE_BYTES_ENV}."
    )


def _stat_path(path: Path, what: str) -> os.stat_result:
    """``os.stat`` of the resolved path (symlinks followed), with every failure as one sentence."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        broken = " (a broken link)" if os.path.islink(path) else ""
        raise ImageError(
            f"{what.capitalize()} file not found: '{path}'{broken} (working folder: '{Path.cwd()}'); check the file "
            "name and folder."
        ) from None
    except OSError as exc:
        raise ImageError(f"Could not open {what} file '{path}': {exc.strerror or exc}; check the path.") from None


@contextmanager
def open_regular_file(path: str | os.PathLike, *, what: str = "image") -> Iterator[tuple[BinaryIO, int]]:
    """Open a regular file for reading, refusing anything else (a FIFO, a device, a socket, a folder) unopened.

    The type is checked with ``os.stat`` before opening (opening a FIFO would block), and again with ``os.fstat``
    on the descriptor, opened non-blocking, in case the path changed in between. Every reader of user files in
    depthkit (images here, videos in :mod:`depthkit.video`) opens them through this one function.

    Args:
        path: the file's path.
        what: what the file should be, for the messages (``"image"``, ``"video"``).

    Yields:
        ``(handle, size)``: an unbuffered binary file object and the file's size in bytes.

    Raises:
        ImageError: the path is missing, not a regular file, or cannot be opened (one sentence).
    """
    path = Path(path).expanduser()
    kind = _file_kind(_stat_path(path, what).st_mode)
    if kind is not None:
        raise _refuse_kind(path, kind, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ImageError(
            f"Could not open {what} file '{path}': {exc.strerror or exc}; check its permissions."
        ) from None
    with os.fdopen(fd, "rb", buffering=0) as handle:
        info = os.fstat(handle.fileno())
        kind = _file_kind(info.st_mode)
        if kind is not None:
            raise _refuse_kind(path, kind, what)
        yield handle, info.st_size


def _read_path_bytes(path: Path, cap: int) -> bytes:
    """The content of the regular file ``path`` (at most ``cap`` bytes); anything else is refused unread."""
    with open_regular_file(path) as (handle, size):
        if size > cap:
            raise _too_big(f"image file '{path}'", cap)
        try:
            data = _read_capped(handle, cap, f"image file '{path}'", hint=size)
        except OSError as exc:
            raise ImageError(f"Could not read image file '{path}': {exc.strerror or exc}; check the file.") from None
    if not data:
        raise ImageError(f"Image file '{path}' is empty (0 bytes); re-download or re-export it.")
    return data


def _read_capped(handle: BinaryIO, cap: int, label: str, hint: int = 0) -> bytes:
    """Read ``handle`` to its end in chunks, stopping with an ImageError as soon as more than ``cap`` bytes came."""
    parts: list[bytes] = []
    total = 0
    size = max(hint + 1, _CHUNK) if hint else _CHUNK  # a regular file: its whole size (+1 to see the end) at once
    while True:
        chunk = handle.read(min(size, cap + 1 - total))
        if isinstance(chunk, str):
            raise ImageError(
                "The file object returned text, not bytes; open the image in binary mode: open(path, 'rb')."
            )
        if chunk is None:  # a non-blocking stream with nothing available yet
            raise ImageError(f"{_cap(label)} has no data ready (a non-blocking stream); pass a file or bytes.")
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise ImageError(
                f"The file object's read() returned {type(chunk).__name__}, not bytes; pass a binary file."
            )
        if not len(chunk):
            return parts[0] if len(parts) == 1 else b"".join(parts)
        parts.append(bytes(chunk))
        total += len(chunk)
        if total > cap:
            raise _too_big(label, cap)
        size = _CHUNK


def _read_file_object(fileobj: Any, cap: int) -> bytes:
    """Read a file-like object in chunks up to ``cap`` bytes (an endless stream is stopped at the cap)."""
    label = f"the file object {getattr(fileobj, 'name', '')!s}".rstrip()
    try:
        data = _read_capped(fileobj, cap, label)
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes one clear sentence
        raise ImageError(f"Could not read from the file object ({exc}); pass an open binary file.") from None
    if not data:
        raise ImageError("The file object is empty (0 bytes left to read); pass a file positioned at its start.")
    return data


# --------------------------------------------------------------------------------------------------------
# reading: decoding
# --------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _heif_available() -> bool:
    """Register pillow-heif's HEIC/HEIF opener with PIL (once); False when pillow-heif is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _looks_like_heif(data: bytes) -> bool:
    """True for an ISO base-media file whose brand is HEIC/HEIF (iPhone photos)."""
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1",
                                                   b"msf1")


def _describe_non_image(data: bytes) -> str:
    """A short guess at what a file that is not an image contains (for the error message)."""
    if _looks_like_heif(data):
        if not _heif_available():
            return "it is a HEIC/HEIF photo, which needs the package pillow-heif (pip install pillow-heif)"
        return "it starts like a HEIC/HEIF photo but is truncated or corrupt (re-export or re-download it)"
    if data.startswith(b"%PDF"):
        return "it is a PDF document (export the page as a JPEG or PNG first)"
    if data.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive (unpack it and pick one image)"
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


@contextmanager
def _pil_limit_lifted() -> Iterator[None]:
    """Lift PIL's global decompression-bomb limit while a header is parsed (no pixel is decoded then).

    PIL refuses images over 179 MP in ``Image.open``, before a JPEG could be decoded at reduced scale; depthkit
    checks the declared size itself right after opening (see :data:`MAX_DECODE_PIXELS`).
    """
    from PIL import Image

    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open_pil(data: bytes, label: str) -> Any:
    """PIL image of encoded ``data`` with only its header read, or an ImageError with one sentence."""
    from PIL import Image, UnidentifiedImageError

    _heif_available()
    try:
        with _pil_limit_lifted():
            return Image.open(_stdio.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(
            f"{_cap(label)} is not a readable image: {_describe_non_image(data)}; check that you picked the right "
            f"file ({_FORMATS})."
        ) from None
    except Image.DecompressionBombError as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(match.group(1)):,} pixels" if match else "too many pixels"
        raise ImageError(
            f"{_cap(label)} declares {size}, above PIL's decompression-bomb limit; downscale it with an image editor "
            "before loading it."
        ) from None
    except Exception as exc:  # noqa: BLE001 - a corrupt header can raise almost anything inside PIL
        raise ImageError(
            f"{_cap(label)} could not be decoded ({_reason(exc)}); it is corrupt or truncated, so "
            "re-download or re-export it."
        ) from None


def _reason(exc: BaseException) -> str:
    """``TypeName: message`` of an exception from a decoder, on one line and at most about 200 characters."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200] + '...' if len(text) > 200 else text}"


def _decode_bytes(data: bytes, limits: _Limits, label: str) -> np.ndarray:
    """Open encoded image bytes with PIL (header only), check the size, then decode the first frame."""
    from PIL import Image

    with warnings.catch_warnings():
        # Our own checks on the declared size (before decoding) replace PIL's warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _open_pil(data, label)
        with image:
            return _pil_to_rgb(image, limits, label=label, data=data, first_frame=True)


def _bomb_error(label: str, width: int, height: int) -> ImageError:
    return ImageError(
        f"{_cap(label)} declares {width} x {height} px ({width * height:,} pixels), more than the "
        f"{MAX_DECODE_PIXELS:,} pixels depthkit ever decodes (a decompression bomb, or a picture too big to load); "
        "downscale it with an image editor first."
    )


def _reduce_jpeg(image: Any, size: tuple[int, int]) -> None:
    """Ask PIL to decode a not-yet-loaded JPEG at 1/2, 1/4 or 1/8 scale, the largest that keeps >= ``size``."""
    if image.format == "JPEG" and image.tile and size != image.size:
        image.draft(image.mode, size)


def _pil_to_rgb(image: Any, limits: _Limits, label: str, data: bytes | None, first_frame: bool) -> np.ndarray:
    """Check the size of a (possibly lazy) PIL image, decode it and convert it to (H, W, 3) uint8 RGB."""
    from PIL import Image

    width, height = image.size
    out_size = limits.check(label, width, height)
    if width * height > MAX_DECODE_PIXELS:
        raise _bomb_error(label, width, height)
    _reduce_jpeg(image, out_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            if first_frame and getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            wide = _decode_16bit_colour_png(image, data)
            if wide is not None:
                rgb = _array_to_rgb(np.ascontiguousarray(wide), label)
            else:
                image.load()
                rgb = _pil_mode_to_rgb(_shrink_pil(image, out_size), label)
            orientation = image.getexif().get(0x0112, 1)
        except ImageError:
            raise
        except Image.DecompressionBombError:
            raise _bomb_error(label, width, height) from None
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt pixel data
            raise ImageError(
                f"{_cap(label)} could not be decoded ({_reason(exc)}); the file is truncated or "
                "corrupt, so re-download or re-export it."
            ) from None
    rgb = _shrink_array(rgb, out_size)
    return np.ascontiguousarray(_ORIENTATION_OPS.get(orientation, lambda a: a)(rgb))


def _decode_16bit_colour_png(image: Any, data: bytes | None) -> np.ndarray | None:
    """Full-precision (H, W, 3|4) uint16 RGB(A) for a 16-bit colour/gray+alpha PNG, else None.

    PIL keeps only the high byte of 16-bit colour PNGs; OpenCV decodes them exactly (up to
    :data:`DEFAULT_MAX_PIXELS`; larger ones take PIL's 8-bit path, which needs less memory).
    """
    if data is None or image.format != "PNG" or not image.tile:
        return None
    if image.size[0] * image.size[1] > DEFAULT_MAX_PIXELS:
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


def _shrink_pil(image: Any, size: tuple[int, int]) -> Any:
    """``image`` resized to ``size`` (width, height) with area averaging (box filter); unchanged if it fits."""
    from PIL import Image

    if image.size == size:
        return image
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    return image.resize(size, Image.Resampling.BOX)


def _shrink_array(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 ``rgb`` resized to ``size`` (width, height) with area averaging; unchanged if it fits."""
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    import cv2

    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _pil_mode_to_rgb(image: Any, label: str) -> np.ndarray:
    """Convert a decoded PIL image of any mode to (H, W, 3) uint8 RGB (alpha composited on white)."""
    mode = image.mode
    if mode == "RGB":
        return np.array(image, dtype=np.uint8)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _array_to_rgb(np.asarray(image).astype(np.uint16), label)
    if mode == "I":
        values = np.asarray(image)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(
                f"{_cap(label)} holds 32-bit integers outside 0..65535; convert it to an 8- or 16-bit image first."
            )
        return _array_to_rgb(values.astype(np.uint16), label)
    if mode == "F":
        return _array_to_rgb(np.asarray(image, dtype=np.float32), label)
    if mode == "1":
        return _array_to_rgb(np.asarray(image.convert("L")), label)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _array_to_rgb(np.asarray(image.convert("RGBA")), label)
    if image.mode == "L":
        return _array_to_rgb(np.asarray(image), label)
    return np.array(image.convert("RGB"), dtype=np.uint8)  # CMYK, YCbCr, LAB, HSV, RGBX, ...


# --------------------------------------------------------------------------------------------------------
# reading: numpy arrays
# --------------------------------------------------------------------------------------------------------
def _array_source(array: np.ndarray, limits: _Limits) -> np.ndarray:
    """An image array given to :func:`read_image`: checked, converted and shrunk to ``limits``."""
    label = "the image array"
    _check_array_shape(array, label)
    out_size = limits.check(label, array.shape[1], array.shape[0])
    return _shrink_array(_array_to_rgb(array, label), out_size)


def _check_array_shape(array: np.ndarray, label: str) -> None:
    """Raise an ImageError unless ``array`` has one of the image shapes (H, W), (H, W, 1|3|4) and a pixel."""
    shape = tuple(array.shape)
    if array.ndim == 3 and shape[-1] > 4 and shape[0] in (1, 3, 4):
        raise ImageError(
            f"{_cap(label)} has shape {shape}, which looks channels-first; use np.moveaxis(image, 0, -1) to get "
            "(H, W, C)."
        )
    if array.ndim not in (2, 3) or (array.ndim == 3 and shape[-1] not in (1, 3, 4)):
        raise ImageError(
            f"{_cap(label)} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {shape}; pass one image."
        )
    if array.size == 0:
        raise ImageError(f"{_cap(label)} is empty (shape {shape}); pass an image with at least one pixel.")


def _array_values(array: np.ndarray, label: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(uint8 values, None) for exact integer dtypes, or (None, float64 values in [0, 1]) for float arrays."""
    if array.dtype == np.uint8:
        return array, None
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8), None
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255), None
    if array.dtype.kind == "f":
        values = array.astype(np.float64)
        if np.isnan(values).any():
            raise ImageError(f"{_cap(label)} contains NaN values; replace them (e.g. np.nan_to_num) before loading.")
        low, high = float(values.min()), float(values.max())
        if low < -1e-6 or high > 1 + 1e-6:
            raise ImageError(
                f"{_cap(label)} is a float array with values in [{low:g}, {high:g}], but float images must lie in "
                "[0, 1]; divide 0-255 data by 255 or convert it to uint8."
            )
        return None, np.clip(values, 0.0, 1.0)
    raise ImageError(
        f"{_cap(label)} has dtype {array.dtype}, which is not an image type; use uint8 (0-255), uint16, bool "
        "or float in [0, 1] (e.g. image.astype(np.uint8))."
    )


def _array_to_rgb(array: np.ndarray, label: str) -> np.ndarray:
    """Validate an image array and convert it to a new (H, W, 3) uint8 RGB array (alpha on white)."""
    _check_array_shape(array, label)
    as_u8, unit = _array_values(array, label)
    if array.ndim == 3 and array.shape[-1] == 4:
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
# the one path policy
# --------------------------------------------------------------------------------------------------------
def output_path(path: str | os.PathLike, suffixes: Sequence[str], *, writer: str) -> Path:
    """Check an output path and create its missing parent folders: the one path policy of every writer.

    Args:
        path: the file to write (``str`` or :class:`pathlib.Path`; ``~`` is expanded).
        suffixes: accepted file name endings, e.g. ``(".png",)`` (compared case-insensitively).
        writer: name of the calling function, used in the error message.

    Returns:
        The path as a :class:`pathlib.Path`; its parent folder exists.

    Raises:
        InputError: the path is not a str or Path, has a wrong suffix, is an existing folder, or its folder
            cannot be created.

    Example:
        >>> import tempfile, pathlib
        >>> out = output_path(pathlib.Path(tempfile.mkdtemp()) / "new" / "a.png", (".png",), writer="demo")
        >>> out.parent.is_dir(), out.exists()
        (True, False)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{writer}: path must be a str or pathlib.Path, got {type(path).__name__}.")
    out = Path(path).expanduser()
    if out.suffix.lower() not in tuple(s.lower() for s in suffixes):
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


def write_file(path: str | os.PathLike, data: bytes, *, suffixes: Sequence[str], writer: str) -> Path:
    """Write encoded bytes to ``path`` under the path policy of :func:`output_path`.

    Args:
        path: the file to write.
        data: the complete file content (e.g. from :func:`encode_png`).
        suffixes: accepted file name endings, e.g. ``(".png",)``.
        writer: name of the calling function, used in error messages.

    Returns:
        The written :class:`pathlib.Path`.

    Raises:
        InputError: the path is unusable (see :func:`output_path`) or the file could not be written
            (permission denied, disk full).

    Example:
        >>> import tempfile, pathlib
        >>> write_file(pathlib.Path(tempfile.mkdtemp()) / "a.txt", b"hi", suffixes=(".txt",), writer="demo").name
        'a.txt'
    """
    out = output_path(path, suffixes, writer=writer)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InputError(
            f"{writer}: could not write '{out}' ({exc.strerror or exc}); choose a writable location."
        ) from None
    return out


# --------------------------------------------------------------------------------------------------------
# encoders: arrays -> file content
# --------------------------------------------------------------------------------------------------------
def _as_real_array(array: Any, name: str, writer: str) -> np.ndarray:
    """Return ``array`` as a non-empty numpy array of a real numeric dtype, or raise an InputError."""
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except Exception:  # noqa: BLE001 - anything numpy cannot convert gets one sentence
            raise InputError(f"{writer}: {name} must be a numpy array, got {type(array).__name__}.") from None
    if array.dtype.kind not in "biuf":
        raise InputError(f"{writer}: {name} must hold real numbers, got dtype {array.dtype}.")
    if array.size == 0:
        raise InputError(f"{writer}: {name} is empty (shape {tuple(array.shape)}); there is nothing to write.")
    return array


def _describe(array: Any) -> str:
    if isinstance(array, np.ndarray):
        return f"shape {tuple(array.shape)} dtype {array.dtype}"
    return type(array).__name__


def _check_png_level(compress_level: Any) -> int:
    if isinstance(compress_level, bool) or not isinstance(compress_level, (int, np.integer)) \
            or not 0 <= compress_level <= 9:
        raise InputError(f"encode_png: compress_level must be an integer from 0 to 9, got {compress_level!r}.")
    return int(compress_level)


def _check_palette(image: Any, palette: Any) -> np.ndarray:
    """The (N, 3) uint8 colour table of a paletted PNG, after checking it and the (H, W) uint8 indices."""
    table = np.asarray(palette)
    if table.ndim != 2 or table.shape[1] != 3 or not 1 <= table.shape[0] <= 256 or table.dtype != np.uint8:
        raise InputError(f"encode_png: palette must be an (N, 3) uint8 RGB table with 1 <= N <= 256, got "
                         f"{_describe(table)}; pass e.g. a colour map's 256 colours.")
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8 or image.size == 0:
        raise InputError(f"encode_png: with a palette, image must be a non-empty (H, W) uint8 array of palette "
                         f"indices, got {_describe(image)}.")
    if table.shape[0] < 256 and int(image.max()) >= table.shape[0]:
        raise InputError(f"encode_png: index {int(image.max())} is outside the palette of {table.shape[0]} "
                         "colours; pass a longer palette or smaller indices.")
    return np.ascontiguousarray(table)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type + data."""
    import zlib

    return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(data, zlib.crc32(tag)).to_bytes(4, "big")


def _deflate(rows: np.ndarray, level: int) -> bytes:
    """zlib stream of the filtered scanlines ``rows`` (H, 1 + W) uint8; level 1 uses the run-length strategy.

    A big image is compressed as two halves in two threads (zlib releases the GIL), joined as pigz does: the
    first half ends on a byte boundary (``Z_SYNC_FLUSH``), so the two raw deflate streams concatenate into one
    valid stream; the checksum is the Adler-32 of all the data.
    """
    import zlib

    strategy = zlib.Z_RLE if level == 1 else zlib.Z_DEFAULT_STRATEGY

    def part(block: np.ndarray, last: bool) -> bytes:
        z = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
        return z.compress(block.data) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    if rows.size < _SPLIT_DEFLATE_BYTES or level == 0:
        body = part(rows, True)
    else:
        half = rows.shape[0] // 2
        head = _deflate_worker().submit(part, rows[:half], False)
        tail = part(rows[half:], True)
        body = head.result() + tail
    header = bytes([0x78, 0x01])  # deflate, 32 kB window, no preset dictionary (header checksum valid)
    return header + body + zlib.adler32(rows.data).to_bytes(4, "big")


#: Images with at least this many bytes of pixel data are deflated in two threads by :func:`encode_png`.
_SPLIT_DEFLATE_BYTES = 65536


@functools.lru_cache(maxsize=1)
def _deflate_worker() -> Any:
    """One background thread, started on first use, that deflates the first half of a big paletted PNG."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(1, thread_name_prefix="depthkit-png")


# A forked child (multiprocessing's default start on Linux) inherits the executor but not its thread: start anew.
os.register_at_fork(after_in_child=_deflate_worker.cache_clear)


def _paletted_png(indices: np.ndarray, palette: np.ndarray, level: int) -> bytes:
    """An 8-bit paletted PNG (colour type 3): scanline filter "none", then zlib."""
    height, width = indices.shape
    rows = np.empty((height, width + 1), np.uint8)
    rows[:, 0] = 0  # filter type "none" for every scanline
    rows[:, 1:] = indices
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 3, 0, 0, 0])
    return b"".join([b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", ihdr), _png_chunk(b"PLTE", palette.tobytes()),
                     _png_chunk(b"IDAT", _deflate(rows, level)), _png_chunk(b"IEND", b"")])


def encode_png(image: np.ndarray, *, compress_level: int = 1, palette: np.ndarray | None = None) -> bytes:
    """Encode an 8-bit image as PNG bytes: the one PNG encoder of depthkit (app, CLI, reports, bench).

    RGB(A) and grey images go through OpenCV; level 1 uses zlib's run-length strategy: lossless like any PNG,
    and measured on a 640 x 480 heat map about 25 % faster than PIL at the same level with a smaller file.
    With ``palette``, ``image`` holds indices into that colour table and the PNG is paletted (colour type 3):
    one byte per pixel instead of three, so a heat map (see :func:`depthkit.viz.heatmap_png`) encodes about
    4x faster and decodes to exactly ``palette[image]``.

    Args:
        image: (H, W, 3) uint8 RGB, (H, W, 4) uint8 RGBA or (H, W) uint8 grey image; with ``palette``, an
            (H, W) uint8 array of palette indices.
        compress_level: zlib level 0 (none, fastest) to 9 (smallest); default 1 (fast, for display and files).
        palette: optional (N, 3) uint8 RGB colour table, 1 <= N <= 256 (every index must be < N).

    Returns:
        The PNG file content.

    Raises:
        InputError: the image or palette is not such an array, or the level is not an integer 0..9.

    Example:
        >>> encode_png(np.zeros((2, 3, 3), np.uint8))[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
        >>> len(encode_png(np.zeros((2, 3), np.uint8), palette=np.zeros((1, 3), np.uint8))) > 8
        True
    """
    if palette is not None:
        table = _check_palette(image, palette)
        return _paletted_png(np.ascontiguousarray(image), table, _check_png_level(compress_level))
    ok_shape = isinstance(image, np.ndarray) and (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (3, 4)))
    if not ok_shape or image.dtype != np.uint8 or image.size == 0:
        raise InputError(
            f"encode_png: image must be a non-empty (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) grey uint8 array, got "
            f"{_describe(image)}; use read_image() to convert images."
        )
    level = _check_png_level(compress_level)
    import cv2

    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[-1] == 3 else cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_PNG_COMPRESSION, level]
    if level == 1:
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image), params)
    if not ok:  # pragma: no cover - OpenCV failing on a valid uint8 image
        raise InputError("encode_png: OpenCV could not encode the image as PNG; check the OpenCV installation.")
    return buffer.tobytes()


def _png16_levels(inverse_depth: Any, vmin: float | None, vmax: float | None, writer: str):
    """(uint16 levels, lo, hi) of the 16-bit PNG mapping of :func:`encode_png16`."""
    values = _as_real_array(inverse_depth, "inverse_depth", writer)
    if values.ndim != 2:
        raise InputError(
            f"{writer}: inverse_depth must be a 2-D array (H, W), got shape {tuple(values.shape)}; pass a single map."
        )
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    for name, limit in (("vmin", vmin), ("vmax", vmax)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float, np.number))
                                  or not np.isfinite(limit)):
            raise InputError(f"{writer}: {name} must be a finite number or None, got {limit!r}.")
    lo = float(vmin) if vmin is not None else (float(values[finite].min()) if finite.any() else 0.0)
    hi = float(vmax) if vmax is not None else (float(values[finite].max()) if finite.any() else 0.0)
    if lo > hi:
        raise InputError(f"{writer}: vmin ({lo:g}) must not be larger than vmax ({hi:g}).")
    scaled = np.zeros(values.shape, dtype=np.float64)
    if hi > lo:
        scaled[finite] = (values[finite] - lo) / (hi - lo) * 65535.0
    return np.clip(np.rint(scaled), 0, 65535).astype(np.uint16), lo, hi


def _png16_bytes(inverse_depth: Any, vmin: float | None, vmax: float | None, writer: str) -> bytes:
    from PIL import Image, PngImagePlugin

    levels, lo, hi = _png16_levels(inverse_depth, vmin, vmax, writer)
    info = PngImagePlugin.PngInfo()
    info.add_text("depthkit:vmin", repr(lo))
    info.add_text("depthkit:vmax", repr(hi))
    buffer = _stdio.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG", pnginfo=info, compress_level=1)
    return buffer.getvalue()


def encode_png16(inverse_depth: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> bytes:
    """Encode a float map (e.g. inverse depth) as a 16-bit grayscale PNG using the full 0..65535 range.

    Mapping: ``v16 = round((x - vmin) / (vmax - vmin) * 65535)``, clipped to 0..65535, so ``vmin`` -> 0 and
    ``vmax`` -> 65535 (for inverse depth: far = dark, near = bright). ``vmin``/``vmax`` default to the
    minimum/maximum of the finite values. Non-finite values (NaN, +-inf) are written as 0. A constant map
    (``vmin == vmax``) is written as all 0. The two limits are stored in the PNG text chunks
    ``depthkit:vmin`` and ``depthkit:vmax`` so the mapping can be undone:
    ``x = vmin + v16 / 65535 * (vmax - vmin)`` (to within ``(vmax - vmin) / 131070``).

    Args:
        inverse_depth: (H, W) real-valued map, e.g. float32 relative inverse depth (larger = nearer).
        vmin: value mapped to 0 (default: finite minimum).
        vmax: value mapped to 65535 (default: finite maximum).

    Returns:
        The PNG file content (zlib level 1).

    Raises:
        InputError: the map is not 2-D and real-valued, or vmin/vmax are not finite with vmin <= vmax.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> data = encode_png16(np.array([[0.0, 0.5, 1.0, np.nan]]))
        >>> np.asarray(Image.open(io.BytesIO(data))).tolist()
        [[0, 32768, 65535, 0]]
    """
    return _png16_bytes(inverse_depth, vmin, vmax, "encode_png16")


def _npy_bytes(array: Any, writer: str) -> bytes:
    values = _as_real_array(array, "array", writer)
    buffer = _stdio.BytesIO()
    np.save(buffer, values.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def encode_npy(array: np.ndarray) -> bytes:
    """Encode an array as float32 ``.npy`` file content (exact; load with ``np.load``).

    Args:
        array: any non-empty real-valued array (e.g. (H, W) inverse depth); stored as float32.

    Returns:
        The ``.npy`` file content.

    Raises:
        InputError: the array is empty or not real-valued.

    Example:
        >>> import io
        >>> np.load(io.BytesIO(encode_npy(np.array([[1, 2]])))).dtype
        dtype('float32')
    """
    return _npy_bytes(array, "encode_npy")


def _pfm_bytes(array: Any, writer: str) -> bytes:
    values = _as_real_array(array, "array", writer)
    if not (values.ndim == 2 or (values.ndim == 3 and values.shape[-1] == 3)):
        raise InputError(
            f"{writer}: array must have shape (H, W) or (H, W, 3), got {tuple(values.shape)}; pass one map."
        )
    height, width = values.shape[:2]
    header = f"{'PF' if values.ndim == 3 else 'Pf'}\n{width} {height}\n-1.0\n".encode("ascii")
    return header + np.ascontiguousarray(values[::-1].astype("<f4")).tobytes()


def encode_pfm(array: np.ndarray) -> bytes:
    """Encode a float map as a Portable Float Map (PFM), exactly, including inf and NaN.

    Format: a text header ``Pf`` (1 channel) or ``PF`` (3 channels), then ``width height``, then the
    scale ``-1.0`` (negative = little-endian), each on its own line, followed by float32 pixels stored
    **bottom row first**, as the PFM format requires. Middlebury stereo ground truth uses this format
    (with ``inf`` for unknown disparity).

    Args:
        array: (H, W) or (H, W, 3) real-valued map (stored as float32).

    Returns:
        The PFM file content.

    Raises:
        InputError: wrong shape or dtype.

    Example:
        >>> encode_pfm(np.array([[1.5, 2.0]], np.float32))[:12]
        b'Pf\\n2 1\\n-1.0\\n'
    """
    return _pfm_bytes(array, "encode_pfm")


def _check_cloud(points: Any, colors: Any, binary: Any, writer: str) -> np.ndarray:
    """(N, 3) float32 points after checking points, colours and the ``binary`` flag of a PLY file."""
    pts = _as_real_array(points, "points", writer)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise InputError(
            f"{writer}: points must have shape (N, 3), got {tuple(pts.shape)}; pass one x, y, z row per point."
        )
    pts = pts.astype(np.float32)
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts).all(axis=1)).sum())
        raise InputError(
            f"{writer}: {bad} of {len(pts)} points are not finite (NaN or inf); drop them first, e.g. "
            "keep = np.isfinite(points).all(axis=1); points, colors = points[keep], colors[keep]."
        )
    if colors is not None and not (
        isinstance(colors, np.ndarray) and colors.dtype == np.uint8 and colors.shape == pts.shape
    ):
        raise InputError(
            f"{writer}: colors must be an ({len(pts)}, 3) uint8 array matching points, got {_describe(colors)}."
        )
    if not isinstance(binary, bool):
        raise InputError(f"{writer}: binary must be True or False, got {binary!r}.")
    return pts


def _ply_header(count: int, colored: bool, binary: bool, metric: bool) -> bytes:
    lines = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment written by depthkit; coordinates in "
        + ("metres" if metric else "relative units (not to scale: made from relative depth)"),
        f"element vertex {count}",
        "property float x",
        "property float y",
        "property float z",
    ]
    if colored:
        lines += ["property uchar red", "property uchar green", "property uchar blue"]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _ply_body(pts: np.ndarray, colors: np.ndarray | None, binary: bool) -> bytes:
    if binary:
        fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
        if colors is not None:
            fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        vertices = np.empty(len(pts), dtype=fields)
        vertices["x"], vertices["y"], vertices["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
        if colors is not None:
            vertices["red"], vertices["green"], vertices["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
        return vertices.tobytes()
    # %.9g keeps every float32 exactly; colours as plain integers.
    table, fmt = pts.astype(np.float64), ["%.9g"] * 3
    if colors is not None:
        table = np.column_stack([table, colors.astype(np.float64)])
        fmt += ["%d"] * 3
    buffer = _stdio.BytesIO()
    np.savetxt(buffer, table, fmt=fmt, delimiter=" ", newline="\n")
    return buffer.getvalue()


def _ply_bytes(points: Any, colors: Any, binary: Any, metric: Any, writer: str) -> bytes:
    pts = _check_cloud(points, colors, binary, writer)
    if not isinstance(metric, bool):
        raise InputError(f"{writer}: metric must be True or False, got {metric!r}.")
    return _ply_header(len(pts), colors is not None, binary, metric) + _ply_body(pts, colors, binary)


def encode_ply(
    points: np.ndarray, colors: np.ndarray | None = None, binary: bool = True, *, metric: bool = True
) -> bytes:
    """Encode a coloured point cloud as PLY file content (opens in MeshLab, CloudCompare, Blender, Open3D).

    Each vertex has ``float x, y, z`` (float32, metres) and, when ``colors`` is given,
    ``uchar red, green, blue``. ``binary=True`` writes ``binary_little_endian`` (compact, fast);
    ``binary=False`` writes human-readable ASCII. The header's comment states the unit: metres, or with
    ``metric=False`` relative units (a cloud made from relative depth, e.g. :func:`depthkit.viz.pseudo_depth`).

    Args:
        points: (N, 3) float array of finite x, y, z coordinates in metres (drop invalid points first,
            e.g. ``points[np.isfinite(points).all(axis=1)]``).
        colors: optional (N, 3) uint8 RGB colours, one per point.
        binary: binary little-endian (default) or ASCII.
        metric: the coordinates are in metres (default) or in relative units.

    Returns:
        The PLY file content.

    Raises:
        InputError: wrong shapes or dtypes, non-finite points, or mismatched lengths.

    Example:
        >>> encode_ply(np.zeros((2, 3)), binary=False).decode().splitlines()[:3]
        ['ply', 'format ascii 1.0', 'comment written by depthkit; coordinates in metres']
    """
    return _ply_bytes(points, colors, binary, metric, "encode_ply")


def check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Check the frames of an animation (for :func:`encode_gif` and :func:`depthkit.effects.save_mp4`).

    Args:
        frames: a non-empty sequence of (H, W, 3) uint8 RGB frames of one size.

    Returns:
        The frames as a list of C-contiguous (H, W, 3) uint8 arrays.

    Raises:
        InputError: no frames, a frame that is not (H, W, 3) uint8, or frames of different sizes.
    """
    frames = list(frames)
    if not frames:
        raise InputError("frames is empty; pass a non-empty list of (H, W, 3) uint8 RGB frames.")
    try:
        frames = [as_image(f, "each frame") for f in frames]
    except ImageError as exc:
        raise InputError(f"frames must be (H, W, 3) uint8 RGB arrays: {exc}") from None
    if any(f.shape != frames[0].shape for f in frames):
        raise InputError("all frames must have the same shape (frames of one size); resize them to one size first.")
    return frames


def check_fps(fps: float) -> float:
    """Check a frame rate in frames per second.

    Args:
        fps: frames per second, a finite number > 0.

    Returns:
        ``float(fps)``.

    Raises:
        InputError: ``fps`` is not a positive finite number.
    """
    return check_positive(fps, "fps", unit="of frames per second")


def encode_gif(frames: Sequence[np.ndarray], fps: float = 12.0) -> bytes:
    """Encode frames as a looping animated GIF in memory, with one shared 256-colour palette.

    The palette is fitted once to pixels of all frames with PIL's fast octree quantiser (no dithering): about
    a hundred times faster than Pillow's default median cut per frame, and colours do not flicker between
    frames. Like every GIF writer, PIL merges consecutive identical frames into one longer frame.

    Args:
        frames: sequence of (H, W, 3) uint8 RGB frames of one size (e.g. from
            :func:`depthkit.effects.parallax_frames`).
        fps: frames per second (> 0; GIF stores whole milliseconds per frame).

    Returns:
        The GIF file content.

    Raises:
        InputError: no frames, frames of different sizes or types, or fps not positive.

    Example:
        >>> encode_gif([np.zeros((4, 6, 3), np.uint8), np.full((4, 6, 3), 255, np.uint8)])[:6]
        b'GIF89a'
    """
    from PIL import Image

    frames = check_frames(frames)
    fps = check_fps(fps)
    # the palette is fitted to every 4th pixel of every frame, so colours of later frames are represented too
    sample = np.concatenate([f[::2, ::2].reshape(-1, 3) for f in frames])[None]
    palette = Image.fromarray(np.ascontiguousarray(sample)).quantize(256, method=Image.Quantize.FASTOCTREE)
    first, *rest = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    buffer = _stdio.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=rest, loop=0,
               duration=max(round(1000.0 / fps), 1))
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------------
# writers: thin wrappers, encoder + path policy
# --------------------------------------------------------------------------------------------------------
def write_png(path: str | os.PathLike, rgb: np.ndarray, *, compress_level: int = 1) -> Path:
    """Write an RGB image as an 8-bit PNG (through :func:`encode_png`).

    Args:
        path: output file ending in ``.png``; missing parent folders are created.
        rgb: (H, W, 3) uint8 RGB image (for example from :func:`read_image`).
        compress_level: zlib level 0..9 (default 1, fast).

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
        raise InputError(
            f"write_png: rgb must be an (H, W, 3) uint8 array, got {_describe(rgb)}; use read_image() to convert "
            "images."
        )
    if rgb.size == 0:
        raise InputError(f"write_png: rgb is empty (shape {tuple(rgb.shape)}); there is nothing to write.")
    return write_file(path, encode_png(rgb, compress_level=compress_level), suffixes=(".png",), writer="write_png")


def write_png16(
    path: str | os.PathLike, inverse_depth: np.ndarray, vmin: float | None = None, vmax: float | None = None
) -> Path:
    """Write a float map (e.g. inverse depth) as a 16-bit grayscale PNG (mapping: see :func:`encode_png16`).

    Args:
        path: output file ending in ``.png``; missing parent folders are created.
        inverse_depth: (H, W) real-valued map, e.g. float32 relative inverse depth (larger = nearer).
        vmin: value mapped to 0 (default: finite minimum).
        vmax: value mapped to 65535 (default: finite maximum).

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        InputError: the map is not 2-D and real-valued, vmin/vmax are not finite with vmin <= vmax, or the
            path is unusable.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> from PIL import Image
        >>> p = write_png16(pathlib.Path(tempfile.mkdtemp()) / "d.png", np.array([[0.0, 0.5, 1.0, np.nan]]))
        >>> np.asarray(Image.open(p)).tolist()
        [[0, 32768, 65535, 0]]
    """
    data = _png16_bytes(inverse_depth, vmin, vmax, "write_png16")
    return write_file(path, data, suffixes=(".png",), writer="write_png16")


def write_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Save an array as float32 ``.npy`` (exact; load with ``np.load``; see :func:`encode_npy`).

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
    return write_file(path, _npy_bytes(array, "write_npy"), suffixes=(".npy",), writer="write_npy")


def write_pfm(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a float map as a Portable Float Map (PFM), exactly, including inf and NaN (see :func:`encode_pfm`).

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
    return write_file(path, _pfm_bytes(array, "write_pfm"), suffixes=(".pfm",), writer="write_pfm")


def write_ply(
    path: str | os.PathLike, points: np.ndarray, colors: np.ndarray | None = None, binary: bool = True, *,
    metric: bool = True,
) -> Path:
    """Write a coloured point cloud as a PLY file (format: see :func:`encode_ply`).

    Args:
        path: output file ending in ``.ply``; missing parent folders are created.
        points: (N, 3) float array of finite x, y, z coordinates in metres.
        colors: optional (N, 3) uint8 RGB colours, one per point.
        binary: binary little-endian (default) or ASCII.
        metric: the coordinates are in metres (default) or in relative units (said in the header).

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        InputError: wrong shapes or dtypes, non-finite points, mismatched lengths, or an unusable path.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> p = write_ply(pathlib.Path(tempfile.mkdtemp()) / "c.ply", np.zeros((2, 3)), binary=False)
        >>> p.read_text().splitlines()[:3]
        ['ply', 'format ascii 1.0', 'comment written by depthkit; coordinates in metres']
    """
    return write_file(path, _ply_bytes(points, colors, binary, metric, "write_ply"), suffixes=(".ply",),
                      writer="write_ply")


# --------------------------------------------------------------------------------------------------------
# PFM reading
# --------------------------------------------------------------------------------------------------------
def _pfm_header(data: bytes, source: Path) -> tuple[bytes, int, int, float, int]:
    """(kind, width, height, scale, offset of the pixels) of PFM file content, or an ImageError."""
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
    return tokens[0], width, height, scale, pos + 1  # exactly one whitespace character ends the header


def read_pfm(path: str | os.PathLike, *, max_bytes: int | None = None) -> np.ndarray:
    """Read a Portable Float Map (PFM) file, e.g. a Middlebury ground-truth disparity ``disp0.pfm``.

    Both byte orders are read (the sign of the scale line gives it). Rows are flipped so that row 0 is the
    **top** of the image. The magnitude of the scale is not applied (as in common readers); inf/NaN are kept.
    Only regular files are read, at most ``max_bytes`` bytes (as in :func:`read_image`).

    Args:
        path: a ``.pfm`` file.
        max_bytes: most bytes read; None uses :func:`max_file_bytes`.

    Returns:
        (H, W) float32 array for ``Pf`` files, (H, W, 3) float32 for ``PF`` files.

    Raises:
        ImageError: the file is missing, not a regular file, empty, too big, not a PFM file, or truncated.
    """
    source = Path(path).expanduser()
    if not os.path.exists(source):
        raise ImageError(f"PFM file not found: '{source}'; check the file name and folder.")
    data = _read_path_bytes(source, max_file_bytes(max_bytes))
    kind, width, height, scale, pos = _pfm_header(data, source)
    channels = 3 if kind == b"PF" else 1
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
