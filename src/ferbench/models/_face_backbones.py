"""The two face backbones POSTER and POSTER++ share: a trainable IR-50 (3 stages) and a frozen 68-landmark
MobileFaceNet, and the two weight files they load."""

from __future__ import annotations

from torch import nn

from ._ir50 import IR50ThreeStage, resize_like_official
from ._mobilefacenet import LandmarkMobileFaceNet
from ._pretrained import PretrainedPart

# mobilefacenet_model_best.pth.tar: the training checkpoint of the landmark net, weights under 'state_dict'
LANDMARKS = PretrainedPart(into="backbones.landmarks", key="state_dict")


class FaceBackbones(nn.Module):
    """IR-50 on the image, frozen landmark MobileFaceNet on the same image resized to 112 (nearest).

    The landmark net is frozen (``requires_grad=False``) but, as officially, its BatchNorm statistics follow
    the model's train/eval mode. Built from random weights; the models declare the two weight files
    (``pretrained_parts``: ``backbone`` = IR-50, ``landmarks``). Without them the landmark net stays random:
    only useful for tests and for loading a whole trained checkpoint.
    """

    def __init__(self):
        super().__init__()
        self.ir = IR50ThreeStage()
        self.landmarks = LandmarkMobileFaceNet()
        self.landmarks.requires_grad_(False)

    def forward(self, x):
        return self.ir(x), self.landmarks(resize_like_official(x, 112))
