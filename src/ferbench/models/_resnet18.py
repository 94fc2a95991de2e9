"""The MS-Celeb ResNet-18 trunk shared by DAN and Ada-DF, hosted by timm's ``resnet18``.

timm's ``resnet18`` has the same state-dict keys as the torchvision network the official code loads, so
``resnet18_msceleb.pth`` (``['state_dict']``, fc included) loads into it unchanged; the fc keys are reported
as unexpected.
"""

from __future__ import annotations

import timm
from torch import nn

from ._pretrained import LoadReport, load_matching, read_pretrained

MSCELEB_RESNET18_SOURCE = (
    "the MS-Celeb-1M ResNet-18 shared by SCN/DAN/Ada-DF: https://github.com/yaoing/DAN "
    "(models/resnet18_msceleb.pth, Google Drive link in its README)"
)


def resnet18_trunk() -> nn.Module:
    """ResNet-18 up to layer4 (no pool, no classifier): ``forward_features`` gives ``[B,512,H/32,W/32]``."""
    return timm.create_model("resnet18", pretrained=False, num_classes=0, global_pool="")


def load_msceleb_resnet18(trunk: nn.Module, path, model: str) -> LoadReport:
    state = read_pretrained(path, model, MSCELEB_RESNET18_SOURCE, key="state_dict")
    return load_matching(trunk, state, f"{model}: {path}")
