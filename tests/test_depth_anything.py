"""Depth Anything V2 Small against the official layout (vendored manifest), DINOv2's position embedding
interpolation, the intermediate layers, and its preprocessing."""

import math

import numpy as np
import pytest
import torch
from official_layout import (
    assert_matches_manifest,
    load_official,
)
from torch.nn import functional as F

from depthkit import depth_anything
from depthkit.depth_anything import (
    DepthAnythingV2Small,
    interpolate_pos_embed,
    network_size,
    prepare_array,
    upsample,
)
from depthkit.errors import InputError
from depthkit.model_registry import prepare
from depthkit.transforms import IMAGENET_MEAN, IMAGENET_STD

NAME = "depth_anything_v2_vits"


@pytest.fixture(scope="module")
def dav2():
    return load_official(DepthAnythingV2Small, NAME, seed=2)


def test_state_dict_matches_official_manifest(dav2):
    assert_matches_manifest(dav2[0], NAME, depth_anything.CHECKPOINT_NAME, entries=239, parameters=24_785_089)


def test_checkpoint_saved_and_loaded_through_a_path_gives_identical_outputs(dav2, tmp_path):
    net, state = dav2
    x = torch.randn(1, 3, 70, 98, generator=torch.Generator().manual_seed(0))  # a 5x7 patch grid: non-square
    with torch.inference_mode():
        before = net(x)
    assert before.shape == (1, 70, 98) and before.dtype == torch.float32
    assert torch.isfinite(before).all() and (before >= 0).all() and before.std() > 0
    path = tmp_path / depth_anything.CHECKPOINT_NAME
    torch.save(state, path)
    with torch.no_grad():
        net.depth_head.scratch.output_conv2[2].bias.add_(1.0)  # change the network, so reloading must restore it
        assert not torch.equal(net(x), before)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    with torch.inference_mode():
        assert torch.equal(net(x), before)


def _official_interpolation(pos_embed, height, width, patch=14, offset=0.1):
    """DINOv2's interpolate_pos_encoding written out from its definition (x of shape (B, C, height, width))."""
    n = pos_embed.shape[1] - 1
    if n == (height // patch) * (width // patch) and height == width:
        return pos_embed
    sqrt_n = math.sqrt(n)
    rows, cols = height // patch + offset, width // patch + offset
    grid = pos_embed[:, 1:].float().reshape(1, int(sqrt_n), int(sqrt_n), -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(rows / sqrt_n, cols / sqrt_n), mode="bicubic", antialias=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, pos_embed.shape[-1])
    return torch.cat((pos_embed[:, :1].float(), grid), dim=1).to(pos_embed.dtype)


@pytest.mark.parametrize("height,width", [(70, 98), (518, 686), (392, 252), (518, 518), (14, 28)])
def test_position_embeddings_follow_the_official_dinov2_formula(height, width):
    pe = torch.randn(1, 1 + 37 * 37, 16, generator=torch.Generator().manual_seed(height * width))
    mine = interpolate_pos_embed(pe, (height // 14, width // 14))
    assert mine.shape == (1, 1 + (height // 14) * (width // 14), 16)
    assert torch.equal(mine, _official_interpolation(pe, height, width))


def test_the_offset_matters_interpolating_to_a_size_is_not_the_same():
    pe = torch.randn(1, 1 + 37 * 37, 16, generator=torch.Generator().manual_seed(0))
    grid = pe[:, 1:].reshape(1, 37, 37, 16).permute(0, 3, 1, 2)
    by_size = F.interpolate(grid, size=(37, 49), mode="bicubic").permute(0, 2, 3, 1).reshape(1, -1, 16)
    assert not torch.allclose(interpolate_pos_embed(pe, (37, 49))[:, 1:], by_size, atol=1e-4)


def test_encoder_returns_normed_layers_2_5_8_11_with_the_class_token(dav2):
    net, _ = dav2
    raw = {}
    handles = [net.pretrained.blocks[i].register_forward_hook(lambda _m, _i, out, i=i: raw.__setitem__(i, out))
               for i in (2, 5, 8, 11)]
    try:
        with torch.inference_mode():
            layers = net.encode(torch.randn(2, 3, 42, 56))
    finally:
        for h in handles:
            h.remove()
    assert len(layers) == 4
    for (tokens, cls), i in zip(layers, (2, 5, 8, 11), strict=True):
        assert tokens.shape == (2, 3 * 4, 384) and cls.shape == (2, 384)
        with torch.inference_mode():
            normed = net.pretrained.norm(raw[i])
        assert torch.equal(tokens, normed[:, 1:]) and torch.equal(cls, normed[:, 0])


def test_at_518_px_the_encoder_equals_timms_own_dinov2_forward(dav2):
    net, _ = dav2  # at the native 37x37 grid the position embeddings are used as they are: timm's path applies
    x = torch.randn(1, 3, 518, 518, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        mine = [tokens for tokens, _cls in net.encode(x)]
        ref = net.pretrained.forward_intermediates(x, indices=[2, 5, 8, 11], norm=True, intermediates_only=True,
                                                   output_fmt="NLC")
    for a, b in zip(mine, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_odd_patch_grids_fuse_to_the_next_finer_size(dav2):
    net, _ = dav2
    with torch.inference_mode():  # a 3x5 grid: its stride-32 map is 2x3 and is upsampled to 3x5, not 4x6
        assert net(torch.randn(1, 3, 42, 70)).shape == (1, 42, 70)


@pytest.mark.parametrize("shape", [(1, 3, 42, 50), (1, 3, 7, 28), (1, 4, 42, 56)])
def test_bad_input_shapes_raise_one_clear_sentence(dav2, shape):
    net, _ = dav2
    with pytest.raises(InputError, match=r"multiples of 14|\(N, 3, H, W\)"):
        net(torch.zeros(shape))


def _official_lower_bound_size(width, height, size=518, multiple=14):
    """The official Resize(keep_aspect_ratio=True, resize_method="lower_bound") rule, written out independently."""
    scale = max(size / width, size / height)
    out = []
    for s in (width, height):
        y = int(np.round(scale * s / multiple) * multiple)
        if y < size:
            y = int(np.ceil(scale * s / multiple) * multiple)
        out.append(y)
    return tuple(out)


@pytest.mark.parametrize("wh,expected", [
    ((640, 480), (686, 518)), ((1920, 1080), (924, 518)), ((300, 200), (784, 518)), ((480, 640), (518, 686)),
    ((4032, 3024), (686, 518)), ((518, 518), (518, 518)), ((10, 10), (518, 518)),
])
def test_network_size_is_lower_bound_518(wh, expected):
    assert network_size(*wh) == expected == _official_lower_bound_size(*wh)


def test_network_size_matches_the_official_rule_on_many_photo_sizes():
    rng = np.random.default_rng(1)
    for w, h in rng.integers(20, 5000, size=(200, 2)):
        net_w, net_h = network_size(int(w), int(h))
        assert (net_w, net_h) == _official_lower_bound_size(int(w), int(h))
        assert min(net_w, net_h) >= 518 and net_w % 14 == 0 and net_h % 14 == 0


def test_prepare_normalises_with_the_imagenet_mean_and_std():
    photo = np.full((480, 640, 3), (0, 128, 255), np.uint8)
    x = prepare_array(photo)
    assert x.shape == (3, 518, 686) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 200, 300], (np.array([0, 128, 255]) / 255 - IMAGENET_MEAN) / IMAGENET_STD,
                               rtol=1e-5)
    t = prepare(photo, "depth_anything_v2_small")
    assert t.shape == (1, 3, 518, 686) and torch.equal(t[0], torch.from_numpy(x))


def test_upsample_is_bilinear_with_aligned_corners():
    pred = torch.rand(1, 6, 8, generator=torch.Generator().manual_seed(0))
    out = upsample(pred, (11, 15))
    assert out.shape == (1, 11, 15)
    for r, c, rr, cc in ((0, 0, 0, 0), (0, -1, 0, -1), (-1, 0, -1, 0), (-1, -1, -1, -1)):
        assert out[0, r, c] == pred[0, rr, cc]  # align_corners=True keeps the corner pixels
    torch.testing.assert_close(out[0, 0, ::2], pred[0, 0])  # (15 - 1) / (8 - 1) = 2: every 2nd column is a sample
