"""A DPT-Hybrid-like network from timm parts, for timing and memory only (random weights, never for depth).

DPT-Hybrid (MiDaS v3.0, Ranftl et al. 2021, "Vision Transformers for Dense Prediction") is a ViT-B/16 whose patch
embedding is a ResNet-50 trunk (timm's ``vit_base_r50_s16_384``), followed by a DPT decoder: the two ResNet
stages at strides 4 and 8 and the transformer blocks 9 and 12 (tokens reassembled into a stride-16 map and, for
the last, downsampled to stride 32) are projected to 256 channels and fused coarse-to-fine by RefineNet blocks,
then a small head upsamples to the input size.

This rebuild follows that structure with depthkit's own fusion blocks; layer widths follow the paper's hybrid
configuration, but parameter names and small details (e.g. the readout projection) are not the official ones,
so no checkpoint loads into it. It exists to measure what such a model costs on this CPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from depthkit.model import FeatureFusionBlock


class DPTHybridLike(nn.Module):
    """(N, 3, 384, 384) float32 -> (N, 384, 384) relative inverse depth (random weights)."""

    def __init__(self, features: int = 256, img_size: int = 384):
        super().__init__()
        import timm

        self.vit = timm.create_model("vit_base_r50_s16_384", pretrained=False, img_size=img_size, num_classes=0)
        dim = self.vit.embed_dim  # 768
        self.readout = nn.ModuleList(nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU()) for _ in range(2))
        self.post3 = nn.Conv2d(dim, 768, 1)
        self.post4 = nn.Sequential(nn.Conv2d(dim, 768, 1), nn.Conv2d(768, 768, 3, stride=2, padding=1))
        chans = (256, 512, 768, 768)
        self.rn = nn.ModuleList(nn.Conv2d(c, features, 3, padding=1, bias=False) for c in chans)
        self.fuse = nn.ModuleList(FeatureFusionBlock(features, expand=False) for _ in range(4))
        self.head = nn.Sequential(nn.Conv2d(features, features // 2, 3, padding=1), nn.Upsample(scale_factor=2,
                                  mode="bilinear", align_corners=True), nn.Conv2d(features // 2, 32, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(32, 1, 1), nn.ReLU())

    def _tokens_to_map(self, tokens, i, hw):
        cls, rest = tokens[:, :1], tokens[:, 1:]
        rest = self.readout[i](torch.cat([rest, cls.expand_as(rest)], dim=-1))
        return rest.transpose(1, 2).reshape(rest.shape[0], -1, *hw)

    def forward(self, x):
        trunk = self.vit.patch_embed.backbone
        h = trunk.stem(x)
        l1 = trunk.stages[0](h)  # stride 4, 256 ch
        l2 = trunk.stages[1](l1)  # stride 8, 512 ch
        h = trunk.norm(trunk.stages[2](l2))  # stride 16, 1024 ch
        h = self.vit.patch_embed.proj(h)
        hw = h.shape[-2:]
        t = self.vit._pos_embed(h.flatten(2).transpose(1, 2))
        outs = []
        for j, block in enumerate(self.vit.blocks):
            t = block(t)
            if j in (8, 11):
                outs.append(t)
        l3 = self.post3(self._tokens_to_map(outs[0], 0, hw))
        l4 = self.post4(self._tokens_to_map(outs[1], 1, hw))
        r = [conv(f) for conv, f in zip(self.rn, (l1, l2, l3, l4), strict=True)]
        path = self.fuse[3](r[3])
        path = self.fuse[2](path, r[2])
        path = self.fuse[1](path, r[1])
        path = self.fuse[0](path, r[0])
        return F.relu(self.head(path)).squeeze(1)
