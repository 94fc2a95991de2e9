"""MFER: Xu et al., "Multi-scale Facial Expression Recognition with dynamic global and static local
attention",
IEEE Transactions on Affective Computing, 2024. Official code: https://github.com/XuJ1E/MFER (``model.py``,
``model/attention.py``, ``model/multiscale.py``, ``model/smooth_feature.py``, ``train.py``).

A ConvNeXt-Base (timm ``convnext_base``, drop-path 0.25, layer-scale 1e-6) with a "dynamic global / static
local" attention module after stages 3 and 4: value = Linear(c,c); key = MLP(c→c/8→c) gating the input; static
local branch = dense 7×7 Conv2d(c,c) → GELU → LayerNorm; output = softmax over positions of (local + key) ×
value, plus the input. The 1024-d feature (LayerNorm of the global average) feeds three MLP heads
(Linear-GELU-Linear) on its first 512, 768 and 1024 dimensions; the prediction is the sum of the three heads'
logits, as in the official training/validation loop. Loss = Σ heads LabelSmoothingCE(0.1) + 0.001 · feature
loss.

Deviations from the official code (which does not run as published):
- The "DSF" feature loss was never released (``FeatureLoss``/``SmoothFunction`` are absent). Stand-in: a
  centre loss (Wen et al., ECCV 2016) on the 1024-d feature, ½·mean squared distance to a learnt centre per
  class (the centres are a parameter of the ``Objective``), weight 0.001 (``weight_loss``), matching the
  official call ``FeatureLoss(feat_dim=1024, num_class=C)`` in signature only.
- The heads are part of the model and optimised (the official script leaves them off device and optimiser).
- The MS-Celeb ConvNeXt-B was never released; ``pretrained`` takes ImageNet ``convnext_base`` weights (timm
  layout, or the original facebookresearch layout, which timm's filter converts); the attention modules
  (trunc-normal 0.02, as officially) and heads (torch default) start from scratch.
Outputs: ``logits`` (sum of heads), ``head_logits`` ([B,3,C]), ``feature`` ([B,1024]).
"""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from timm.loss import LabelSmoothingCrossEntropy
from timm.models.convnext import checkpoint_filter_fn
from torch import Tensor, nn

from ._official import OfficialCheckpoint, on_part
from ._pretrained import PretrainedPart
from ._registry import register_model
from .base import CamTarget, FERModel, InputSpec, Objective


class GlobalLocalAttention(nn.Module):
    """MFER's attention: softmax over positions of (static local conv map + dynamic key) times the value."""

    def __init__(self, dim: int, kernel_size: int = 7):
        super().__init__()
        self.key = nn.Sequential(nn.Linear(dim, dim // 8), nn.GELU(), nn.Linear(dim // 8, dim))
        self.value = nn.Linear(dim, dim)
        self.local = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        tokens = x.permute(0, 2, 3, 1)  # [B,H,W,C]
        value = self.value(tokens)
        key = self.key(tokens) * tokens
        local = self.norm(F.gelu(self.local(x).permute(0, 2, 3, 1)))
        attn = (local + key).reshape(b, h * w, c).softmax(dim=1).reshape(b, h, w, c) * value
        return attn.permute(0, 3, 1, 2) + x


class ScaleHead(nn.Module):
    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class MFER(FERModel):
    input_spec = InputSpec(size=224)
    head_dims = (512, 768, 1024)
    # ImageNet ConvNeXt-B; timm's filter turns the original facebookresearch layout into timm's (a timm-layout
    # file passes unchanged)
    pretrained_parts = {"backbone": PretrainedPart(into="convnext", remap=checkpoint_filter_fn)}
    cam_target = CamTarget("attention.3")  # stage 4 after its attention module: the 7×7 map that is pooled
    # train.py saves {'iter', 'model_state_dict', 'optimizer_state_dict'} of its ConvNeXt (original layout,
    # the attention modules appended to stages 3 and 4); the heads (msc) live outside that model
    official_checkpoint = OfficialCheckpoint(
        repo="XuJ1E/MFER", classifier="heads.0.fc2.weight",
        rename=(
            *(rule for stage, index in ((2, 27), (3, 3)) for rule in (
                (rf"stages\.{stage}\.{index}\.attn\.", f"attention.{stage}.local."),
                (rf"stages\.{stage}\.{index}\.", f"attention.{stage}."))),
            (r"msc\.", "heads."),
            (r"(downsample_layers|stages|norm)\.", r"convnext.\1."),
        ),
        convert=on_part("convnext.", checkpoint_filter_fn),
        note="MFER's train.py saves the ConvNeXt only, not its three classifier heads (msc): a complete "
             "checkpoint holds them too, as msc.<i>.fc1/fc2 beside the ConvNeXt keys.",
    )

    def __init__(self, num_classes: int, drop_path_rate: float = 0.25):
        super().__init__()
        self.convnext = timm.create_model("convnext_base", pretrained=False, num_classes=0,
                                          drop_path_rate=drop_path_rate, ls_init_value=1e-6)
        self.attention = nn.ModuleDict({"2": GlobalLocalAttention(512), "3": GlobalLocalAttention(1024)})
        self.heads = nn.ModuleList(ScaleHead(d, num_classes) for d in self.head_dims)
        for m in self.attention.modules():  # ConvNeXt's init reaches them officially; the heads keep torch's
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.convnext.stem(x)
        for i, stage in enumerate(self.convnext.stages):
            x = stage(x)
            if str(i) in self.attention:
                x = self.attention[str(i)](x)
        feature = self.convnext.forward_head(x, pre_logits=True)  # LayerNorm of the global average
        head_logits = torch.stack([h(feature[:, :d]) for h, d in zip(self.heads, self.head_dims)], dim=1)
        return {"logits": head_logits.sum(dim=1), "head_logits": head_logits, "feature": feature}

    def build_objective(self, class_counts, **kwargs) -> Objective:
        return MFERObjective(len(class_counts), **kwargs)


class CenterLoss(nn.Module):
    def __init__(self, num_classes: int, feat_dim: int):
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

    def forward(self, feature: Tensor, target: Tensor) -> Tensor:
        return 0.5 * (feature - self.centers[target]).pow(2).sum(dim=1).mean()


class MFERObjective(Objective):
    def __init__(self, num_classes: int, smoothing: float = 0.1, feature_weight: float = 0.001,
                 feat_dim: int = 1024):
        super().__init__()
        self.lsce = LabelSmoothingCrossEntropy(smoothing)
        self.feature_loss = CenterLoss(num_classes, feat_dim)
        self.feature_weight = feature_weight

    def forward(self, outputs, target, extra=None):
        heads = outputs["head_logits"]
        ls = sum(self.lsce(heads[:, i], target) for i in range(heads.size(1)))
        feat = self.feature_loss(outputs["feature"], target)
        return ls + self.feature_weight * feat, {"lsce": ls.detach(), "feature": feat.detach()}


@register_model
def mfer(num_classes: int, drop_path_rate: float = 0.25) -> MFER:
    return MFER(num_classes, drop_path_rate=drop_path_rate)
