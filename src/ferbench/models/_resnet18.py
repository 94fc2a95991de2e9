"""The MS-Celeb ResNet-18 trunk shared by DAN and Ada-DF, hosted by timm's ``resnet18``.

timm's ``resnet18`` has the same state-dict keys as the torchvision network the official code loads, so
``resnet18_msceleb.pth`` (``['state_dict']``, fc included) loads into it unchanged; the fc keys are reported
as unexpected.
"""

from __future__ import annotations

import timm
from torch import nn

from ._pretrained import PretrainedPart

# resnet18_msceleb.pth into a module held as ``trunk``
MSCELEB_TRUNK = PretrainedPart(into="trunk", key="state_dict")


def resnet18_trunk() -> nn.Module:
    """ResNet-18 up to layer4 (no pool, no classifier): ``forward_features`` gives ``[B,512,H/32,W/32]``."""
    return timm.create_model("resnet18", pretrained=False, num_classes=0, global_pool="")
