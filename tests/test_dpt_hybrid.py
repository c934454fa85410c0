"""DPT-Hybrid against the official layout (vendored manifest), its reassembly, and its preprocessing.

The network is heavy (123 M parameters): it is built once per module without the random init (a full state dict
in the official layout is loaded right after), and run only at 64x96.
"""

import numpy as np
import pytest
import torch
from official_layout import (
    assert_matches_manifest,
    load_official,
)
from torch.nn import functional as F

from depthkit import dpt_hybrid
from depthkit.dpt_hybrid import DPTHybrid, network_size, prepare_array, resize_pos_embed, upsample
from depthkit.errors import InputError
from depthkit.model_registry import prepare

NAME = "dpt_hybrid_384"


@pytest.fixture(scope="module")
def hybrid():
    return load_official(DPTHybrid, NAME, seed=1)


def test_state_dict_matches_official_manifest(hybrid):
    assert_matches_manifest(hybrid[0], NAME, dpt_hybrid.CHECKPOINT_NAME, entries=368, parameters=123_146_985)


def test_a_checkpoint_missing_a_key_is_refused_by_strict_loading(hybrid):
    net, state = hybrid
    broken = dict(state)
    del broken["pretrained.act_postprocess4.4.weight"]
    with pytest.raises(RuntimeError, match=r"act_postprocess4\.4\.weight"):
        net.load_state_dict(broken, strict=True)


def test_checkpoint_saved_and_loaded_through_a_path_gives_identical_outputs(hybrid, tmp_path):
    net, state = hybrid
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        before = net(x)
    assert before.shape == (1, 64, 96) and before.dtype == torch.float32
    assert torch.isfinite(before).all() and (before >= 0).all() and before.std() > 0
    path = tmp_path / dpt_hybrid.CHECKPOINT_NAME
    torch.save(state, path)
    with torch.no_grad():
        net.scratch.output_conv[4].bias.add_(1.0)  # change the network, so that reloading has to restore it
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True, mmap=True), strict=True)
    with torch.inference_mode():
        assert torch.equal(net(x), before)


def test_encoder_maps_are_the_official_hooks_reassembled(hybrid):
    net, _ = hybrid
    vit = net.pretrained.model
    hooked = {}
    modules = {"1": vit.patch_embed.backbone.stages[0], "2": vit.patch_embed.backbone.stages[1],
               "3": vit.blocks[8], "4": vit.blocks[11]}  # the official hooks 0, 1 (ResNet stages), 8, 11
    handles = [m.register_forward_hook(lambda _m, _i, out, k=k: hooked.__setitem__(k, out))
               for k, m in modules.items()]
    try:
        with torch.inference_mode():
            maps = net.encode(torch.randn(1, 3, 64, 96))
    finally:
        for h in handles:
            h.remove()
    assert [tuple(m.shape) for m in maps] == [(1, 256, 16, 24), (1, 512, 8, 12), (1, 768, 4, 6), (1, 768, 2, 3)]
    assert torch.equal(maps[0], hooked["1"]) and torch.equal(maps[1], hooked["2"])
    for key, post, out in (("3", net.pretrained.act_postprocess3, maps[2]), ("4", net.pretrained.act_postprocess4,
                                                                               maps[3])):
        t = hooked[key]  # (1, 1 + 4*6, 768): readout "project" = GELU(W [patch, cls] + b)
        lin = post[0].project[0]
        feats = F.gelu(F.linear(torch.cat((t[:, 1:], t[:, :1].expand(-1, 24, -1)), dim=-1), lin.weight, lin.bias))
        ref = post[3](feats.transpose(1, 2).reshape(1, 768, 4, 6))
        if len(post) == 5:
            ref = post[4](ref)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_at_384_px_the_hooked_blocks_equal_timms_own_vit_forward(hybrid):
    net, _ = hybrid  # at the native 24x24 grid the resize is the identity: timm's own token path applies
    vit = net.pretrained.model
    x = torch.randn(1, 3, 384, 384, generator=torch.Generator().manual_seed(3))
    hooked = {}
    handles = [vit.blocks[i].register_forward_hook(lambda _m, _i, out, i=i: hooked.__setitem__(i, out))
               for i in (8, 11)]
    try:
        with torch.inference_mode():
            net.encode(x)
            ref = vit.forward_intermediates(x, indices=[8, 11], norm=False, intermediates_only=True, output_fmt="NLC")
    finally:
        for h in handles:
            h.remove()
    for i, r in zip((8, 11), ref, strict=True):
        torch.testing.assert_close(hooked[i][:, 1:], r, rtol=1e-5, atol=1e-5)


def test_position_embeddings_resize_bilinearly_and_keep_the_class_token():
    pe = torch.randn(1, 1 + 24 * 24, 8)
    assert torch.equal(resize_pos_embed(pe, (24, 24)), pe)  # the native 384x384 grid is unchanged
    out = resize_pos_embed(pe, (4, 6))
    assert out.shape == (1, 1 + 24, 8) and torch.equal(out[:, 0], pe[:, 0])
    grid = pe[0, 1:].reshape(24, 24, 8).permute(2, 0, 1)[None]
    ref = F.interpolate(grid, size=(4, 6), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).reshape(24, 8)
    torch.testing.assert_close(out[0, 1:], ref)


@pytest.mark.parametrize("shape", [(1, 3, 48, 96), (1, 3, 64, 80), (3, 64, 96)])
def test_bad_input_shapes_raise_one_clear_sentence(hybrid, shape):
    net, _ = hybrid
    hint = r'model_registry\.prepare\(image, "dpt_hybrid"\)'
    with pytest.raises(InputError, match=rf"(multiples of 32|\(N, 3, H, W\)).*{hint}"):
        net(torch.zeros(shape))


def _official_minimal_size(width, height, size=384, multiple=32):
    """The official Resize(keep_aspect_ratio=True, resize_method="minimal") rule, written out independently."""
    sw, sh = size / width, size / height
    scale = sw if abs(1 - sw) < abs(1 - sh) else sh
    return tuple(max(multiple, int(np.round(scale * s / multiple) * multiple)) for s in (width, height))


@pytest.mark.parametrize("wh,expected", [
    ((640, 480), (512, 384)), ((1920, 1080), (672, 384)), ((300, 200), (384, 256)), ((480, 640), (384, 512)),
    ((4032, 3024), (512, 384)), ((384, 384), (384, 384)), ((100, 1000), (32, 384)),
])
def test_network_size_is_minimal_resize_to_384(wh, expected):
    assert network_size(*wh) == expected == _official_minimal_size(*wh)


def test_network_size_matches_the_official_rule_on_many_photo_sizes():
    rng = np.random.default_rng(0)
    for w, h in rng.integers(20, 5000, size=(200, 2)):
        assert network_size(int(w), int(h)) == _official_minimal_size(int(w), int(h))


def test_prepare_normalises_with_mean_and_std_one_half():
    photo = np.full((480, 640, 3), (0, 128, 255), np.uint8)
    x = prepare_array(photo)
    assert x.shape == (3, 384, 512) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 100, 100], [-1.0, (128 / 255 - 0.5) / 0.5, 1.0], atol=1e-6)
    t = prepare(photo, "dpt_hybrid")
    assert t.shape == (1, 3, 384, 512) and torch.equal(t[0], torch.from_numpy(x))


def test_upsample_is_bicubic_without_aligned_corners():
    pred = torch.rand(1, 6, 8, generator=torch.Generator().manual_seed(0))
    out = upsample(pred, (12, 20))
    assert out.shape == (1, 12, 20)
    ref = F.interpolate(pred[:, None], size=(12, 20), mode="bicubic", align_corners=False)[:, 0]
    torch.testing.assert_close(out, ref)
    bilinear = F.interpolate(pred[:, None], size=(12, 20), mode="bilinear", align_corners=False)[:, 0]
    assert not torch.allclose(out, bilinear)
