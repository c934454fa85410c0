"""Procedural 3-D scenes with exact per-pixel depth, rendered by vectorised ray casting in numpy.

A scene is a pinhole :class:`Camera` looking at a textured ground plane, a back wall or an open sky, and a few
boxes, spheres and vertical cylinders. Every ray is intersected analytically with every surface and the nearest
hit wins, so the depth map is exact (no rasterisation, no resampling). Surfaces are textured with crops of the
sample photos (:func:`depthkit.samples.load_sample`), shaded with a Lambertian model and hard shadows from one
distant light, and optionally fade into haze with distance.

Conventions:

* World frame: metres, ``y`` up, the ground is the plane ``y = 0``; the camera sits at ``(0, elevation_m, 0)``.
* Camera frame: OpenCV-style, ``x`` right, ``y`` down, ``z`` forward along the optical axis.
* ``depth_m`` is Z along the optical axis in metres (not the Euclidean distance along the ray); sky pixels
  have depth ``+inf`` and inverse depth ``0``.

The module also builds the three deliberately *incompatible* training sets used by the dataset-mixing
experiment (:func:`mixed_datasets`), the three kinds of ground truth of the MiDaS paper (arXiv:1907.01341,
Sec. 5, Table 1): metric depth (calibrated sensors), depth up to an unknown scale per image (structure from
motion) and disparity up to an unknown scale and shift per image (uncalibrated stereo).

Example:
    >>> from depthkit.synthetic import Camera, Sphere, render
    >>> cam = Camera(size=(33, 33), fov_deg=60.0, elevation_m=1.5, pitch_deg=0.0)
    >>> scene = render(cam, [Sphere(center=(0.0, 1.5, 5.0), radius=1.0)], background="sky", seed=0)
    >>> float(scene.depth_m[16, 16])   # the optical axis hits the sphere 1 m before its centre
    4.0
    >>> scene.image.shape, scene.image.dtype.name
    ((33, 33, 3), 'uint8')
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import checks
from .errors import InputError

__all__ = [
    "DATASET_KINDS",
    "DEPTH_KINDS",
    "DISPARITY_KINDS",
    "AnnotatedSample",
    "Box",
    "Camera",
    "Cylinder",
    "DepthClip",
    "Scene",
    "Sphere",
    "TextureSet",
    "camera_pan_clip",
    "mixed_datasets",
    "random_camera",
    "render",
    "render_scene",
    "to_disparity_space",
]

# Labels stored in Scene.labels.
SKY, GROUND, WALL = -1, 0, 1
_EPS = 1e-6
_DEFAULT_SAMPLE_NAMES = ("astronaut", "chelsea", "coffee", "grace_hopper", "rocket")


# --------------------------------------------------------------------------------------------------------------
# Camera and primitives
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Camera:
    """A pinhole camera standing at ``(0, elevation_m, 0)`` in the world.

    Args:
        size: (height, width) of the image in px.
        fov_deg: horizontal field of view in degrees (0 < fov < 180).
        elevation_m: height of the optical centre above the ground plane, metres (> 0).
        pitch_deg: downward tilt of the optical axis in degrees (positive = looking down).
        yaw_deg: heading in degrees, rotation about the world ``y`` axis (0 = looking along world +z).
        roll_deg: rotation about the optical axis in degrees (positive = image content turns clockwise).
    """

    size: tuple[int, int] = (128, 128)
    fov_deg: float = 60.0
    elevation_m: float = 1.5
    pitch_deg: float = 10.0
    yaw_deg: float = 0.0
    roll_deg: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "size", checks.as_size(self.size))
        if not 0.0 < float(self.fov_deg) < 180.0:
            raise InputError(f"fov_deg must be between 0 and 180 degrees, got {self.fov_deg}; pass e.g. 60.")
        if not float(self.elevation_m) > 0.0:
            raise InputError(
                f"elevation_m must be > 0 metres (the camera is above the ground), got {self.elevation_m}."
            )
        if not -89.0 <= float(self.pitch_deg) <= 89.0:
            raise InputError(f"pitch_deg must be between -89 and 89 degrees, got {self.pitch_deg}.")

    @property
    def focal_px(self) -> float:
        """Focal length in px (same horizontally and vertically: square pixels)."""
        return (self.size[1] / 2.0) / math.tan(math.radians(self.fov_deg) / 2.0)

    @property
    def position(self) -> np.ndarray:
        """(3,) float64 optical centre in world metres."""
        return np.array([0.0, float(self.elevation_m), 0.0])

    @property
    def intrinsics(self) -> np.ndarray:
        """(3, 3) float64 pinhole matrix K (px); the principal point is the image centre."""
        h, w = self.size
        f = self.focal_px
        return np.array([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]])

    def rotation(self) -> np.ndarray:
        """(3, 3) float64 rotation taking camera-frame vectors (x right, y down, z forward) to the world."""
        p, yw, r = (math.radians(a) for a in (self.pitch_deg, self.yaw_deg, self.roll_deg))
        roll = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
        flip = np.diag([1.0, -1.0, 1.0])  # camera y (down) -> world y (up)
        pitch = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), -math.sin(p)], [0.0, math.sin(p), math.cos(p)]])
        yaw = np.array([[math.cos(yw), 0.0, math.sin(yw)], [0.0, 1.0, 0.0], [-math.sin(yw), 0.0, math.cos(yw)]])
        return yaw @ pitch @ flip @ roll

    def camera_rays(self) -> np.ndarray:
        """(H, W, 3) float64 camera-frame ray directions through the pixel centres, scaled so that z = 1."""
        h, w = self.size
        f = self.focal_px
        x = (np.arange(w) + 0.5 - w / 2.0) / f
        y = (np.arange(h) + 0.5 - h / 2.0) / f
        rays = np.empty((h, w, 3))
        rays[..., 0] = x[None, :]
        rays[..., 1] = y[:, None]
        rays[..., 2] = 1.0
        return rays

    def world_rays(self) -> np.ndarray:
        """(H, W, 3) float64 world-frame ray directions; a ray parameter t along them *is* the depth Z in metres."""
        return self.camera_rays() @ self.rotation().T

    def forward(self) -> np.ndarray:
        """(3,) float64 unit vector of the horizontal heading (the optical axis projected on the ground)."""
        yw = math.radians(self.yaw_deg)
        return np.array([math.sin(yw), 0.0, math.cos(yw)])


@dataclass(frozen=True)
class Sphere:
    """A sphere: ``center`` (x, y, z) in world metres and ``radius`` in metres."""

    center: tuple[float, float, float]
    radius: float


@dataclass(frozen=True)
class Box:
    """A box: ``center`` (x, y, z) world metres, full ``extent`` (sx, sy, sz) metres, turned by ``yaw_deg`` about y."""

    center: tuple[float, float, float]
    extent: tuple[float, float, float]
    yaw_deg: float = 0.0


@dataclass(frozen=True)
class Cylinder:
    """A vertical cylinder: ``base`` (x, y, z) is the centre of its bottom disc (world metres); radius, height in m."""

    base: tuple[float, float, float]
    radius: float
    height: float


@dataclass
class Scene:
    """A rendered scene.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        depth_m: (H, W) float32 depth Z along the optical axis in metres; ``+inf`` for sky.
        inverse_depth: (H, W) float32 inverse depth in 1/m (``1 / depth_m``); ``0`` for sky. Larger = nearer.
        camera: the :class:`Camera`.
        labels: (H, W) int16 surface id: -1 sky, 0 ground, 1 wall, 2 + k for ``objects[k]``.
        objects: the primitives in the scene.
        light_direction: (3,) unit vector pointing towards the light (world frame).
        haze_density: haze extinction coefficient in 1/m (0 = clear air).
    """

    image: np.ndarray
    depth_m: np.ndarray
    inverse_depth: np.ndarray
    camera: Camera
    labels: np.ndarray
    objects: tuple = ()
    light_direction: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    haze_density: float = 0.0


# --------------------------------------------------------------------------------------------------------------
# Ray / primitive intersection. Every function takes origins (N, 3) or (3,) and directions (N, 3) and returns
# the ray parameter t (N,) of the nearest hit with t > eps, +inf where the ray misses.
# --------------------------------------------------------------------------------------------------------------
def _intersect_sphere(o, d, sph: Sphere, eps=_EPS):
    oc = np.broadcast_to(o, d.shape) - np.asarray(sph.center, dtype=float)
    a = np.einsum("ij,ij->i", d, d)
    b = 2.0 * np.einsum("ij,ij->i", oc, d)
    c = np.einsum("ij,ij->i", oc, oc) - sph.radius**2
    disc = b * b - 4.0 * a * c
    with np.errstate(invalid="ignore"):
        sq = np.sqrt(disc)
        t0 = (-b - sq) / (2.0 * a)
        t1 = (-b + sq) / (2.0 * a)
    t = np.where(t0 > eps, t0, np.where(t1 > eps, t1, np.inf))
    return np.where(disc >= 0.0, t, np.inf)


def _box_frame(box: Box):
    a = math.radians(box.yaw_deg)
    # Columns are the box's local axes in world coordinates (rotation about y).
    return np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])


def _intersect_box(o, d, box: Box, eps=_EPS):
    rot = _box_frame(box)
    ol = (o - np.asarray(box.center, dtype=float)) @ rot  # world -> local: R^T v  ==  v @ R
    dl = d @ rot
    half = np.asarray(box.extent, dtype=float) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dl
        t1 = (-half - ol) * inv
        t2 = (half - ol) * inv
    t1 = np.nan_to_num(t1, nan=-np.inf)
    t2 = np.nan_to_num(t2, nan=np.inf)
    tmin = np.minimum(t1, t2).max(axis=-1)
    tmax = np.maximum(t1, t2).min(axis=-1)
    t = np.where(tmin > eps, tmin, np.where(tmax > eps, tmax, np.inf))
    return np.where(tmax >= tmin, t, np.inf)


def _intersect_cylinder(o, d, cyl: Cylinder, eps=_EPS):
    bx, by, bz = (float(v) for v in cyl.base)
    o = np.broadcast_to(o, d.shape)
    ox, oy, oz = o[:, 0] - bx, o[:, 1] - by, o[:, 2] - bz
    dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
    a = dx * dx + dz * dz
    b = 2.0 * (ox * dx + oz * dz)
    c = ox * ox + oz * oz - cyl.radius**2
    disc = b * b - 4.0 * a * c
    best = np.full(d.shape[0], np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        sq = np.sqrt(disc)
        for t in ((-b - sq) / (2.0 * a), (-b + sq) / (2.0 * a)):
            y = oy + t * dy
            ok = (disc >= 0) & (a > 0) & (t > eps) & (y >= 0.0) & (y <= cyl.height)
            best = np.where(ok & (t < best), t, best)
        for cap in (0.0, cyl.height):
            t = (cap - oy) / dy
            x, z = ox + t * dx, oz + t * dz
            ok = (t > eps) & (x * x + z * z <= cyl.radius**2)
            best = np.where(ok & (t < best), t, best)
    return best


def _bounding_sphere(obj) -> tuple[np.ndarray, float]:
    if isinstance(obj, Box):
        return np.asarray(obj.center, dtype=float), 0.5 * float(np.linalg.norm(obj.extent)) * (1 + 1e-9)
    base = np.asarray(obj.base, dtype=float)
    return base + np.array([0.0, obj.height / 2.0, 0.0]), math.hypot(obj.radius, obj.height / 2.0) * (1 + 1e-9)


def _intersect(o, d, obj, eps=_EPS):
    """Nearest hit t (N,) of rays (o, d) with obj; +inf on a miss. Rays missing the bounding sphere are skipped."""
    if isinstance(obj, Sphere):
        return _intersect_sphere(o, d, obj, eps)
    if not isinstance(obj, (Box, Cylinder)):
        raise InputError(f"objects must be Sphere, Box or Cylinder instances, got {type(obj).__name__}.")
    center, radius = _bounding_sphere(obj)
    oc = o - center
    if oc.ndim == 1:
        b = d @ oc
        c = float(oc @ oc) - radius * radius
    else:
        b = np.einsum("ij,ij->i", oc, d)
        c = np.einsum("ij,ij->i", oc, oc) - radius * radius
    a = np.einsum("ij,ij->i", d, d)
    disc = b * b - a * c
    candidate = disc >= 0
    candidate[candidate] = (-b[candidate] + np.sqrt(disc[candidate])) > 0  # the far bounding hit is ahead
    idx = np.nonzero(candidate)[0]
    t = np.full(d.shape[0], np.inf)
    if idx.size:
        o_sub = o if o.ndim == 1 else o[idx]
        exact = _intersect_box if isinstance(obj, Box) else _intersect_cylinder
        t[idx] = exact(o_sub, d[idx], obj, eps)
    return t


def _normal_and_uv(p, obj):
    """Outward unit normals (N, 3) and texture coordinates (N, 2) in metres for hit points p (N, 3) on obj."""
    if isinstance(obj, Sphere):
        q = p - np.asarray(obj.center, dtype=float)
        n = q / obj.radius
        lon = np.arctan2(q[:, 2], q[:, 0])
        lat = np.arcsin(np.clip(n[:, 1], -1.0, 1.0))
        return n, np.stack([lon * obj.radius, lat * obj.radius], axis=1)
    if isinstance(obj, Box):
        rot = _box_frame(obj)
        ql = (p - np.asarray(obj.center, dtype=float)) @ rot
        rel = np.abs(ql) / (np.asarray(obj.extent, dtype=float) / 2.0)
        axis = rel.argmax(axis=1)
        nl = np.zeros_like(ql)
        nl[np.arange(len(ql)), axis] = np.sign(ql[np.arange(len(ql)), axis])
        # Texture the face with the two coordinates that vary across it.
        uv = np.where((axis == 0)[:, None], ql[:, [2, 1]], np.where((axis == 1)[:, None], ql[:, [0, 2]], ql[:, [0, 1]]))
        return nl @ rot.T, uv
    # Cylinder
    bx, by, bz = (float(v) for v in obj.base)
    q = p - np.array([bx, by, bz])
    cap_tolerance = 1e-5 * max(1.0, obj.height)
    on_cap = (np.abs(q[:, 1]) < cap_tolerance) | (np.abs(q[:, 1] - obj.height) < cap_tolerance)
    radial = q[:, 0] ** 2 + q[:, 2] ** 2
    on_cap &= radial < (obj.radius * (1 - 1e-6)) ** 2
    n = np.zeros_like(q)
    n[:, 0], n[:, 2] = q[:, 0] / obj.radius, q[:, 2] / obj.radius
    n[on_cap] = 0.0
    n[on_cap, 1] = np.where(q[on_cap, 1] > obj.height / 2.0, 1.0, -1.0)
    ang = np.arctan2(q[:, 2], q[:, 0]) * obj.radius
    uv = np.where(on_cap[:, None], q[:, [0, 2]], np.stack([ang, q[:, 1]], axis=1))
    return n, uv


# --------------------------------------------------------------------------------------------------------------
# Textures
# --------------------------------------------------------------------------------------------------------------
def _downsample2(img: np.ndarray) -> np.ndarray:
    h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
    img = img[:h, :w]
    return 0.25 * (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2])


def _pyramid(texture: np.ndarray, max_side: int = 256) -> tuple[np.ndarray, ...]:
    """A mip pyramid of float32 [0, 1] RGB levels (each half the previous size, down to >= 4 px)."""
    tex = np.asarray(texture)
    if tex.ndim != 3 or tex.shape[2] != 3 or tex.shape[0] < 4 or tex.shape[1] < 4:
        raise InputError(f"each texture must be an (H, W, 3) RGB array of at least 4x4 px, got shape {tex.shape}.")
    level = tex.astype(np.float32)
    if tex.dtype == np.uint8 or level.max() > 1.5:
        level = level / 255.0
    while max(level.shape[:2]) > max_side:
        level = _downsample2(level)
    levels = [np.ascontiguousarray(level)]
    while min(levels[-1].shape[:2]) >= 8:
        levels.append(_downsample2(levels[-1]))
    return tuple(levels)


class TextureSet:
    """Surface textures prepared once for rendering (mip pyramids of float32 RGB in [0, 1]).

    Building the pyramids costs a few milliseconds per photo, so pass a ``TextureSet`` instead of raw arrays
    when rendering many scenes with the same textures.

    Args:
        textures: a sequence of (H, W, 3) RGB images (uint8 in [0, 255] or float in [0, 1]), each >= 4x4 px;
            ``None`` uses the sample photos of :mod:`depthkit.samples`.

    Example:
        >>> import numpy as np
        >>> len(TextureSet([np.zeros((16, 16, 3), np.uint8)]))
        1
    """

    def __init__(self, textures=None):
        if textures is None:
            self.pyramids = _default_pyramids()
            return
        if isinstance(textures, np.ndarray) and textures.ndim == 3:
            textures = [textures]
        self.pyramids = tuple(_pyramid(t) for t in textures)
        if not self.pyramids:
            raise InputError("textures must contain at least one (H, W, 3) image; pass None to use the sample photos.")

    def __len__(self) -> int:
        return len(self.pyramids)


@functools.lru_cache(maxsize=1)
def _default_pyramids() -> tuple:
    from .samples import load_sample

    return tuple(_pyramid(load_sample(name)) for name in _DEFAULT_SAMPLE_NAMES)


def _texture_pyramids(textures) -> tuple:
    if isinstance(textures, TextureSet):
        return textures.pyramids
    return TextureSet(textures).pyramids


def _mirror(i: np.ndarray, n: int) -> np.ndarray:
    """Mirrored-repeat wrap of integer texel indices into [0, n)."""
    i = np.mod(i, 2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i)


@dataclass(frozen=True)
class _Material:
    texture: int
    tile_m: float  # metres covered by the texture's width
    offset: tuple[float, float]  # texel offset (fraction of the texture)
    tint: tuple[float, float, float]


def _random_material(rng: np.random.Generator, n_textures: int, tile_range=(0.6, 3.0)) -> _Material:
    return _Material(
        texture=int(rng.integers(n_textures)),
        tile_m=float(np.exp(rng.uniform(*np.log(tile_range)))),
        offset=(float(rng.random()), float(rng.random())),
        tint=tuple(float(v) for v in rng.uniform(0.7, 1.15, size=3)),
    )


def _sample_texture(pyr, mat: _Material, uv: np.ndarray, footprint_m: np.ndarray) -> np.ndarray:
    """Albedo (N, 3) for texture coordinates uv (N, 2, metres) with a mip level chosen from the pixel footprint."""
    base_w = pyr[0].shape[1]
    texels_per_m = base_w / mat.tile_m
    lod = np.log2(np.maximum(footprint_m * texels_per_m, 1e-12))
    lod = np.clip(np.rint(lod), 0, len(pyr) - 1).astype(np.int64)
    out = np.empty((uv.shape[0], 3), dtype=np.float32)
    for k in np.unique(lod):
        sel = lod == k
        lvl = pyr[k]
        h, w = lvl.shape[:2]
        scale = w / mat.tile_m
        x = np.floor(uv[sel, 0] * scale + mat.offset[0] * w).astype(np.int64)
        y = np.floor(-uv[sel, 1] * scale + mat.offset[1] * h).astype(np.int64)
        out[sel] = lvl[_mirror(y, h), _mirror(x, w)]
    return out * np.asarray(mat.tint, dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------------------
def _check_objects(objects) -> tuple:
    objects = tuple(objects)
    for obj in objects:
        if not isinstance(obj, (Sphere, Box, Cylinder)):
            raise InputError(f"objects must be Sphere, Box or Cylinder instances, got {type(obj).__name__}.")
    return objects


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float).reshape(3)
    norm = float(np.linalg.norm(v))
    if not norm > 0 or not np.isfinite(norm):
        raise InputError(f"light_direction must be a non-zero finite 3-vector, got {v.tolist()}.")
    return v / norm


def _check_render_args(camera, background, wall_distance_m, ambient, haze_density) -> None:
    checks.check_type(camera, "camera", Camera, "a depthkit.synthetic.Camera")
    checks.check_choice(background, "background", ("sky", "wall"))
    if background == "wall" and not float(wall_distance_m) > 0:
        raise InputError(f"wall_distance_m must be > 0 metres, got {wall_distance_m}.")
    if not 0.0 <= float(ambient) <= 1.0:
        raise InputError(f"ambient must be in [0, 1], got {ambient}.")
    if not float(haze_density) >= 0.0:
        raise InputError(f"haze_density must be >= 0 (1/m), got {haze_density}.")


def _nearest_hits(camera: Camera, d: np.ndarray, objects: tuple, background: str, wall_distance_m: float):
    """Primary visibility: ray parameter t (N,) of the nearest surface (= depth Z in metres) and its label (N,)."""
    origin = camera.position
    t_best = np.full(d.shape[0], np.inf)
    label = np.full(d.shape[0], SKY, dtype=np.int16)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = np.where(d[:, 1] < 0, -origin[1] / d[:, 1], np.inf)
    hit = t_ground < t_best
    t_best[hit], label[hit] = t_ground[hit], GROUND
    if background == "wall":
        along = d @ camera.forward()
        with np.errstate(divide="ignore", invalid="ignore"):
            t_wall = np.where(along > 0, float(wall_distance_m) / along, np.inf)
        hit = t_wall < t_best
        t_best[hit], label[hit] = t_wall[hit], WALL
    for k, obj in enumerate(objects):
        t_obj = _intersect(origin, d, obj)
        hit = t_obj < t_best
        t_best[hit], label[hit] = t_obj[hit], 2 + k
    return t_best, label


def _sky_gradient(d_sky: np.ndarray, ray_len: np.ndarray, sky_colors) -> np.ndarray:
    """(N, 3) float32 sky colours: horizon colour blending into the zenith colour as rays point upwards."""
    up = np.clip(d_sky[:, 1] / ray_len, 0.0, 1.0)[:, None] ** 0.6
    horizon, zenith = (np.asarray(c, dtype=np.float32) for c in sky_colors)
    return horizon * (1 - up) + zenith * up


def _surface_frame(lab: int, obj, p: np.ndarray, fwd: np.ndarray):
    """Normals (N, 3) and texture coordinates (N, 2, metres) of hit points p on the ground, the wall or obj."""
    if lab == GROUND:
        return np.tile([0.0, 1.0, 0.0], (p.shape[0], 1)), p[:, [0, 2]]
    if lab == WALL:
        right = np.cross(fwd, [0.0, 1.0, 0.0])
        return np.tile(-fwd, (p.shape[0], 1)), np.stack([p @ right, p[:, 1]], axis=1)
    return _normal_and_uv(p, obj)


def _lit_fraction(p: np.ndarray, n: np.ndarray, lab: int, objects: tuple, light: np.ndarray) -> np.ndarray:
    """(N,) bool: True where the hit point sees the light past every other primitive (hard shadows)."""
    start = p + 1e-4 * n
    lit = np.ones(p.shape[0], dtype=bool)
    shadow_dirs = np.broadcast_to(light, start.shape)
    for k, other in enumerate(objects):
        if 2 + k == lab:
            continue  # convex primitives never shadow their own lit side; Lambert handles the dark side
        lit &= ~np.isfinite(_intersect(start, shadow_dirs, other, eps=1e-4))
    return lit


def _shade(camera, d, t_best, label, objects, pyramids, rng, light, ambient, shadows, sky_colors) -> np.ndarray:
    """(N, 3) float32 linear colour of every ray: textured Lambertian surfaces with shadows, and the sky."""
    origin, fwd = camera.position, camera.forward()
    ray_len = np.linalg.norm(d, axis=1)
    color = np.empty((d.shape[0], 3), dtype=np.float32)
    sky = label == SKY
    if sky.any():
        color[sky] = _sky_gradient(d[sky], ray_len[sky], sky_colors)
    surfaces = [(GROUND, None), (WALL, None)] + [(2 + k, obj) for k, obj in enumerate(objects)]
    for lab, obj in surfaces:
        # Materials are drawn for every surface, visible or not, so that a scene's look does not depend on
        # which surfaces happen to be visible.
        mat = _random_material(rng, len(pyramids), (1.5, 6.0) if obj is None else (0.6, 2.5))
        sel = np.nonzero(label == lab)[0]
        if sel.size == 0:
            continue
        p = origin + t_best[sel, None] * d[sel]
        n, uv = _surface_frame(lab, obj, p, fwd)
        dist = t_best[sel] * ray_len[sel]
        cos_view = np.abs(np.einsum("ij,ij->i", n, d[sel])) / ray_len[sel]
        footprint = dist / camera.focal_px / np.maximum(cos_view, 0.2)
        albedo = _sample_texture(pyramids[mat.texture], mat, uv, footprint)
        lambert = np.clip(n @ light, 0.0, None)
        if shadows and objects:
            lambert = lambert * _lit_fraction(p, n, lab, objects, light)
        shade = ambient + (1.0 - ambient) * lambert
        color[sel] = albedo * shade[:, None].astype(np.float32)
    return color


def _add_haze(color, t_best, ray_len, sky, haze_density: float, haze_color) -> np.ndarray:
    """Blend surfaces into the haze colour with the distance along the ray (the sky is left alone)."""
    dist = np.where(sky, np.inf, t_best * ray_len)
    keep = np.exp(-float(haze_density) * dist).astype(np.float32)[:, None]
    hz = np.asarray(haze_color, dtype=np.float32)
    return np.where(sky[:, None], color, color * keep + hz * (1 - keep))


def render(
    camera: Camera,
    objects: Sequence = (),
    *,
    background: str = "sky",
    wall_distance_m: float = 20.0,
    textures: TextureSet | Sequence[np.ndarray] | None = None,
    light_direction: Sequence[float] = (0.4, 1.0, -0.3),
    ambient: float = 0.35,
    shadows: bool = True,
    haze_density: float = 0.0,
    haze_color: Sequence[float] = (0.78, 0.82, 0.88),
    sky_colors: Sequence[Sequence[float]] = ((0.80, 0.86, 0.93), (0.35, 0.55, 0.85)),
    seed: int = 0,
) -> Scene:
    """Ray-cast a scene made of the ground plane, a wall or sky, and the given primitives.

    Args:
        camera: the :class:`Camera` (its ``size`` sets the output resolution).
        objects: a sequence of :class:`Sphere`, :class:`Box` and :class:`Cylinder`; the nearest hit wins.
        background: ``"sky"`` (rays that miss everything get depth ``+inf``) or ``"wall"`` (an infinite vertical
            plane facing the camera, ``wall_distance_m`` metres ahead along the heading).
        wall_distance_m: distance of the wall from the camera along the horizontal heading, metres.
        textures: a :class:`TextureSet` or a sequence of (H, W, 3) uint8 RGB images used as surface textures;
            ``None`` uses the sample photos from :mod:`depthkit.samples`.
        light_direction: (3,) vector pointing towards a distant light (world frame; normalised here).
        ambient: fraction of light that reaches surfaces regardless of orientation and shadows, in [0, 1].
        shadows: cast hard shadows from the primitives onto every surface.
        haze_density: haze extinction coefficient in 1/m; colour = c * exp(-k d) + haze * (1 - exp(-k d)), with d
            the distance along the ray in metres.
        haze_color: RGB haze colour in [0, 1].
        sky_colors: (horizon, zenith) RGB colours in [0, 1] of the sky gradient.
        seed: seed for the random choice of textures, tiling and tint of each surface.

    Returns:
        A :class:`Scene` with the image, the exact depth (metres) and inverse depth (1/m).
    """
    _check_render_args(camera, background, wall_distance_m, ambient, haze_density)
    objects = _check_objects(objects)
    light = _unit(light_direction)
    pyramids = _texture_pyramids(textures)
    rng = np.random.default_rng(seed)
    h, w = camera.size
    d = camera.world_rays().reshape(-1, 3)
    t_best, label = _nearest_hits(camera, d, objects, background, wall_distance_m)
    color = _shade(camera, d, t_best, label, objects, pyramids, rng, light, ambient, shadows, sky_colors)
    if haze_density > 0:
        color = _add_haze(color, t_best, np.linalg.norm(d, axis=1), label == SKY, haze_density, haze_color)
    depth = t_best.reshape(h, w).astype(np.float32)
    with np.errstate(divide="ignore"):
        inverse = np.where(np.isfinite(depth), 1.0 / depth, 0.0).astype(np.float32)
    image = np.clip(np.rint(color * 255.0), 0, 255).astype(np.uint8).reshape(h, w, 3)
    return Scene(image, depth, inverse, camera, label.reshape(h, w), objects, light, float(haze_density))


def random_camera(rng: np.random.Generator, size: int | tuple[int, int] = (128, 128)) -> Camera:
    """Draw a random camera pose: elevation 0.8-2.5 m, pitch 0-25 deg down, any yaw, roll within +-4 deg.

    Args:
        rng: a numpy Generator (e.g. ``np.random.default_rng(0)``).
        size: (height, width) of the image in px.

    Returns:
        A :class:`Camera` with a horizontal field of view of 45-75 degrees.
    """
    return Camera(
        size=checks.as_size(size),
        fov_deg=float(rng.uniform(45.0, 75.0)),
        elevation_m=float(rng.uniform(0.8, 2.5)),
        pitch_deg=float(rng.uniform(0.0, 25.0)),
        yaw_deg=float(rng.uniform(0.0, 360.0)),
        roll_deg=float(rng.uniform(-4.0, 4.0)),
    )


def _random_objects(rng: np.random.Generator, camera: Camera, n: int, max_distance: float) -> list:
    fwd = camera.forward()
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    half_fov = math.radians(camera.fov_deg) / 2.0
    objects = []
    for _ in range(n):
        dist = float(np.exp(rng.uniform(math.log(3.0), math.log(max_distance))))
        lateral = float(rng.uniform(-1.0, 1.0)) * dist * math.tan(half_fov) * 1.1
        ground = fwd * dist + right * lateral
        kind = rng.choice(["box", "sphere", "cylinder"])
        if kind == "box":
            ext = rng.uniform(0.4, 2.0, size=3)
            objects.append(Box(center=(ground[0], ext[1] / 2.0, ground[2]), extent=tuple(float(e) for e in ext),
                               yaw_deg=float(rng.uniform(0.0, 90.0))))
        elif kind == "sphere":
            r = float(rng.uniform(0.3, 1.2))
            lift = float(rng.uniform(0.0, 1.5)) if rng.random() < 0.3 else 0.0
            objects.append(Sphere(center=(float(ground[0]), r + lift, float(ground[2])), radius=r))
        else:
            objects.append(Cylinder(base=(float(ground[0]), 0.0, float(ground[2])), radius=float(rng.uniform(0.2, 0.8)),
                                    height=float(rng.uniform(0.5, 3.0))))
    return objects


def _check_scene_args(seed, background, n_objects) -> None:
    checks.check_int(seed, "seed")
    if background not in (None, "sky", "wall"):
        raise InputError(f"background must be 'sky', 'wall' or None (random), got {background!r}.")
    if n_objects is not None:
        checks.check_int(n_objects, "n_objects", minimum=0, maximum=50, hint="or pass None")


def _random_look(rng: np.random.Generator) -> dict:
    """Random background, object count, haze, light and sky colours of a scene, in a fixed draw order."""
    look = {
        "background": ("sky", "wall")[int(rng.integers(2))],
        "wall_distance_m": float(rng.uniform(12.0, 30.0)),
        "n_objects": int(rng.integers(2, 7)),
        "haze": bool(rng.random() < 0.4),
        "haze_density": float(rng.uniform(0.02, 0.08)),
    }
    azimuth, elevation = rng.uniform(0.0, 2 * math.pi), rng.uniform(math.radians(25.0), math.radians(75.0))
    look["light_direction"] = (
        math.cos(elevation) * math.cos(azimuth),
        math.sin(elevation),
        math.cos(elevation) * math.sin(azimuth),
    )
    look["ambient"] = float(rng.uniform(0.25, 0.5))
    horizon = tuple(float(v) for v in rng.uniform(0.7, 0.95, size=3))
    zenith = tuple(float(v) for v in rng.uniform([0.2, 0.35, 0.6], [0.45, 0.6, 0.95]))
    look["haze_color"], look["sky_colors"] = horizon, (horizon, zenith)
    return look


def render_scene(
    seed: int,
    size: int | tuple[int, int] = (128, 128),
    *,
    textures: TextureSet | Sequence[np.ndarray] | None = None,
    background: str | None = None,
    n_objects: int | None = None,
    haze: bool | None = None,
    shadows: bool = True,
) -> Scene:
    """Render a random scene; the same ``seed`` always gives the same scene.

    The camera pose, field of view, background (sky or wall), 2-6 objects, their textures, the light direction
    and the haze are all drawn from ``np.random.default_rng(seed)``.

    Args:
        seed: integer seed.
        size: (height, width) in px, or one int for a square image.
        textures: a :class:`TextureSet` or (H, W, 3) uint8 RGB texture images; ``None`` uses the sample photos
            of :mod:`depthkit.samples`.
        background: ``"sky"``, ``"wall"`` or ``None`` (random, half and half).
        n_objects: number of primitives; ``None`` draws 2 to 6.
        haze: force haze on or off; ``None`` adds haze to about 40 % of the scenes.
        shadows: cast hard shadows.

    Returns:
        A :class:`Scene`: ``image`` (H, W, 3) uint8, ``depth_m`` (H, W) float32 metres (``+inf`` sky),
        ``inverse_depth`` (H, W) float32 1/m (``0`` sky), ``camera``, ``labels``.

    Example:
        >>> import numpy as np
        >>> tex = [np.full((8, 8, 3), 128, np.uint8)]
        >>> a = render_scene(3, size=(24, 32), textures=tex)
        >>> b = render_scene(3, size=(24, 32), textures=tex)
        >>> a.depth_m.shape, bool(np.array_equal(a.image, b.image))
        ((24, 32), True)
    """
    _check_scene_args(seed, background, n_objects)
    rng = np.random.default_rng(int(seed))
    camera = random_camera(rng, size)
    look = _random_look(rng)  # drawn in full before the overrides, so overriding one setting keeps the others
    bg = background or look["background"]
    count = look["n_objects"] if n_objects is None else int(n_objects)
    use_haze = look["haze"] if haze is None else bool(haze)
    max_distance = look["wall_distance_m"] - 2.5 if bg == "wall" else 20.0
    objects = _random_objects(rng, camera, count, max_distance)
    return render(
        camera,
        objects,
        background=bg,
        wall_distance_m=look["wall_distance_m"],
        textures=textures,
        light_direction=look["light_direction"],
        ambient=look["ambient"],
        shadows=shadows,
        haze_density=look["haze_density"] if use_haze else 0.0,
        haze_color=look["haze_color"],
        sky_colors=look["sky_colors"],
        seed=int(rng.integers(2**31)),
    )


# --------------------------------------------------------------------------------------------------------------
# A moving camera: video clips with exact depth per frame
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DepthClip:
    """A short video with the exact inverse depth of every frame.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB frames.
        inverse_depth: (T, H, W) float32 exact inverse depth in 1/m (larger = nearer; 0 for sky).
        fps: frames per second the clip is meant to be played at.
        description: one line saying what the clip shows.
    """

    frames: np.ndarray
    inverse_depth: np.ndarray
    fps: float
    description: str


def camera_pan_clip(seed: int = 0, n_frames: int = 24, size: int | tuple[int, int] = (120, 160), *,
                    pan_deg: float = 30.0, fps: float = 12.0, textures: TextureSet | Sequence[np.ndarray] | None = None,
                    ) -> DepthClip:
    """A camera panning across a random scene (objects on the ground under an open sky), with exact depth.

    The camera stands 1.5 m above the ground, looks 8 degrees down with a 60 degree field of view and turns
    about the vertical axis by ``pan_deg`` degrees in total, at a constant rate. The objects, their textures and
    the light are the same in every frame and for every ``pan_deg`` (drawn from ``seed``), so only the camera moves.
    A post 1.8 m away, nearer than anything else, stands just outside the first frame on the side the camera
    turns to and comes into view during the second half of the pan: the nearest point of the frame changes.

    Args:
        seed: integer seed of the scene.
        n_frames: number of frames (2 to 500).
        size: (height, width) in px, or one int for a square image.
        pan_deg: total turn in degrees (positive = turning right), between -180 and 180.
        fps: playback rate in frames per second (> 0).
        textures: surface textures as in :func:`render`; ``None`` uses the sample photos.

    Returns:
        A :class:`DepthClip`: frames (T, H, W, 3) uint8 and exact inverse depth (T, H, W) float32 in 1/m.

    Example:
        >>> clip = camera_pan_clip(1, n_frames=3, size=(12, 16), textures=[np.full((8, 8, 3), 90, np.uint8)])
        >>> clip.frames.shape, clip.inverse_depth.shape
        ((3, 12, 16, 3), (3, 12, 16))
    """
    checks.check_int(seed, "seed")
    checks.check_int(n_frames, "n_frames", minimum=2, maximum=500)
    checks.check_range(pan_deg, "pan_deg", -180.0, 180.0)
    checks.check_positive(fps, "fps")
    size = checks.as_size(size)
    rng = np.random.default_rng(int(seed))
    wide = Camera(size=size, fov_deg=110.0, elevation_m=1.5, pitch_deg=8.0)  # the same objects for every pan_deg
    objects = _random_objects(rng, wide, 6, 14.0)  # spread over what a pan of up to 50 degrees sees
    side = 1.0 if pan_deg >= 0 else -1.0
    azimuth = math.radians(side * (30.0 + abs(float(pan_deg)) / 6.0))  # the post comes into view late in the pan
    objects.append(Cylinder(base=(1.8 * math.sin(azimuth), 0.0, 1.8 * math.cos(azimuth)), radius=0.2, height=2.5))
    look = _random_look(rng)
    frames, inverse = [], []
    for yaw in np.linspace(-pan_deg / 2.0, pan_deg / 2.0, int(n_frames)):
        camera = Camera(size=size, fov_deg=60.0, elevation_m=1.5, pitch_deg=8.0, yaw_deg=float(yaw))
        scene = render(camera, objects, background="sky", textures=textures, light_direction=look["light_direction"],
                       ambient=look["ambient"], sky_colors=look["sky_colors"], seed=int(seed))
        frames.append(scene.image)
        inverse.append(scene.inverse_depth)
    text = (f"synthetic scene {seed}: a camera 1.5 m above the ground turning {pan_deg:g} degrees in "
            f"{int(n_frames)} frames; exact inverse depth in 1/m (sky = 0)")
    return DepthClip(np.stack(frames), np.stack(inverse), float(fps), text)


# --------------------------------------------------------------------------------------------------------------
# Three incompatible "datasets" (Ranftl et al., TPAMI 2020, arXiv:1907.01341, Sec. 5 and Table 1)
# --------------------------------------------------------------------------------------------------------------
DATASET_KINDS = {
    "A": "metric_depth",  # calibrated sensor (laser scanner, RGB-D): depth in metres; sky invalid
    "B": "depth_up_to_scale",  # structure from motion: a_i * depth, unknown scale a_i per image; sky invalid
    "C": "disparity_up_to_scale_and_shift",  # uncalibrated stereo: s_i / depth + t_i per image; sky = t_i (valid)
}
#: The annotation kinds that hold a depth (larger = farther) and those that hold a disparity (larger = nearer).
DEPTH_KINDS = ("metric_depth", "depth_up_to_scale")
DISPARITY_KINDS = ("disparity_up_to_scale_and_shift", "disparity")

# Ranges of the hidden per-image parameters: the SfM scale a_i (unitless, log-uniform), the stereo scale s_i
# (focal length in px times an unknown baseline in m, log-uniform) and the stereo shift t_i (px, uniform;
# a principal-point offset, either sign).
_SFM_SCALE_RANGE = (0.1, 10.0)
_STEREO_SCALE_RANGE = (10.0, 200.0)
_STEREO_SHIFT_RANGE = (-5.0, 5.0)


@dataclass
class AnnotatedSample:
    """One training item annotated the way its source dataset annotates (the paper's Table 1).

    Attributes:
        image: (H, W, 3) uint8 RGB.
        target: (H, W) float32 annotation in the dataset's own units (see ``kind``).
        mask: (H, W) bool, True where ``target`` is defined (sky is invalid in "A" and "B", valid in "C").
        dataset: "A", "B" or "C".
        kind: "metric_depth" (metres, a calibrated sensor), "depth_up_to_scale" (``scale * depth_m``: structure
            from motion, an unknown ``scale`` per image, as each reconstruction has its own) or
            "disparity_up_to_scale_and_shift" (``scale / depth_m + shift`` in px: uncalibrated stereo, an unknown
            baseline and principal-point shift per image).
        depth_m: (H, W) float32 ground-truth depth in metres (``+inf`` sky), for evaluation only.
        scale: the hidden scale (1.0 for "A").
        shift: the hidden shift (0.0 for "A" and "B").
    """

    image: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    dataset: str
    kind: str
    depth_m: np.ndarray
    scale: float = 1.0
    shift: float = 0.0


def _annotate(scene: Scene, dataset: str, scale: float, shift: float) -> AnnotatedSample:
    finite = np.isfinite(scene.depth_m)
    if dataset in ("A", "B"):  # depth sensors and reconstructions see no sky
        target = np.where(finite, scale * scene.depth_m, np.inf).astype(np.float32)
        mask = finite
    else:  # stereo matching puts the sky at disparity 0, i.e. at the unknown shift
        target = (scale * scene.inverse_depth + shift).astype(np.float32)
        mask = np.ones_like(finite)
    return AnnotatedSample(scene.image, target, mask, dataset, DATASET_KINDS[dataset], scene.depth_m, scale, shift)


def _item_seed(seed: int, stream: int, index: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(stream), int(index)]).generate_state(1)[0])


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _hidden_parameters(dataset: str, item_seed: int) -> tuple[float, float]:
    """The unknown (scale, shift) of one annotation, drawn from the item's own seed."""
    rng = np.random.default_rng(np.random.SeedSequence([item_seed, 1]))
    if dataset == "A":
        return 1.0, 0.0
    if dataset == "B":
        return _log_uniform(rng, *_SFM_SCALE_RANGE), 0.0
    return _log_uniform(rng, *_STEREO_SCALE_RANGE), float(rng.uniform(*_STEREO_SHIFT_RANGE))


def mixed_datasets(
    n_per_dataset: int,
    size: int | tuple[int, int] = (64, 64),
    seed: int = 0,
    *,
    textures: TextureSet | Sequence[np.ndarray] | None = None,
    datasets: Sequence[str] = ("A", "B", "C"),
    stream: int = 0,
) -> list[AnnotatedSample]:
    """Render three synthetic "datasets" whose annotations are mutually incompatible.

    The three kinds of ground truth of the MiDaS paper (Ranftl et al., TPAMI 2020, arXiv:1907.01341, Sec. 5
    and Table 1):

    * **A** - calibrated sensors (laser scanner, RGB-D): metric depth in metres; sky invalid (``mask`` False,
      target inf).
    * **B** - structure from motion: depth up to an unknown scale, ``a_i * depth_m``, with a scale ``a_i``
      (log-uniform in [0.1, 10]) of its own for every image, as every reconstruction has its own; sky invalid.
    * **C** - uncalibrated stereo (web stereo, 3D movies): disparity up to an unknown scale and shift,
      ``s_i / depth_m + t_i`` in px, with ``s_i`` (log-uniform in [10, 200], focal length times the unknown
      baseline) and ``t_i`` (uniform in [-5, 5] px, the unknown principal-point shift) per image; the sky is
      matched at disparity ``t_i`` and is valid.

    Every item carries its ground-truth ``depth_m`` for evaluation. Items are ordered A..., B..., C....

    Args:
        n_per_dataset: number of images in each dataset (>= 1).
        size: (height, width) in px.
        seed: seed of the whole collection (scenes, scales and shifts).
        textures: a :class:`TextureSet` or texture images passed to :func:`render_scene` (``None`` = sample photos).
        datasets: which of "A", "B", "C" to build.
        stream: an extra seed component; use a different ``stream`` for a held-out set with the same ``seed``.

    Returns:
        A list of :class:`AnnotatedSample`.

    Example:
        >>> import numpy as np
        >>> items = mixed_datasets(1, size=(16, 16), seed=0, textures=[np.full((8, 8, 3), 90, np.uint8)])
        >>> [(s.dataset, s.kind) for s in items]
        [('A', 'metric_depth'), ('B', 'depth_up_to_scale'), ('C', 'disparity_up_to_scale_and_shift')]
    """
    n_per_dataset = checks.check_positive_int(n_per_dataset, "n_per_dataset")
    bad = [d for d in datasets if d not in DATASET_KINDS]
    if bad or not datasets:
        raise InputError(f"datasets must be a non-empty subset of ('A', 'B', 'C'), got {tuple(datasets)!r}.")
    size = checks.as_size(size)
    textures = textures if isinstance(textures, TextureSet) else TextureSet(textures)
    items = []
    for d_index, name in enumerate(("A", "B", "C")):
        if name not in datasets:
            continue
        for i in range(n_per_dataset):
            item_seed = _item_seed(seed, 1000 * int(stream) + d_index, i)
            scene = render_scene(item_seed, size, textures=textures)
            items.append(_annotate(scene, name, *_hidden_parameters(name, item_seed)))
    return items


def to_disparity_space(target: np.ndarray, mask: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Express an annotation in disparity space (larger = nearer), as a network predicting inverse depth sees it.

    A depth (metric, or up to a scale) becomes its reciprocal: metric inverse depth in 1/m, or inverse depth up
    to the reciprocal scale; its invalid pixels (inf, 0, NaN) stay invalid. A disparity is already in disparity
    space and is returned unchanged. Whatever scale and shift remain unknown are exactly what a scale- and
    shift-invariant loss is for.

    Args:
        target: (H, W) annotation in its own units.
        mask: (H, W) bool validity.
        kind: "metric_depth", "depth_up_to_scale", "disparity_up_to_scale_and_shift" or "disparity".

    Returns:
        ``(target_disparity, mask)``: (H, W) float32 and (H, W) bool; invalid pixels hold 0.

    Example:
        >>> import numpy as np
        >>> t, m = to_disparity_space(np.array([[2.0, np.inf]]), np.array([[True, False]]), "metric_depth")
        >>> t.tolist(), m.tolist()
        ([[0.5, 0.0]], [[True, False]])
    """
    target = np.asarray(target, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if target.ndim != 2 or mask.shape != target.shape:
        raise InputError(f"target must be (H, W) and mask the same shape, got {target.shape} and {mask.shape}.")
    checks.check_choice(kind, "kind", DEPTH_KINDS + DISPARITY_KINDS)
    if kind in DEPTH_KINDS:
        mask = mask & np.isfinite(target) & (target > 0)
        with np.errstate(divide="ignore"):
            out = np.where(mask, 1.0 / np.where(mask, target, 1.0), 0.0).astype(np.float32)
        return out, mask
    mask = mask & np.isfinite(target)
    return np.where(mask, target, 0.0).astype(np.float32), mask
