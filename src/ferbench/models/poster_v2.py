"""POSTER++ (POSTER V2): Mao et al., "POSTER++: A simpler and stronger facial expression recognition network",
Pattern Recognition 157, 2025 (arXiv 2301.12149). Official code:
https://github.com/Talented-Q/POSTER_V2 (``models/PosterV2_7cls.py``, ``models/vit_model.py``,
``models/ir50.py``, ``models/mobilefacenet.py``).

IR-50 image features at three scales (64@56², 128@28², 256@14², each through a stride-2 3×3 conv) are attended
by the frozen landmark MobileFaceNet's maps at the same scales (64@28², 128@14², 512@7² → 3×3 conv → 256) used
directly as queries of a global window attention with relative position bias (heads 2/4/8, layer-scale 1e-5,
MLP ratio 4, drop-path 0/0.125/0.25). The three outputs are embedded to 49 tokens of 768 each, prefixed with a
cls token plus position embedding, and fed to a 2-block ViT (timm ``Block``, 8 heads, LayerNorm eps 1e-6) →
norm → cls → SE gate → Linear. Loss: plain cross-entropy.

Deviations from the official code:
- ``input_spec.size`` is 112: the official network resizes its 224 px input to 112 (nearest) in both
  backbones, so the loop feeds 112 directly (4× fewer pixels to move; resizing is then the loop's
  interpolation, not nearest-neighbour). A 224 px batch is still resized nearest, as officially.
- Dead modules are not built: IR-50 ``output_layer``, the landmark net's GDC head (computed and discarded),
  the ViT's ``patch_embed``/``CON1``/``IRLinear1/2``/``eca_block`` and every block's ``conv``. Parameters:
  43.85M run in forward (official object 58.32M).
- ``num_classes`` is honoured (the official 7-class file ignores it; the 8-class one is a separate copy).
- Pretrained IR-50 keys must all match (the official loader silently skips mismatches, so POSTER's ir50.pth
  would load only its stem).
Outputs: ``logits``.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import DropPath, Mlp, trunc_normal_
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from ._cross_attention import KVCrossAttention, SEGate, split_heads
from ._face_backbones import LANDMARKS, FaceBackbones
from ._official import OfficialCheckpoint
from ._pretrained import PretrainedPart
from ._registry import register_model
from .base import CamTarget, FERModel, InputSpec


class LandmarkGuidedWindow(nn.Module):
    """One scale: LayerNorm'd image tokens (keys/values) attended by landmark queries, then a scaled MLP.

    The window equals the whole map, so this is global attention over the scale's grid.
    """

    def __init__(self, dim: int, num_heads: int, grid: int, drop_path: float, layer_scale: float = 1e-5):
        super().__init__()
        self.num_heads = num_heads
        self.norm_in = nn.LayerNorm(dim)
        self.attn = KVCrossAttention(dim, num_heads, rel_pos_window=grid)
        self.gamma1 = nn.Parameter(layer_scale * torch.ones(dim))
        self.gamma2 = nn.Parameter(layer_scale * torch.ones(dim))
        self.norm = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * 4)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, image: Tensor, landmarks: Tensor) -> Tensor:
        """image, landmarks: [B,C,H,W] of equal shape → [B,C,H,W]."""
        b, c, h, w = image.shape
        x = self.norm_in(image.permute(0, 2, 3, 1)).reshape(b, h * w, c)  # the residual is the normalised map
        q = split_heads(landmarks.permute(0, 2, 3, 1).reshape(b, h * w, c), self.num_heads)
        x = x + self.drop_path(self.gamma1 * self.attn(x, q))
        x = x + self.drop_path(self.gamma2 * self.mlp(self.norm(x)))
        return x.transpose(1, 2).reshape(b, c, h, w)


def _conv3x3_s2(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, 2, 1)


class PosterV2(FERModel):
    """The objective is the base class's plain cross-entropy, as officially."""

    input_spec = InputSpec(size=112)
    pretrained_parts = {"backbone": PretrainedPart(into="backbones.ir"), "landmarks": LANDMARKS}
    # main.py saves {'epoch', 'state_dict', 'best_acc', 'optimizer', 'recorder'} of the DataParallel model
    official_checkpoint = OfficialCheckpoint(
        repo="Talented-Q/POSTER_V2", classifier="head.weight",
        rename=(
            (r"face_landback\.", "backbones.landmarks."), (r"ir_back\.", "backbones.ir."),
            (r"VIT\.se_block\.", "se."), (r"VIT\.head\.linear\.", "head."), (r"VIT\.", ""),
            *(rule for n in range(3) for rule in (
                (rf"conv{n + 1}\.", f"ir_down.{n}."),
                (rf"window{n + 1}\.norm\.", f"windows.{n}.norm_in."),
                (rf"attn{n + 1}\.qkv\.", f"windows.{n}.attn.kv."),
                (rf"attn{n + 1}\.", f"windows.{n}.attn."),
                (rf"ffn{n + 1}\.", f"windows.{n}."),
            )),
            (r"embed_q\.", "embed.0."), (r"embed_k\.0\.", "embed.1."), (r"embed_v\.proj\.", "embed.2."),
        ),
        dead=(r"face_landback\.output_layer\.", r"ir_back\.output_layer\.",
              r"VIT\.(patch_embed|eca_block|CON1|IRLinear1|IRLinear2)\.", r"VIT\.blocks\.\d+\.conv\.",
              r"attn\d\.relative_position_index$"),
    )

    def __init__(self, num_classes: int, embed_dim: int = 768, depth: int = 2):
        super().__init__()
        # Grad-CAM: the last block's input norm. Its 147 tokens (3 scales × 7×7 after the cls token) all reach
        # the cls token through that block's attention; the block's output reaches the head by its cls only.
        self.cam_target = CamTarget(f"blocks.{depth - 1}.norm1", reshape=lambda x: tokens_to_map(x[:, 1:], 3))
        self.backbones = FaceBackbones()
        dims, heads, grids = (64, 128, 256), (2, 4, 8), (28, 14, 7)
        dpr = torch.linspace(0, 0.5, 5).tolist()
        self.ir_down = nn.ModuleList(_conv3x3_s2(d, d) for d in dims)
        self.last_face_conv = nn.Conv2d(512, 256, 3, padding=1)
        self.windows = nn.ModuleList(
            LandmarkGuidedWindow(d, h, g, p) for d, h, g, p in zip(dims, heads, grids, dpr))
        self.embed = nn.ModuleList([
            nn.Sequential(_conv3x3_s2(64, embed_dim), _conv3x3_s2(embed_dim, embed_dim)),  # 28² → 7²
            _conv3x3_s2(128, embed_dim),                                                   # 14² → 7²
            nn.Conv2d(256, embed_dim, 1),                                                  # 7²
        ])
        n_tokens = 3 * 49
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_tokens + 1, embed_dim))
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.blocks = nn.Sequential(
            *(Block(embed_dim, 8, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(depth)))
        self.norm = norm(embed_dim)
        self.se = SEGate(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        self._init_vit_weights()

    def _init_vit_weights(self) -> None:
        # The official ViT initialisation (applied to the ViT part only): trunc-normal linears and tokens.
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        for m in [*self.blocks.modules(), *self.se.modules(), self.head]:
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        (ir1, ir2, ir3), (lm1, lm2, lm3) = self.backbones(x)
        landmarks = (lm1, lm2, self.last_face_conv(lm3))
        tokens = []
        stages = zip((ir1, ir2, ir3), landmarks, self.ir_down, self.windows, self.embed)
        for ir, lm, down, window, embed in stages:
            tokens.append(embed(window(down(ir), lm)).flatten(2).transpose(1, 2))
        t = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), *tokens], dim=1) + self.pos_embed
        cls = self.norm(self.blocks(t))[:, 0]
        return {"logits": self.head(self.se(cls))}


def tokens_to_map(tokens: Tensor, scales: int) -> Tensor:
    """[B, scales·H·W, C] (the scales' square grids one after the other) → [B, scales·C, H, W]: each scale's
    channels stacked, so Grad-CAM's channel sum adds the scales' maps."""
    b, n, c = tokens.shape
    side = int(round((n // scales) ** 0.5))
    grid = tokens.reshape(b, scales, side, side, c).permute(0, 1, 4, 2, 3)
    return grid.reshape(b, scales * c, side, side)


@register_model
def poster_v2(num_classes: int) -> PosterV2:
    return PosterV2(num_classes)
