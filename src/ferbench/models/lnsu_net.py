"""LNSU-Net: Zhang et al., "Leave No Stone Unturned: Mine Extra Knowledge for Imbalanced Facial Expression
Recognition", NeurIPS 2023. Official code: https://github.com/zyh-uaiaaaa/Mine-Extra-Knowledge
(``code/expression/models.py``, ``code/train_exp.py``, ``code/backbones/swin.py``).

A face-ID Swin-T with patch size 2 at 112 px (timm ``swin_tiny_patch4_window7_224`` with ``img_size=112,
patch_size=2``; the same token grids as Swin-T at 224), features taken before Swin's own final norm, then a
new LayerNorm → token average → Linear. Class activation maps (CAMs) ``[B,C,7,7]`` are the head weights
(detached, as the official ``Variable(..., requires_grad=False)`` does) applied to the normalised tokens.
Loss = re-balanced label smoothing (ε = 0.3, the smoothing mass spread over the other classes in proportion to
class-balance weights) + 0.1 × class-weighted MSE between the CAMs of the image and of its flipped copy
(flipped back).

Deviations from the official code:
- The class-balance weights are N/(10·n_c) computed from ``class_counts`` of the current training split
  (official: constants for the RAF-DB train split; a class absent from the split counts as 1 image).
- The flipped CAM is flipped back with ``torch.flip``; the official ``grid_sample`` with a mirrored grid
  (bilinear, align_corners=True) samples exactly the mirrored pixel centres, so the two are equal.
- Dead modules are not built: the backbone's face-ID embedding head and final norm (their keys in
  ``start_0.pt`` are reported as unexpected). Parameters: 27.52M (official object 28.51M).
- The flipped view is the flip of the batch the loop feeds (official: of the already augmented image, same).
Input: 112 px only (Swin's windows and the 7×7 CAM grid); keep ``train.input_size`` null or 112.
Outputs: ``logits`` and ``cam`` ([B,C,7,7]).
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
from timm.models.swin_transformer import checkpoint_filter_fn
from torch import Tensor, nn

from ._official import OfficialCheckpoint, on_part
from ._pretrained import PretrainedPart
from ._registry import register_model
from .base import HALF, CamTarget, FERModel, InputSpec, Objective, nhwc_to_nchw


def swin_t_112(drop_path_rate: float = 0.1) -> nn.Module:
    """Swin-T, patch 2, 112 px, without classifier and without its final norm (unused by LNSU-Net)."""
    net = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=112, patch_size=2,
                            num_classes=0, drop_path_rate=drop_path_rate)
    net.norm = nn.Identity()
    return net


def original_swin_to_timm(state: dict[str, Tensor], net: nn.Module) -> dict[str, Tensor]:
    """Original Microsoft Swin keys (downsample at the end of a stage) → timm keys (at the start).

    timm's own filter does the renaming and drops the non-persistent buffers; other keys pass through and are
    reported as unexpected by ``load_matching`` (the face-ID ``feature.*`` head, the final ``norm.*``).
    """
    return checkpoint_filter_fn(state, net)


class LNSUNet(FERModel):
    input_spec = InputSpec(size=112, mean=HALF, std=HALF)

    # start_0.pt: the face-ID Swin-T under 'state_dict_backbone', original Microsoft key layout
    pretrained_parts = {"backbone": PretrainedPart(into="encoder", key="state_dict_backbone",
                                                   remap=original_swin_to_timm)}
    # The normalised 7×7 tokens (NHWC) whose average feeds the head: Grad-CAM there is the model's own CAM.
    cam_target = CamTarget("norm", reshape=nhwc_to_nchw)
    # train_exp.py saves {'epoch', 'global_step', 'local_step', 'state_dict_model', ...}: SwinTransFER with
    # the original Swin as encoder (its face-ID head `feature` and final norm never run)
    official_checkpoint = OfficialCheckpoint(
        repo="zyh-uaiaaaa/Mine-Extra-Knowledge", classifier="head.weight",
        dead=(r"encoder\.norm\.", r"encoder\.feature\.", r".*\.relative_position_index$", r".*\.attn_mask$"),
        convert=on_part("encoder.", original_swin_to_timm),
    )

    def __init__(self, num_classes: int, drop_path_rate: float = 0.1):
        super().__init__()
        self.encoder = swin_t_112(drop_path_rate)
        dim = self.encoder.num_features
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        tokens = self.norm(self.encoder.forward_features(x))  # NHWC [B,7,7,768]
        logits = self.head(tokens.mean(dim=(1, 2)))
        # CAM: the classifier weights applied at every position, detached: the CAM loss leaves the head alone.
        cam = torch.einsum("bhwd,cd->bchw", tokens, self.head.weight.detach())
        return {"logits": logits, "cam": cam}

    def build_objective(self, class_counts, **kwargs) -> Objective:
        return LNSUObjective(class_counts, **kwargs)


def balance_weights(class_counts: Sequence[int]) -> Tensor:
    """N / (10 · n_c): the official RAF-DB constants are this formula on the RAF-DB train split."""
    counts = torch.tensor([max(int(c), 1) for c in class_counts], dtype=torch.float32)
    return counts.sum() / (10 * counts)


def rebalanced_smoothing_targets(target: Tensor, weights: Tensor, epsilon: float) -> Tensor:
    """1-ε on the true class; ε shared by the other classes in proportion to their balance weights."""
    others = weights.expand(target.numel(), -1).clone()
    others.scatter_(1, target[:, None], 0.0)
    soft = epsilon * others / others.sum(dim=1, keepdim=True)
    return soft.scatter(1, target[:, None], 1 - epsilon)


class LNSUObjective(Objective):
    def __init__(self, class_counts: Sequence[int], epsilon: float = 0.3, flip_weight: float = 0.1):
        super().__init__()
        self.register_buffer("class_weights", balance_weights(class_counts))
        self.epsilon = epsilon
        self.flip_weight = flip_weight

    def views(self, x: Tensor) -> dict[str, Tensor]:
        return {"flip": x.flip(3)}

    def forward(self, outputs, target, extra=None):
        soft = rebalanced_smoothing_targets(target, self.class_weights, self.epsilon)
        lsr = -(soft * outputs["logits"].log_softmax(dim=1)).sum(dim=1).mean()
        cam, cam_flipped = outputs["cam"], extra["flip"]["cam"].flip(3)
        per_class = (cam - cam_flipped).pow(2).mean(dim=(2, 3))  # [B,C]
        flip = (per_class @ self.class_weights.to(per_class.dtype)).mean()
        return lsr + self.flip_weight * flip, {"lsr": lsr.detach(), "flip": flip.detach()}


@register_model
def lnsu_net(num_classes: int, drop_path_rate: float = 0.1) -> LNSUNet:
    return LNSUNet(num_classes, drop_path_rate=drop_path_rate)
