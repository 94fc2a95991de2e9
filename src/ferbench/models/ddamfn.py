"""DDAMFN: Zhang et al., "A Dual-Direction Attention Mixed Feature Network for Facial Expression Recognition",
Electronics 12(17):3595, 2023. Official code: https://github.com/SainingZhang/DDAMFN (``networks/DDAM.py``,
``networks/MixedFeatureNet.py``, ``rafdb_train.py``).

A MixedFeatureNet trunk (MS-Celeb pre-trained) gives a ``[B,512,7,7]`` map at 112 px; ``num_head``
dual-direction attention heads each produce a ``[B,512,7,7]`` gate (outer product of a row and a column gate
computed from 1×7/7×1 depthwise "linear" convs); the heads are merged by element-wise max, multiplied onto the
map, and a 7×7 depthwise conv (GDC) + Linear gives the logits. Loss = CE + 0.1 · attention-diversity loss.

Deviations from the official code:
- Dead modules are not built: the BatchNorm1d(C) on the logits and each head's extra 7×7 GDC block (declared
  in ``DDAMNet``/``CoordAtt`` but never called), MFN's embedding head and the BN+PReLU of every ``MDConv``.
  Parameters: 4.11M (the official object holds 4.19M, 4.11M of which run).
- MFN weights are read from a plain state dict made once by ``python -m ferbench.convert_weights --model
  ddamfn`` from the official whole-module pickle ``MFN_msceleb.pth``; the official code unpickles it.
- The attention loss is 0 (a tensor) with one head, as the official integer 0 would be.
Input: 112 px only (the heads' 1×7/7×1 and the GDC's 7×7 kernels need the 7×7 map); keep
``train.input_size`` null or 112.
Outputs: ``logits``, ``feature_map`` ([B,512,7,7]), ``heads`` ([B,H,512,7,7], the heads' gates).
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._mixed_feature_net import MixedFeatureNetTrunk
from ._mobilefacenet import LinearBlock
from ._official import OfficialCheckpoint, count_indices
from ._pretrained import PretrainedPart
from ._registry import register_model
from .base import CamTarget, FERModel, InputSpec, Objective


class DualDirectionAttention(nn.Module):
    """One head: a gate ``[B,C,H,W]`` = column gate ⊗ row gate, each from a directional depthwise conv."""

    def __init__(self, channels: int = 512, size: int = 7, groups: int = 32):
        super().__init__()
        mip = max(8, channels // groups)
        self.squeeze_h = LinearBlock(channels, channels, (1, size), groups=channels)  # → [B,C,H,1]
        self.squeeze_w = LinearBlock(channels, channels, (size, 1), groups=channels)  # → [B,C,1,W]
        self.reduce = nn.Conv2d(channels, mip, 1)
        self.bn = nn.BatchNorm2d(mip)
        self.act = nn.Hardswish()
        self.gate_h = nn.Conv2d(mip, channels, 1)
        self.gate_w = nn.Conv2d(mip, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        y = torch.cat([self.squeeze_h(x), self.squeeze_w(x).transpose(2, 3)], dim=2)
        y = self.act(self.bn(self.reduce(y)))
        y_h, y_w = torch.split(y, [h, w], dim=2)
        return self.gate_h(y_h).sigmoid() * self.gate_w(y_w.transpose(2, 3)).sigmoid()


class DDAMFN(FERModel):
    input_spec = InputSpec(size=112)
    pretrained_parts = {"backbone": PretrainedPart(into="trunk")}  # converted from the whole-module pickle
    cam_target = CamTarget("trunk")  # the 7×7 map the heads gate
    # rafdb_train.py (and DDAMFN++) save {'iter', 'model_state_dict', 'optimizer_state_dict'}: the MFN
    # children up to conv_6_sep as features.0-8, heads as cat_head<i>.CoordAtt, the GDC as Linear
    official_checkpoint = OfficialCheckpoint(
        repo="SainingZhang/DDAMFN", classifier="fc.weight",
        rename=(
            *((rf"features\.{i}\.", f"trunk.{n}.") for i, n in enumerate(MixedFeatureNetTrunk.CHILDREN)),
            *((rf"cat_head(\d+)\.CoordAtt\.{official}\.", rf"heads.\1.{ours}.") for official, ours in (
                ("Linear_h", "squeeze_h"), ("Linear_w", "squeeze_w"), ("conv1", "reduce"), ("bn1", "bn"),
                ("conv2", "gate_h"), ("conv3", "gate_w"))),
            (r"Linear\.", "gdc."),
        ),
        dead=(r"features\.\d+\.(.+\.)?conv_dw\.(bn|prelu)\.",  # every MDConv's BN + PReLU, never called
              r"cat_head\d+\.CoordAtt\.Linear\.",  # each head's own 7×7 GDC, never called
              r"bn\."),  # the BatchNorm1d on the logits, never called
        kwargs=lambda state: {"num_head": count_indices(state, r"heads\.(\d+)\.")},
    )

    def __init__(self, num_classes: int, num_head: int = 2):
        super().__init__()
        self.trunk = MixedFeatureNetTrunk()
        self.heads = nn.ModuleList(DualDirectionAttention(512) for _ in range(num_head))
        self.gdc = LinearBlock(512, 512, 7, groups=512)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        fmap = self.trunk(x)
        heads = torch.stack([h(fmap) for h in self.heads], dim=1)
        gate = heads.amax(dim=1)
        logits = self.fc(self.gdc(fmap * gate).flatten(1))
        return {"logits": logits, "feature_map": fmap, "heads": heads}

    def build_objective(self, class_counts, attention_weight: float = 0.1) -> Objective:
        return DDAMFNObjective(attention_weight)


def attention_diversity_loss(heads: Tensor) -> Tensor:
    """Number of head pairs over the summed pairwise MSE between head gates: large when heads agree."""
    num_head = heads.size(1)
    if num_head == 1:
        return heads.new_zeros(())
    pairs = [(i, j) for i in range(num_head) for j in range(i + 1, num_head)]
    total = sum(F.mse_loss(heads[:, i], heads[:, j]) for i, j in pairs)
    return len(pairs) / (total + sys.float_info.epsilon)


class DDAMFNObjective(Objective):
    def __init__(self, attention_weight: float = 0.1):
        super().__init__()
        self.attention_weight = attention_weight

    def forward(self, outputs, target, extra=None):
        ce = F.cross_entropy(outputs["logits"], target)
        att = attention_diversity_loss(outputs["heads"])
        return ce + self.attention_weight * att, {"ce": ce.detach(), "attention": att.detach()}


@register_model
def ddamfn(num_classes: int, num_head: int = 2) -> DDAMFN:
    return DDAMFN(num_classes, num_head=num_head)
