"""Tests for depthkit.synthetic: exact ray-cast depth, shading, determinism and the three annotation styles."""

import math

import numpy as np
import pytest

from depthkit.errors import InputError
from depthkit.synthetic import (
    DATASET_KINDS,
    Box,
    Camera,
    Cylinder,
    Sphere,
    TextureSet,
    camera_pan_clip,
    mixed_datasets,
    render,
    render_scene,
    to_disparity_space,
)

GRAY = TextureSet([np.full((8, 8, 3), 200, np.uint8)])
RNG_TEX = TextureSet([np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)])


def _cam_ray_y(cam: Camera, v: int) -> float:
    """Camera-frame y (down) of the ray through the centre of pixel row v, with z = 1."""
    return (v + 0.5 - cam.size[0] / 2.0) / cam.focal_px


def test_camera_focal_and_optical_axis():
    cam = Camera(size=(31, 41), fov_deg=90.0, elevation_m=2.0, pitch_deg=20.0, yaw_deg=30.0)
    assert cam.focal_px == pytest.approx(20.5)  # (W / 2) / tan(45 deg)
    rot = cam.rotation()
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    axis = cam.world_rays()[15, 20]  # the centre pixel of an odd-sized image lies on the optical axis
    p, y = math.radians(20.0), math.radians(30.0)
    np.testing.assert_allclose(axis, [math.sin(y) * math.cos(p), -math.sin(p), math.cos(y) * math.cos(p)], atol=1e-12)


def test_ground_plane_depth_matches_analytic_formula():
    h, pitch = 1.7, 20.0
    cam = Camera(size=(40, 50), fov_deg=60.0, elevation_m=h, pitch_deg=pitch, yaw_deg=37.0)
    scene = render(cam, [], background="sky", textures=GRAY)
    th = math.radians(pitch)
    for v, u in [(39, 0), (30, 25), (25, 49), (20, 10)]:
        down = _cam_ray_y(cam, v) * math.cos(th) + math.sin(th)  # downward component of the z=1 ray
        assert down > 0
        assert scene.labels[v, u] == 0
        assert scene.depth_m[v, u] == pytest.approx(h / down, rel=1e-6)
        assert scene.inverse_depth[v, u] == pytest.approx(down / h, rel=1e-6)


def test_sky_is_infinite_depth_and_zero_inverse_depth():
    cam = Camera(size=(20, 24), fov_deg=60.0, elevation_m=1.0, pitch_deg=0.0)
    scene = render(cam, [], background="sky", textures=GRAY)
    top, bottom = slice(0, 10), slice(10, 20)  # pitch 0: rows above the image centre look upwards
    assert np.all(np.isinf(scene.depth_m[top])) and np.all(scene.inverse_depth[top] == 0)
    assert np.all(scene.labels[top] == -1)
    assert np.all(np.isfinite(scene.depth_m[bottom])) and np.all(scene.labels[bottom] == 0)
    assert scene.depth_m.dtype == np.float32 and scene.inverse_depth.dtype == np.float32


def test_wall_perpendicular_to_axis_has_constant_depth():
    cam = Camera(size=(20, 24), fov_deg=70.0, elevation_m=1.0, pitch_deg=0.0, yaw_deg=123.0)
    scene = render(cam, [], background="wall", wall_distance_m=20.0, textures=GRAY)
    wall = scene.labels == 1
    assert wall[:10].all()
    np.testing.assert_allclose(scene.depth_m[wall], 20.0, rtol=1e-6)


def test_sphere_in_front_occludes_ground():
    cam = Camera(size=(33, 33), fov_deg=60.0, elevation_m=1.5, pitch_deg=0.0)
    sphere = Sphere(center=(0.0, 1.0, 6.0), radius=1.0)  # resting on the ground, 6 m ahead
    scene = render(cam, [sphere], background="sky", textures=GRAY)
    # The optical axis (height 1.5) passes 0.5 m above the centre: hit at z = 6 - sqrt(1 - 0.25).
    assert scene.labels[16, 16] == 2
    assert scene.depth_m[16, 16] == pytest.approx(6.0 - math.sqrt(0.75), rel=1e-6)
    on_sphere_looking_down = (scene.labels == 2) & (np.arange(33)[:, None] > 16)
    assert on_sphere_looking_down.sum() > 10
    rows = np.nonzero(on_sphere_looking_down)[0]
    ground_depth = 1.5 / np.array([_cam_ray_y(cam, v) for v in rows])  # where the plane would have been hit
    assert np.all(scene.depth_m[on_sphere_looking_down] < ground_depth)
    # Without the sphere those pixels see the ground at the plane's depth.
    empty = render(cam, [], background="sky", textures=GRAY)
    np.testing.assert_allclose(empty.depth_m[on_sphere_looking_down], ground_depth, rtol=1e-6)


def test_box_and_cylinder_front_faces():
    cam = Camera(size=(21, 21), fov_deg=50.0, elevation_m=0.75, pitch_deg=0.0)
    box = render(cam, [Box(center=(0.0, 0.5, 8.0), extent=(2.0, 1.0, 2.0))], textures=GRAY)
    assert box.labels[10, 10] == 2 and box.depth_m[10, 10] == pytest.approx(7.0, rel=1e-6)
    cyl = render(cam, [Cylinder(base=(0.0, 0.0, 10.0), radius=1.0, height=3.0)], textures=GRAY)
    assert cyl.labels[10, 10] == 2 and cyl.depth_m[10, 10] == pytest.approx(9.0, rel=1e-6)
    # Nearest hit wins regardless of the order of the objects.
    both = render(cam, [Cylinder(base=(0.0, 0.0, 10.0), radius=1.0, height=3.0),
                        Box(center=(0.0, 0.5, 8.0), extent=(2.0, 1.0, 2.0))], textures=GRAY)
    assert both.labels[10, 10] == 3 and both.depth_m[10, 10] == pytest.approx(7.0, rel=1e-6)


def test_box_yaw_rotates_about_vertical_axis():
    cam = Camera(size=(24, 24), fov_deg=60.0, elevation_m=1.2, pitch_deg=10.0, yaw_deg=15.0)
    a = render(cam, [Box(center=(1.0, 0.5, 7.0), extent=(2.0, 1.0, 4.0), yaw_deg=90.0)], textures=GRAY)
    b = render(cam, [Box(center=(1.0, 0.5, 7.0), extent=(4.0, 1.0, 2.0), yaw_deg=0.0)], textures=GRAY)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.depth_m, b.depth_m, rtol=1e-5)


def test_lambertian_shading_follows_light_elevation():
    cam = Camera(size=(16, 16), fov_deg=60.0, elevation_m=1.5, pitch_deg=30.0)
    kw = {"background": "sky", "textures": GRAY, "ambient": 0.2, "seed": 4}
    overhead = render(cam, [], light_direction=(0.0, 1.0, 0.0), **kw).image[12, 8].astype(float)
    slanted = render(cam, [], light_direction=(0.0, 1.0, math.sqrt(3.0)), **kw).image[12, 8].astype(float)
    # Ground normal is +y: n.l = 1 overhead, sin(30 deg) = 0.5 for the 30-degree light.
    np.testing.assert_allclose(slanted / overhead, (0.2 + 0.8 * 0.5) / 1.0, atol=0.01)


def test_shadow_falls_below_floating_sphere():
    cam = Camera(size=(48, 48), fov_deg=60.0, elevation_m=3.0, pitch_deg=30.0)
    sphere = Sphere(center=(0.0, 1.5, 6.0), radius=0.5)
    kw = {"background": "sky", "textures": GRAY, "light_direction": (0.0, 1.0, 0.0), "seed": 1}
    lit = render(cam, [sphere], shadows=False, **kw)
    shaded = render(cam, [sphere], shadows=True, **kw)
    darker = shaded.image.sum(axis=2) < lit.image.sum(axis=2)
    assert darker.sum() > 3
    assert np.all(shaded.labels[darker] == 0)
    # The darkened ground points lie within the sphere's footprint (radius 0.5 m around (x, z) = (0, 6)).
    points = cam.position + shaded.depth_m[darker][:, None] * cam.world_rays()[darker]
    np.testing.assert_allclose(points[:, 1], 0.0, atol=1e-5)
    assert np.all(np.hypot(points[:, 0], points[:, 2] - 6.0) <= 0.5 + 1e-6)


def test_haze_blends_towards_haze_colour_with_distance():
    cam = Camera(size=(16, 16), fov_deg=60.0, elevation_m=1.5, pitch_deg=10.0)
    kw = {"background": "wall", "wall_distance_m": 15.0, "textures": RNG_TEX, "seed": 2, "haze_color": (1.0, 0.0, 0.0)}
    clear = render(cam, [], haze_density=0.0, **kw)
    thick = render(cam, [], haze_density=50.0, **kw)
    np.testing.assert_array_equal(thick.image.reshape(-1, 3), np.tile([255, 0, 0], (256, 1)))
    light = render(cam, [], haze_density=0.05, **kw)
    # Expected colour for one pixel from the exponential blend, using the ray length of that pixel.
    v, u = 3, 5
    dist = clear.depth_m[v, u] * np.linalg.norm(cam.camera_rays()[v, u])
    keep = math.exp(-0.05 * dist)
    expected = clear.image[v, u] * keep + np.array([255.0, 0.0, 0.0]) * (1 - keep)
    np.testing.assert_allclose(light.image[v, u], expected, atol=1.01)
    np.testing.assert_array_equal(light.depth_m, clear.depth_m)


def test_render_scene_is_deterministic_and_seed_dependent():
    a = render_scene(7, size=(24, 32), textures=RNG_TEX)
    b = render_scene(7, size=(24, 32), textures=RNG_TEX)
    c = render_scene(8, size=(24, 32), textures=RNG_TEX)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.depth_m, b.depth_m)
    assert a.camera == b.camera and a.camera != c.camera
    assert not np.array_equal(a.depth_m, c.depth_m)
    assert a.image.shape == (24, 32, 3) and a.image.dtype == np.uint8
    finite = np.isfinite(a.depth_m)
    np.testing.assert_allclose(a.inverse_depth[finite], 1.0 / a.depth_m[finite], rtol=1e-6)
    assert np.all(a.inverse_depth[~finite] == 0)
    assert np.all(a.depth_m[finite] > 0)


def test_render_scene_options():
    sky = render_scene(3, size=(24, 24), textures=RNG_TEX, background="sky", n_objects=0, haze=False)
    assert set(np.unique(sky.labels)) <= {-1, 0}
    wall = render_scene(3, size=(24, 24), textures=RNG_TEX, background="wall", n_objects=4)
    assert len(wall.objects) == 4 and not np.isinf(wall.depth_m).any()


def test_render_scene_default_textures_come_from_samples():
    from depthkit.samples import load_sample

    scene = render_scene(0, size=(16, 16))
    assert scene.image.shape == (16, 16, 3)
    explicit = TextureSet([load_sample(n) for n in ("astronaut", "chelsea", "coffee", "grace_hopper", "rocket")])
    np.testing.assert_array_equal(render_scene(0, size=(16, 16), textures=explicit).image, scene.image)


def test_mixed_datasets_annotations_follow_table_1_of_the_paper():
    items = mixed_datasets(3, size=(20, 20), seed=11, textures=RNG_TEX)
    assert [s.dataset for s in items] == ["A"] * 3 + ["B"] * 3 + ["C"] * 3
    assert all(s.kind == DATASET_KINDS[s.dataset] for s in items)
    assert DATASET_KINDS == {"A": "metric_depth", "B": "depth_up_to_scale", "C": "disparity_up_to_scale_and_shift"}
    b_scales = {s.scale for s in items if s.dataset == "B"}
    assert len(b_scales) == 3  # structure from motion: every reconstruction has its own scale
    assert all(0.1 <= a <= 10.0 for a in b_scales)
    assert {s.shift for s in items if s.dataset in "AB"} == {0.0}
    c_params = {(s.scale, s.shift) for s in items if s.dataset == "C"}
    assert len(c_params) == 3  # uncalibrated stereo: a different scale and shift for every image
    assert all(10.0 <= sc <= 200.0 and -5.0 <= sh <= 5.0 for sc, sh in c_params)
    assert any(np.isinf(s.depth_m).any() for s in items)  # at least one scene has sky
    for s in items:
        inv = np.where(np.isfinite(s.depth_m), 1.0 / s.depth_m, 0.0)
        sky = np.isinf(s.depth_m)
        if s.dataset == "A":
            np.testing.assert_array_equal(s.mask, ~sky)
            np.testing.assert_array_equal(s.target[~sky], s.depth_m[~sky])
        elif s.dataset == "B":
            np.testing.assert_array_equal(s.mask, ~sky)  # a reconstruction has no sky
            assert np.isinf(s.target[sky]).all()
            ratio = s.target[~sky] / s.depth_m[~sky]
            np.testing.assert_allclose(ratio, s.scale, rtol=1e-5)  # an exact scalar multiple of depth
        else:
            assert s.mask.all()
            np.testing.assert_allclose(s.target[sky], s.shift, rtol=1e-6)  # sky matched at disparity t_i
            design = np.stack([inv.ravel(), np.ones(inv.size)], axis=1)
            coef, *_ = np.linalg.lstsq(design, s.target.ravel().astype(float), rcond=None)
            np.testing.assert_allclose(design @ coef, s.target.ravel(), atol=1e-4 * np.abs(s.target).max())
            np.testing.assert_allclose(coef, [s.scale, s.shift], rtol=1e-4, atol=1e-4)


def test_mixed_datasets_are_reproducible_and_streams_differ():
    a = mixed_datasets(1, size=(16, 16), seed=3, textures=RNG_TEX)
    b = mixed_datasets(1, size=(16, 16), seed=3, textures=RNG_TEX)
    c = mixed_datasets(1, size=(16, 16), seed=3, textures=RNG_TEX, stream=1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.target, y.target)
    assert not np.array_equal(a[0].depth_m, c[0].depth_m)
    only_b = mixed_datasets(2, size=(16, 16), seed=3, textures=RNG_TEX, datasets=("B",))
    assert [s.dataset for s in only_b] == ["B", "B"]


def test_to_disparity_space():
    depth = np.array([[2.0, 4.0], [np.inf, 0.5]], dtype=np.float32)
    t, m = to_disparity_space(depth, np.isfinite(depth), "metric_depth")
    np.testing.assert_allclose(t, [[0.5, 0.25], [0.0, 2.0]])
    np.testing.assert_array_equal(m, [[True, True], [False, True]])
    disp = np.array([[3.0, 0.0]], dtype=np.float32)
    t, m = to_disparity_space(disp, np.ones((1, 2), bool), "disparity")
    np.testing.assert_array_equal(t, disp)
    assert m.all()
    t, m = to_disparity_space(disp, np.ones((1, 2), bool), "disparity_up_to_scale_and_shift")
    np.testing.assert_array_equal(t, disp)
    sfm = 3.0 * depth  # depth up to a scale: the reciprocal is inverse depth up to the scale 1/3
    t, m = to_disparity_space(sfm, np.isfinite(sfm), "depth_up_to_scale")
    np.testing.assert_allclose(t, [[0.5 / 3, 0.25 / 3], [0.0, 2.0 / 3]], rtol=1e-6)
    np.testing.assert_array_equal(m, [[True, True], [False, True]])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InputError, match="fov_deg must be between 0 and 180"):
        Camera(fov_deg=190.0)
    with pytest.raises(InputError, match="elevation_m must be > 0"):
        Camera(elevation_m=-1.0)
    with pytest.raises(InputError, match="size must be"):
        Camera(size=(1, 10))
    with pytest.raises(InputError, match="background must be 'sky' or 'wall'"):
        render(Camera(size=(8, 8)), [], background="space", textures=GRAY)
    with pytest.raises(InputError, match="objects must be Sphere, Box or Cylinder"):
        render(Camera(size=(8, 8)), ["ball"], textures=GRAY)
    with pytest.raises(InputError, match="each texture must be an \\(H, W, 3\\)"):
        TextureSet([np.zeros((8, 8), np.uint8)])
    with pytest.raises(InputError, match="seed must be an integer"):
        render_scene(1.5, size=(8, 8), textures=GRAY)
    with pytest.raises(InputError, match="n_per_dataset must be a positive integer"):
        mixed_datasets(0, textures=GRAY)
    with pytest.raises(InputError, match="datasets must be a non-empty subset"):
        mixed_datasets(1, textures=GRAY, datasets=("D",))
    with pytest.raises(InputError, match="kind must be"):
        to_disparity_space(np.ones((2, 2)), np.ones((2, 2), bool), "depth")


# ------------------------------------------------------------------------------------------------ camera pan clip
def test_camera_pan_clip_ground_depth_is_exact_in_every_frame():
    clip = camera_pan_clip(2, n_frames=5, size=(30, 40), pan_deg=40.0, textures=GRAY)
    assert clip.frames.shape == (5, 30, 40, 3) and clip.frames.dtype == np.uint8
    assert clip.inverse_depth.shape == (5, 30, 40) and clip.inverse_depth.dtype == np.float32
    cam = Camera(size=(30, 40), fov_deg=60.0, elevation_m=1.5, pitch_deg=8.0)
    p = math.radians(8.0)
    ground = (_cam_ray_y(cam, 29) * math.cos(p) + math.sin(p)) / 1.5  # 1/m of the ground seen by the bottom row
    bottom = clip.inverse_depth[:, -1, :]
    on_ground = np.isclose(bottom, ground, rtol=1e-5)
    assert on_ground.mean() > 0.8  # the ground, unless an object stands in front of it
    assert np.all(bottom[~on_ground] > ground)  # ... and then that object is nearer
    assert np.all(clip.inverse_depth[:, 0, :][clip.inverse_depth[:, 0, :] < 1e-3] == 0.0)  # far = sky = 0
    assert "turning 40 degrees in 5 frames" in clip.description and clip.fps == 12.0
    nearest = clip.inverse_depth.max(axis=(1, 2))
    assert nearest[0] == pytest.approx(ground, rel=1e-5)  # first frame: the ground at the bottom is nearest
    assert nearest[-1] > 1 / (1.8 - 0.2)  # last: the post, whose surface is 1.6 m away or nearer along the axis


def test_camera_pan_clip_moves_only_when_it_pans_and_is_reproducible():
    still = camera_pan_clip(3, n_frames=3, size=(20, 24), pan_deg=0.0, textures=GRAY)
    np.testing.assert_array_equal(still.inverse_depth[0], still.inverse_depth[2])
    np.testing.assert_array_equal(still.frames[0], still.frames[2])
    moving = camera_pan_clip(3, n_frames=3, size=(20, 24), pan_deg=30.0, textures=GRAY)
    assert not np.array_equal(moving.inverse_depth[0], moving.inverse_depth[2])
    again = camera_pan_clip(3, n_frames=3, size=(20, 24), pan_deg=30.0, textures=GRAY)
    np.testing.assert_array_equal(moving.frames, again.frames)


def test_camera_pan_clip_rejects_bad_arguments():
    with pytest.raises(InputError, match="n_frames"):
        camera_pan_clip(0, n_frames=1, textures=GRAY)
    with pytest.raises(InputError, match="pan_deg"):
        camera_pan_clip(0, n_frames=2, pan_deg=400.0, textures=GRAY)
    with pytest.raises(InputError, match="fps"):
        camera_pan_clip(0, n_frames=2, fps=0, textures=GRAY)
