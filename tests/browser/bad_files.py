"""Files a student might upload to the app: broken ones (must give one clear sentence) and unusual but valid ones.

Each builder returns the file content as bytes; they are small and fast except ``fifty_megapixels`` (a real
8000 x 6250 JPEG, about 0.3 s to encode).
"""

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def gradient_rgb(height: int = 60, width: int = 90) -> np.ndarray:
    """(H, W, 3) uint8 picture with horizontal and vertical ramps (any shape; not square by default)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([255 * x // max(width - 1, 1), 255 * y // max(height - 1, 1),
                      np.full_like(x, 128)]).astype(np.uint8)


def text_renamed_jpg() -> bytes:
    """A text file that a student renamed to holiday.jpg."""
    return b"Dear diary,\nthis is not a photo, only text saved with a .jpg name.\n"


def empty_file() -> bytes:
    return b""


def fifty_megapixels() -> bytes:
    """A real 8000 x 6250 px (50 MP) grey JPEG: above read_image's 40 MP limit at full size, fine when it is read
    scaled down (the app reads at most ``max_side`` px)."""
    return _encode(Image.new("L", (8000, 6250), 90), "JPEG", quality=50)


def huge_declared_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + _png_chunk(b"IEND", b""))


def truncated_jpeg() -> bytes:
    """The first third of a JPEG (an interrupted download)."""
    data = _encode(Image.fromarray(gradient_rgb(120, 160)), "JPEG", quality=90)
    return data[: len(data) // 3]


def png16_gray(height: int = 50, width: int = 80) -> bytes:
    """16-bit grayscale PNG (mode I;16), values spanning 0..65535."""
    values = (np.linspace(0, 65535, width)[None, :].repeat(height, 0)).astype(np.uint16)
    return _encode(Image.fromarray(values), "PNG")


def png16_rgb(height: int = 50, width: int = 80) -> bytes:
    """16-bit colour PNG (48 bits per pixel), encoded with OpenCV (PIL cannot write it)."""
    import cv2

    rgb16 = gradient_rgb(height, width).astype(np.uint16) * 257
    ok, data = cv2.imencode(".png", rgb16[..., ::-1])
    assert ok
    return data.tobytes()


def cmyk_jpeg(height: int = 50, width: int = 80) -> bytes:
    """A CMYK JPEG (as some print workflows produce)."""
    return _encode(Image.fromarray(gradient_rgb(height, width)).convert("CMYK"), "JPEG", quality=90)


def animated_gif(height: int = 40, width: int = 70, frames: int = 3) -> bytes:
    """An animated GIF with ``frames`` frames."""
    pictures = [Image.fromarray(np.roll(gradient_rgb(height, width), 10 * k, axis=1)) for k in range(frames)]
    return _encode(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)


#: name -> (file name a student would upload, builder, regex the app's message must match)
BAD_UPLOADS = {
    "text_renamed_jpg": ("holiday.jpg", text_renamed_jpg, r"not a readable image: it looks like a text file"),
    "empty_file": ("empty.jpg", empty_file, r"empty \(0 bytes\)"),
    "huge_declared_png": ("bomb.png", huge_declared_png, r"declares 100000 x 100000 px .*decompression bomb"),
    "truncated_jpeg": ("cut.jpg", truncated_jpeg, r"truncated or corrupt"),
}

#: name -> (file name, builder, (height, width), regex of the app's information note)
CONVERTED_UPLOADS = {
    "png16_gray": ("scan16.png", png16_gray, (50, 80), r"16-bit image"),
    "png16_rgb": ("photo16.png", png16_rgb, (50, 80), r"16-bit image"),
    "cmyk_jpeg": ("print.jpg", cmyk_jpeg, (50, 80), r"CMYK image"),
    "animated_gif": ("cat.gif", animated_gif, (40, 70), r"animated GIF with 3 frames"),
}
