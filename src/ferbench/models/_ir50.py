"""IR-50 (insightface "improved residual" ResNet-50; Deng et al., ArcFace, CVPR 2019), first three stages, as
POSTER and POSTER++ use it: 112 px in, ``[64@56², 128@28², 256@14²]`` out.

Module names follow POSTER++'s checkpoint (``input_layer``, ``body1/2/3``, ``shortcut_layer``, ``res_layer``).
POSTER's ``ir50.pth`` numbers the same units ``body.0``-``body.20`` in one stage: ``poster_ir50_to_staged``
renames them. The face-ID ``output_layer`` (BN + Linear(25088, 512) + BN, 12.85M parameters) never runs in
either model and is not built; its keys are reported as unexpected when loading.
"""

from __future__ import annotations

import re

import torch.nn.functional as F
from torch import Tensor, nn

STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14))  # (in, out, units); the first unit of each has stride 2
# POSTER's single numbering: unit ``body.<i>`` is unit ``UNITS[i] = (stage, j)``, i.e. ``body<stage>.<j>``
UNITS = tuple((stage, j) for stage, (_, _, n) in enumerate(STAGES, 1) for j in range(n))


class BottleneckIR(nn.Module):
    """BN → 3×3 conv → PReLU → 3×3 conv (stride) → BN, plus an identity (max-pool) or 1×1 conv shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        if cin == cout:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.PReLU(cout),
            nn.Conv2d(cout, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


def _stage(cin: int, cout: int, units: int) -> nn.Sequential:
    return nn.Sequential(BottleneckIR(cin, cout, 2), *(BottleneckIR(cout, cout, 1) for _ in range(units - 1)))


class IR50ThreeStage(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        self.body1, self.body2, self.body3 = (_stage(*s) for s in STAGES)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = resize_like_official(x, 112)
        x1 = self.body1(self.input_layer(x))
        x2 = self.body2(x1)
        return x1, x2, self.body3(x2)


def resize_like_official(x: Tensor, size: int) -> Tensor:
    """POSTER/POSTER++ call ``F.interpolate(x, size=112)`` (nearest) on the 224 px batch; a batch the loop
    already feeds at 112 passes unchanged."""
    return x if x.shape[-1] == size and x.shape[-2] == size else F.interpolate(x, size=size)


def poster_ir50_to_staged(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """POSTER's single-stage numbering ``body.<i>`` → ``body1/2/3.<j>``; units of the 4th stage
    (``body.21``-``body.23``, absent from the network) keep their names and show up as unexpected."""

    def rename(key: str) -> str:
        m = re.match(r"body\.(\d+)\.(.*)", key)
        if not m or int(m.group(1)) >= len(UNITS):
            return key
        stage, j = UNITS[int(m.group(1))]
        return f"body{stage}.{j}.{m.group(2)}"

    return {rename(k): v for k, v in state.items()}
