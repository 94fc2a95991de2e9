"""DAN: Wen et al., "Distract Your Attention: Multi-head Cross Attention Network for Facial Expression
Recognition", Biomimetics 8(2):199, 2023. Official code: https://github.com/yaoing/DAN (``networks/dan.py``).

An MS-Celeb ResNet-18 trunk (timm ``resnet18``, keys identical to the official torchvision network) feeds
``num_head`` cross-attention heads (spatial then channel attention); the head vectors are log-softmaxed across
heads, summed, classified by a linear layer and a BatchNorm1d on the logits. Loss = CE + affinity + partition.

Deviations from the official code:
- The affinity centres are sized by the real class count (official: 8 even for 7-class RAF-DB), and they are a
  parameter of the ``Objective`` so the loop optimises them with the model (as the official script does;
  FER-crossval forgot to).
- The affinity loss sums only each sample's own-class distance; the official code clamps the masked-out zeros
  to 1e-12 and adds them, a constant of (C-1)·1e-12 per sample with no gradient.
- The partition loss is 0 (a tensor) when ``num_head == 1``, as the official integer 0 would be.
Outputs: ``logits``, ``feature_map`` (the trunk's [B,512,7,7]), ``heads`` ([B,H,512], after log-softmax).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._official import OfficialCheckpoint, count_indices
from ._registry import register_model
from ._resnet18 import MSCELEB_TRUNK, resnet18_trunk
from .base import CamTarget, FERModel, InputSpec, Objective


def _conv_bn(cin: int, cout: int, kernel, padding) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=padding), nn.BatchNorm2d(cout))


class SpatialAttention(nn.Module):
    """1×1 reduction, then ReLU of summed 3×3, 1×3 and 3×1 branches; the channel sum gates the input map."""

    def __init__(self, channels: int = 512, reduced: int = 256):
        super().__init__()
        self.reduce = _conv_bn(channels, reduced, 1, 0)
        self.conv_3x3 = _conv_bn(reduced, channels, 3, 1)
        self.conv_1x3 = _conv_bn(reduced, channels, (1, 3), (0, 1))
        self.conv_3x1 = _conv_bn(reduced, channels, (3, 1), (1, 0))

    def forward(self, x: Tensor) -> Tensor:
        y = self.reduce(x)
        y = F.relu(self.conv_3x3(y) + self.conv_1x3(y) + self.conv_3x1(y))
        return x * y.sum(dim=1, keepdim=True)


class ChannelAttention(nn.Module):
    """Squeeze-excitation style gate on the pooled vector; returns the gated vector (not a map)."""

    def __init__(self, channels: int = 512, reduced: int = 32):
        super().__init__()
        self.gate = nn.Sequential(
            nn.Linear(channels, reduced), nn.BatchNorm1d(reduced), nn.ReLU(inplace=True),
            nn.Linear(reduced, channels), nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        v = x.mean(dim=(2, 3))
        return v * self.gate(v)


class CrossAttentionHead(nn.Module):
    def __init__(self, channels: int = 512):
        super().__init__()
        self.spatial = SpatialAttention(channels)
        self.channel = ChannelAttention(channels)
        self._init_weights()

    def _init_weights(self) -> None:
        # The official head initialisation: kaiming convs, N(0, 1e-3) linears, unit BN.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.001)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.channel(self.spatial(x))


class DAN(FERModel):
    input_spec = InputSpec(size=224)
    pretrained_parts = {"backbone": MSCELEB_TRUNK}
    cam_target = CamTarget("trunk.layer4")  # the 7×7 map the heads attend to
    # rafdb.py / affectnet.py save {'iter', 'model_state_dict', 'optimizer_state_dict'}: torchvision ResNet-18
    # children as features.0-7 (conv1, bn1, relu, maxpool, layer1-4), heads as cat_head<i> (sa, ca)
    official_checkpoint = OfficialCheckpoint(
        repo="yaoing/DAN", classifier="fc.weight",
        rename=(
            (r"features\.0\.", "trunk.conv1."), (r"features\.1\.", "trunk.bn1."),
            *((rf"features\.{i + 4}\.", f"trunk.layer{i + 1}.") for i in range(4)),
            (r"cat_head(\d+)\.sa\.conv1x1\.", r"heads.\1.spatial.reduce."),
            (r"cat_head(\d+)\.sa\.", r"heads.\1.spatial."),
            (r"cat_head(\d+)\.ca\.attention\.", r"heads.\1.channel.gate."),
        ),
        kwargs=lambda state: {"num_head": count_indices(state, r"heads\.(\d+)\.")},
    )

    def __init__(self, num_classes: int, num_head: int = 4):
        super().__init__()
        self.trunk = resnet18_trunk()
        self.heads = nn.ModuleList(CrossAttentionHead(512) for _ in range(num_head))
        self.fc = nn.Linear(512, num_classes)
        self.bn = nn.BatchNorm1d(num_classes)  # BatchNorm on the logits, as in the official model

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        fmap = self.trunk.forward_features(x)
        heads = torch.stack([h(fmap) for h in self.heads], dim=1)
        if heads.size(1) > 1:
            heads = F.log_softmax(heads, dim=1)
        logits = self.bn(self.fc(heads.sum(dim=1)))
        return {"logits": logits, "feature_map": fmap, "heads": heads}

    def build_objective(self, class_counts, **kwargs) -> Objective:
        return DANObjective(len(class_counts), self.fc.in_features, **kwargs)


class AffinityLoss(nn.Module):
    """Squared distance of each pooled feature to its class centre, over the centres' spread.

    The centres are a parameter so they are trained with the network.
    """

    def __init__(self, num_classes: int, feat_dim: int = 512):
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

    def forward(self, fmap: Tensor, target: Tensor) -> Tensor:
        feat = fmap.mean(dim=(2, 3))
        dist = (feat - self.centers[target]).pow(2).sum(dim=1)
        dist = dist / self.centers.var(dim=0).sum()
        return dist.clamp(min=1e-12, max=1e12).sum() / feat.size(0)


def partition_loss(heads: Tensor) -> Tensor:
    """log(1 + H / mean variance across heads): pushes the heads to attend to different regions."""
    num_head = heads.size(1)
    if num_head == 1:
        return heads.new_zeros(())
    return torch.log(1 + num_head / heads.var(dim=1).mean())


class DANObjective(Objective):
    def __init__(self, num_classes: int, feat_dim: int = 512, affinity_weight: float = 1.0,
                 partition_weight: float = 1.0):
        super().__init__()
        self.affinity = AffinityLoss(num_classes, feat_dim)
        self.affinity_weight = affinity_weight
        self.partition_weight = partition_weight

    def forward(self, outputs, target, extra=None):
        ce = F.cross_entropy(outputs["logits"], target)
        aff = self.affinity(outputs["feature_map"], target)
        part = partition_loss(outputs["heads"])
        loss = ce + self.affinity_weight * aff + self.partition_weight * part
        return loss, {"ce": ce.detach(), "affinity": aff.detach(), "partition": part.detach()}


@register_model
def dan(num_classes: int, num_head: int = 4) -> DAN:
    return DAN(num_classes, num_head=num_head)
