"""Tests for depthkit.io: read_image conversions and failures, and the file writers/readers."""

import errno
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
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
    DEFAULT_MAX_FILE_BYTES,
    encode_npy,
    encode_pfm,
    encode_ply,
    encode_png,
    encode_png16,
    image_size,
    max_file_bytes,
    output_path,
    read_image,
    read_pfm,
    write_file,
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
    with pytest.raises(ImageError, match=r"Image file not found: .*nope\.jpg"):
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


@pytest.mark.parametrize("binary", [True, False])
def test_ply_loads_in_plyfile_with_the_right_points_and_colours(tmp_path, binary):
    import plyfile  # a dev tool (pyproject [dev]): an independent PLY reader

    from depthkit.viz import point_cloud

    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 8.0, (12, 17))
    depth[3, 4] = np.inf  # a sky pixel: dropped by point_cloud, so 203 points
    points, colors = point_cloud(image, depth, fov_deg=70.0)
    for ply in (plyfile.PlyData.read(write_ply(tmp_path / "cloud.ply", points, colors, binary=binary)),
                plyfile.PlyData.read(io.BytesIO(encode_ply(points, colors, binary=binary)))):
        assert ply.text is (not binary) and [e.name for e in ply.elements] == ["vertex"]
        vertex = ply["vertex"]
        assert vertex.count == len(points) == 12 * 17 - 1
        xyz = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1)
        rgb = np.stack([vertex["red"], vertex["green"], vertex["blue"]], axis=1)
        assert xyz.dtype == np.float32 and rgb.dtype == np.uint8
        np.testing.assert_array_equal(xyz, points)
        np.testing.assert_array_equal(rgb, colors)


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


# ----------------------------------------------------------------------------------------------------
# encoders: the bytes the writers write, the one path policy
# ----------------------------------------------------------------------------------------------------
def test_encode_png_round_trips_rgb_rgba_and_grey():
    rng = np.random.default_rng(7)
    for image in (rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), rng.integers(0, 256, (5, 7, 4), dtype=np.uint8),
                  rng.integers(0, 256, (5, 7), dtype=np.uint8)):
        for level in (0, 1, 9):
            data = encode_png(image, compress_level=level)
            with Image.open(io.BytesIO(data)) as png:
                expected_mode = "L" if image.ndim == 2 else ("RGB" if image.shape[2] == 3 else "RGBA")
                assert png.format == "PNG" and png.mode == expected_mode
                np.testing.assert_array_equal(np.asarray(png), image)


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (300, 401)])  # the last one is deflated in two threads
@pytest.mark.parametrize("colours", [1, 17, 256])
def test_encode_png_with_a_palette_decodes_to_palette_of_indices(shape, colours):
    import cv2

    rng = np.random.default_rng(colours)
    palette = rng.integers(0, 256, (colours, 3), dtype=np.uint8)
    indices = np.minimum(np.cumsum(rng.integers(0, 2, shape), axis=1), colours - 1).astype(np.uint8)  # runs
    for level in (0, 1, 6, 9):
        data = encode_png(indices, compress_level=level, palette=palette)
        with Image.open(io.BytesIO(data)) as png:
            png.load()  # PIL checks every CRC and the zlib checksum
            assert (png.format, png.mode, png.size) == ("PNG", "P", (shape[1], shape[0]))
            np.testing.assert_array_equal(np.asarray(png), indices)
            np.testing.assert_array_equal(np.asarray(png.convert("RGB")), palette[indices])
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(decoded[..., ::-1], palette[indices])
        assert zlib_stream_ok(data)


def zlib_stream_ok(data):
    """The IDAT of a one-IDAT PNG is a complete zlib stream that decompresses without leftovers."""
    import zlib

    start = data.index(b"IDAT")
    length = int.from_bytes(data[start - 4:start], "big")
    z = zlib.decompressobj()
    raw = z.decompress(data[start + 4:start + 4 + length])
    return z.eof and not z.unused_data and raw[0] == 0  # filter type "none"


@pytest.mark.parametrize("image, palette, message", [
    (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 3), np.uint8), r"with a palette, image must be a non-empty \(H, W\)"),
    (np.zeros((4, 4), np.uint16), np.zeros((4, 3), np.uint8), "dtype uint16"),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), r"palette must be an \(N, 3\) uint8 RGB table"),
    (np.zeros((4, 4), np.uint8), np.zeros((257, 3), np.uint8), "1 <= N <= 256"),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 3), np.float32), "dtype float32"),
    (np.full((4, 4), 4, np.uint8), np.zeros((4, 3), np.uint8), "index 4 is outside the palette of 4 colours"),
])
def test_encode_png_rejects_bad_palette_input(image, palette, message):
    with pytest.raises(InputError, match=message) as info:
        encode_png(image, palette=palette)
    _assert_one_clean_sentence(info)
    with pytest.raises(InputError, match="compress_level"):
        encode_png(np.zeros((2, 2), np.uint8), palette=np.zeros((1, 3), np.uint8), compress_level=-1)


def test_encode_png_is_what_write_png_writes(tmp_path):
    rgb = np.random.default_rng(8).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    assert write_png(tmp_path / "a.png", rgb).read_bytes() == encode_png(rgb)
    assert write_png(tmp_path / "b.png", rgb, compress_level=9).read_bytes() == encode_png(rgb, compress_level=9)


@pytest.mark.parametrize("image, level, message", [
    (np.zeros((4, 4, 2), np.uint8), 1, r"\(H, W, 3\) RGB, \(H, W, 4\) RGBA or \(H, W\) grey uint8 array, got shape"),
    (np.zeros((4, 4, 3), np.float32), 1, "dtype float32"),
    (np.zeros((0, 4, 3), np.uint8), 1, "non-empty"),
    ([[1, 2]], 1, "got list"),
    (np.zeros((4, 4, 3), np.uint8), 10, "compress_level must be an integer from 0 to 9, got 10"),
    (np.zeros((4, 4, 3), np.uint8), True, "compress_level must be an integer"),
])
def test_encode_png_rejects_bad_input(image, level, message):
    with pytest.raises(InputError, match=message) as info:
        encode_png(image, compress_level=level)
    _assert_one_clean_sentence(info)


def test_other_encoders_give_the_bytes_their_writers_write(tmp_path):
    depth = np.array([[1.0, 2.0, np.nan], [4.0, np.inf, 0.5]], np.float32)
    assert write_png16(tmp_path / "d.png", depth, vmin=0, vmax=4).read_bytes() == encode_png16(depth, vmin=0, vmax=4)
    assert write_npy(tmp_path / "d.npy", depth).read_bytes() == encode_npy(depth)
    assert write_pfm(tmp_path / "d.pfm", depth).read_bytes() == encode_pfm(depth)
    points, colors = np.array([[0.0, 1.0, 2.0]]), np.array([[1, 2, 3]], np.uint8)
    for binary in (True, False):
        written = write_ply(tmp_path / f"c{binary}.ply", points, colors, binary=binary).read_bytes()
        assert written == encode_ply(points, colors, binary=binary)
    np.testing.assert_array_equal(np.load(io.BytesIO(encode_npy(depth))), depth)
    with pytest.raises(InputError, match="encode_png16: vmin"):
        encode_png16(depth, vmin=3, vmax=1)
    with pytest.raises(InputError, match=r"encode_ply: points must have shape \(N, 3\)"):
        encode_ply(np.zeros((2, 2)))


def test_output_path_is_the_one_path_policy(tmp_path):
    out = output_path(tmp_path / "x" / "y" / "Z.PNG", (".png",), writer="demo")
    assert out.parent.is_dir() and not out.exists()
    with pytest.raises(InputError, match=r"demo writes \.gif files, but the path .*ends in '\.png'; use a path ending"):
        output_path(tmp_path / "a.png", (".gif",), writer="demo")
    (tmp_path / "x.gif").mkdir()
    with pytest.raises(InputError, match="is an existing folder; pass a file path such as"):
        output_path(tmp_path / "x.gif", (".gif",), writer="demo")
    with pytest.raises(InputError, match=r"path must be a str or pathlib\.Path, got int"):
        output_path(3, (".png",), writer="demo")
    path = write_file(tmp_path / "new" / "t.txt", b"abc", suffixes=(".txt",), writer="demo")
    assert path.read_bytes() == b"abc"


def test_write_file_turns_os_errors_into_one_sentence(tmp_path, monkeypatch):
    def disk_full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_bytes", disk_full)
        with pytest.raises(InputError, match=r"demo: could not write .*t\.txt' \(No space left on device\); choose a "
                                             "writable location") as info:
            write_file(tmp_path / "t.txt", b"x", suffixes=(".txt",), writer="demo")
        _assert_one_clean_sentence(info)
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(InputError, match="cannot create the folder") as info:
        write_file(blocked / "t.txt", b"x", suffixes=(".txt",), writer="demo")
    _assert_one_clean_sentence(info)


# ----------------------------------------------------------------------------------------------------
# read_image: only regular files, and never more than the byte cap
# ----------------------------------------------------------------------------------------------------
@pytest.mark.timeout(30)
def test_non_regular_files_are_refused_before_reading(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # opening it for reading would block forever
    zero = tmp_path / "zero.jpg"
    zero.symlink_to("/dev/zero")  # reading it would never end
    to_fifo = tmp_path / "link.png"
    to_fifo.symlink_to(fifo)
    folder_link = tmp_path / "folder.png"
    folder_link.symlink_to(tmp_path)
    sock_path = tmp_path / "s.png"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        cases = [(fifo, r"pipe\.jpg' is a FIFO \(named pipe\), not a regular image file, so it is not read"),
                 (zero, r"zero\.jpg' links to '/dev/zero', which is a character device"),
                 (to_fifo, r"link\.png' links to '.*pipe\.jpg', which is a FIFO"),
                 (folder_link, "is a folder, not an image file"),
                 (sock_path, r"s\.png' is a socket, not a regular image file"),
                 (Path("/dev/null"), "'/dev/null' is a character device")]
        for source, message in cases:
            for reader in (read_image, image_size, read_pfm):
                with pytest.raises(ImageError, match=message) as info:
                    reader(source)
                _assert_one_clean_sentence(info)
    finally:
        sock.close()


def test_broken_link_is_reported_as_missing(tmp_path):
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "deleted.jpg")
    with pytest.raises(ImageError, match=r"Image file not found: .*gone\.jpg' \(a broken link\)"):
        read_image(link)


class _EndlessStream(io.RawIOBase):
    """A binary file object that never ends (like a socket or /dev/zero opened elsewhere); counts what it gives."""

    def __init__(self):
        self.given = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        buffer[:] = b"\xff" * len(buffer)
        self.given += len(buffer)
        return len(buffer)


def test_an_endless_file_object_is_stopped_at_the_cap(monkeypatch):
    stream = _EndlessStream()
    with pytest.raises(ImageError, match=r"larger than 3,000,000 bytes, the most depthkit reads from one file") as info:
        read_image(stream, max_bytes=3_000_000)
    _assert_one_clean_sentence(info)
    assert 3_000_000 < stream.given <= 3_000_001  # it stopped one byte past the cap, in 1 MiB chunks
    monkeypatch.setenv("DEPTHKIT_MAX_FILE_BYTES", "5000")
    assert max_file_bytes() == 5000
    stream = _EndlessStream()
    with pytest.raises(ImageError, match=r"larger than 5,000 bytes.*DEPTHKIT_MAX_FILE_BYTES"):
        read_image(stream)
    assert stream.given == 5001
    monkeypatch.setenv("DEPTHKIT_MAX_FILE_BYTES", "lots")
    with pytest.raises(ImageError, match="DEPTHKIT_MAX_FILE_BYTES='lots' is not a positive whole number of bytes"):
        read_image(_EndlessStream())
    monkeypatch.delenv("DEPTHKIT_MAX_FILE_BYTES")
    assert max_file_bytes() == DEFAULT_MAX_FILE_BYTES == 200_000_000
    with pytest.raises(ImageError, match="max_bytes must be a positive integer number of bytes, got 0"):
        read_image(_EndlessStream(), max_bytes=0)


def test_a_file_over_the_cap_is_refused_and_one_under_it_is_read(tmp_path):
    path = write_png(tmp_path / "n.png", np.random.default_rng(9).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    size = path.stat().st_size
    with pytest.raises(ImageError, match=rf"n\.png' is larger than {size - 1:,} bytes"):
        read_image(path, max_bytes=size - 1)
    assert read_image(path, max_bytes=size).shape == (40, 40, 3)
    with open(path, "rb") as handle, pytest.raises(ImageError, match=f"larger than {size - 1:,} bytes"):
        read_image(handle, max_bytes=size - 1)


# ----------------------------------------------------------------------------------------------------
# read_image: HEIC and AVIF phone photos
# ----------------------------------------------------------------------------------------------------
def _encoded(rgb, fmt, orientation=1, **options):
    import pillow_heif

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, exif=exif.tobytes(), **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "orientation, shape, red_corner",
    [(1, (16, 24, 3), (0, 0)), (3, (16, 24, 3), (-1, -1)), (6, (24, 16, 3), (0, -1)), (8, (24, 16, 3), (-1, 0))],
)
def test_heic_is_decoded_upright_like_jpeg(orientation, shape, red_corner):
    heic = _encoded(_quadrant_image(), "HEIF", orientation, quality=95)
    assert heic[4:12] == b"ftypheic"
    rgb = read_image(heic)
    assert rgb.shape == shape and _is_red(rgb[red_corner])
    assert not _is_red(rgb[(-1 - red_corner[0]) % shape[0], (-1 - red_corner[1]) % shape[1]])
    jpeg = read_image(_encoded(_quadrant_image(), "JPEG", orientation, quality=95))
    assert np.abs(rgb.astype(int) - jpeg.astype(int)).mean() < 8  # same picture, same way up (codecs blur edges)
    assert image_size(heic) == shape[:2]


def test_truncated_heic_is_one_sentence():
    heic = _encoded(_quadrant_image(), "HEIF", quality=95)
    message = r"HEIF photo but is truncated or corrupt|truncated or corrupt, so"
    for cut in (len(heic) // 2, len(heic) - 10):
        with pytest.raises(ImageError, match=message) as info:
            read_image(heic[:cut])
        _assert_one_clean_sentence(info)


def test_avif_is_decoded_when_pillow_supports_it():
    from PIL import features

    assert features.check("avif"), "this Pillow build has no AVIF codec; README says AVIF needs Pillow >= 11.3"
    rgb = read_image(_encoded(_quadrant_image(), "AVIF", quality=95))
    assert rgb.shape == (16, 24, 3) and _is_red(rgb[0, 0]) and not _is_red(rgb[-1, -1])


# ----------------------------------------------------------------------------------------------------
# read_image: big phone photos and size limits
# ----------------------------------------------------------------------------------------------------
_BLOCK = 96  # the synthetic 48 MP photo is a grid of 84 x 63 solid blocks of 96 x 96 px


@pytest.fixture(scope="module")
def photo_48mp(tmp_path_factory):
    """An 8064 x 6048 (48 MP, a current phone's 48 MP mode) JPEG of random solid blocks, and the block colours."""
    colours = np.random.default_rng(10).integers(0, 256, (6048 // _BLOCK, 8064 // _BLOCK, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("photos") / "phone_48mp.jpg"
    Image.fromarray(colours).resize((8064, 6048), Image.Resampling.NEAREST).save(path, quality=80)
    return path, colours


def test_48mp_jpeg_is_refused_at_full_size_and_loads_at_reduced_scale(photo_48mp, monkeypatch):
    path, colours = photo_48mp
    with pytest.raises(ImageError, match=r"8064 x 6048 px \(48,771,072 pixels\), more than max_pixels.*max_size="):
        read_image(path)
    assert image_size(path) == (6048, 8064)
    from PIL import JpegImagePlugin

    decoded = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = draft(self, mode, size)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    rgb = read_image(path, max_size=1024)
    assert rgb.shape == (768, 1024, 3)
    assert decoded == [(2016, 1512)]  # decoded at 1/4: the largest reduction that keeps >= 1024 px
    scale = 1024 / 8064
    centres = ((np.arange(colours.shape[0]) + 0.5) * _BLOCK * scale).astype(int), \
        ((np.arange(colours.shape[1]) + 0.5) * _BLOCK * scale).astype(int)
    sampled = rgb[np.ix_(*centres)]
    assert np.abs(sampled.astype(int) - colours.astype(int)).mean() < 4  # every block keeps its colour


def test_48mp_jpeg_memory_stays_bounded_in_a_fresh_process(photo_48mp):
    path, _ = photo_48mp
    code = (
        "import resource, sys; from depthkit.io import read_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rgb = read_image(sys.argv[1], max_size=1024)\n"
        "print(rgb.shape, before // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    shape, before_mb, after_mb = run.stdout.rsplit(" ", 2)
    assert shape == "(768, 1024, 3)"
    # a full decode alone would hold 8064 * 6048 * 4 bytes = 195 MB inside PIL; at 1/4 scale it is 12 MB
    assert int(after_mb) - int(before_mb) < 100, run.stdout


def test_fit_pixels_shrinks_instead_of_refusing_and_max_size_applies_to_every_source(tmp_path):
    rgb = np.random.default_rng(11).integers(0, 256, (100, 200, 3), dtype=np.uint8)
    path = write_png(tmp_path / "w.png", rgb)
    with pytest.raises(ImageError, match="more than max_pixels=5,000"):
        read_image(path, max_pixels=5000)
    fitted = read_image(path, max_pixels=5000, fit_pixels=True)
    assert fitted.shape == (50, 100, 3) and fitted.shape[0] * fitted.shape[1] <= 5000
    expected = cv2.resize(rgb, (50, 25), interpolation=cv2.INTER_AREA)
    for source in (path, path.read_bytes(), rgb, Image.fromarray(rgb)):
        out = read_image(source, max_size=50)
        assert out.shape == (25, 50, 3)
        assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1  # area averaging, PIL's or OpenCV's
    assert read_image(path, max_size=500).shape == (100, 200, 3)  # fits: today's full-size result
    with pytest.raises(ImageError, match=r"shrunk to 50 x 25 px .* is still more than max_pixels=100"):
        read_image(path, max_pixels=100, max_size=50)
    with pytest.raises(ImageError, match="max_size must be a positive integer number of pixels"):
        read_image(path, max_size=0)
    with pytest.raises(ImageError, match="fit_pixels must be True or False"):
        read_image(path, fit_pixels="yes")


def test_shrinking_keeps_orientation_modes_and_transparency(tmp_path):
    path = tmp_path / "o6.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.repeat(np.repeat(_quadrant_image(), 4, 0), 4, 1)).save(path, quality=100, exif=exif.tobytes())
    rgb = read_image(path, max_size=48)  # 96 x 64 upright, shrunk to 48 x 32 (decoded at 1/2)
    assert rgb.shape == (48, 32, 3) and _is_red(rgb[0, -1]) and not _is_red(rgb[-1, 0])
    palette = Image.new("P", (40, 20))
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    palette.paste(1, (0, 0, 20, 20))
    palette.save(tmp_path / "p.png", transparency=0)
    shrunk = read_image(tmp_path / "p.png", max_size=20)
    assert shrunk.shape == (10, 20, 3)
    assert shrunk[5, 2].tolist() == [255, 0, 0] and shrunk[5, 17].tolist() == [255, 255, 255]
    grey16 = np.full((30, 60), 65535, np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    assert (read_image(tmp_path / "g16.png", max_size=20) == 255).all()


def test_declared_bombs_are_refused_before_decoding_even_with_max_size():
    with pytest.raises(ImageError, match=r"declares 100000 x 100000 px \(10,000,000,000 pixels\), more than the "
                                         r"250,000,000 pixels depthkit ever decodes.*downscale") as info:
        read_image(_png_header_only(100_000, 100_000), max_size=1024)
    _assert_one_clean_sentence(info)
    with pytest.raises(ImageError, match=r"65000 x 65000 px .* depthkit ever decodes"):
        read_image(_jpeg_declaring(65000, 65000), max_size=1024)
    with pytest.raises(ImageError, match=r"65000 x 65000 px .* depthkit ever decodes"):
        read_image(_jpeg_declaring(65000, 65000), fit_pixels=True)
    assert image_size(_jpeg_declaring(65000, 100)) == (100, 65000)  # the header alone is fine to read


def _jpeg_declaring(width, height):
    """A tiny JPEG whose frame header (SOF0) claims ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


# ----------------------------------------------------------------------------------------------------
# no upload crashes the kernel: nasty files decoded in a separate process
# ----------------------------------------------------------------------------------------------------
_CHILD = r'''
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, resource.RLIM_INFINITY))  # a runaway allocation fails here
from depthkit.errors import DepthkitError
from depthkit.io import read_image
unexpected = 0
for path in sys.argv[1:]:
    for options in ({}, {"max_size": 1024}):
        start = time.perf_counter()
        try:
            outcome = {"shape": list(read_image(path, **options).shape)}
        except DepthkitError as exc:
            outcome = {"error": str(exc)}
        except BaseException as exc:  # anything else is a bug: a traceback a student would see
            outcome = {"unexpected": f"{type(exc).__name__}: {exc}"}
            unexpected += 1
        outcome.update(name=path.rsplit("/", 1)[-1], options=options, seconds=time.perf_counter() - start)
        print(json.dumps(outcome), flush=True)
sys.exit(3 if unexpected else 0)
'''


_CORRUPT = "truncated or corrupt|corrupt or truncated"
_PHOTO = np.random.default_rng(12).integers(0, 256, (24, 32, 3), dtype=np.uint8)


def _encoded_photo(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_PHOTO).save(buffer, format=fmt)
    return buffer.getvalue()


def _refused_files(folder: Path) -> dict[str, str]:
    """Uploads that are not usable pictures -> a regex of the one-sentence refusal each must give."""
    import zipfile

    import pillow_heif

    pillow_heif.register_heif_opener()
    contents = {
        "empty.jpg": (b"", "is empty"),
        "notes.jpg": (b"shopping list: milk\n", "looks like a text file"),
        "page.png": (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML web page"),
        "paper.jpg": (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 20, "it is a PDF document"),
        "drawing.png": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "text file"),
        "cut.jpg": (_encoded_photo("JPEG")[:300], _CORRUPT),
        "cut.png": (_encoded_photo("PNG")[:60], f"{_CORRUPT}|not a readable image"),
        "cut.heic": (_encoded_photo("HEIF")[:300], f"HEIF photo but is truncated or corrupt|{_CORRUPT}"),
        "bomb.png": (_png_header_only(100_000, 100_000), "10,000,000,000 pixels"),
        "bomb.jpg": (_jpeg_declaring(65000, 65000), "4,225,000,000 pixels"),
        "bomb.gif": (b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00\x2c" + bytes(9)
                     + b"\x02\x02\x44\x01\x00\x3b", "4,294,836,225 pixels"),
    }
    expected = {}
    for name, (data, refusal) in contents.items():
        (folder / name).write_bytes(data)
        expected[name] = refusal
    with zipfile.ZipFile(folder / "archive.png", "w") as archive:
        archive.writestr("a.txt", "hello" * 100)
    Image.fromarray(np.full((8, 8), 300.0, np.float32)).save(folder / "float_hdr.tiff")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "album.jpg").mkdir()
    expected.update({"archive.png": "it is a ZIP archive", "float_hdr.tiff": "float images must lie in",
                     "pipe.jpg": "is a FIFO", "zero.jpg": "which is a character device", "album.jpg": "is a folder"})
    return expected


def _picture_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Unusual but valid pictures -> the (H, W) that read_image must return at full size."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = Image.fromarray(_PHOTO)
    frames = [Image.new("RGB", (6, 4), c) for c in ((255, 0, 0), (0, 255, 0))]
    pictures = {
        "one.png": (Image.new("RGB", (1, 1), (9, 8, 7)), (1, 1), {}),
        "row.png": (Image.new("RGB", (4000, 1)), (1, 4000), {}),
        "column.png": (Image.new("L", (1, 4000)), (4000, 1), {}),
        "grey16.png": (Image.fromarray(np.full((8, 8), 40000, np.uint16)), (8, 8), {}),
        "float.tiff": (Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)), (8, 8), {}),
        "cmyk.jpg": (Image.new("CMYK", (16, 8), (0, 255, 0, 0)), (8, 16), {}),
        "palette.png": (photo.quantize(16), (24, 32), {}),
        "onebit.png": (Image.new("1", (9, 5), 1), (5, 9), {}),
        "rgba.png": (Image.fromarray(np.dstack([_PHOTO, np.full((24, 32), 128, np.uint8)])), (24, 32), {}),
        "anim.gif": (frames[0], (4, 6), {"save_all": True, "append_images": frames[1:], "loop": 0}),
        "rotated.jpg": (photo, (32, 24), {"exif": exif.tobytes()}),
        "rotated.heic": (photo, (32, 24), {"format": "HEIF", "exif": exif.tobytes()}),
        "photo.heic": (photo, (24, 32), {"format": "HEIF"}),
        "photo.webp": (photo, (24, 32), {}),
        "photo.avif": (photo, (24, 32), {}),
        "Mein Foto – été 写真.jpg": (photo, (24, 32), {}),
    }
    for name, (image, _, options) in pictures.items():
        image.save(folder / name, **options)
    cv2.imwrite(str(folder / "rgb16.png"), np.full((8, 8, 3), 40000, np.uint16))
    return {"rgb16.png": (8, 8)} | {name: shape for name, (_, shape, _) in pictures.items()}


@pytest.mark.timeout(120)
def test_no_upload_crashes_the_process(tmp_path):
    expected = {**_refused_files(tmp_path), **_picture_files(tmp_path)}
    assert len(expected) >= 33
    run = subprocess.run([sys.executable, "-c", _CHILD, *(str(tmp_path / name) for name in expected)],
                         capture_output=True, text=True, timeout=110)
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:], results[-1:])  # < 0: killed by a signal
    assert "Traceback" not in run.stderr
    assert len(results) == 2 * len(expected)
    for result in results:
        want = expected[result["name"]]
        assert result["seconds"] < 5, result
        if isinstance(want, tuple):
            assert "shape" in result, result
            height, width = want
            scale = min(1.0, 1024 / max(want)) if result["options"] else 1.0
            assert result["shape"] == [max(1, round(height * scale)), max(1, round(width * scale)), 3], result
        else:
            assert "error" in result, result
            assert re.search(want, result["error"]), result
            assert "\n" not in result["error"] and result["error"].endswith("."), result


def test_read_photo_keeps_photos_that_fit_and_scales_bigger_ones(tmp_path, monkeypatch):
    from depthkit import io as dio

    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(path)
    assert dio.OVERSIZE_SIDE == 4096
    np.testing.assert_array_equal(dio.read_photo(path), read_image(path))  # fits: full size, same pixels
    assert dio.read_photo(path, max_size=20).shape == (15, 20, 3)
    monkeypatch.setattr(dio, "DEFAULT_MAX_PIXELS", 1000)  # now the photo (1200 px) counts as "too big"
    monkeypatch.setattr(dio, "OVERSIZE_SIDE", 16)
    assert dio.read_photo(path).shape == (12, 16, 3)
    with open(path, "rb") as f:  # a file object is read once
        assert dio.read_photo(f).shape == (12, 16, 3)
    assert dio.read_photo(path, max_size=8).shape == (6, 8, 3)


def test_ply_header_states_the_unit(tmp_path):
    from depthkit.io import encode_ply, write_ply

    metric = encode_ply(np.zeros((2, 3)), binary=False).decode().splitlines()[2]
    relative = encode_ply(np.zeros((2, 3)), binary=False, metric=False).decode().splitlines()[2]
    assert metric == "comment written by depthkit; coordinates in metres"
    assert relative.startswith("comment written by depthkit; coordinates in relative units")
    assert "metres" not in relative
    header = write_ply(tmp_path / "c.ply", np.zeros((2, 3)), metric=False).read_bytes()[:200]
    assert b"relative units" in header
    with pytest.raises(InputError, match="metric must be True or False"):
        encode_ply(np.zeros((2, 3)), metric="m")


def test_paletted_png_encodes_in_a_forked_child():
    """The two-thread deflate must not wait forever on the parent's worker thread after a fork."""
    import multiprocessing

    from depthkit.io import encode_png

    indices = np.arange(480 * 640, dtype=np.uint32).reshape(480, 640).astype(np.uint8)  # big: split in two
    palette = np.stack([np.arange(256, dtype=np.uint8)] * 3, axis=1)
    parent = encode_png(indices, palette=palette)  # starts the worker thread in this process
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put(encode_png(indices, palette=palette)))
    child.start()
    try:
        got = queue.get(timeout=30)  # read before join: the child's queue feeder waits until the data is taken
    except Exception:  # noqa: BLE001 - queue.Empty: nothing within 30 s
        got = None
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    assert got is not None, "encode_png hung in a forked child"
    assert got == parent
