"""The DPT decoder pieces shared by DPT-Hybrid and Depth Anything V2."""

import pytest
import torch
from torch.nn import functional as F

from depthkit.dpt_decoder import ProjectReadout, check_input, embed_tokens, fuse, make_scratch, run_blocks
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
