"""timm baselines: ResNet-18 and the HSEmotion-style EfficientNets.

``resnet18``: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, as timm builds it.
Its keys match the MS-Celeb ResNet-18 (``resnet18_msceleb.pth``) shared by SCN/DAN/Ada-DF, so that file
loads as a face-pretrained initialisation (the fc layer is dropped).
"""

from __future__ import annotations

import timm
from ._pretrained import load_matching, read_state_dict
from ._registry import register_model
from .base import FERModel, InputSpec


class TimmClassifier(FERModel):
    def __init__(self, arch: str, num_classes: int, input_spec: InputSpec, pretrained=None, state_key=None,
                 **kwargs):
        super().__init__()
        self.input_spec = input_spec
        self.net = timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
        self.pretrained_report = None
        if pretrained is not None:
            # Load the trunk only: the face-ID head (e.g. an 8631-way fc) is reported as unexpected.
            self.net.reset_classifier(0)
            self.pretrained_report = load_matching(self.net, read_state_dict(pretrained, state_key), str(pretrained))
            self.net.reset_classifier(num_classes)

    def forward(self, x):
        return {"logits": self.net(x)}


@register_model("resnet18")
def resnet18(num_classes: int, pretrained=None, **kwargs) -> FERModel:
    return TimmClassifier("resnet18", num_classes, InputSpec(size=224), pretrained, state_key="state_dict", **kwargs)
