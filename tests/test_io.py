"""Tests for depthkit.io: read_image conversions and failures, and the file writers/readers."""

import io
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from depthkit.errors import DepthkitError, ImageError, InputError
from depthkit.io import (
    _ORIENTATION_OPS,
    read_image,
    read_pfm,
    write_npy,
    write_pfm,
    write_ply,
    write_png,
    write_png16,
)


# ----------------------------------------------------------------------------------------------------
# helpers that build small test files
# ----------------------------------------------------------------------------------------------------
def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height RGB but whose pixel data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + _png_chunk(b"IEND", b""))


def _quadrant_image(height=16, width=24):
    """Blue image with a red 8x8 block in the top-left corner (survives JPEG compression)."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 2] = 255
    rgb[:8, :8] = (255, 0, 0)
    return rgb


def _is_red(pixel):
    return pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


def _assert_one_clean_sentence(exc_info):
    message = str(exc_info.value)
    assert "\n" not in message and message.endswith(".")
    assert isinstance(exc_info.value, DepthkitError)
    assert exc_info.value.__cause__ is None  # no chained PIL/numpy traceback


# ----------------------------------------------------------------------------------------------------
# read_image: files that fail
# ----------------------------------------------------------------------------------------------------
def test_text_file_renamed_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: milk, eggs\n")
    with pytest.raises(ImageError, match=r"notes\.jpg' is not a readable image: it looks like a text file") as info:
        read_image(path)
    _assert_one_clean_sentence(info)


def test_html_page_saved_as_image():
    with pytest.raises(ImageError, match="HTML web page"):
        read_image(b"<!DOCTYPE html><html><body>404</body></html>")


def test_binary_garbage_is_not_an_image():
    with pytest.raises(ImageError, match="not in any image format"):
        read_image(bytes(range(256)) * 4)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png' is empty \(0 bytes\)") as info:
        read_image(path)
    _assert_one_clean_sentence(info)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="Image file not found: .*nope.jpg"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="is a folder, not an image file"):
        read_image(str(tmp_path))


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageError, match="truncated or corrupt") as info:
        read_image(cut)
    _assert_one_clean_sentence(info)


def test_huge_declared_png_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(100_000, 100_000))
    assert path.stat().st_size < 200
    with pytest.raises(ImageError, match=r"10,000,000,000 pixels.*downscale") as info:
        read_image(path)
    _assert_one_clean_sentence(info)


def test_declared_size_above_max_pixels_reports_size_and_fix():
    with pytest.raises(ImageError, match=r"8000 x 6000 px \(48,000,000 pixels\), more than max_pixels=40,000,000; "
                                         r"downscale it"):
        read_image(_png_header_only(8000, 6000))


def test_pil_decompression_bomb_warning_becomes_clean_error():
    # 10000 x 10000 = 1e8 pixels: above PIL's warning limit, below its hard limit.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError, match=r"10000 x 10000 px"):
            read_image(_png_header_only(10_000, 10_000))
        # Allowed by max_pixels: the warning is not raised, the (fake) pixel data is reported as truncated.
        with pytest.raises(ImageError, match="truncated or corrupt"):
            read_image(_png_header_only(10_000, 10_000), max_pixels=200_000_000)


def test_max_pixels_applies_to_files_and_arrays(tmp_path):
    path = write_png(tmp_path / "small.png", np.zeros((10, 20, 3), np.uint8))
    assert read_image(path, max_pixels=200).shape == (10, 20, 3)
    with pytest.raises(ImageError, match=r"20 x 10 px \(200 pixels\), more than max_pixels=199"):
        read_image(path, max_pixels=199)
    with pytest.raises(ImageError, match=r"20 x 10 px .* max_pixels=100"):
        read_image(np.zeros((10, 20), np.uint8), max_pixels=100)
    with pytest.raises(ImageError, match="max_pixels must be a positive integer"):
        read_image(path, max_pixels=0)


# ----------------------------------------------------------------------------------------------------
# read_image: formats and modes that are converted
# ----------------------------------------------------------------------------------------------------
def test_16bit_grayscale_png_is_rescaled_not_clipped(tmp_path):
    values = np.array([[0, 128, 129, 32896, 65535]], np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode == "I;16"
    rgb = read_image(path)
    expected = np.rint(values / 257.0).astype(np.uint8)  # 0, 0, 1, 128, 255
    assert rgb.shape == (1, 5, 3)
    np.testing.assert_array_equal(rgb[..., 0], expected)
    np.testing.assert_array_equal(rgb[..., 1], expected)
    np.testing.assert_array_equal(rgb[..., 2], expected)


def test_16bit_colour_png_keeps_full_precision(tmp_path):
    rgb16 = np.array([[[1000, 30000, 65535], [0, 129, 32896]]], np.uint16)
    path = tmp_path / "c16.png"
    assert cv2.imwrite(str(path), rgb16[..., ::-1])  # OpenCV writes BGR
    np.testing.assert_array_equal(read_image(path), np.rint(rgb16 / 257.0).astype(np.uint8))


def test_16bit_rgba_png_is_composited_on_white(tmp_path):
    rgba16 = np.array([[[0, 0, 0, 0], [0, 0, 0, 65535], [65535, 0, 0, 32768]]], np.uint16)
    path = tmp_path / "rgba16.png"
    assert cv2.imwrite(str(path), rgba16[..., [2, 1, 0, 3]])
    alpha = 32768 / 65535
    half_red = [255, round(255 * (1 - alpha)), round(255 * (1 - alpha))]
    assert read_image(path).tolist() == [[[255, 255, 255], [0, 0, 0], half_red]]


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 8), (0, 255, 0, 0)).save(path, quality=95)  # pure magenta ink
    assert Image.open(path).mode == "CMYK"
    rgb = read_image(path)
    assert rgb.shape == (8, 16, 3) and rgb.dtype == np.uint8
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(axis=0), [255, 0, 255], atol=6)


def test_animated_gif_gives_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (6, 4), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 3
    rgb = read_image(path)
    assert rgb.shape == (4, 6, 3)
    assert (rgb == [255, 0, 0]).all()


def test_palette_png(tmp_path):
    image = Image.new("P", (3, 1))
    image.putpalette([10, 20, 30, 200, 100, 50, 0, 255, 0] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2])
    path = tmp_path / "palette.png"
    image.save(path)
    assert Image.open(path).mode == "P"
    assert read_image(path).tolist() == [[[10, 20, 30], [200, 100, 50], [0, 255, 0]]]


def test_palette_png_with_transparent_entry_goes_white(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    image.putdata([0, 1])
    path = tmp_path / "palette_t.png"
    image.save(path, transparency=0)
    assert read_image(path).tolist() == [[[255, 255, 255], [0, 0, 255]]]


def test_la_png_is_composited_on_white(tmp_path):
    la = np.array([[[0, 0], [0, 255], [0, 128], [100, 255]]], np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(la).save(path)
    assert Image.open(path).mode == "LA"
    grey_half = round(255 * (1 - 128 / 255))
    expected = [[255] * 3, [0] * 3, [grey_half] * 3, [100] * 3]
    assert read_image(path).tolist() == [expected]


def test_grayscale_jpeg_repeats_channels(tmp_path):
    path = tmp_path / "grey.jpg"
    Image.new("L", (5, 3), 77).save(path, quality=100)
    rgb = read_image(path)
    assert rgb.shape == (3, 5, 3)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert abs(int(rgb[0, 0, 0]) - 77) <= 1


@pytest.mark.parametrize(
    "orientation, shape, red_corner",
    [(1, (16, 24, 3), (0, 0)), (3, (16, 24, 3), (-1, -1)), (6, (24, 16, 3), (0, -1)), (8, (24, 16, 3), (-1, 0))],
)
def test_exif_orientation_is_applied(tmp_path, orientation, shape, red_corner):
    path = tmp_path / f"o{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_quadrant_image()).save(path, quality=100, exif=exif.tobytes())
    rgb = read_image(path)
    assert rgb.shape == shape
    assert _is_red(rgb[red_corner])
    # the red block is 8 x 8 in the corner: the opposite corner is blue
    assert not _is_red(rgb[(-1 - red_corner[0]) % shape[0], (-1 - red_corner[1]) % shape[1]])


@pytest.mark.parametrize("orientation", range(2, 9))
def test_numpy_orientation_ops_match_pil(orientation):
    # Used for 16-bit colour PNGs, which PIL cannot hold; they must equal ImageOps.exif_transpose.
    rgb = np.random.default_rng(orientation).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    image.getexif()[0x0112] = orientation
    np.testing.assert_array_equal(_ORIENTATION_OPS[orientation](rgb), np.asarray(ImageOps.exif_transpose(image)))


# ----------------------------------------------------------------------------------------------------
# read_image: other source types
# ----------------------------------------------------------------------------------------------------
def test_bytes_file_objects_and_pil_images_agree(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = write_png(tmp_path / "x.png", rgb)
    data = path.read_bytes()
    with open(path, "rb") as handle:
        from_handle = read_image(handle)
    for result in (read_image(path), read_image(str(path)), read_image(data), read_image(bytearray(data)),
                   read_image(io.BytesIO(data)), from_handle, read_image(Image.open(path)),
                   read_image(Image.fromarray(rgb))):
        assert result.dtype == np.uint8
        np.testing.assert_array_equal(result, rgb)


def test_bad_source_types():
    with pytest.raises(ImageError, match="Cannot read an image from a int"):
        read_image(42)
    with pytest.raises(ImageError, match="binary mode"):
        read_image(io.StringIO("abc"))
    with pytest.raises(ImageError, match="The image data is empty"):
        read_image(b"")
    with pytest.raises(ImageError, match="file object is empty"):
        read_image(io.BytesIO())


# ----------------------------------------------------------------------------------------------------
# read_image: numpy arrays
# ----------------------------------------------------------------------------------------------------
def test_array_dtypes_are_converted():
    grey = np.array([[0, 100], [200, 255]], np.uint8)
    np.testing.assert_array_equal(read_image(grey), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(read_image(grey[..., None]), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(read_image(np.array([[0, 65535, 257 * 100]], np.uint16))[..., 0], [[0, 255, 100]])
    np.testing.assert_array_equal(read_image(np.array([[True, False]]))[..., 1], [[255, 0]])
    floats = np.array([[0.0, 0.2, 1.0]], np.float32)
    np.testing.assert_array_equal(read_image(floats)[..., 2], np.rint(floats * 255).astype(np.uint8))


def test_uint8_rgb_array_is_copied():
    rgb = np.zeros((2, 2, 3), np.uint8)
    out = read_image(rgb)
    out[0, 0, 0] = 9
    assert rgb[0, 0, 0] == 0 and out.flags["C_CONTIGUOUS"]


def test_rgba_array_is_composited_on_white():
    rgba = np.array([[[10, 20, 30, 0], [10, 20, 30, 255], [0, 0, 0, 51]]], np.uint8)
    assert read_image(rgba).tolist() == [[[255, 255, 255], [10, 20, 30], [204, 204, 204]]]


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((0, 5, 3), np.uint8), r"is empty \(shape \(0, 5, 3\)\)"),
        (np.zeros((2, 2, 2), np.uint8),
         r"must have shape \(H, W\), \(H, W, 1\), \(H, W, 3\) or \(H, W, 4\), got \(2, 2, 2\)"),
        (np.zeros((1, 2, 2, 3), np.uint8), r"got \(1, 2, 2, 3\)"),
        (np.zeros(5, np.uint8), r"got \(5,\)"),
        (np.zeros((3, 32, 48), np.float32), "looks channels-first; use np.moveaxis"),
        (np.array([[0.5, np.nan]]), "contains NaN values"),
        (np.array([[0.0, 255.0]]), r"values in \[0, 255\].*divide 0-255 data by 255"),
        (np.array([[-0.5, 0.5]]), r"values in \[-0.5, 0.5\]"),
        (np.array([[0.5, np.inf]]), r"values in \[0.5, inf\]"),
        (np.zeros((2, 2), np.int64), "dtype int64, which is not an image type"),
        (np.zeros((2, 2), np.complex64), "dtype complex64"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageError, match=message) as info:
        read_image(array)
    _assert_one_clean_sentence(info)


# ----------------------------------------------------------------------------------------------------
# writers
# ----------------------------------------------------------------------------------------------------
def test_write_png_round_trip_and_parents(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    path = write_png(tmp_path / "a" / "b" / "img.png", rgb)
    assert path == tmp_path / "a" / "b" / "img.png" and isinstance(path, Path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rgb)


def test_write_png_rejects_bad_input(tmp_path):
    with pytest.raises(InputError, match=r"rgb must be an \(H, W, 3\) uint8 array, got shape \(5, 4\) dtype uint8"):
        write_png(tmp_path / "x.png", np.zeros((5, 4), np.uint8))
    with pytest.raises(InputError, match="dtype float32"):
        write_png(tmp_path / "x.png", np.zeros((5, 4, 3), np.float32))
    with pytest.raises(InputError, match=r"ends in '\.jpg'; use a path ending in \.png"):
        write_png(tmp_path / "x.jpg", np.zeros((5, 4, 3), np.uint8))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot create the folder"):
        write_png(blocker / "x.png", np.zeros((5, 4, 3), np.uint8))


def test_write_png16_mapping(tmp_path):
    depth = np.array([[1.0, 2.0, 3.0], [np.nan, np.inf, 1.5]], np.float32)
    path = write_png16(tmp_path / "inv.png", depth)
    image = Image.open(path)
    assert image.mode == "I;16"
    expected = [[0, round(0.5 * 65535), 65535], [0, 0, round(0.25 * 65535)]]
    assert np.asarray(image).tolist() == expected
    assert float(image.text["depthkit:vmin"]) == 1.0 and float(image.text["depthkit:vmax"]) == 3.0


def test_write_png16_explicit_range_clips_and_constant_maps(tmp_path):
    values = np.array([[-1.0, 0.0, 5.0, 10.0, 20.0]])
    out = np.asarray(Image.open(write_png16(tmp_path / "r.png", values, vmin=0, vmax=10)))
    assert out.tolist() == [[0, 0, round(0.5 * 65535), 65535, 65535]]
    constant = np.asarray(Image.open(write_png16(tmp_path / "c.png", np.full((2, 2), 7.0))))
    assert constant.tolist() == [[0, 0], [0, 0]]


def test_write_png16_rejects_bad_input(tmp_path):
    with pytest.raises(InputError, match=r"must be a 2-D array \(H, W\), got shape \(3, 4, 5\)"):
        write_png16(tmp_path / "x.png", np.zeros((3, 4, 5)))
    with pytest.raises(InputError, match=r"vmin \(2\) must not be larger than vmax \(1\)"):
        write_png16(tmp_path / "x.png", np.zeros((3, 4)), vmin=2, vmax=1)
    with pytest.raises(InputError, match="vmax must be a finite number"):
        write_png16(tmp_path / "x.png", np.zeros((3, 4)), vmax=float("nan"))
    with pytest.raises(InputError, match="must hold real numbers"):
        write_png16(tmp_path / "x.png", np.array([["a"]]))


def test_write_npy(tmp_path):
    path = write_npy(tmp_path / "d" / "depth.npy", np.array([[1, 2], [3, 4]], np.int64))
    loaded = np.load(path)
    assert loaded.dtype == np.float32 and loaded.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(InputError, match=r"ends in '\.npz'"):
        write_npy(tmp_path / "d.npz", np.zeros(2))
    with pytest.raises(InputError, match="empty"):
        write_npy(tmp_path / "d.npy", np.zeros((0, 3)))


def test_pfm_round_trip_grey_and_colour(tmp_path):
    grey = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)
    grey[1, 2], grey[3, 0], grey[0, 5] = np.inf, -np.inf, np.nan
    back = read_pfm(write_pfm(tmp_path / "g.pfm", grey))
    assert back.dtype == np.float32 and back.shape == (4, 6)
    np.testing.assert_array_equal(back, grey)  # NaN compares equal in assert_array_equal
    colour = np.random.default_rng(4).random((3, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(read_pfm(write_pfm(tmp_path / "c.pfm", colour)), colour)


def test_pfm_layout_is_little_endian_bottom_row_first(tmp_path):
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    data = write_pfm(tmp_path / "l.pfm", values).read_bytes()
    header = b"Pf\n3 2\n-1.0\n"
    assert data[: len(header)] == header
    assert struct.unpack("<6f", data[len(header):]) == (4.0, 5.0, 6.0, 1.0, 2.0, 3.0)


def test_read_pfm_big_endian_and_errors(tmp_path):
    path = tmp_path / "be.pfm"
    path.write_bytes(b"Pf\n2 1\n1.0\n" + struct.pack(">2f", 0.5, -2.0))
    assert read_pfm(path).tolist() == [[0.5, -2.0]]
    path.write_bytes(b"Pf\n2 2\n-1.0\n" + struct.pack("<3f", 1, 2, 3))
    with pytest.raises(ImageError, match="truncated: 2 x 2 x 1 floats need 16 bytes, found 12"):
        read_pfm(path)
    path.write_bytes(b"P6\n2 2\n255\n" + bytes(12))
    with pytest.raises(ImageError, match="is not a PFM file"):
        read_pfm(path)
    with pytest.raises(ImageError, match="PFM file not found"):
        read_pfm(tmp_path / "missing.pfm")


def _parse_ply(path):
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    return header, data[end:]


def test_write_ply_binary(tmp_path):
    rng = np.random.default_rng(5)
    points = rng.normal(size=(7, 3)) * 3
    colors = rng.integers(0, 256, (7, 3), dtype=np.uint8)
    header, body = _parse_ply(write_ply(tmp_path / "cloud" / "c.ply", points, colors))
    assert header == [
        "ply", "format binary_little_endian 1.0", "comment written by depthkit; coordinates in metres",
        "element vertex 7", "property float x", "property float y", "property float z",
        "property uchar red", "property uchar green", "property uchar blue", "end_header",
    ]
    assert len(body) == 7 * 15
    vertices = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                          ("r", "u1"), ("g", "u1"), ("b", "u1")])
    np.testing.assert_array_equal(np.stack([vertices["x"], vertices["y"], vertices["z"]], 1),
                                  points.astype(np.float32))
    np.testing.assert_array_equal(np.stack([vertices["r"], vertices["g"], vertices["b"]], 1), colors)


def test_write_ply_ascii_and_without_colours(tmp_path):
    points = np.array([[0.1, -2.5, 3.0], [1e-3, 4.25, 7.125]])
    colors = np.array([[255, 0, 10], [1, 2, 3]], np.uint8)
    header, body = _parse_ply(write_ply(tmp_path / "a.ply", points, colors, binary=False))
    assert header[1] == "format ascii 1.0" and "element vertex 2" in header
    rows = [line.split() for line in body.decode("ascii").splitlines()]
    assert len(rows) == 2
    np.testing.assert_array_equal(np.array([[float(v) for v in r[:3]] for r in rows], np.float32),
                                  points.astype(np.float32))
    assert [[int(v) for v in r[3:]] for r in rows] == colors.tolist()
    header, body = _parse_ply(write_ply(tmp_path / "b.ply", points))
    assert not any("uchar" in line for line in header) and len(body) == 2 * 12


def test_write_ply_rejects_bad_input(tmp_path):
    with pytest.raises(InputError, match=r"points must have shape \(N, 3\), got \(4, 2\)"):
        write_ply(tmp_path / "x.ply", np.zeros((4, 2)))
    with pytest.raises(InputError, match="1 of 2 points are not finite"):
        write_ply(tmp_path / "x.ply", np.array([[0, 0, 1], [0, np.inf, 1]], float))
    with pytest.raises(InputError, match=r"colors must be an \(2, 3\) uint8 array matching points, "
                                         r"got shape \(2, 3\) dtype float64"):
        write_ply(tmp_path / "x.ply", np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(InputError, match="got shape \\(3, 3\\) dtype uint8"):
        write_ply(tmp_path / "x.ply", np.zeros((2, 3)), np.zeros((3, 3), np.uint8))
