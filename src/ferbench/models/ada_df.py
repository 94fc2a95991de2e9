"""Ada-DF: Liu et al., "A Dual-Branch Adaptive Distribution Fusion Framework for Real-World Facial Expression
Recognition", ICASSP 2023. Official code: https://github.com/taylor-xy0827/Ada-DF (``model.py``, ``train.py``,
``utils.py``).

An MS-Celeb ResNet-18 whose stem + layer1 is shared and frozen; layer2-4 are duplicated into an auxiliary and
a target branch, each with a pooled-feature attention scalar ``sigmoid(Linear(512,1))`` scaling its logits.
The auxiliary branch is trained with CE; the target branch with KL to a fusion of the auxiliary prediction and
a per-class label distribution LD (recomputed after each epoch from an eval pass of the auxiliary branch over
the augmented training set), weighted by the batch-normalised attention; plus SCN's rank regularisation of the
attention. The α weights ramp with the epoch (β = 3 for RAF-DB). Prediction = target branch.

Deviations from the official code:
- An LD row whose class mean confidence is below the threshold falls back to ``threshold`` on the diagonal and
  ``(1 - threshold)/(C - 1)`` elsewhere (the initial value); the official fallback hard-codes ``0.4/(C-1)``,
  so its rows do not sum to 1 at the default threshold 0.7. A class absent from the pass also falls back
  (officially through a NaN comparison).
- The rank regulariser splits the actual batch (official: the configured ``batch_size``, equal with its
  ``drop_last=True`` loader; our loop keeps a short last batch).
- The batch min-max normalisation of the attention divides by ``max(range, 1e-12)`` (official: no guard, NaN
  when all attentions are equal).
- The official ``nn.Dropout(drop_rate)`` built inside ``forward`` (always active, default rate 0) is not
  built.
- The stem is frozen as in the official code also when training from scratch (``freeze_stem=False`` to train
  it); its BatchNorm statistics still update in train mode, as officially.
Outputs: ``logits`` (target branch), ``aux_logits`` (auxiliary branch), ``attention`` ([B,1], branch mean).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._official import OfficialCheckpoint
from ._pretrained import PretrainedPart, State
from ._registry import register_model
from ._resnet18 import resnet18_trunk
from .base import CamTarget, EpochContext, FERModel, InputSpec, Objective


class AttentiveBranch(nn.Module):
    """ResNet-18 layer2-4 → global average pool → logits scaled by a learnt sigmoid attention scalar."""

    def __init__(self, layers: nn.Sequential, num_classes: int):
        super().__init__()
        self.layers = layers
        self.fc = nn.Linear(512, num_classes)
        self.attention = nn.Sequential(nn.Linear(512, 1), nn.Sigmoid())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feat = self.layers(x).mean(dim=(2, 3))
        att = self.attention(feat)
        return att * self.fc(feat), att


def resnet18_to_branches(state: State, model: nn.Module) -> State:
    """ResNet-18 keys → the shared stem and both branches (each branch gets its own copy of layer2-4, so both
    start from the same weights, as officially); the fc keys stay and are reported as unexpected."""
    stem = {"conv1.": "stem.0.", "bn1.": "stem.1.", "layer1.": "stem.4."}
    deep = {"layer2.": "layers.0.", "layer3.": "layers.1.", "layer4.": "layers.2."}
    out = {}
    for k, v in state.items():
        prefix = next((p for p in (*stem, *deep) if k.startswith(p)), None)
        if prefix in stem:
            out[stem[prefix] + k.removeprefix(prefix)] = v
        elif prefix in deep:
            for branch in ("aux", "target"):
                out[f"{branch}.{deep[prefix]}{k.removeprefix(prefix)}"] = v
        else:
            out[k] = v
    return out


class AdaDF(FERModel):
    input_spec = InputSpec(size=224)
    pretrained_parts = {"backbone": PretrainedPart(
        key="state_dict", remap=resnet18_to_branches,
        keep=("aux.fc.", "aux.attention.", "target.fc.", "target.attention."))}
    cam_target = CamTarget("target.layers")  # the predicting branch's 7×7 map
    # train.py saves {'epoch', 'state_dict', 'acc', 'best_acc', 'optimizer', 'class_distributions'}: the
    # stem as feature, branch_1 (aux, CE) and branch_2 (target) as timm ResNet children (layer2-4, pool, fc),
    # registered a second time as branch_<b>_feature / branch_<b>_classifier; attention as alpha_1 / alpha_2
    official_checkpoint = OfficialCheckpoint(
        repo="taylor-xy0827/Ada-DF", classifier="target.fc.weight",
        rename=(
            (r"feature\.", "stem."),
            *(rule for b, ours in ((1, "aux"), (2, "target")) for rule in (
                (rf"branch_{b}\.4\.", f"{ours}.fc."), (rf"branch_{b}\.", f"{ours}.layers."),
                (rf"alpha_{b}\.", f"{ours}.attention."))),
        ),
        aliases=((r"branch_(\d)_feature\.", r"branch_\1."), (r"branch_(\d)_classifier\.", r"branch_\1.4.")),
    )

    def __init__(self, num_classes: int, freeze_stem: bool = True):
        super().__init__()
        net = resnet18_trunk()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.act1, net.maxpool, net.layer1)
        self.stem.requires_grad_(not freeze_stem)
        deep = nn.Sequential(net.layer2, net.layer3, net.layer4)
        self.aux = AttentiveBranch(deep, num_classes)
        # both branches start from the same weights
        self.target = AttentiveBranch(copy.deepcopy(deep), num_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        shared = self.stem(x)
        aux_logits, att_aux = self.aux(shared)
        logits, att_target = self.target(shared)
        return {"logits": logits, "aux_logits": aux_logits, "attention": (att_aux + att_target) / 2}

    def build_objective(self, class_counts, **kwargs) -> Objective:
        return AdaDFObjective(len(class_counts), **kwargs)


def alpha_weights(epoch: int, beta: int) -> tuple[float, float]:
    """(α1 for the KL term, α2 for the aux CE) at the 1-based ``epoch``: KL ramps up to β, then CE decays."""
    if epoch <= beta:
        return math.exp(-((1 - epoch / beta) ** 2)), 1.0
    return 1.0, math.exp(-((1 - beta / epoch) ** 2))


def rank_regularisation(attention: Tensor, top_fraction: float, margin: float) -> Tensor:
    """SCN's rank loss: the mean attention of the top ``top_fraction`` must beat the rest's by ``margin``."""
    att = attention.flatten()
    n_high = int(att.numel() * top_fraction)
    if n_high == 0 or n_high == att.numel():
        return att.new_zeros(())
    ordered = att.sort(descending=True).values
    diff = ordered[n_high:].mean() - ordered[:n_high].mean() + margin
    return diff.clamp(min=0)


def fallback_distribution(num_classes: int, threshold: float, cls: int) -> Tensor:
    row = torch.full((num_classes,), (1 - threshold) / (num_classes - 1))
    row[cls] = threshold
    return row


class AdaDFObjective(Objective):
    def __init__(self, num_classes: int, threshold: float = 0.7, beta: int = 3, max_weight: float = 1.0,
                 min_weight: float = 0.2, top_fraction: float = 0.7, margin: float = 0.07):
        super().__init__()
        self.num_classes, self.threshold, self.beta = num_classes, threshold, beta
        self.max_weight, self.min_weight = max_weight, min_weight
        self.top_fraction, self.margin = top_fraction, margin
        ld = torch.stack([fallback_distribution(num_classes, threshold, c) for c in range(num_classes)])
        self.register_buffer("class_distributions", ld)  # LD, saved with the objective for resuming
        self.alpha_kl, self.alpha_ce = alpha_weights(1, beta)

    def on_epoch_start(self, ctx: EpochContext) -> None:
        self.alpha_kl, self.alpha_ce = alpha_weights(ctx.epoch + 1, self.beta)

    @torch.no_grad()
    def on_epoch_end(self, ctx: EpochContext) -> None:
        """Recompute LD from the aux branch (eval mode) over one augmented pass of the training split."""
        was_training = ctx.model.training
        ctx.model.eval()
        sums = torch.zeros(self.num_classes, self.num_classes, device=self.class_distributions.device)
        counts = torch.zeros(self.num_classes, device=sums.device)
        for x, y in ctx.train_batches():
            probs = ctx.model(x)["aux_logits"].float().softmax(dim=1).to(sums.device)
            sums.index_add_(0, y.to(sums.device), probs)
            counts += torch.bincount(y.to(sums.device), minlength=self.num_classes)
        ctx.model.train(was_training)
        self.update_distributions(sums, counts)

    def update_distributions(self, prob_sums: Tensor, counts: Tensor) -> None:
        for c in range(self.num_classes):
            mean = prob_sums[c] / counts[c] if counts[c] > 0 else None
            confident = mean is not None and mean[c] >= self.threshold
            self.class_distributions[c] = mean if confident else fallback_distribution(
                self.num_classes, self.threshold, c).to(prob_sums.device)

    def forward(self, outputs, target, extra=None):
        aux, att = outputs["aux_logits"], outputs["attention"]
        ce = F.cross_entropy(aux, target)
        # Attention min-max normalised within the batch to [min_weight, max_weight].
        a = att.flatten()
        span = self.max_weight - self.min_weight
        w = (a - a.min()) / (a.max() - a.min()).clamp(min=1e-12) * span + self.min_weight
        w = w.unsqueeze(1)
        fused = (1 - w) * aux.softmax(dim=1) + w * self.class_distributions[target]
        kl = F.kl_div(outputs["logits"].log_softmax(dim=1), fused, reduction="sum") / target.numel()
        rr = rank_regularisation(att, self.top_fraction, self.margin)
        loss = self.alpha_ce * ce + self.alpha_kl * kl + rr
        return loss, {"ce": ce.detach(), "kl": kl.detach(), "rank": rr.detach()}


@register_model
def ada_df(num_classes: int, freeze_stem: bool = True) -> AdaDF:
    return AdaDF(num_classes, freeze_stem=freeze_stem)
