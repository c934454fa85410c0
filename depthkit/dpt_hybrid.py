"""MiDaS v3.0 DPT-Hybrid (``dpt_hybrid_384.pt``, MIT licence), built from timm parts with the official names.

DPT-Hybrid (Ranftl et al. 2021, "Vision Transformers for Dense Prediction") is the official
``DPTDepthModel(backbone="vitb_rn50_384", non_negative=True)``, 123,146,985 parameters:

* ``pretrained.model``: timm's ``vit_base_r50_s16_384``, a ViT-B/16 (12 blocks, 768 channels) whose patch
  embedding is a ResNet-50 trunk (stem + 3 stages, weight-standardised convolutions and GroupNorm) followed by a
  1x1 projection: each token is one 16x16-pixel patch. Its ImageNet classifier ``head`` is in the checkpoint but
  unused.
* Hooks: the two ResNet stages (stride 4, 256 channels; stride 8, 512 channels) and the outputs of transformer
  blocks 8 and 11 (0-based; the "hooks 0, 1, 8, 11" of the official code).
* ``pretrained.act_postprocess3`` / ``4`` (:class:`Reassemble`): the "project" readout folds the class token into
  every patch token, the tokens become a stride-16 map, a 1x1 conv keeps 768 channels; for block 11 a 3x3
  stride-2 conv makes it stride 32.
* ``scratch``: the shared DPT decoder (:mod:`depthkit.dpt_decoder`, 256 channels) and the depth head
  (``output_conv``: conv, bilinear x2 with ``align_corners=True``, conv, ReLU, 1x1 conv, ReLU).

The position embeddings (24x24 patches for 384x384) are resized bilinearly to the input's patch grid, as the
official ``_resize_pos_embed`` does, so any input with both sides multiples of 32 runs. The key layout of the
official checkpoint equals this module's ``state_dict()`` with today's timm (checked with 1.0.31: timm kept the
old names), so no renaming is needed. The ResNet's weight standardisation is today's timm's
``(w - mean) / sqrt(var + 1e-8)``; MiDaS v3.1's environment pins timm 0.6.12, and older timm releases (MiDaS v3.0
was tested with 0.4.5) computed ``(w - mean) / (std + eps)``, which differs slightly.

Preprocessing as the official ``run.py`` for ``dpt_hybrid_384``: keep the aspect ratio, resize method "minimal" to
384, multiples of 32, bicubic, mean = std = 0.5. The prediction is upsampled back to the photo bicubically
(``align_corners=False``). The output is relative inverse depth: larger = nearer, unknown scale and shift, no unit.
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn
from torch.nn import functional as F

from .dpt_decoder import ProjectReadout, check_input, embed_tokens, fuse, make_scratch, run_blocks
from .model import depth_head
from .network_resize import ResizeRule

__all__ = [
    "CHECKPOINT_NAME", "CHECKPOINT_URL", "HOOKS", "LICENCE", "MEAN", "MULTIPLE_OF", "NET_SIZE", "PREPARE", "RESIZE",
    "RESIZE_METHOD", "STD", "DPTHybrid", "Reassemble", "network_size", "prepare_array", "resize_pos_embed", "upsample",
]

CHECKPOINT_NAME = "dpt_hybrid_384.pt"
CHECKPOINT_URL = "https://github.com/isl-org/MiDaS/releases/download/v3/dpt_hybrid_384.pt"
LICENCE = "MiDaS v3.0 DPT-Hybrid weights and code: MIT licence (Intel ISL, github.com/isl-org/MiDaS)"
#: The official input size (both sides ~384 px after the "minimal" resize) and the network's stride.
NET_SIZE = 384
MULTIPLE_OF = 32
RESIZE_METHOD = "minimal"
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
#: How to make a valid input (quoted in error messages).
PREPARE = 'depthkit.model_registry.prepare(image, "dpt_hybrid")'
#: Transformer blocks whose outputs the decoder reads (0-based); the first two maps come from ResNet stages 0 and 1.
HOOKS = (8, 11)
#: Channels of the four reassembled maps (strides 4, 8, 16, 32).
ENCODER_CHANNELS = (256, 512, 768, 768)


def _vit_hybrid() -> nn.Module:
    """timm's ViT-B/16 with a ResNet-50 stem, random weights (never downloaded), with its 1000-class head."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: weights come from a checkpoint file
    import timm

    return timm.create_model("vit_base_r50_s16_384", pretrained=False, num_classes=1000)


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Resize ViT position embeddings to a patch grid, as the official MiDaS ``_resize_pos_embed``.

    Args:
        pos_embed: (1, 1 + S*S, C): the class token's embedding, then a square S x S grid (S = 24 for 384 px).
        grid: (rows, cols) of the input's patch grid (H / 16, W / 16).

    Returns:
        (1, 1 + rows*cols, C): the class embedding unchanged, the grid resized bilinearly (``align_corners=False``).
    """
    cls, patches = pos_embed[:, :1], pos_embed[0, 1:]
    side = math.isqrt(patches.shape[0])  # the official int(math.sqrt(S * S))
    patches = patches.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=tuple(grid), mode="bilinear", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], -1)
    return torch.cat([cls, patches], dim=1)


class Reassemble(nn.Sequential):
    """Tokens of one transformer block -> a feature map: the official ``act_postprocessN`` (same indices).

    ``[0]`` the project readout, ``[1]``/``[2]`` (no weights) the official Transpose and Unflatten, done in
    :meth:`forward` for any grid, ``[3]`` a 1x1 conv, ``[4]`` (only with ``downsample``) a 3x3 stride-2 conv.

    Shapes: (N, 1 + rows*cols, dim) tokens -> (N, out, rows, cols), or (N, out, ceil(rows/2), ceil(cols/2)).
    """

    def __init__(self, dim: int, out: int, downsample: bool):
        layers = [ProjectReadout(dim), nn.Identity(), nn.Identity(), nn.Conv2d(dim, out, kernel_size=1)]
        if downsample:
            layers.append(nn.Conv2d(out, out, kernel_size=3, stride=2, padding=1))
        super().__init__(*layers)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:  # type: ignore[override]
        x = self[0](tokens).transpose(1, 2).unflatten(2, tuple(grid))
        for layer in list(self)[3:]:
            x = layer(x)
        return x


class DPTHybrid(nn.Module):
    """MiDaS v3.0 DPT-Hybrid (123,146,985 parameters) with the official parameter names.

    Args:
        features: decoder width (256 for the official model).

    Shapes:
        input: (N, 3, H, W) float32, normalised with mean = std = 0.5 (see
        :func:`depthkit.model_registry.prepare`), H and W multiples of 32.
        output: (N, H, W) float32 relative inverse depth, >= 0, larger = nearer, no unit.

    Attributes:
        weights_info: where the weights came from (set by the loader); ``None`` for a bare network.

    Example:
        >>> with torch.device("meta"):  # shapes only, no memory or init time
        ...     net = DPTHybrid()
        >>> sum(p.numel() for p in net.parameters())
        123146985
    """

    _TRUNK = "pretrained.model.patch_embed.backbone"
    #: What :func:`depthkit.dpt_decoder.layer_shapes` reports: (module name, "output"/"input", what it is).
    STAGES = (
        (f"{_TRUNK}.stem", "output", "ResNet-50 stem (7x7 conv, max-pool): stride 4"),
        (f"{_TRUNK}.stages.0", "output", "ResNet stage 1, stride 4 -> map 1"),
        (f"{_TRUNK}.stages.1", "output", "ResNet stage 2, stride 8 -> map 2"),
        (f"{_TRUNK}.stages.2", "output", "ResNet stage 3, stride 16"),
        ("pretrained.model.patch_embed.proj", "output", "1x1 conv: one 768-d embedding per 16x16 patch"),
        ("pretrained.model.blocks.0", "input", "tokens: readout (class) token + patches"),
        ("pretrained.model.blocks.8", "output", "transformer block 8 (hooked)"),
        ("pretrained.model.blocks.11", "output", "transformer block 11 (hooked)"),
        ("pretrained.act_postprocess3", "output", "reassemble block 8: stride 16 -> map 3"),
        ("pretrained.act_postprocess4", "output", "reassemble block 11 + stride-2 conv: stride 32 -> map 4"),
        *((f"scratch.layer{i}_rn", "output", f"map {i} projected to 256 channels") for i in range(1, 5)),
        *((f"scratch.refinenet{i}", "output", "fusion block (coarse to fine)") for i in range(4, 0, -1)),
        ("scratch.output_conv", "output", "head (x2 upsampling): one channel"),
        ("", "output", "inverse depth"),
    )

    def __init__(self, features: int = 256):
        super().__init__()
        dim = 768
        self.pretrained = nn.Module()
        self.pretrained.model = _vit_hybrid()
        self.pretrained.act_postprocess3 = Reassemble(dim, ENCODER_CHANNELS[2], downsample=False)
        self.pretrained.act_postprocess4 = Reassemble(dim, ENCODER_CHANNELS[3], downsample=True)
        self.scratch = make_scratch(ENCODER_CHANNELS, features)
        self.scratch.output_conv = depth_head(features, align_corners=True)
        self.weights_info = None

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four maps the decoder reads, finest first.

        Args:
            x: (N, 3, H, W) normalised input, H and W multiples of 32.

        Returns:
            [(N, 256, H/4, W/4), (N, 512, H/8, W/8), (N, 768, H/16, W/16), (N, 768, H/32, W/32)].
        """
        vit = self.pretrained.model
        trunk = vit.patch_embed.backbone
        stage1 = trunk.stages[0](trunk.stem(x))
        stage2 = trunk.stages[1](stage1)
        patches = vit.patch_embed.proj(trunk.norm(trunk.stages[2](stage2)))  # (N, 768, H/16, W/16)
        tokens, grid = embed_tokens(patches, vit.cls_token, vit.pos_embed, resize_pos_embed)
        hooked = run_blocks(vit.blocks, tokens, HOOKS)
        p = self.pretrained
        return [stage1, stage2, p.act_postprocess3(hooked[0], grid), p.act_postprocess4(hooked[1], grid)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "DPT-Hybrid", MULTIPLE_OF, PREPARE)
        path = fuse(self.scratch, self.encode(x))
        return self.scratch.output_conv(path).squeeze(1)


#: The way between a photo and DPT-Hybrid, as the official ``run.py``: ``network_size(width, height)``
#: ("minimal" to 384, multiples of 32; 640x480 -> (512, 384), 1920x1080 -> (672, 384)), ``prepare_array(image)``
#: ((H, W, 3) uint8 RGB -> (3, h, w) float32, bicubic, mean = std = 0.5) and ``upsample(prediction, (H, W))``
#: (bicubic, ``align_corners=False``; it can overshoot slightly below 0 near sharp edges, as the official code).
RESIZE = ResizeRule(NET_SIZE, MULTIPLE_OF, RESIZE_METHOD, MEAN, STD, upsample_mode="bicubic", align_corners=False)
network_size = RESIZE.network_size
prepare_array = RESIZE.prepare_array
upsample = RESIZE.upsample
