"""POSTER: Zheng, Mendieta, Chen, "POSTER: A Pyramid Cross-Fusion Transformer Network for Facial Expression
Recognition", ICCV Workshops 2023. Official code: https://github.com/zczcwh/POSTER (``models/emotion_hyp.py``,
``models/hyp_crossvit.py``, ``models/ir50.py``, ``models/mobilefacenet.py``, ``train.py``).

IR-50 (3 stages) gives ``[B,256,14,14]``, raw-reshaped (``view``, mixing channels and positions, kept on
purpose for weight compatibility) to 49 tokens × 1024 → Linear → 512; the frozen landmark MobileFaceNet gives
49 tokens × 512. Each stream gets a mean "cls" token; the image stream a learnt position embedding; the 100
tokens go to a pyramid of three scales (embedding 512/256/128 by Conv1d over the embedding axis) of 8
cross-fusion blocks (image tokens queried by landmark tokens and vice versa, 8 heads, MLP ratio 2, a Conv1d
token mixer), merged small → medium → large by transposed convs; LayerNorm → image cls → SE gate → Linear.
Loss = CE + 2 · label-smoothing CE (ε = 0.2).

Deviations from the official code:
- ``input_spec.size`` is 112: the official network resizes its 224 px input to 112 (nearest) in both
  backbones, so the loop feeds 112 directly (a 224 px batch is still resized nearest, as officially). Colour
  order is BGR (``input_spec.bgr``): the official pipeline reads with cv2 and never converts.
- Dead modules are not built: IR-50 ``output_layer`` (12.85M), the landmark net's GDC head (computed and
  discarded), the transformer's unused ``cls_token``. Parameters: 58.9M (official object 71.85M, 59.0M run).
- POSTER's ``ir50.pth`` (one ``body`` stage numbering) is renamed to the shared three-stage IR-50 layout; all
  three stages must match (the official loader skips mismatches silently).
Outputs: ``logits`` and ``feature`` ([B,512], after the SE gate).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp
from timm.loss import LabelSmoothingCrossEntropy
from torch import Tensor, nn

from ._cross_attention import KVCrossAttention, SEGate, split_heads
from ._face_backbones import LANDMARKS, FaceBackbones
from ._ir50 import UNITS, poster_ir50_to_staged
from ._official import OfficialCheckpoint, count_indices
from ._pretrained import PretrainedPart
from ._registry import register_model
from .base import CamTarget, FERModel, InputSpec, Objective

N_IMG = 50  # 49 tokens + the mean "cls" token per stream
N_TOKENS = 2 * N_IMG


class CrossFusionBlock(nn.Module):
    """Image tokens attend to landmark queries and landmark tokens to image queries; then a token mixer."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.num_heads = num_heads
        self.norm1, self.norm2, self.norm3, self.norm4 = norm(dim), norm(dim), norm(dim), norm(dim)
        self.attn_img = KVCrossAttention(dim, num_heads)
        self.attn_lm = KVCrossAttention(dim, num_heads)
        self.mlp1 = Mlp(dim, int(dim * mlp_ratio))
        self.mlp2 = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.conv = nn.Conv1d(N_TOKENS, N_TOKENS, 1)

    def forward(self, x: Tensor) -> Tensor:
        img, lm = x[:, :N_IMG], x[:, N_IMG:]
        xn = self.norm1(x)
        img = img + self.drop_path(self.attn_img(xn[:, :N_IMG], split_heads(xn[:, N_IMG:], self.num_heads)))
        img = img + self.drop_path(self.mlp1(self.norm2(img)))
        xn = self.norm3(x)
        lm = lm + self.drop_path(self.attn_lm(xn[:, N_IMG:], split_heads(xn[:, :N_IMG], self.num_heads)))
        lm = lm + self.drop_path(self.mlp2(self.norm4(lm)))
        return self.conv(torch.cat([img, lm], dim=1))


class PyramidBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.block_l = CrossFusionBlock(dim, num_heads, mlp_ratio, drop_path)
        self.block_m = CrossFusionBlock(dim // 2, num_heads, mlp_ratio, drop_path)
        self.block_s = CrossFusionBlock(dim // 4, num_heads, mlp_ratio, drop_path)
        self.upsample_m = nn.ConvTranspose1d(N_TOKENS, N_TOKENS, 2, 2)
        self.upsample_s = nn.ConvTranspose1d(N_TOKENS, N_TOKENS, 2, 2)

    def forward(self, scales: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        x_l, x_m, x_s = self.block_l(scales[0]), self.block_m(scales[1]), self.block_s(scales[2])
        x_m = x_m + self.upsample_s(x_s)
        x_l = x_l + self.upsample_m(x_m)
        return x_l, x_m, x_s


class PyramidCrossFusion(nn.Module):
    """HyVisionTransformer: three embedding scales of cross-fusion blocks; returns the image cls token."""

    def __init__(self, dim: int = 512, depth: int = 8, num_heads: int = 8, mlp_ratio: float = 2.0,
                 drop_path_rate: float = 0.1):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, N_IMG, dim))
        self.downsample_m = nn.Conv1d(N_TOKENS, N_TOKENS, 2, 2)  # over the embedding axis: 512 → 256
        self.downsample_s = nn.Conv1d(N_TOKENS, N_TOKENS, 4, 4)  # 512 → 128
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(PyramidBlock(dim, num_heads, mlp_ratio, p) for p in dpr)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, img: Tensor, lm: Tensor) -> Tensor:
        img = torch.cat([img.mean(dim=1, keepdim=True), img], dim=1) + self.pos_embed
        lm = torch.cat([lm.mean(dim=1, keepdim=True), lm], dim=1)
        x = torch.cat([img, lm], dim=1)
        scales = (x, self.downsample_m(x), self.downsample_s(x))
        for block in self.blocks:
            scales = block(scales)
        return self.norm(scales[0])[:, 0]


class Poster(FERModel):
    input_spec = InputSpec(size=112, bgr=True)
    pretrained_parts = {
        "backbone": PretrainedPart(into="backbones.ir", remap=lambda state, _: poster_ir50_to_staged(state)),
        "landmarks": LANDMARKS,
    }
    # The image tokens are a raw view of this map that mixes channels and positions (no token is a place), so
    # Grad-CAM weighs the IR-50 map they are made from: 14×14, every image feature passes through it.
    cam_target = CamTarget("backbones.ir.body3")
    # train.py saves {'iter', 'model_state_dict', 'optimizer_state_dict'} of the DataParallel model
    official_checkpoint = OfficialCheckpoint(
        repo="zczcwh/POSTER", classifier="head.weight",
        rename=(
            (r"face_landback\.", "backbones.landmarks."),
            (r"ir_back\.input_layer\.", "backbones.ir.input_layer."),
            *((rf"ir_back\.body\.{i}\.", f"backbones.ir.body{stage}.{j}.")
              for i, (stage, j) in enumerate(UNITS)),
            (r"pyramid_fuse\.", "fuse."), (r"se_block\.", "se."), (r"head\.linear\.", "head."),
        ),
        dead=(r"face_landback\.output_layer\.", r"ir_back\.output_layer\.", r"pyramid_fuse\.cls_token$"),
        kwargs=lambda state: {"depth": count_indices(state, r"fuse\.blocks\.(\d+)\.")},
    )

    def __init__(self, num_classes: int, depth: int = 8):
        super().__init__()
        self.backbones = FaceBackbones()
        self.ir_layer = nn.Linear(1024, 512)
        self.fuse = PyramidCrossFusion(512, depth)
        self.se = SEGate(512)
        self.head = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        (_, _, ir3), (_, _, lm3) = self.backbones(x)
        b = x.shape[0]
        # the official raw view of [B,256,14,14] as 49 × 1024, not a tokenisation
        img = self.ir_layer(ir3.reshape(b, 49, 1024))
        lm = lm3.reshape(b, 512, 49).transpose(1, 2)
        feature = self.se(self.fuse(img, lm))
        return {"logits": self.head(feature), "feature": feature}

    def build_objective(self, class_counts, smoothing: float = 0.2,
                        smoothing_weight: float = 2.0) -> Objective:
        return PosterObjective(smoothing, smoothing_weight)


class PosterObjective(Objective):
    def __init__(self, smoothing: float = 0.2, smoothing_weight: float = 2.0):
        super().__init__()
        self.lsce = LabelSmoothingCrossEntropy(smoothing)
        self.smoothing_weight = smoothing_weight

    def forward(self, outputs, target, extra=None):
        ce = F.cross_entropy(outputs["logits"], target)
        ls = self.lsce(outputs["logits"], target)
        return ce + self.smoothing_weight * ls, {"ce": ce.detach(), "lsce": ls.detach()}


@register_model
def poster(num_classes: int, depth: int = 8) -> Poster:
    return Poster(num_classes, depth=depth)
