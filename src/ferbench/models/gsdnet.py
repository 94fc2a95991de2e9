"""GSDNet: "Gradual self-distillation network for facial expression recognition" (Applied Soft Computing,
2024).
Official code: https://github.com/Emy-cv/GSDNet (``GSD-Net/model/resnet1.py``, ``GSD-Net/model/utils.py``,
``GSD-Net/train.py``).

A VGGFace2 ResNet-50 (caffe layout) with an exit after each stage: ACBAM channel gate (average- and max-pooled
MLP logits, each scaled by its own input-dependent scalar, summed, sigmoid) → [stages 1-3: 1×1 conv to 2048 +
BN + ReLU] → global average pool → ``fc`` (2048→128 feature) and ``cls`` (2048→C logits). Prediction = the
deepest exit. Loss = CE(deepest) + Σ_k [a · ‖f_k − sg(f_{k+1})‖ + b · SoftCE_T(z_k, sg(z_{k+1}))] over
neighbouring exits, a = 0.01, b = 0.3, T = 3 (no T² factor; the feature term is ``torch.dist``, the Frobenius
norm over the whole batch, so it grows with the batch size, as officially).

Deviations from the official code:
- The official forward accumulates the "teacher" sums in place on exit 1's tensors, so its shallowest exit's
  logits/features are in fact the 4-exit sums and the k = 0 distillation terms regress the sum onto exit 2.
  Here every exit is its own (the paper's design); the unused sums are not returned.
- VGGFace2 weights come from a plain state dict made once by ``python -m ferbench.convert_weights --model
  gsdnet vgg_msceleb_resnet50_ft_weight.pkl out.pth`` (the pkl of numpy arrays is a pickle); all backbone keys
  must match (official: ``strict=False``). The official default run also starts from a previously trained FER
  checkpoint (``--weights ./weights/RAF_model.pth``); this starts from the face-ID weights.
Outputs: ``logits`` (deepest exit), ``exit_logits`` ([B,4,C], shallow → deep), ``exit_features`` ([B,4,128]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._official import OfficialCheckpoint
from ._pretrained import PretrainedPart
from ._registry import register_model
from ._resnet50_caffe import CaffeResNet50
from .base import CamTarget, FERModel, InputSpec, Objective


def _gate_mlp(channels: int, reduction: int, out: int) -> nn.Sequential:
    hidden = channels // reduction
    return nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, out))


class AdaptiveChannelGate(nn.Module):
    """ACBAM's channel attention: CBAM's avg/max MLP logits, each weighted by an input-dependent scalar."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.mlp = _gate_mlp(channels, reduction, channels)
        self.mean_weight = _gate_mlp(channels, reduction, 1)
        self.max_weight = _gate_mlp(channels, reduction, 1)

    def forward(self, x: Tensor) -> Tensor:
        avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
        logits = self.mlp(avg) * self.mean_weight(avg) + self.mlp(mx) * self.max_weight(mx)
        return x * torch.sigmoid(logits)[:, :, None, None]


class Exit(nn.Module):
    """Channel gate → (optional 1×1 conv to 2048 + BN + ReLU) → GAP → 128-d feature and class logits."""

    def __init__(self, channels: int, num_classes: int, width: int = 2048, feat_dim: int = 128):
        super().__init__()
        self.gate = AdaptiveChannelGate(channels)
        self.project = nn.Identity() if channels == width else nn.Sequential(
            nn.Conv2d(channels, width, 1), nn.BatchNorm2d(width), nn.ReLU())
        self.fc = nn.Linear(width, feat_dim)
        self.cls = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        v = self.project(self.gate(x)).mean(dim=(2, 3))
        return self.cls(v), self.fc(v)


class GSDNet(FERModel):
    input_spec = InputSpec(size=224)
    pretrained_parts = {"backbone": PretrainedPart(into="backbone")}  # converted from the numpy pickle
    cam_target = CamTarget("backbone.layer4")  # the map of the deepest exit, which predicts
    # train.py saves model.state_dict(): the caffe ResNet-50 and its exits inside `resnet`, exit k (1-4) as
    # cm<k> (ACBAM gate [, 1×1 conv, BN]), fc_<k> (feature) and fc_<k>_<k> (logits)
    official_checkpoint = OfficialCheckpoint(
        repo="Emy-cv/GSDNet", classifier="exits.3.cls.weight",
        rename=(
            (r"resnet\.(conv1|bn1|layer\d)\.", r"backbone.\1."),
            *((rf"resnet\.cm{k + 1}\.0\.ChannelGate\.{mlp}\.{i}\.", f"exits.{k}.gate.{mlp}.{i - 1}.")
              for k in range(4) for mlp in ("mlp", "mean_weight", "max_weight") for i in (1, 3)),
            *((rf"resnet\.cm{k + 1}\.{i}\.", f"exits.{k}.project.{i - 1}.")
              for k in range(3) for i in (1, 2)),
            *(rule for k in range(4) for rule in ((rf"resnet\.fc_{k + 1}_{k + 1}\.", f"exits.{k}.cls."),
                                                  (rf"resnet\.fc_{k + 1}\.", f"exits.{k}.fc."))),
        ),
    )

    def __init__(self, num_classes: int):
        super().__init__()
        self.backbone = CaffeResNet50()
        self.exits = nn.ModuleList(Exit(c, num_classes) for c in (256, 512, 1024, 2048))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        logits, feats = zip(*(e(s) for e, s in zip(self.exits, self.backbone.stages(x))))
        return {"logits": logits[-1], "exit_logits": torch.stack(logits, 1),
                "exit_features": torch.stack(feats, 1)}

    def build_objective(self, class_counts, **kwargs) -> Objective:
        return GSDObjective(**kwargs)


def soft_cross_entropy(student: Tensor, teacher: Tensor, temperature: float) -> Tensor:
    return -(F.log_softmax(student / temperature, 1) * F.softmax(teacher / temperature, 1)).sum(1).mean()


class GSDObjective(Objective):
    """Each exit learns from the next deeper one, whose outputs are detached (stop-gradient teachers)."""

    def __init__(self, feature_weight: float = 0.01, kd_weight: float = 0.3, temperature: float = 3.0):
        super().__init__()
        self.a, self.b, self.t = feature_weight, kd_weight, temperature

    def forward(self, outputs, target, extra=None):
        z, f = outputs["exit_logits"], outputs["exit_features"]
        ce = F.cross_entropy(outputs["logits"], target)
        feat = sum(torch.dist(f[:, k], f[:, k + 1].detach()) for k in range(f.size(1) - 1))
        kd = sum(soft_cross_entropy(z[:, k], z[:, k + 1].detach(), self.t) for k in range(z.size(1) - 1))
        loss = ce + self.a * feat + self.b * kd
        return loss, {"ce": ce.detach(), "feature": feat.detach(), "kd": kd.detach()}


@register_model
def gsdnet(num_classes: int) -> GSDNet:
    return GSDNet(num_classes)
