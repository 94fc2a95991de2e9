"""Augmentations applied to whole batches as tensors (on the GPU when there is one).

The official scripts decode a JPEG and run PIL transforms per sample per epoch, which starves a GPU.
Here a batch of cached uint8 images is augmented in a few tensor ops with per-sample random
parameters: flip + rotation + translation + scale (and the resize to the model's input) are one
``affine_grid``/``grid_sample``; colour jitter, noise and random erasing are elementwise.
``RandomApply(p)[RandomRotation(d), RandomCrop(s, pad)]`` of the seeds maps to
``affine: {p, degrees: d, translate: pad / s}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from ..models.base import InputSpec


def _u(n: int, lo: float, hi: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device="cpu").to(device) * (hi - lo) + lo


def _bern(n: int, p: float, g: torch.Generator, device) -> torch.Tensor:
    return (torch.rand(n, generator=g, device="cpu") < p).to(device)


class BatchAugment:
    """``__call__(uint8 NHWC batch, generator) -> normalised float NCHW batch`` for training;
    ``eval(batch)`` does only the resize and normalisation."""

    def __init__(self, spec: Mapping[str, Any] | None, input_spec: InputSpec, device: torch.device | str = "cpu"):
        self.spec = dict(spec or {})
        self.inp = input_spec
        self.device = torch.device(device)
        self.mean = torch.tensor(input_spec.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(input_spec.std, device=self.device).view(1, 3, 1, 1)
        ra = self.spec.get("randaugment")
        self.randaugment = v2.RandAugment(num_ops=ra.get("num_ops", 2), magnitude=ra.get("magnitude", 9)) if ra else None

    # -- shared ---------------------------------------------------------------------------------
    def _to_float(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return x.flip(1) if self.inp.bgr else x

    def eval(self, batch: torch.Tensor) -> torch.Tensor:
        x = self._to_float(batch)
        if x.shape[-1] != self.inp.size or x.shape[-2] != self.inp.size:
            x = F.interpolate(x, size=(self.inp.size, self.inp.size), mode="bilinear", align_corners=False, antialias=True)
        return self._finish(x)

    # -- training -------------------------------------------------------------------------------
    def __call__(self, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.randaugment is not None:
            batch = self._randaugment(batch, g)
        x = self._geometry(self._to_float(batch), g)
        x = self._colour(x, g)
        x = self._finish(x)
        return self._erase(x, g)

    def _randaugment(self, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        # torchvision draws one op set per call, so call it on small chunks for per-sample variety;
        # its RNG is torch's global one, seeded here from our generator for reproducibility.
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
        nchw = batch.permute(0, 3, 1, 2)
        chunks = [self.randaugment(c) for c in nchw.split(4)]
        return torch.cat(chunks).permute(0, 2, 3, 1)

    def _geometry(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n, dev, size = x.shape[0], x.device, self.inp.size
        flip = torch.where(_bern(n, self.spec.get("hflip", 0.0), g, dev), -1.0, 1.0)
        aff = self.spec.get("affine") or {}
        on = _bern(n, aff.get("p", 0.0), g, dev).float()
        deg = aff.get("degrees", 0.0)
        angle = _u(n, -deg, deg, g, dev) * on * math.pi / 180
        lo, hi = aff.get("scale", (1.0, 1.0))
        scale = 1 + (_u(n, lo, hi, g, dev) - 1) * on
        t = aff.get("translate", 0.0)
        tx, ty = (_u(n, -t, t, g, dev) * on * 2 for _ in range(2))  # grid coords span [-1, 1]
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
        if (theta - torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], device=dev)).abs().max() == 0 and x.shape[-1] == size:
            return x
        if x.shape[-1] > size:  # downscale first so grid_sample does not alias
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _colour(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        col = self.spec.get("color") or {}
        if col.get("p", 0.0) > 0:
            on = _bern(n, col["p"], g, dev).float().view(n, 1, 1, 1)

            def factor(key: str) -> torch.Tensor:
                s = col.get(key, 0.0)
                return _u(n, max(0.0, 1 - s), 1 + s, g, dev).view(n, 1, 1, 1)

            b, c, s = factor("brightness"), factor("contrast"), factor("saturation")
            y = x * b
            mean = y.mean(dim=(1, 2, 3), keepdim=True)
            y = (y - mean) * c + mean
            gray = (0.299 * y[:, 0:1] + 0.587 * y[:, 1:2] + 0.114 * y[:, 2:3])
            y = (y - gray) * s + gray
            x = torch.lerp(x, y.clamp(0, 1), on)
        noise = self.spec.get("noise") or {}
        if noise.get("p", 0.0) > 0:
            on = _bern(n, noise["p"], g, dev).float().view(n, 1, 1, 1)
            eps = torch.randn(x.shape, generator=g).to(dev) * noise.get("std", 0.1)
            x = (x + eps * on).clamp(0, 1)
        return x

    def _erase(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        er = self.spec.get("erasing") or {}
        if er.get("p", 0.0) <= 0:
            return x
        n, _, h, w = x.shape
        dev = x.device
        on = _bern(n, er["p"], g, dev)
        lo, hi = er.get("scale", (0.02, 0.33))
        area = _u(n, lo, hi, g, dev) * h * w
        log_r = _u(n, math.log(0.3), math.log(3.3), g, dev)
        eh = torch.sqrt(area * torch.exp(log_r)).clamp(1, h).floor()
        ew = torch.sqrt(area / torch.exp(log_r)).clamp(1, w).floor()
        top = (_u(n, 0, 1, g, dev) * (h - eh + 1)).floor()
        left = (_u(n, 0, 1, g, dev) * (w - ew + 1)).floor()
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        box = ((ys >= top.view(n, 1, 1)) & (ys < (top + eh).view(n, 1, 1))
               & (xs >= left.view(n, 1, 1)) & (xs < (left + ew).view(n, 1, 1)) & on.view(n, 1, 1))
        return x.masked_fill(box.unsqueeze(1), 0.0)  # torchvision's RandomErasing default value=0
