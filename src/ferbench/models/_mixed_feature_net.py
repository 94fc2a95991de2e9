"""MixedFeatureNet (MFN), DDAMFN's backbone: MobileFaceNet with MixConv depthwise kernels and coordinate
attention in every bottleneck (Zhang et al., Electronics 2023; official ``networks/MixedFeatureNet.py``).

Only the part DDAMFN runs is built: the trunk up to ``conv_6_sep`` (``[B,512,7,7]`` at 112 px). Left out
because they never run in DDAMFN: the GDC embedding head (``conv_6_dw``, ``linear``, ``bn``) and the BN+PReLU
that every official ``MDConv`` declares but never calls. Attribute names follow the official module so that
the MS-Celeb MFN state dict loads after dropping those keys (``ferbench.convert_weights``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._mobilefacenet import ConvBlock, LinearBlock


class CoordAtt(nn.Module):
    """Coordinate attention (Hou et al., CVPR 2021): directional average pools → shared 1×1 → two gates."""

    def __init__(self, channels: int, groups: int = 32):
        super().__init__()
        mip = max(8, channels // groups)
        self.conv1 = nn.Conv2d(channels, mip, 1)
        self.bn1 = nn.BatchNorm2d(mip)
        self.act = nn.Hardswish()
        self.conv2 = nn.Conv2d(mip, channels, 1)
        self.conv3 = nn.Conv2d(mip, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        x_h = x.mean(dim=3, keepdim=True)                      # [B,C,H,1]
        x_w = x.mean(dim=2, keepdim=True).transpose(2, 3)      # [B,C,W,1]
        y = self.act(self.bn1(self.conv1(torch.cat([x_h, x_w], dim=2))))
        y_h, y_w = torch.split(y, [h, w], dim=2)
        return x * self.conv2(y_h).sigmoid() * self.conv3(y_w.transpose(2, 3)).sigmoid()


class MixedDepthwise(nn.Module):
    """MixConv: the channels are split into groups, each with its own depthwise kernel size."""

    def __init__(self, kernels: list[int], splits: list[int], stride: int):
        super().__init__()
        self.splits = splits
        self.mixed_depthwise_conv = nn.ModuleList(
            nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False) for k, c in zip(kernels, splits)
        )

    def forward(self, x: Tensor) -> Tensor:
        parts = torch.split(x, self.splits, dim=1)
        return torch.cat([conv(p) for conv, p in zip(self.mixed_depthwise_conv, parts)], dim=1)


class MixDepthWise(nn.Module):
    """1×1 expand → MixConv depthwise → coordinate attention → 1×1 linear projection (+ shortcut)."""

    def __init__(self, cin: int, cout: int, hidden: int, kernels: list[int], splits: list[int],
                 stride: int = 2, residual: bool = False):
        super().__init__()
        assert sum(splits) == hidden
        self.conv = ConvBlock(cin, hidden)
        self.conv_dw = MixedDepthwise(kernels, splits, stride)
        self.CA = CoordAtt(hidden)
        self.project = LinearBlock(hidden, cout)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.CA(self.conv_dw(self.conv(x))))
        return x + y if self.residual else y


class MixResidual(nn.Module):
    def __init__(self, channels: int, num_block: int, hidden: int, kernels: list[int], splits: list[int]):
        super().__init__()
        self.model = nn.Sequential(*(MixDepthWise(channels, channels, hidden, kernels, splits, 1, True)
                                     for _ in range(num_block)))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class MixedFeatureNetTrunk(nn.Module):
    """112×112 → ``[B,512,7,7]``."""

    CHILDREN = ("conv1", "conv2_dw", "conv_23", "conv_3", "conv_34", "conv_4", "conv_45", "conv_5",
                "conv_6_sep")

    def __init__(self):
        super().__init__()
        self.conv1 = ConvBlock(3, 64, 3, 2, 1)                                  # 56²
        self.conv2_dw = ConvBlock(64, 64, 3, 1, 1, groups=64)
        self.conv_23 = MixDepthWise(64, 64, 128, [3, 5, 7], [64, 32, 32])         # 28²
        self.conv_3 = MixResidual(64, 9, 128, [3, 5], [96, 32])
        self.conv_34 = MixDepthWise(64, 128, 256, [3, 5, 7], [128, 64, 64])       # 14²
        self.conv_4 = MixResidual(128, 16, 256, [3, 5], [192, 64])
        self.conv_45 = MixDepthWise(128, 256, 1024, [3, 5, 7, 9], [256] * 4)      # 7²
        self.conv_5 = MixResidual(256, 6, 512, [3, 5, 7], [172, 170, 170])
        self.conv_6_sep = ConvBlock(256, 512)

    def forward(self, x: Tensor) -> Tensor:
        for m in self.children():
            x = m(x)
        return x


# Official MFN keys that the trunk does not have, all of modules that never run in DDAMFN.
def is_unused_mfn_key(key: str) -> bool:
    head = key.split(".")[0] in {"conv_6_dw", "linear", "bn"}
    mdconv_norm = ".conv_dw.bn." in key or ".conv_dw.prelu." in key
    return head or mdconv_norm
