"""timm baselines: ResNet-18 and the HSEmotion-style EfficientNets.

``resnet18``: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, as timm builds it. Its
keys match the MS-Celeb ResNet-18 (``resnet18_msceleb.pth``) shared by SCN/DAN/Ada-DF, so that file loads as a
face-pretrained initialisation (the fc layer is dropped). Loss: plain cross-entropy.

``efficientnet_b0`` / ``efficientnet_b2``: Savchenko, "Facial expression and attributes recognition based on
multi-task learning of lightweight neural networks", SISY 2021 / Savchenko et al., IEEE Trans. Affective
Computing 2022 (HSEmotion, https://github.com/HSE-asavchenko/face-emotion-recognition): timm
``tf_efficientnet_b0`` at 224 px / ``tf_efficientnet_b2`` at 260 px, VGGFace2 face-ID pre-training, a new
Linear(F, C), class-weighted cross-entropy with weights max_count / count of the current training split.
Deviations from the official code:
- HSEmotion's weights are whole pickled timm modules; they are read from a plain state dict made once by
  ``python -m ferbench.convert_weights --model efficientnet_b0 <file.pt> <out.pth>``; the classifier is
  dropped.
- The two-phase schedule (3 epochs head-only at 1e-3, then all layers at 1e-4) is not reproduced: the recipe
  trains all layers throughout (SAM(Adam) as "RobustOptimizer"); the multi-task valence/arousal outputs are
  not built.
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
from torch import nn

from ._pretrained import load_matching, read_pretrained
from ._registry import register_model
from ._resnet18 import MSCELEB_RESNET18_SOURCE
from .base import CrossEntropyObjective, FERModel, InputSpec, Objective

HSEMOTION_SOURCE = ("HSEmotion (https://github.com/HSE-asavchenko/face-emotion-recognition, "
                    "models/pretrained_faces/state_vggface2_enet0_new.pt / state_vggface2_enet2.pt); "
                    "whole pickled timm modules: convert once "
                    "with `python -m ferbench.convert_weights --model {name} <file.pt> <out.pth>`")


class TimmClassifier(FERModel):
    def __init__(self, name: str, arch: str, num_classes: int, input_spec: InputSpec, pretrained=None,
                 state_key=None, source: str = "", class_weighted: bool = False, **kwargs):
        super().__init__()
        self.input_spec = input_spec
        self.class_weighted = class_weighted
        self.net = timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
        self.pretrained_report = None
        if pretrained is not None:
            # Load the trunk only: the pre-training head (e.g. an 8631-way fc) is reported as unexpected.
            self.net.reset_classifier(0)
            state = read_pretrained(pretrained, name, source, state_key)
            self.pretrained_report = load_matching(self.net, state, f"{name}: {pretrained}")
            self.net.reset_classifier(num_classes)

    def forward(self, x):
        return {"logits": self.net(x)}

    def build_objective(self, class_counts: Sequence[int], **kwargs) -> Objective:
        if self.class_weighted:
            return WeightedCrossEntropyObjective(class_counts, **kwargs)
        return CrossEntropyObjective(**kwargs)


class WeightedCrossEntropyObjective(Objective):
    """HSEmotion's class weights max_count / count (a class absent from the split counts as 1 image)."""

    def __init__(self, class_counts: Sequence[int], label_smoothing: float = 0.0):
        super().__init__()
        counts = torch.tensor([max(int(c), 1) for c in class_counts], dtype=torch.float32)
        self.register_buffer("class_weights", counts.max() / counts)
        self.label_smoothing = label_smoothing

    def forward(self, outputs, target, extra=None):
        loss = nn.functional.cross_entropy(outputs["logits"], target, weight=self.class_weights,
                                           label_smoothing=self.label_smoothing)
        return loss, {"ce": loss.detach()}


@register_model("resnet18")
def resnet18(num_classes: int, pretrained=None, **kwargs) -> FERModel:
    return TimmClassifier("resnet18", "resnet18", num_classes, InputSpec(size=224), pretrained,
                          state_key="state_dict", source=MSCELEB_RESNET18_SOURCE, **kwargs)


@register_model("efficientnet_b0")
def efficientnet_b0(num_classes: int, pretrained=None, **kwargs) -> FERModel:
    return TimmClassifier("efficientnet_b0", "tf_efficientnet_b0", num_classes, InputSpec(size=224),
                          pretrained, source=HSEMOTION_SOURCE.format(name="efficientnet_b0"),
                          class_weighted=True, **kwargs)


@register_model("efficientnet_b2")
def efficientnet_b2(num_classes: int, pretrained=None, **kwargs) -> FERModel:
    return TimmClassifier("efficientnet_b2", "tf_efficientnet_b2", num_classes, InputSpec(size=260),
                          pretrained, source=HSEMOTION_SOURCE.format(name="efficientnet_b2"),
                          class_weighted=True, **kwargs)
