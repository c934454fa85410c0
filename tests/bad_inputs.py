"""The bad-input corpus: files a student might hand the kit, each with what the kit must make of it.

:func:`build_corpus` writes every :data:`CASES` entry into a folder (in a test fixture: nothing binary is
committed). Each case either has a ``picture`` — the (H, W, 3) uint8 RGB array a correct decoder returns,
upright and in the right colours — or must be refused with one sentence matching ``refuse``.

Run as a script, the module is the isolated worker the tests start in a subprocess with resource limits, so
that a file that hangs, exhausts memory or crashes the interpreter cannot take the test session with it::

    python tests/bad_inputs.py read PATH OUT.npy             # read_image -> JSON line on stdout
    python tests/bad_inputs.py app CORPUS OUTDIR NAME...     # the app's upload path, one JSON line per case
    python tests/bad_inputs.py run SECONDS -- CMD ARGS...    # run CMD, report exit code, output, time, peak RSS

Peak memory is measured (VmHWM of a worker; ``ru_maxrss`` of a command it runs) and capped: the workers set
``RLIMIT_AS`` to :data:`ADDRESS_LIMIT` (generous, as torch reserves ~4 GB of address space it never touches);
the contract, checked by the tests, is a peak resident size below :data:`MEMORY_LIMIT`.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # run as a script: make tests/browser importable
    sys.path.insert(0, str(_HERE))

from browser import bad_files as bf  # noqa: E402 - after the path set-up above

#: The contract: no input may make a process's resident memory exceed this (bytes).
MEMORY_LIMIT = 2 * 1024**3
#: Hard address-space cap of the workers (bytes): a runaway read fails here instead of filling the machine.
ADDRESS_LIMIT = 8 * 1024**3
#: The contract: every input gives its picture or its sentence within this many seconds. Measured as CPU time
#: (user + system, all threads), which does not grow when other jobs share the machine; wall time is only
#: bounded by :data:`HANG_LIMIT` (a blocked read uses no CPU, so hangs are caught by the wall clock).
SECONDS_LIMIT = 5.0
#: Wall-clock seconds after which one input counts as a hang.
HANG_LIMIT = 30.0


@dataclass(frozen=True)
class Case:
    """One corpus entry.

    Attributes:
        name: identifier (test id and table row).
        filename: the file's name in the corpus folder (its extension is what a student would see).
        what: one line for the table.
        make: ``make(path)`` creates the file (or FIFO, folder, symlink) at ``path``.
        picture: the correct (H, W, 3) uint8 RGB decoding, or None if the input must be refused.
        tolerance: largest mean absolute difference to ``picture`` (0-255 scale) a lossy format may have.
        refuse: regex the one-sentence refusal must match (for inputs that must be refused, or may be).
        may_shrink: the kit may hand back a smaller picture of the same aspect (it shrinks huge photos).
        may_refuse: a valid picture the model path may refuse with one sentence (e.g. a 1 px wide line).
    """

    name: str
    filename: str
    what: str
    make: Callable[[Path], None]
    picture: np.ndarray | None = None
    tolerance: float = 0.0
    refuse: str = ""
    may_shrink: bool = False
    may_refuse: bool = False

    @property
    def regular(self) -> bool:
        """False for the FIFO, the folder and the device symlink (no bytes to upload)."""
        return self.name not in NON_REGULAR


NON_REGULAR = ("fifo", "directory", "symlink_dev_zero")


# ------------------------------------------------------------------------------------------------ builders
def _encode(array: np.ndarray, fmt: str, mode: str | None = None, **kwargs) -> bytes:
    from PIL import Image

    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _marked(height: int = 60, width: int = 90) -> np.ndarray:
    """Blue picture with a red block in the top-left corner and a green one bottom-right (orientation marks)."""
    a = np.zeros((height, width, 3), np.uint8)
    a[:] = (20, 40, 200)
    a[: height // 3, : width // 3] = (230, 20, 20)
    a[-height // 3:, -width // 3:] = (20, 200, 40)
    return a


def _exif_rotated(fmt: str) -> bytes:
    """``_marked()`` stored as is, with EXIF orientation 6: "rotate 90 degrees clockwise to view"."""
    from PIL import Image

    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(_marked(), fmt, exif=exif.tobytes(), quality=95)


def _heif(array: np.ndarray) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _encode(array, "HEIF", quality=95)


def _truncated_png() -> bytes:
    data = _encode(bf.gradient_rgb(120, 160), "PNG")
    return data[: len(data) // 2]


def _pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] "
            b"/Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("holiday/photo.jpg", _encode(bf.gradient_rgb(), "JPEG"))
    return buffer.getvalue()


_SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="90" height="60">'
        b'<rect width="90" height="60" fill="#1565c0"/></svg>\n')
_HTML = (b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1>"
         b"<p>The requested photo was not found on this server.</p></body></html>\n")


def _fifty_mp(path: Path) -> None:
    from PIL import Image

    Image.new("L", (8000, 6250), 90).save(path, format="JPEG", quality=50)


def _float_tiff(path: Path) -> None:
    from PIL import Image

    Image.fromarray(_FLOAT, mode="F").save(path, format="TIFF")


def _palette(path: Path) -> None:
    from PIL import Image

    image = Image.fromarray(_PALETTE_INDEX, mode="P")
    image.putpalette([230, 20, 20, 20, 200, 40, 20, 40, 200, 250, 250, 250] + [0] * (256 - 4) * 3)
    image.save(path, format="PNG")


def _one_bit(path: Path) -> None:
    from PIL import Image

    Image.fromarray(_CHECKER > 0).convert("1").save(path, format="PNG")


def _animated_gif(path: Path) -> None:
    from PIL import Image

    frames = [Image.fromarray(_GIF_FRAME0), Image.fromarray(_GIF_FRAME0[:, ::-1].copy())]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside.jpg").write_bytes(_encode(bf.gradient_rgb(), "JPEG"))


def _symlink_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


_GRAD = bf.gradient_rgb(60, 90)
_LINE = np.linspace(0, 255, 4000).round().astype(np.uint8)
_TALL = np.ascontiguousarray(np.dstack([_LINE, 255 - _LINE, np.full(4000, 77, np.uint8)]).reshape(4000, 1, 3))
_WIDE = np.ascontiguousarray(_TALL.reshape(1, 4000, 3))
_GRAY16 = np.linspace(0, 65535, 80)[None, :].repeat(50, 0).astype(np.uint16)
_FLOAT = np.linspace(0.0, 1.0, 64 * 48, dtype=np.float32).reshape(48, 64)
_PALETTE_INDEX = (np.add.outer(np.arange(40) // 10, np.arange(50) // 10) % 4).astype(np.uint8)
_PALETTE_RGB = np.array([(230, 20, 20), (20, 200, 40), (20, 40, 200), (250, 250, 250)], np.uint8)[_PALETTE_INDEX]
_CHECKER = (np.add.outer(np.arange(30) // 5, np.arange(40) // 5) % 2).astype(np.uint8) * 255
_ALPHA = np.dstack([_GRAD, np.where(np.arange(90)[None, :].repeat(60, 0) < 45, 255, 0).astype(np.uint8)])
_GIF_FRAME0 = _marked(40, 70)


def _gray(values: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(values, np.uint8)[..., None], 3, axis=2)


def _composited(rgba: np.ndarray) -> np.ndarray:
    return np.where(rgba[..., 3:] == 255, rgba[..., :3], 255).astype(np.uint8)


_BAD = r"not a readable image|not an image|cannot be read|could not be (read|decoded)"
CASES: tuple[Case, ...] = (
    Case("empty", "empty.jpg", "empty file (0 bytes)", _bytes(b""), refuse=r"empty"),
    Case("text_as_jpg", "notes.jpg", "text file renamed .jpg", _bytes(bf.text_renamed_jpg), refuse=r"text"),
    Case("html_as_png", "download.png", "HTML error page renamed .png", _bytes(_HTML), refuse=r"HTML"),
    Case("pdf_as_jpg", "scan.jpg", "PDF renamed .jpg", _bytes(_pdf), refuse=rf"PDF|{_BAD}"),
    Case("zip_as_png", "photos.png", "ZIP archive renamed .png", _bytes(_zip), refuse=rf"ZIP|zip|{_BAD}"),
    Case("svg_as_png", "logo.png", "SVG drawing renamed .png", _bytes(_SVG), refuse=rf"SVG|{_BAD}"),
    Case("truncated_jpeg", "cut.jpg", "JPEG cut after a third", _bytes(bf.truncated_jpeg), refuse=r"truncated|corrupt"),
    Case("truncated_png", "broken.png", "PNG cut in half", _bytes(_truncated_png), refuse=r"truncated|corrupt"),
    Case("decompression_bomb", "bomb.png", "80-byte PNG declaring 100000 x 100000 px", _bytes(bf.huge_declared_png),
         refuse=r"bomb|100000 x 100000|10,000,000,000"),
    Case("fifty_megapixels", "huge_photo.jpg", "real 8000 x 6250 px (50 MP) JPEG", _fifty_mp,
         picture=np.full((6250, 8000, 3), 90, np.uint8), tolerance=2, refuse=r"8000 x 6250|pixels",
         may_shrink=True, may_refuse=True),
    Case("one_by_one", "dot.png", "1 x 1 px PNG", _bytes(lambda: _encode(np.array([[[200, 10, 30]]], np.uint8), "PNG")),
         picture=np.array([[[200, 10, 30]]], np.uint8), refuse=r"small|1 x 1|px", may_refuse=True),
    Case("one_by_4000", "tall.png", "1 px wide, 4000 px tall PNG", _bytes(lambda: _encode(_TALL, "PNG")),
         picture=_TALL, refuse=r"narrow|thin|wide|tall|small|1 x 4000|px", may_refuse=True),
    Case("4000_by_one", "wide.png", "4000 px wide, 1 px tall PNG", _bytes(lambda: _encode(_WIDE, "PNG")),
         picture=_WIDE, refuse=r"narrow|thin|wide|tall|small|4000 x 1|px", may_refuse=True),
    Case("gray16", "scan16.png", "16-bit grey PNG", _bytes(bf.png16_gray), picture=_gray(np.round(_GRAY16 / 257))),
    Case("rgb16", "photo16.png", "16-bit RGB PNG (48 bits per pixel)", _bytes(bf.png16_rgb),
         picture=bf.gradient_rgb(50, 80)),
    Case("float_tiff", "float.tif", "32-bit float TIFF, values 0..1", _float_tiff,
         picture=_gray(np.round(255 * _FLOAT))),
    Case("cmyk", "print.jpg", "CMYK JPEG", _bytes(bf.cmyk_jpeg), picture=bf.gradient_rgb(50, 80), tolerance=4),
    Case("palette", "palette.png", "palette (P mode) PNG, 4 colours", _palette, picture=_PALETTE_RGB),
    Case("one_bit", "bits.png", "1-bit black-and-white PNG", _one_bit, picture=_gray(_CHECKER)),
    Case("rgba", "cutout.png", "RGBA PNG, right half transparent", _bytes(lambda: _encode(_ALPHA, "PNG")),
         picture=_composited(_ALPHA)),
    Case("animated_gif", "cat.gif", "animated GIF, 2 frames", _animated_gif, picture=_GIF_FRAME0),
    Case("exif_jpeg", "portrait.jpg", "JPEG stored sideways, EXIF orientation 6", _bytes(lambda: _exif_rotated("JPEG")),
         picture=np.ascontiguousarray(np.rot90(_marked(), k=-1)), tolerance=6),
    Case("exif_heic", "portrait.heic", "HEIC stored sideways, orientation 6", _bytes(lambda: _exif_rotated("HEIF")),
         picture=np.ascontiguousarray(np.rot90(_marked(), k=-1)), tolerance=6),
    Case("heic", "iphone.heic", "HEIC (iPhone default format)", _bytes(lambda: _heif(_GRAD)), picture=_GRAD,
         tolerance=6),
    Case("avif", "camera.avif", "AVIF", _bytes(lambda: _encode(_GRAD, "AVIF", quality=95)), picture=_GRAD,
         tolerance=8),
    Case("webp", "web.webp", "lossless WebP", _bytes(lambda: _encode(_GRAD, "WEBP", lossless=True)),
         picture=_GRAD),
    Case("non_ascii_name", "Ünïcødé phötö ☀ 1.jpg", "JPEG with a non-ASCII name with spaces",
         _bytes(lambda: _encode(_GRAD, "JPEG", quality=95)), picture=_GRAD, tolerance=4),
    Case("fifo", "pipe.jpg", "FIFO (named pipe) named .jpg", _fifo, refuse=r"FIFO|pipe|not a regular file"),
    Case("directory", "folder.jpg", "folder named .jpg", _directory, refuse=r"folder|directory"),
    Case("symlink_dev_zero", "zero.jpg", "symlink to /dev/zero named .jpg", _symlink_dev_zero,
         refuse=r"device|not a regular file|/dev/zero"),
)
BY_NAME = {case.name: case for case in CASES}


def build_corpus(folder: Path) -> dict[str, Path]:
    """Create every case's file in ``folder``; returns ``name -> path``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES:
        path = folder / case.filename
        case.make(path)
        paths[case.name] = path
    return paths


# ------------------------------------------------------------------------------------------------- judging
def _resized(picture: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(picture).resize((shape[1], shape[0]), Image.BOX))


def shape_ok(case: Case, shape: tuple[int, ...]) -> bool:
    """``shape`` (H, W[, 3]) is the picture's, or (if ``case.may_shrink``) the picture shrunk by one factor with
    each side rounded and at least 1 px."""
    want = case.picture.shape[:2]
    if tuple(shape[:2]) == want:
        return True
    factor = max(shape[:2]) / max(want)
    return case.may_shrink and factor < 1 and all(
        abs(n - max(1.0, factor * m)) <= 1 for n, m in zip(shape[:2], want, strict=True))


def picture_problem(case: Case, got: np.ndarray) -> str | None:
    """Why ``got`` is not the correct decoding of ``case`` (None if it is)."""
    want = case.picture
    if got.dtype != np.uint8 or got.ndim != 3 or got.shape[2] != 3:
        return f"got a {got.dtype} array of shape {got.shape}, not (H, W, 3) uint8"
    if not shape_ok(case, got.shape):
        return f"shape {got.shape}, expected {want.shape}"
    if got.shape != want.shape:
        want = _resized(want, got.shape[:2])
    error = float(np.abs(got.astype(np.int16) - want.astype(np.int16)).mean())
    if error > case.tolerance:
        return f"pixels differ from the expected picture by {error:.1f} on average (tolerance {case.tolerance})"
    return None


def sentence_problem(case: Case, message: str) -> str | None:
    """Why ``message`` is not one clear sentence refusing ``case`` (None if it is)."""
    import re

    if not message or "\n" in message.strip() or "Traceback" in message:
        return f"not one line: {message!r}"
    if not re.search(case.refuse, message):
        return f"the sentence does not say what is wrong (expected /{case.refuse}/): {message!r}"
    return None


# ------------------------------------------------------------------------------------------------- workers
def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))


def _peak_rss() -> int:
    """Peak resident memory of this process, in bytes: VmHWM, which starts afresh at exec (``ru_maxrss`` would
    also count the pytest process this worker was forked from, up to the exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def _worker_read(path: str, out: str) -> int:
    _limit_memory()
    import depthkit.io
    from depthkit.errors import DepthkitError

    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        rgb = depthkit.io.read_image(path)
        record = {"ok": True, "shape": list(rgb.shape)}
        np.save(out, rgb)
    except DepthkitError as exc:
        record = {"ok": False, "error": str(exc)}
    record.update(seconds=time.perf_counter() - t0, cpu=time.process_time() - cpu0, peak_rss=_peak_rss())
    _emit(record)
    return 0


def _worker_app(corpus: str, outdir: str, names: list[str]) -> int:
    """Upload each case to one app (regular files as FileUpload bytes, the others via ``app.run(path)``)."""
    _limit_memory()
    import depthkit as dk

    ui = dk.app(dk.load_model("random"), sample="chelsea")
    for name in names:
        case = BY_NAME[name]
        path = Path(corpus) / case.filename
        before = ui.result
        t0, cpu0 = time.perf_counter(), time.process_time()
        if case.regular:
            data = path.read_bytes()
            ui.upload.value = ({"name": case.filename, "type": "", "size": len(data), "content": memoryview(data),
                                "last_modified": datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)},)
        else:
            ui.run(path, case.filename)
        record = {"name": name, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0,
                  "error": ui.error, "peak_rss": _peak_rss()}
        if not ui.error:
            np.save(Path(outdir) / f"{name}.npy", ui.result.image)
            record["shape"] = list(ui.result.image.shape)
        else:
            record["kept_previous"] = ui.result is before and before is not None
        _emit(record)
    return 0


def _worker_run(seconds: float, cmd: list[str]) -> int:
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds, preexec_fn=_limit_memory)
        record = {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "timed_out": False}
    except subprocess.TimeoutExpired as exc:
        record = {"returncode": None, "stdout": str(exc.stdout or ""), "stderr": str(exc.stderr or ""),
                  "timed_out": True}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    record.update(seconds=time.perf_counter() - t0, cpu=usage.ru_utime + usage.ru_stime,
                  peak_rss=usage.ru_maxrss * 1024)
    _emit(record)
    return 0


def run_worker(*args: str, timeout: float, cwd: Path | None = None, env: dict | None = None) -> list[dict]:
    """Start ``python tests/bad_inputs.py ARGS`` and return its JSON records (raises on a crash or a hang)."""
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True,
                              text=True, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the worker {args[:2]} hung for more than {timeout:.0f} s") from None
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or "Traceback" in done.stderr:
        raise AssertionError(f"the worker {args[:2]} crashed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    return records


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    if command == "read":
        return _worker_read(rest[0], rest[1])
    if command == "app":
        return _worker_app(rest[0], rest[1], rest[2:])
    if command == "run":
        return _worker_run(float(rest[0]), rest[rest.index("--") + 1:])
    raise SystemExit(f"unknown command {command!r}; use read, app or run")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

