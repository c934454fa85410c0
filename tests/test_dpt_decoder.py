"""The DPT decoder pieces shared by DPT-Hybrid and Depth Anything V2."""

import pytest
import torch
from torch.nn import functional as F

from depthkit.depth_anything import DepthAnythingV2Small
from depthkit.dpt_decoder import ProjectReadout, check_input, embed_tokens, fuse, layer_shapes, make_scratch, run_blocks
from depthkit.dpt_hybrid import DPTHybrid
from depthkit.errors import InputError
from depthkit.model import FeatureFusionBlock


def test_scratch_fusion_blocks_are_midas_fusion_blocks_resizing_to_size():
    torch.manual_seed(0)
    block = make_scratch((3, 4, 5, 6), 8).refinenet2
    assert isinstance(block, FeatureFusionBlock) and block.out_conv.out_channels == 8  # expand=False
    x, skip = torch.randn(2, 8, 5, 7), torch.randn(2, 8, 5, 7)
    ref = block.resConfUnit2(x + block.resConfUnit1(skip))
    ref = block.out_conv(F.interpolate(ref, size=(9, 13), mode="bilinear", align_corners=True))
    torch.testing.assert_close(block(x, skip, size=(9, 13)), ref)


def test_embed_tokens_puts_the_class_token_first_and_adds_resized_positions():
    torch.manual_seed(0)
    patches, cls, pos = torch.randn(2, 6, 3, 4), torch.randn(1, 1, 6), torch.randn(1, 1 + 12, 6)
    tokens, grid = embed_tokens(patches, cls, pos, lambda p, g: p * (g[0] + 10 * g[1]))
    assert grid == (3, 4) and tokens.shape == (2, 13, 6)
    torch.testing.assert_close(tokens[:, 0], (cls + 43 * pos[:, :1]).expand(2, 1, 6)[:, 0])
    torch.testing.assert_close(tokens[1, 1 + 4 * 1 + 2], patches[1, :, 1, 2] + 43 * pos[0, 1 + 4 * 1 + 2])


def test_run_blocks_returns_the_tapped_outputs_and_stops_after_the_last():
    calls = []

    class Add(torch.nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, t):
            calls.append(self.k)
            return t + self.k

    out = run_blocks(torch.nn.ModuleList(Add(k) for k in range(6)), torch.zeros(1, 2, 3), (1, 3))
    assert calls == [0, 1, 2, 3]
    assert [float(o[0, 0, 0]) for o in out] == [1.0, 6.0]


def test_project_readout_folds_the_class_token_into_every_patch():
    torch.manual_seed(0)
    readout = ProjectReadout(6)
    tokens = torch.randn(2, 1 + 4, 6)
    lin = readout.project[0]
    ref = F.gelu(F.linear(torch.cat((tokens[:, 1:], tokens[:, :1].expand(-1, 4, -1)), -1), lin.weight, lin.bias))
    torch.testing.assert_close(readout(tokens), ref)


def test_fuse_runs_coarse_to_fine_on_odd_sizes():
    torch.manual_seed(0)
    scratch = make_scratch((3, 4, 5, 6), 8)
    maps = [torch.randn(1, 3, 20, 28), torch.randn(1, 4, 10, 14), torch.randn(1, 5, 5, 7), torch.randn(1, 6, 3, 4)]
    assert fuse(scratch, maps).shape == (1, 8, 40, 56)
    assert [n for n, _ in scratch.named_children()] == [
        "layer1_rn", "layer2_rn", "layer3_rn", "layer4_rn", "refinenet1", "refinenet2", "refinenet3", "refinenet4"]


@pytest.mark.parametrize("x,match", [
    (torch.zeros(1, 3, 30, 28), "DPT-X needs H and W to be multiples of 14, got 30x28; resize with f"),
    (torch.zeros(1, 3, 28, 28, dtype=torch.uint8), "expects a float tensor"),
    (torch.zeros(3, 28, 28), r"shape \(N, 3, H, W\), got \(3, 28, 28\)"),
    ([1, 2, 3], "expects a torch.Tensor"),
])
def test_check_input_says_what_is_wrong(x, match):
    with pytest.raises(InputError, match=match):
        check_input(x, "DPT-X", 14, "f")


def _meta(cls):
    with torch.device("meta"):  # shapes only: no memory, no random init
        return cls()


def test_layer_shapes_of_dpt_hybrid_at_384():
    rows = layer_shapes(_meta(DPTHybrid), 384, 384)
    trunk = "pretrained.model.patch_embed.backbone"
    assert [(name, shape) for name, _what, shape in rows] == [
        (f"{trunk}.stem", (1, 64, 96, 96)),
        (f"{trunk}.stages.0", (1, 256, 96, 96)),
        (f"{trunk}.stages.1", (1, 512, 48, 48)),
        (f"{trunk}.stages.2", (1, 1024, 24, 24)),
        ("pretrained.model.patch_embed.proj", (1, 768, 24, 24)),
        ("pretrained.model.blocks.0", (1, 1 + 24 * 24, 768)),  # the readout token + 576 patch tokens
        ("pretrained.model.blocks.8", (1, 577, 768)),
        ("pretrained.model.blocks.11", (1, 577, 768)),
        ("pretrained.act_postprocess3", (1, 768, 24, 24)),
        ("pretrained.act_postprocess4", (1, 768, 12, 12)),
        ("scratch.layer1_rn", (1, 256, 96, 96)),
        ("scratch.layer2_rn", (1, 256, 48, 48)),
        ("scratch.layer3_rn", (1, 256, 24, 24)),
        ("scratch.layer4_rn", (1, 256, 12, 12)),
        ("scratch.refinenet4", (1, 256, 24, 24)),
        ("scratch.refinenet3", (1, 256, 48, 48)),
        ("scratch.refinenet2", (1, 256, 96, 96)),
        ("scratch.refinenet1", (1, 256, 192, 192)),
        ("scratch.output_conv", (1, 1, 384, 384)),
        ("", (1, 384, 384)),
    ]
    assert rows[5][1] == "tokens: readout (class) token + patches"


def test_layer_shapes_of_depth_anything_v2_small_at_518():
    rows = layer_shapes(_meta(DepthAnythingV2Small), 518, 518)
    head = "depth_head.scratch"
    assert [(name, shape) for name, _what, shape in rows] == [
        ("pretrained.patch_embed.proj", (1, 384, 37, 37)),
        ("pretrained.blocks.0", (1, 1 + 37 * 37, 384)),  # the class token + 1369 patch tokens
        *((f"pretrained.blocks.{i}", (1, 1370, 384)) for i in (2, 5, 8, 11)),
        ("depth_head.resize_layers.0", (1, 48, 148, 148)),
        ("depth_head.resize_layers.1", (1, 96, 74, 74)),
        ("depth_head.resize_layers.2", (1, 192, 37, 37)),
        ("depth_head.resize_layers.3", (1, 384, 19, 19)),
        (f"{head}.layer1_rn", (1, 64, 148, 148)),
        (f"{head}.layer2_rn", (1, 64, 74, 74)),
        (f"{head}.layer3_rn", (1, 64, 37, 37)),
        (f"{head}.layer4_rn", (1, 64, 19, 19)),
        (f"{head}.refinenet4", (1, 64, 37, 37)),
        (f"{head}.refinenet3", (1, 64, 74, 74)),
        (f"{head}.refinenet2", (1, 64, 148, 148)),
        (f"{head}.refinenet1", (1, 64, 296, 296)),
        (f"{head}.output_conv1", (1, 32, 296, 296)),
        (f"{head}.output_conv2", (1, 1, 518, 518)),
        ("", (1, 518, 518)),
    ]


def test_layer_shapes_follow_non_square_inputs_and_remove_their_hooks():
    net = _meta(DepthAnythingV2Small)
    shapes = {name: shape for name, _what, shape in layer_shapes(net, 518, 686)}
    assert shapes["pretrained.blocks.0"] == (1, 1 + 37 * 49, 384) and shapes[""] == (1, 518, 686)
    assert shapes["depth_head.resize_layers.3"] == (1, 384, 19, 25)
    hybrid = _meta(DPTHybrid)
    shapes = {name: shape for name, _what, shape in layer_shapes(hybrid, 64, 96)}
    assert shapes["pretrained.model.blocks.11"] == (1, 1 + 4 * 6, 768)
    assert shapes["pretrained.act_postprocess4"] == (1, 768, 2, 3) and shapes[""] == (1, 64, 96)
    for m in (*net.modules(), *hybrid.modules()):
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_layer_shapes_on_a_real_network_equal_the_meta_ones():
    torch.manual_seed(0)
    real = layer_shapes(DepthAnythingV2Small().eval(), 28, 42)
    assert real == layer_shapes(_meta(DepthAnythingV2Small), 28, 42)
    assert {n: s for n, _w, s in real}["pretrained.blocks.0"] == (1, 1 + 2 * 3, 384)


def test_layer_shapes_refuses_other_networks_and_bad_sizes():
    with pytest.raises(InputError) as err:
        layer_shapes(torch.nn.Conv2d(3, 1, 1), 64, 64)
    assert str(err.value) == ("layer_shapes needs a DPT network (DPT-Hybrid or Depth Anything V2), got Conv2d; "
                              "for MiDaS_small use depthkit.model.layer_shapes.")
    net = _meta(DepthAnythingV2Small)
    with pytest.raises(InputError, match="Depth Anything V2 needs H and W to be multiples of 14, got 64x64"):
        layer_shapes(net, 64, 64)
    with pytest.raises(InputError, match="height"):
        layer_shapes(net, 0, 14)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())  # removed after a failure too
