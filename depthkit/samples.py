"""Small real photos and one stereo pair with ground-truth depth, bundled for offline teaching.

The files live in ``data/samples/`` of the repository (see its README.md for sources and licences):

=================  ==========================  ===============================================
name               size (H x W)                what
=================  ==========================  ===============================================
``astronaut``      512 x 512                   Eileen Collins, NASA portrait (public domain)
``chelsea``        300 x 451                   Chelsea the cat (CC0)
``coffee``         400 x 600                   a coffee cup on a table (CC0)
``grace_hopper``   600 x 512                   Grace Hopper, U.S. Navy portrait (public domain)
``motorcycle``     500 x 741                   Middlebury 2014 stereo scene, left view
``rocket``         427 x 640                   SpaceX Falcon 9 launch (public domain)
=================  ==========================  ===============================================

:func:`motorcycle` returns the full stereo sample: both views, the ground-truth disparity in pixels and
the camera calibration, from which metric depth follows as ``Z = baseline * f / (d + doffs)``.

The folder is found next to the package (a repository checkout: ``<repo>/data/samples``); set the
environment variable ``DEPTHKIT_SAMPLES`` to use another folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ImageError, InputError

__all__ = ["SAMPLES_ENV", "StereoSample", "check_name", "list_samples", "load_sample", "motorcycle", "sample_path",
           "samples_dir"]

#: Environment variable that, when set, points to the folder holding the sample files.
SAMPLES_ENV = "DEPTHKIT_SAMPLES"

_FILES = {
    "astronaut": "astronaut.jpg",
    "chelsea": "chelsea.jpg",
    "coffee": "coffee.jpg",
    "grace_hopper": "grace_hopper.jpg",
    "motorcycle": "motorcycle_left.png",
    "rocket": "rocket.jpg",
}
_MOTORCYCLE_RIGHT = "motorcycle_right.png"
_MOTORCYCLE_DISPARITY = "motorcycle_disparity.pfm"
_MOTORCYCLE_CALIB = "motorcycle_calib.json"


@dataclass(frozen=True)
class StereoSample:
    """A rectified stereo pair with ground-truth disparity and the calibration to turn it into depth.

    Attributes:
        left: (H, W, 3) uint8 RGB left view (the reference view of ``disparity_px``).
        right: (H, W, 3) uint8 RGB right view.
        disparity_px: (H, W) float32 disparity of the left view in pixels; ``+inf`` where unknown.
        focal_px: focal length in pixels.
        baseline_m: distance between the two camera centres in metres.
        doffs_px: x-difference of the two principal points in pixels (added to the disparity).
        cx_px: x of the left camera's principal point in pixels, or None if unknown.
        cy_px: y of the principal point in pixels, or None if unknown.
        name: short name of the scene.
    """

    left: np.ndarray
    right: np.ndarray
    disparity_px: np.ndarray
    focal_px: float
    baseline_m: float
    doffs_px: float
    cx_px: float | None = None
    cy_px: float | None = None
    name: str = ""

    def __post_init__(self):
        for field in ("left", "right", "disparity_px"):
            if not isinstance(getattr(self, field), np.ndarray):
                kind = type(getattr(self, field)).__name__
                raise InputError(f"StereoSample.{field} must be a numpy array, got {kind}.")
        if self.disparity_px.ndim != 2:
            raise InputError(f"StereoSample.disparity_px must be (H, W), got shape {self.disparity_px.shape}.")
        expected = (*self.disparity_px.shape, 3)
        if self.left.shape != expected or self.right.shape != expected:
            raise InputError(
                f"StereoSample views must both be {expected} to match disparity_px, got left {self.left.shape} "
                f"and right {self.right.shape}."
            )
        for field in ("focal_px", "baseline_m"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise InputError(f"StereoSample.{field} must be a positive number, got {value!r}.")
        if not (isinstance(self.doffs_px, (int, float)) and np.isfinite(self.doffs_px)):
            raise InputError(f"StereoSample.doffs_px must be a finite number, got {self.doffs_px!r}.")

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the views and maps, in pixels."""
        return tuple(self.disparity_px.shape)

    @property
    def valid(self) -> np.ndarray:
        """(H, W) bool mask: True where the disparity is known (finite) and gives a positive depth."""
        disparity = self.disparity_px.astype(np.float64)
        finite = np.isfinite(disparity)
        return finite & (np.where(finite, disparity, 0.0) + self.doffs_px > 0)

    @property
    def depth_m(self) -> np.ndarray:
        """(H, W) float32 metric depth in metres, ``Z = baseline_m * focal_px / (disparity_px + doffs_px)``.

        ``+inf`` where the disparity is unknown (see :attr:`valid`). Larger = farther (this is depth, not the
        inverse depth that MiDaS predicts).
        """
        valid = self.valid
        depth = np.full(self.shape, np.inf, dtype=np.float64)
        depth[valid] = self.baseline_m * self.focal_px / (self.disparity_px[valid].astype(np.float64) + self.doffs_px)
        return depth.astype(np.float32)

    @property
    def inverse_depth(self) -> np.ndarray:
        """(H, W) float32 true inverse depth in 1/metres (larger = nearer, like MiDaS output); 0 where unknown."""
        depth = self.depth_m
        return np.where(np.isfinite(depth), 1.0 / depth, 0.0).astype(np.float32)


def list_samples() -> list[str]:
    """Names of the bundled sample images, sorted.

    Returns:
        list of str, valid for :func:`sample_path` and :func:`load_sample`.

    Example:
        >>> list_samples()
        ['astronaut', 'chelsea', 'coffee', 'grace_hopper', 'motorcycle', 'rocket']
    """
    return sorted(_FILES)


def samples_dir() -> Path:
    """Folder holding the sample files: ``$DEPTHKIT_SAMPLES`` if set, else ``<repo>/data/samples``.

    Returns:
        The folder as a :class:`pathlib.Path`.

    Raises:
        ImageError: the folder does not exist.
    """
    override = os.environ.get(SAMPLES_ENV, "").strip()
    if override:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise ImageError(
                f"{SAMPLES_ENV} is set to '{folder}', which is not a folder; point it at depthkit's data/samples "
                "folder or unset it."
            )
        return folder
    folder = Path(__file__).resolve().parents[1] / "data" / "samples"
    if not folder.is_dir():
        raise ImageError(
            f"depthkit's sample folder was not found at '{folder}' (the samples ship with the repository, not "
            f"the installed package); run from a repository checkout or set {SAMPLES_ENV} to the data/samples folder."
        )
    return folder


def check_name(name: str) -> str:
    """The canonical name of a bundled sample (lower case, ``_`` for ``-``), or an error listing the valid names.

    Args:
        name: a sample name such as ``"Grace-Hopper"``.

    Returns:
        The name as :func:`list_samples` spells it.

    Raises:
        InputError: unknown name (the message lists the valid names).

    Example:
        >>> check_name(" Grace-Hopper")
        'grace_hopper'
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in _FILES:
        raise InputError(f"Unknown sample {name!r}; choose one of: {', '.join(list_samples())}.")
    return key


def _existing(filename: str) -> Path:
    """Path of a file in :func:`samples_dir`, or an ImageError saying it is missing."""
    path = samples_dir() / filename
    if not path.is_file():
        raise ImageError(
            f"Sample file '{path}' is missing; restore data/samples from the repository (git checkout data/samples)."
        )
    return path


def sample_path(name: str) -> Path:
    """Path of a bundled sample image.

    Args:
        name: one of :func:`list_samples` (case-insensitive; ``-`` may stand for ``_``).

    Returns:
        The image file's path (``motorcycle`` gives its left view).

    Raises:
        InputError: unknown name (the message lists the valid names).
        ImageError: the samples folder or the file is missing.

    Example:
        >>> sample_path("chelsea").name
        'chelsea.jpg'
    """
    return _existing(_FILES[check_name(name)])


def load_sample(name: str) -> np.ndarray:
    """Load a bundled sample image as (H, W, 3) uint8 RGB (through :func:`depthkit.io.read_image`).

    Args:
        name: one of :func:`list_samples`.

    Returns:
        (H, W, 3) uint8 RGB array.

    Example:
        >>> load_sample("chelsea").shape
        (300, 451, 3)
    """
    from .io import read_image

    return read_image(sample_path(name))


def motorcycle() -> StereoSample:
    """The Middlebury 2014 "Motorcycle" stereo scene at 741 x 500 px with ground-truth disparity and depth.

    This is scikit-image's copy (``skimage.data.stereo_motorcycle``), downscaled 4x from the original
    2964 x 2000 px images; the calibration is scaled to match: f = 994.978 px, doffs = 31.086 px,
    baseline = 193.001 mm. Valid depths lie between about 2.1 m and 5.0 m.

    Returns:
        :class:`StereoSample` with ``left``/``right`` (500, 741, 3) uint8, ``disparity_px`` (500, 741)
        float32 (+inf unknown), and the calibration; ``.depth_m`` gives depth in metres.

    Raises:
        ImageError: a sample file is missing or corrupt.

    Example:
        >>> stereo = motorcycle()
        >>> stereo.shape, stereo.focal_px, stereo.baseline_m
        ((500, 741), 994.978, 0.193001)
    """
    from .io import read_image, read_pfm

    calib_path = _existing(_MOTORCYCLE_CALIB)
    try:
        calib = json.loads(calib_path.read_text(encoding="utf-8"))
        focal, doffs = float(calib["focal_px"]), float(calib["doffs_px"])
        baseline_m = float(calib["baseline_mm"]) / 1000.0
        cx, cy = float(calib["cx0_px"]), float(calib["cy_px"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ImageError(
            f"Calibration file '{calib_path}' is corrupt ({type(exc).__name__}: {exc}); restore it from the repository."
        ) from None
    disparity = read_pfm(_existing(_MOTORCYCLE_DISPARITY))
    left = read_image(_existing(_FILES["motorcycle"]))
    right = read_image(_existing(_MOTORCYCLE_RIGHT))
    if disparity.shape != left.shape[:2]:
        raise ImageError(
            f"Motorcycle disparity {disparity.shape} does not match the left view {left.shape[:2]}; restore "
            "data/samples from the repository."
        )
    disparity = np.where(np.isnan(disparity), np.inf, disparity).astype(np.float32)
    return StereoSample(
        left=left, right=right, disparity_px=disparity, focal_px=focal, baseline_m=baseline_m, doffs_px=doffs,
        cx_px=cx, cy_px=cy, name="motorcycle",
    )
