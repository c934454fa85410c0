"""Rebuild the files in data/samples/ from the copies shipped inside scikit-image and matplotlib.

Run from the repository root (offline; needs scikit-image and matplotlib installed)::

    python data/samples/make_samples.py

It is not needed to use depthkit: the files it makes are committed. It exists so that anyone can check
where every sample comes from and regenerate them byte for byte (JPEG re-encoding may differ between
Pillow versions). See README.md in this folder for sources and licences.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root, for depthkit.io

# Calibration of the scikit-image copy of Middlebury 2014 "Motorcycle" (see README.md): the original
# calib.txt values (2964 x 2000 px images) divided by 4, as documented by skimage.data.stereo_motorcycle.
MOTORCYCLE_CALIB = {
    "description": "Middlebury 2014 'Motorcycle' (perfect rectification), downscaled 4x by scikit-image",
    "width": 741,
    "height": 500,
    "focal_px": 994.978,
    "cx0_px": 311.193,
    "cx1_px": 342.279,
    "cy_px": 254.877,
    "doffs_px": 31.086,
    "baseline_mm": 193.001,
    "depth_formula": "Z_mm = baseline_mm * focal_px / (disparity_px + doffs_px)",
    "invalid_disparity": "inf",
    "original_full_size": {
        "width": 2964,
        "height": 2000,
        "focal_px": 3979.911,
        "cx0_px": 1244.772,
        "cx1_px": 1369.115,
        "cy_px": 1019.507,
        "doffs_px": 124.343,
        "baseline_mm": 193.001,
        "ndisp": 270,
    },
}


def main() -> None:
    import matplotlib
    import skimage
    import skimage.data
    from PIL import Image

    from depthkit.io import write_pfm

    skimage_data = Path(skimage.__file__).parent / "data"
    mpl_data = Path(matplotlib.get_data_path()) / "sample_data"

    # PNG photos -> JPEG quality 90 (small files; the sample photos are for looking at and for MiDaS).
    for name in ("astronaut", "chelsea", "coffee"):
        rgb = getattr(skimage.data, name)()
        Image.fromarray(rgb).save(HERE / f"{name}.jpg", quality=90, optimize=True)
    # Already JPEG: copied byte for byte (no second lossy compression).
    shutil.copyfile(skimage_data / "rocket.jpg", HERE / "rocket.jpg")
    shutil.copyfile(mpl_data / "grace_hopper.jpg", HERE / "grace_hopper.jpg")

    # Stereo pair: lossless PNGs copied byte for byte; disparity as float32 PFM (+inf = unknown).
    shutil.copyfile(skimage_data / "motorcycle_left.png", HERE / "motorcycle_left.png")
    shutil.copyfile(skimage_data / "motorcycle_right.png", HERE / "motorcycle_right.png")
    left, right, disparity = skimage.data.stereo_motorcycle()
    assert left.shape == right.shape == (500, 741, 3) and disparity.shape == (500, 741)
    disparity = np.where(np.isfinite(disparity), disparity, np.inf).astype(np.float32)
    write_pfm(HERE / "motorcycle_disparity.pfm", disparity)
    (HERE / "motorcycle_calib.json").write_text(json.dumps(MOTORCYCLE_CALIB, indent=2) + "\n")

    for path in sorted(HERE.iterdir()):
        if path.suffix in (".jpg", ".png", ".pfm", ".json"):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            print(f"{path.name:28s} {path.stat().st_size:>9,d} bytes  sha256 {digest}")


if __name__ == "__main__":
    main()
