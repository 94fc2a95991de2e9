"""Cross-attention layers of the POSTER family: landmark tokens query image tokens (and back)."""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from torch import Tensor, nn


class KVCrossAttention(nn.Module):
    """Multi-head attention whose queries are given (unprojected) and whose keys/values come from ``x``.

    ``rel_pos_window`` adds a learnt Swin-style relative position bias for a square token grid of that side
    (POSTER++'s global window attention); ``None`` for none (POSTER).
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, rel_pos_window: int | None = None,
                 proj_drop: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rel_pos_window = rel_pos_window
        if rel_pos_window:
            w = rel_pos_window
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * w - 1) ** 2, num_heads))
            trunc_normal_(self.relative_position_bias_table, std=0.02)
            self.register_buffer("relative_position_index", _relative_position_index(w), persistent=False)

    def forward(self, x: Tensor, q: Tensor) -> Tensor:
        """``x``: [B,N,C] keys/values; ``q``: [B,heads,M,C/heads]. Returns [B,M,C]."""
        b, n, c = x.shape
        k, v = self.kv(x).reshape(b, n, 2, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.rel_pos_window:
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
            attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, q.shape[2], c)
        return self.proj_drop(self.proj(out))


def split_heads(tokens: Tensor, num_heads: int) -> Tensor:
    """[B,M,C] → [B,heads,M,C/heads]: how both models turn plain tokens into queries."""
    b, m, c = tokens.shape
    return tokens.reshape(b, m, num_heads, c // num_heads).permute(0, 2, 1, 3)


def _relative_position_index(w: int) -> Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (w - 1)
    return rel[..., 0] * (2 * w - 1) + rel[..., 1]


class SEGate(nn.Module):
    """Linear → ReLU → Linear → sigmoid gate on a feature vector (POSTER's SE_block)."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear1 = nn.Linear(dim, dim)
        self.linear2 = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.linear2(torch.relu(self.linear1(x))))
