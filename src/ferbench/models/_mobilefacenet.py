"""MobileFaceNet building blocks (Chen et al., "MobileFaceNets", CCBR 2018) shared by DDAMFN's MixedFeatureNet
and POSTER's 68-landmark network.

Sub-module names (``conv``, ``bn``, ``prelu``, ``conv_dw``, ``project``, ``model``) follow the insightface
PyTorch ports so that the published checkpoints load without renaming.
"""

from __future__ import annotations

from torch import Tensor, nn


class ConvBlock(nn.Sequential):
    """Conv (no bias) → BN → PReLU."""

    def __init__(self, cin: int, cout: int, kernel=1, stride=1, padding=0, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = nn.PReLU(cout)


class LinearBlock(nn.Sequential):
    """Conv (no bias) → BN, no activation (the 'linear bottleneck' projection)."""

    def __init__(self, cin: int, cout: int, kernel=1, stride=1, padding=0, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)


class DepthWise(nn.Module):
    """Inverted bottleneck: 1×1 expand to ``hidden`` → depthwise conv → 1×1 linear projection (+ shortcut)."""

    def __init__(self, cin: int, cout: int, hidden: int, kernel=3, stride=2, padding=1,
                 residual: bool = False):
        super().__init__()
        self.conv = ConvBlock(cin, hidden)
        self.conv_dw = ConvBlock(hidden, hidden, kernel, stride, padding, groups=hidden)
        self.project = LinearBlock(hidden, cout)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        return x + y if self.residual else y


class Residual(nn.Module):
    """``num_block`` stride-1 residual ``DepthWise`` blocks (held in ``.model`` as in the checkpoints)."""

    def __init__(self, channels: int, num_block: int, hidden: int):
        super().__init__()
        self.model = nn.Sequential(*(DepthWise(channels, channels, hidden, stride=1, residual=True)
                                     for _ in range(num_block)))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class LandmarkMobileFaceNet(nn.Module):
    """The 68-landmark MobileFaceNet (112 px) of POSTER/POSTER++ (``mobilefacenet_model_best.pth.tar``).

    Returns the three maps the two models use: ``conv_3`` (64@28²), ``conv_4`` (128@14²) and ``conv_6_sep``
    (512@7²). The GDC landmark regressor (``output_layer``) is computed and discarded by the official forward;
    it is not built here and its checkpoint keys are reported as unexpected.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = ConvBlock(3, 64, 3, 2, 1)
        self.conv2_dw = ConvBlock(64, 64, 3, 1, 1, groups=64)
        self.conv_23 = DepthWise(64, 64, 128)
        self.conv_3 = Residual(64, 4, 128)
        self.conv_34 = DepthWise(64, 128, 256)
        self.conv_4 = Residual(128, 6, 256)
        self.conv_45 = DepthWise(128, 128, 512)
        self.conv_5 = Residual(128, 2, 256)
        self.conv_6_sep = ConvBlock(128, 512)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        c3 = self.conv_3(self.conv_23(self.conv2_dw(self.conv1(x))))
        c4 = self.conv_4(self.conv_34(c3))
        return c3, c4, self.conv_6_sep(self.conv_5(self.conv_45(c4)))
