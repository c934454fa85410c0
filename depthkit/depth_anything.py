"""Depth Anything V2 Small (``depth_anything_v2_vits.pth``, Apache-2.0), built from timm parts with the official names.

Depth Anything V2 (Yang et al. 2024) is a DINOv2 vision transformer with a DPT decoder; the Small model has
24,785,089 parameters:

* ``pretrained``: timm's ``vit_small_patch14_dinov2``, a ViT-S/14 (12 blocks, 384 channels, 6 heads, LayerScale):
  each token is one 14x14-pixel patch; plus the official ``mask_token`` (used only in DINOv2 training, kept so
  the checkpoint loads strictly).
* The encoder returns the outputs of blocks 2, 5, 8 and 11 (0-based), layer-normed, each as (patch tokens, class
  token) -- DINOv2's ``get_intermediate_layers(..., return_class_token=True)``. As in the official Small model
  (``use_clstoken=False``), the head ignores the class token.
* ``depth_head``: 1x1 ``projects`` to 48, 96, 192, 384 channels, ``resize_layers`` to strides 4, 8, 16 and 32
  of the patch grid (transposed convs x4 and x2, identity, a 3x3 stride-2 conv), the shared DPT decoder
  (:mod:`depthkit.dpt_decoder`, 64 channels), then ``output_conv1``, bilinear upsampling to the input size
  (``align_corners=True``), ``output_conv2`` and a final ReLU.

Position embeddings (37x37 patches for 518x518) are interpolated to the input's patch grid exactly as the official
DINOv2 ``interpolate_pos_encoding``: bicubic with ``scale_factor = (grid + 0.1) / 37`` per axis (the 0.1 offset
avoids a floating-point off-by-one in the output size), no antialias, in float32; at 518x518 they are used as is.
The key layout of the official checkpoint equals this module's ``state_dict()`` with today's timm (checked
with 1.0.31).

Preprocessing as the official ``infer_image``: keep the aspect ratio, resize method "lower_bound" to 518,
multiples of 14, bicubic, ImageNet mean and std. The prediction is upsampled back bilinearly with
``align_corners=True``. The output is relative inverse depth (disparity-like): larger = nearer, unknown scale and
shift, no unit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .dpt_decoder import check_input, embed_tokens, fuse, make_scratch, run_blocks
from .network_resize import ResizeRule
from .transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "CHECKPOINT_NAME", "CHECKPOINT_URL", "INTERMEDIATE_LAYERS", "LICENCE", "MULTIPLE_OF", "NET_SIZE", "POS_OFFSET",
    "PREPARE", "RESIZE", "RESIZE_METHOD", "DPTHead", "DepthAnythingV2Small", "interpolate_pos_embed", "network_size",
    "prepare_array", "upsample",
]

CHECKPOINT_NAME = "depth_anything_v2_vits.pth"
CHECKPOINT_URL = "https://huggingface.co/depth-anything/Depth-Anything-V2-Small/resolve/main/depth_anything_v2_vits.pth"
LICENCE = "Depth Anything V2 Small weights and code: Apache-2.0 (Yang et al. 2024, github.com/DepthAnything)"
#: The official input size (both sides >= 518 px after the "lower_bound" resize) and the patch size.
NET_SIZE = 518
MULTIPLE_OF = 14
RESIZE_METHOD = "lower_bound"
#: How to make a valid input (quoted in error messages).
PREPARE = 'depthkit.model_registry.prepare(image, "depth_anything_v2_small")'
#: The transformer blocks the head reads (0-based).
INTERMEDIATE_LAYERS = (2, 5, 8, 11)
#: DINOv2's offset added to the target grid before computing the interpolation scale.
POS_OFFSET = 0.1
#: Channels of the four reassembled maps and the decoder width of the Small model.
OUT_CHANNELS = (48, 96, 192, 384)
FEATURES = 64


def _dinov2_vits14() -> nn.Module:
    """timm's DINOv2 ViT-S/14 (random weights, never downloaded) with the official ``mask_token``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: weights come from a checkpoint file
    import timm

    vit = timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0)
    vit.mask_token = nn.Parameter(torch.zeros(1, vit.embed_dim))  # registered after pos_embed, as officially
    return vit


def interpolate_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int], offset: float = POS_OFFSET) -> torch.Tensor:
    """Interpolate DINOv2 position embeddings to a patch grid, as the official ``interpolate_pos_encoding``.

    Args:
        pos_embed: (1, 1 + S*S, C): the class token's embedding, then a square S x S grid (S = 37).
        grid: (rows, cols) of the input's patch grid (H / 14, W / 14).
        offset: added to rows and cols before the scale factors ``(rows + offset) / S``, ``(cols + offset) / S``
            are computed (0.1 in DINOv2; the output size is their floor times S, i.e. rows x cols).

    Returns:
        (1, 1 + rows*cols, C) in ``pos_embed``'s dtype; ``pos_embed`` itself for the native square grid.
    """
    n = pos_embed.shape[1] - 1
    rows, cols = int(grid[0]), int(grid[1])
    if rows * cols == n and rows == cols:
        return pos_embed
    dim = pos_embed.shape[-1]
    side = math.sqrt(n)
    pe = pos_embed.float()
    patches = pe[:, 1:].reshape(1, int(side), int(side), dim).permute(0, 3, 1, 2)
    scale = (float(rows + offset) / side, float(cols + offset) / side)
    patches = F.interpolate(patches, scale_factor=scale, mode="bicubic", antialias=False)
    if tuple(patches.shape[-2:]) != (rows, cols):  # pragma: no cover - guards the offset's purpose
        raise RuntimeError(f"position embedding interpolation gave {tuple(patches.shape[-2:])}, not {(rows, cols)}")
    patches = patches.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
    return torch.cat((pe[:, :1], patches), dim=1).to(pos_embed.dtype)


class DPTHead(nn.Module):
    """Depth Anything V2's DPT head: four token grids -> (N, 1, H, W) inverse depth (before the final ReLU).

    Args:
        in_channels: token width (384 for ViT-S).
        features: decoder width (64 for Small).
        out_channels: channels of the four reassembled maps ((48, 96, 192, 384) for Small).
    """

    def __init__(self, in_channels: int = 384, features: int = FEATURES, out_channels: Sequence[int] = OUT_CHANNELS):
        super().__init__()
        c = tuple(out_channels)
        self.projects = nn.ModuleList(nn.Conv2d(in_channels, ch, kernel_size=1) for ch in c)
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(c[0], c[0], kernel_size=4, stride=4),
            nn.ConvTranspose2d(c[1], c[1], kernel_size=2, stride=2),
            nn.Identity(),
            nn.Conv2d(c[3], c[3], kernel_size=3, stride=2, padding=1),
        ])
        self.scratch = make_scratch(c, features)
        self.scratch.output_conv1 = nn.Conv2d(features, features // 2, kernel_size=3, padding=1)
        self.scratch.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 1, kernel_size=1),
            nn.ReLU(),
            nn.Identity(),
        )

    def forward(self, tokens: Sequence[torch.Tensor], grid: tuple[int, int]) -> torch.Tensor:
        """Args: four (N, rows*cols, C) patch-token tensors; grid = (rows, cols). Returns (N, 1, 14 rows, 14 cols)."""
        maps = []
        for project, resize, t in zip(self.projects, self.resize_layers, tokens, strict=True):
            x = t.transpose(1, 2).reshape(t.shape[0], t.shape[-1], grid[0], grid[1])
            maps.append(resize(project(x)))
        out = self.scratch.output_conv1(fuse(self.scratch, maps))
        size = (grid[0] * MULTIPLE_OF, grid[1] * MULTIPLE_OF)
        out = F.interpolate(out, size=size, mode="bilinear", align_corners=True)
        return self.scratch.output_conv2(out)


class DepthAnythingV2Small(nn.Module):
    """Depth Anything V2 Small (24,785,089 parameters) with the official parameter names.

    Shapes:
        (N, 3, H, W) float32 input, H and W multiples of 14 and normalised with the ImageNet mean and std (see
        :func:`depthkit.model_registry.prepare`) -> (N, H, W) float32 relative inverse depth (>= 0, larger =
        nearer, no unit).

    Attributes:
        weights_info: ``None`` for a bare network, else where the loader took the weights from.

    Example:
        >>> with torch.device("meta"):  # the meta device: shapes only, no memory, no init time
        ...     n_params = sum(p.numel() for p in DepthAnythingV2Small().parameters())
        >>> n_params
        24785089
    """

    #: What :func:`depthkit.dpt_decoder.layer_shapes` reports: (module name, "output"/"input", what it is).
    STAGES = (
        ("pretrained.patch_embed.proj", "output", "14x14 conv, stride 14: one 384-d embedding per patch"),
        ("pretrained.blocks.0", "input", "tokens: class token + patches"),
        *((f"pretrained.blocks.{i}", "output", f"transformer block {i} (hooked)") for i in INTERMEDIATE_LAYERS),
        *((f"depth_head.resize_layers.{i}", "output", f"reassemble ({how}) -> map {i + 1}")
          for i, how in enumerate(("x4 transposed conv", "x2 transposed conv", "as is", "stride-2 conv"))),
        *((f"depth_head.scratch.layer{i}_rn", "output", f"map {i} projected to 64 channels") for i in range(1, 5)),
        *((f"depth_head.scratch.refinenet{i}", "output", "fusion block (coarse to fine)") for i in range(4, 0, -1)),
        ("depth_head.scratch.output_conv1", "output", "head: 3x3 conv to 32 channels"),
        ("depth_head.scratch.output_conv2", "output", "head: bilinear to the input size, convs, ReLU"),
        ("", "output", "inverse depth"),
    )

    def __init__(self):
        super().__init__()
        self.pretrained = _dinov2_vits14()
        self.depth_head = DPTHead(self.pretrained.embed_dim, FEATURES, OUT_CHANNELS)
        self.weights_info = None

    def encode(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """DINOv2's intermediate layers 2, 5, 8, 11, layer-normed, with the class token.

        Args:
            x: (N, 3, H, W) normalised input, H and W multiples of 14.

        Returns:
            Four ``(patch tokens (N, H/14 * W/14, 384), class token (N, 384))`` pairs.
        """
        vit = self.pretrained
        patches = vit.patch_embed.proj(x)  # (N, 384, H/14, W/14)
        tokens, _grid = embed_tokens(patches, vit.cls_token, vit.pos_embed, interpolate_pos_embed)
        normed = [vit.norm(t) for t in run_blocks(vit.blocks, tokens, INTERMEDIATE_LAYERS)]
        return [(n[:, 1:], n[:, 0]) for n in normed]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "Depth Anything V2", MULTIPLE_OF, PREPARE)
        grid = (x.shape[-2] // MULTIPLE_OF, x.shape[-1] // MULTIPLE_OF)
        depth = self.depth_head([tokens for tokens, _cls in self.encode(x)], grid)
        return F.relu(depth).squeeze(1)


#: The way between a photo and Depth Anything V2, as the official ``infer_image``: ``network_size(width, height)``
#: ("lower_bound" 518, multiples of 14; 640x480 -> (686, 518), 1920x1080 -> (924, 518)), ``prepare_array(image)``
#: ((H, W, 3) uint8 RGB -> (3, h, w) float32, bicubic, ImageNet mean/std) and ``upsample(prediction, (H, W))``
#: (bilinear, ``align_corners=True``).
RESIZE = ResizeRule(NET_SIZE, MULTIPLE_OF, RESIZE_METHOD, IMAGENET_MEAN, IMAGENET_STD, upsample_mode="bilinear",
                    align_corners=True)
network_size = RESIZE.network_size
prepare_array = RESIZE.prepare_array
upsample = RESIZE.upsample
