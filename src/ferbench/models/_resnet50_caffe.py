"""ResNet-50 in the caffe / VGGFace2 layout (Cao et al., "VGGFace2", FG 2018; weights
``vgg_msceleb_resnet50_ft_weight.pkl``): the bottleneck strides on its first 1×1 conv and the stem max-pool is
k3 s2 without padding, ceil mode. timm's ``resnet50`` has the same key names but strides on the 3×3 conv and
pads the pool, so it would load these weights into a different network; hence this module. Key names follow
torchvision (``conv1``, ``bn1``, ``layerN.i.convK``, ``downsample``), as in the pkl.
"""

from __future__ import annotations

from torch import Tensor, nn


class CaffeBottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, stride, bias=False)  # caffe: the stride sits here
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def _layer(cin: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    first = CaffeBottleneck(cin, planes, stride)
    return nn.Sequential(first, *(CaffeBottleneck(planes * 4, planes) for _ in range(blocks - 1)))


class CaffeResNet50(nn.Module):
    """Stem and four stages; ``stages(x)`` yields the output of each stage (256/512/1024/2048 channels)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 0, ceil_mode=True)
        self.layer1 = _layer(64, 64, 3, 1)
        self.layer2 = _layer(256, 128, 4, 2)
        self.layer3 = _layer(512, 256, 6, 2)
        self.layer4 = _layer(1024, 512, 3, 2)
        for m in self.modules():  # the official initialisation: N(0, sqrt(2/n)) convs, unit BN
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stages(self, x: Tensor) -> list[Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outs.append(x)
        return outs
