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

from ._pretrained import PretrainedPart
from ._registry import register_model
from .base import CamTarget, CrossEntropyObjective, FERModel, InputSpec, Objective


class TimmClassifier(FERModel):
    """A timm network with a new classifier. Its weight file fills everything but the classifier (timm's
    ``pretrained_cfg['classifier']``, e.g. ``fc``); a pre-training head in the file is reported as unexpected.
    ``state_key``: the file nests the weights under this key. ``cam_layer``: the last feature map."""

    def __init__(self, arch: str, num_classes: int, input_spec: InputSpec, cam_layer: str,
                 state_key: str | None = None, class_weighted: bool = False, **kwargs):
        super().__init__()
        self.input_spec = input_spec
        self.class_weighted = class_weighted
        self.net = timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
        classifier = self.net.pretrained_cfg["classifier"]
        self.pretrained_parts = {"backbone": PretrainedPart(into="net", key=state_key,
                                                            keep=(f"{classifier}.",))}
        self.cam_target = CamTarget(f"net.{cam_layer}")

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


@register_model
def resnet18(num_classes: int, **kwargs) -> TimmClassifier:
    return TimmClassifier("resnet18", num_classes, InputSpec(size=224), "layer4", state_key="state_dict",
                          **kwargs)


@register_model
def efficientnet_b0(num_classes: int, **kwargs) -> TimmClassifier:
    # HSEmotion's files are whole pickled modules: converted once by `ferbench.convert_weights`
    return TimmClassifier("tf_efficientnet_b0", num_classes, InputSpec(size=224), "bn2", class_weighted=True,
                          **kwargs)


@register_model
def efficientnet_b2(num_classes: int, **kwargs) -> TimmClassifier:
    return TimmClassifier("tf_efficientnet_b2", num_classes, InputSpec(size=260), "bn2", class_weighted=True,
                          **kwargs)
