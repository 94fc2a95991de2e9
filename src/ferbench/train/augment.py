"""Augmentations applied to whole batches as tensors (on the GPU when there is one).

The official scripts decode a JPEG and run PIL transforms per sample per epoch, which starves a GPU.
Here a batch of cached uint8 images is augmented with per-sample random parameters, staying in uint8
NHWC for as long as possible (a quarter of the memory traffic of float), and one final pass converts to
normalised float. The result is NCHW, in channels-last memory where convolutions run faster on it
(:func:`channels_last_pays`), in plain NCHW memory elsewhere.

What keeps this fast on a CPU too:

* per-channel arithmetic runs on whole rows: channels-last on ``(rows, W·3)`` views with the channel
  constants tiled along the row, planar on each channel's plane, never on the 3 channels of one pixel;
* flips, warps and erasing touch only the samples drawn for them, one sample at a time on a CPU:
  tensor advanced indexing (``x[idx] = ...``) copies byte by byte and costs more than the augmentation;
* the affine warp of CPU tensors runs in OpenCV's warpAffine on the uint8 pixels; CUDA tensors go
  through batched kernels and ``grid_sample``;
* every random op is drawn in :meth:`BatchAugment.augment`, which the training loop runs one batch
  ahead in a background thread; :meth:`BatchAugment.normalise`, the last op, turns the uint8 batch
  into the model's normalised float in the training thread.

``RandomApply(p)[RandomRotation(d), RandomCrop(s, pad)]`` of the seeds maps to
``affine: {p, degrees: d, translate: pad / s}`` with ``interpolation: nearest`` (the default), as
torchvision's RandomRotation resamples with NEAREST and RandomCrop shifts by whole pixels; the shift is
drawn continuously here and the rotation and shift are one warp, so the shift is not rotated with the
image. Pixels from outside are black, as the seeds' rotation and zero padding make them. Random erasing
fills with the normalisation mean, i.e. torchvision's ``value=0`` after ``Normalize``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..models.base import InputSpec


def _u(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    # Random numbers are always drawn on the CPU from one generator, so GPU and CPU runs draw alike.
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _bern(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


def _rows(x: torch.Tensor) -> torch.Tensor:
    """``(N, H, W, C)`` as ``(N·H, W·C)``: per-channel constants tiled W times broadcast over whole rows."""
    return x.view(-1, x.shape[2] * x.shape[3])


def geometry_torch(x: torch.Tensor, flips: list[int], warps: list[int], theta: torch.Tensor, mode: str) -> None:
    """Mirror samples ``flips``, then warp samples ``warps`` of a uint8 NHWC batch, in place; ``theta``
    (one 2×3 matrix per warped sample) maps output to input in grid_sample's [-1, 1] coordinates.
    The path for GPU tensors: a few batched kernels, the warp in planar float where grid_sample is fastest."""
    if flips:
        rows = torch.tensor(flips, device=x.device)
        x.index_copy_(0, rows, x.index_select(0, rows).flip(2))
    if not warps:
        return
    k, h, w = len(warps), x.shape[1], x.shape[2]
    rows = torch.tensor(warps, device=x.device)
    grid = F.affine_grid(theta.to(x.device), [k, 3, h, w], align_corners=False)
    planar = x.index_select(0, rows).permute(0, 3, 1, 2).contiguous().float()
    warped = F.grid_sample(planar, grid, mode=mode, padding_mode="zeros", align_corners=False)
    # bilinear values are convex combinations of uint8 values: rounding is all that is left to do
    x.index_copy_(0, rows, warped.round_().permute(0, 2, 3, 1).to(x.dtype))


def geometry_cpu(x: torch.Tensor, flips: list[int], warps: list[int], theta: torch.Tensor, mode: str) -> None:
    """:func:`geometry_torch` for CPU tensors: flips and warps sample by sample in OpenCV's SIMD
    kernels on the uint8 pixels (a batched ``index_copy_`` is several times slower on a CPU). OpenCV's
    warp is twice as fast as PIL's resampler, the one torchvision's RandomRotation runs in the seeds,
    and several times faster than grid_sample, which needs planar float and two transposes; it threads
    itself. ``theta`` becomes the inverse map between pixel indices (pixel centres at integers)."""
    if not x.is_contiguous():
        raise ValueError("geometry_cpu works in place on a contiguous NHWC batch")
    arr = x.numpy()
    for i in flips:
        cv2.flip(arr[i], 1, dst=arr[i])  # in place: a horizontal flip swaps within each row
    h, w = x.shape[1], x.shape[2]
    flags = (cv2.INTER_NEAREST if mode == "nearest" else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP

    for i, ((a, b, tx), (d, e, ty)) in zip(warps, theta.tolist()):
        # grid_sample's [-1, 1] (align_corners=False) to pixel indices, on both sides of the map
        b, d = b * w / h, d * h / w
        c = w / 2 * (1 + tx) - (a * w + b * h) / 2 + (a + b - 1) / 2
        f = h / 2 * (1 + ty) - (d * w + e * h) / 2 + (d + e - 1) / 2
        src = arr[i].copy()  # warpAffine cannot work in place
        cv2.warpAffine(src, np.array([[a, b, c], [d, e, f]]), (w, h), dst=arr[i], flags=flags,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)


# Below this side a CPU trains faster on plain NCHW: resnet18 / DAN train steps on 2 cores took 14-23%
# longer channels-last at 48 px and 6% longer at 112 px, and 17% less time at 224 px.
CPU_CHANNELS_LAST_MIN_SIDE = 160


def channels_last_pays(device: torch.device | str, side: int) -> bool:
    """Whether a model and its batches should be channels-last: on a GPU (tensor-core convolutions)
    always, on a CPU only for large inputs."""
    return torch.device(device).type != "cpu" or side >= CPU_CHANNELS_LAST_MIN_SIDE


class BatchAugment:
    """``__call__(uint8 NHWC batch, generator) -> normalised float NCHW batch`` for training;
    ``eval(batch)`` does only the resize and normalisation."""

    def __init__(self, spec: Mapping[str, Any] | None, input_spec: InputSpec, device: torch.device | str = "cpu"):
        self.spec = dict(spec or {})
        self.inp = input_spec
        self.device = torch.device(device)
        mean = torch.tensor(input_spec.mean, dtype=torch.float32)
        std = torch.tensor(input_spec.std, dtype=torch.float32)
        # x_norm = x_uint8 * scale - shift, per channel; channels-last: tiled along a row of the model's
        # side, planar: one value per channel plane
        side = input_spec.size
        self.channels_last = channels_last_pays(self.device, side)
        scale, neg_shift = 1.0 / (255.0 * std), -mean / std
        if self.channels_last:
            self.scale, self.neg_shift = scale.repeat(side).to(self.device), neg_shift.repeat(side).to(self.device)
        else:
            self.scale, self.neg_shift = scale.view(3, 1, 1).to(self.device), neg_shift.view(3, 1, 1).to(self.device)
        # erasing copies slices of a whole image of the fill colour: a same-layout copy moves whole
        # rows, where broadcasting one 3-channel pixel loops over every pixel
        fill = (mean * 255.0).round().to(torch.uint8)
        self.fill_image = fill.expand(side, side, 3).contiguous().to(self.device)
        self.interpolation = (self.spec.get("affine") or {}).get("interpolation", "nearest")
        self._buffers: dict[tuple, list[torch.Tensor]] = {}
        self._turn = 0
        ra = self.spec.get("randaugment")
        self.randaugment = v2.RandAugment(num_ops=ra.get("num_ops", 2), magnitude=ra.get("magnitude", 9)) if ra else None

    # -- shared ---------------------------------------------------------------------------------
    def _prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """To the device, resized to the model's side, channels in the model's order (uint8 NHWC)."""
        x = batch.to(self.device, non_blocking=True)
        size = self.inp.size
        if x.shape[1:3] != (size, size):
            nchw = x.permute(0, 3, 1, 2)
            x = TF.resize(nchw, [size, size], antialias=True).permute(0, 2, 3, 1).contiguous()
        return x.flip(-1) if self.inp.bgr else x

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """The last op: NHWC (uint8, or float in [0, 255]) to the model's normalised float NCHW, in
        channels-last memory when :attr:`channels_last`."""
        # Output buffers are reused (two in turn): a fresh 4-byte-per-pixel batch each step costs more
        # in page faults than the arithmetic. A batch stays valid until two more have been made;
        # autograd's version counter would flag any use past that.
        n, h, w, c = x.shape
        shape = (n, h, w, c) if self.channels_last else (n, c, h, w)
        ring = self._buffers.get(shape)
        if ring is None:
            ring = self._buffers[shape] = [torch.empty(shape, device=x.device) for _ in range(2)]
        self._turn ^= 1
        out = ring[self._turn]
        if self.channels_last:
            out.copy_(x)
            rows = _rows(out)
            torch.addcmul(self.neg_shift, rows, self.scale, out=rows)
            return out.permute(0, 3, 1, 2)  # channels-last memory, NCHW shape
        out.copy_(x.permute(0, 3, 1, 2))  # the transpose rides on the dtype change
        return torch.addcmul(self.neg_shift, out, self.scale, out=out)

    def eval(self, batch: torch.Tensor) -> torch.Tensor:
        return self.normalise(self._prepare(batch))

    # -- training -------------------------------------------------------------------------------
    def __call__(self, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return self.normalise(self.augment(batch, g))

    def augment(self, batch: torch.Tensor, g: torch.Generator, inplace: bool = False) -> torch.Tensor:
        """Every random op, on the device at the model's side: NHWC uint8 in and out (float in [0, 255]
        when colour jitter or noise run). All randomness is drawn here, from ``g``, so this stage can
        run a batch ahead in another thread and :meth:`normalise` finish it in the training thread.
        ``inplace``: ``batch`` is the caller's to lose (e.g. fresh from the cache), which saves a copy."""
        x = self._randaugment(batch, g) if self.randaugment is not None else batch
        x = self._prepare(x)
        if x.data_ptr() == batch.data_ptr() and not inplace:
            x = x.clone(memory_format=torch.contiguous_format)
        elif not x.is_contiguous():  # OpenCV writes in place only into contiguous images
            x = x.contiguous()
        self._geometry(x, g)
        x = self._colour(x, g)
        self._erase(x, g)
        return x

    def _randaugment(self, batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        # torchvision draws one op set per call, so call it on small chunks for per-sample variety;
        # its RNG is torch's global one, seeded here from our generator for reproducibility.
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
        nchw = batch.permute(0, 3, 1, 2)
        return torch.cat([self.randaugment(c) for c in nchw.split(4)]).permute(0, 2, 3, 1)

    def _geometry(self, x: torch.Tensor, g: torch.Generator) -> None:
        """Flip, then rotation, scale and shift as one inverse map per sample: output pixel p reads
        input A·p + t."""
        n = x.shape[0]
        flips = torch.nonzero(_bern(n, self.spec.get("hflip", 0.0), g)).flatten().tolist()
        aff = self.spec.get("affine") or {}
        on = _bern(n, aff.get("p", 0.0), g)
        deg, t = aff.get("degrees", 0.0), aff.get("translate", 0.0)
        lo, hi = aff.get("scale", (1.0, 1.0))
        angle, scale = _u(n, -deg, deg, g) * math.pi / 180, _u(n, lo, hi, g)
        tx, ty = _u(n, -t, t, g) * 2, _u(n, -t, t, g) * 2  # grid coordinates span [-1, 1]
        idx = torch.nonzero(on).flatten()
        cos, sin = torch.cos(angle[idx]) / scale[idx], torch.sin(angle[idx]) / scale[idx]
        theta = torch.stack([torch.stack([cos, -sin, tx[idx]], 1), torch.stack([sin, cos, ty[idx]], 1)], 1)
        geometry = geometry_cpu if x.device.type == "cpu" else geometry_torch
        geometry(x, flips, idx.tolist(), theta, self.interpolation)

    def _colour(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Colour jitter and Gaussian noise work in float [0, 255]; skipped (uint8 kept) when off."""
        col, noise = self.spec.get("color") or {}, self.spec.get("noise") or {}
        if col.get("p", 0.0) <= 0 and noise.get("p", 0.0) <= 0:
            return x
        n, dev = x.shape[0], x.device
        y = x.float()
        if col.get("p", 0.0) > 0:
            on = _bern(n, col["p"], g).float().view(n, 1, 1, 1).to(dev)

            def factor(key: str) -> torch.Tensor:
                s = col.get(key, 0.0)
                return _u(n, max(0.0, 1 - s), 1 + s, g).view(n, 1, 1, 1).to(dev)

            b, c, s = factor("brightness"), factor("contrast"), factor("saturation")
            z = y * b
            mean = z.mean(dim=(1, 2, 3), keepdim=True)
            z = (z - mean) * c + mean
            gray = z @ torch.tensor([0.299, 0.587, 0.114], device=dev)
            z = (z - gray[..., None]) * s + gray[..., None]
            y = torch.lerp(y, z.clamp(0, 255), on)
        if noise.get("p", 0.0) > 0:
            on = _bern(n, noise["p"], g).float().view(n, 1, 1, 1).to(dev)
            eps = torch.randn(y.shape, generator=g).to(dev) * (255.0 * noise.get("std", 0.1))
            y = (y + eps * on).clamp(0, 255)
        return y

    def _erase(self, x: torch.Tensor, g: torch.Generator) -> None:
        er = self.spec.get("erasing") or {}
        if er.get("p", 0.0) <= 0:
            return
        n, h, w, _ = x.shape
        on = _bern(n, er["p"], g)
        lo, hi = er.get("scale", (0.02, 0.33))
        area = _u(n, lo, hi, g) * h * w
        log_r = _u(n, math.log(0.3), math.log(3.3), g)
        eh = torch.sqrt(area * torch.exp(log_r)).clamp(1, h).floor().long()
        ew = torch.sqrt(area / torch.exp(log_r)).clamp(1, w).floor().long()
        top = (_u(n, 0, 1, g) * (h - eh + 1)).floor().long()
        left = (_u(n, 0, 1, g) * (w - ew + 1)).floor().long()
        fill = self.fill_image.to(x.dtype)
        if x.device.type == "cpu":  # numpy slices: plain row copies, no thread pool per rectangle
            x, fill = x.numpy(), fill.numpy()
        top, left, eh, ew = top.tolist(), left.tolist(), eh.tolist(), ew.tolist()
        for i in torch.nonzero(on).flatten().tolist():
            x[i, top[i] : top[i] + eh[i], left[i] : left[i] + ew[i]] = fill[: eh[i], : ew[i]]
