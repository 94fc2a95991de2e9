"""MTCNN's three-stage cascade on facenet-pytorch's nets, with each stage's crops taken in one op.

Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional Networks",
IEEE SPL 2016. The nets (P-Net, R-Net, O-Net) and their weights are facenet-pytorch's; the cascade
follows its ``detect_face`` step by step (the same pyramid, thresholds, NMS, box regression and
squaring), so the boxes and landmarks are the same. Two things differ:

- **Crops.** facenet-pytorch cuts every candidate box out of its image and resizes it with
  ``interpolate(mode="area")`` in a Python loop, tens of thousands of calls per batch, a third of the
  detector's time. Here an integral image (exact, in integers) gives every box's area averages, and
  every level of the image pyramid, with four gathers: the same averages, computed at once.
- **Empty crops.** A box that lies wholly outside its image is dropped with its crop. facenet-pytorch
  drops only the crop, which misaligns every later box with the scores of its neighbour.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import batched_nms

# P-Net sees 12x12 windows at a stride of 2; its input and R-/O-Net's are scaled from [0, 255] to this
_CELL, _STRIDE = 12, 2
_MEAN, _SCALE = 127.5, 0.0078125


class IntegralImage:
    """Summed-area tables of a batch of NHWC images, for exact area averages of any box.

    ``torch.nn.functional.interpolate(mode="area")`` is adaptive average pooling: output cell ``i`` of
    ``n`` over a length ``L`` averages input ``floor(i*L/n)`` up to ``ceil((i+1)*L/n)``. Over integer
    pixels those sums are exact in int32 (int64 for images over 8.4 megapixels), so the averages are
    the pooled ones to the float rounding of one division.
    """

    def __init__(self, images: Tensor):
        n, h, w, c = images.shape
        dtype = torch.int32 if 255 * h * w < 2**31 else torch.int64
        sat = torch.zeros((n, h + 1, w + 1, c), dtype=dtype, device=images.device)
        torch.cumsum(images.to(dtype), 1, out=sat[:, 1:, 1:]).cumsum_(2)
        self.sat = sat
        self.height, self.width = h, w

    @staticmethod
    def _bins(start: Tensor, length: Tensor, out: int) -> tuple[Tensor, Tensor]:
        """First and one-past-last input index of each of ``out`` area cells, per row of ``start``."""
        i = torch.arange(out, device=start.device)
        lo = start[:, None] + torch.div(i * length[:, None], out, rounding_mode="floor")
        hi = start[:, None] - torch.div(-(i + 1) * length[:, None], out, rounding_mode="floor")
        return lo, hi

    def crops(self, image: Tensor, top: Tensor, left: Tensor, height: Tensor, width: Tensor,
              out_h: int, out_w: int) -> Tensor:
        """Boxes resized to ``out_h`` x ``out_w`` by area averaging, as a channels-last NCHW float batch."""
        y0, y1 = self._bins(top, height, out_h)
        x0, x1 = self._bins(left, width, out_w)
        count = ((y1 - y0)[:, :, None] * (x1 - x0)[:, None, :])[..., None]
        # one gather of the four corners of every cell, as rows of the flattened (N*(H+1)*(W+1), C) table
        first = (image * (self.height + 1))[:, None]
        row0 = ((first + y0) * (self.width + 1))[:, :, None]
        row1 = ((first + y1) * (self.width + 1))[:, :, None]
        x0, x1 = x0[:, None, :], x1[:, None, :]
        corners = torch.stack([row1 + x1, row0 + x1, row1 + x0, row0 + x0])
        c = self.sat.shape[-1]
        v = self.sat.view(-1, c).index_select(0, corners.view(-1)).view(*corners.shape, c)
        return ((v[0] - v[1] - v[2] + v[3]).float() / count).permute(0, 3, 1, 2)

    def resized(self, out_h: int, out_w: int) -> Tensor:
        """Every whole image resized by area averaging (a pyramid level)."""
        n = self.sat.shape[0]
        dev = self.sat.device
        zero, full = torch.zeros(n, dtype=torch.long, device=dev), torch.ones(n, dtype=torch.long, device=dev)
        return self.crops(torch.arange(n, device=dev), zero, zero, full * self.height, full * self.width,
                          out_h, out_w)


class ChannelsLastPReLU(torch.nn.Module):
    """``nn.PReLU`` for channels-last tensors, 10x faster on a CPU and bit-identical.

    PyTorch's kernel walks a channels-last tensor in runs of C values (10 to 64 here), each with its
    own weight lookup. Read as image rows (W pixels times C channels), the same memory is one long run
    per row against the weight tiled W times (24 ms -> 2.3 ms for P-Net's first layer on 32 images).
    """

    def __init__(self, prelu: torch.nn.PReLU):
        super().__init__()
        self.weight = prelu.weight

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or not x.is_contiguous(memory_format=torch.channels_last):
            return torch.prelu(x, self.weight)
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * h, w * c)  # a view: the channels-last memory in order
        return torch.prelu(rows, self.weight.repeat(w)).view(n, h, w, c).permute(0, 3, 1, 2)


def for_cpu(net: torch.nn.Module) -> torch.nn.Module:
    """A net in channels-last memory with its PReLUs swapped (in place; returned).

    MTCNN's max-pools take 3-5x longer on NCHW tensors than on channels-last ones, and PyTorch's PReLU
    10x longer on channels-last ones than ``ChannelsLastPReLU``. The outputs are the same.
    """
    for name, child in list(net.named_children()):
        if isinstance(child, torch.nn.PReLU):
            setattr(net, name, ChannelsLastPReLU(child))
    return net.to(memory_format=torch.channels_last)


def _scales(h: int, w: int, min_face: float, factor: float) -> list[float]:
    """The pyramid: P-Net's 12 px window covers ``min_face`` px at the first scale, then ever larger."""
    scale = _CELL / min_face
    side = min(h, w) * scale
    scales = []
    while side >= _CELL:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def _square(boxes: Tensor) -> Tensor:
    """Boxes grown to squares on their longer side, about the same centre (in place; returned)."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes: Tensor, offsets: Tensor) -> Tensor:
    """R-/O-Net's box regression: offsets in units of the (inclusive) box size."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    size = torch.stack([w, h, w, h], 1)
    return torch.cat([boxes[:, :4] + offsets * size, boxes[:, 4:]], 1)


def _clamped(boxes: Tensor, w: int, h: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Pixel spans of boxes truncated to integers and clamped to the image (MTCNN's 1-based ``pad``):
    (top, left, height, width, non-empty)."""
    b = boxes[:, :4].trunc().long()
    x, y = b[:, 0].clamp(min=1), b[:, 1].clamp(min=1)
    ex, ey = b[:, 2].clamp(max=w), b[:, 3].clamp(max=h)
    top, left = y - 1, x - 1
    height, width = ey - top, ex - left
    return top, left, height, width, (height > 0) & (width > 0)


def _min_nms(boxes: Tensor, scores: Tensor, doubt: Tensor, image: Tensor, threshold: float) -> Tensor:
    """NMS per image where overlap is the intersection over the smaller box ("Min"), as MTCNN's last
    stage does; indices by decreasing score.

    Confident candidates of one face often tie at a face probability of 1.0 (float32); their
    non-face probability (``doubt``, not rounded away) ranks them. facenet-pytorch keeps whichever of
    the tied its unstable sort of the whole batch's scores puts last, so its landmarks for such a face
    can move by a pixel or two with the batch.
    """
    b = boxes.cpu().numpy()
    s = scores.cpu().numpy()
    img = image.cpu().numpy()
    area = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    keep = []
    order = np.lexsort((doubt.cpu().numpy(), -s))
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]) + 1)
        ih = np.maximum(0.0, np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]) + 1)
        overlap = iw * ih / np.minimum(area[i], area[rest])
        order = rest[(overlap <= threshold) | (img[rest] != img[i])]
    return torch.as_tensor(np.asarray(keep, dtype=np.int64), device=boxes.device)


def _normalised(x: Tensor) -> Tensor:
    return (x - _MEAN) * _SCALE


def detect(images: np.ndarray, pnet, rnet, onet, min_face: float = 20.0, factor: float = 0.709,
           thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
           ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Faces in a batch of equal-sized RGB uint8 images (N, H, W, 3).

    Returns per image ``(boxes (k, 4), scores (k,), landmarks (k, 5, 2))`` in image pixels, most
    confident first (the larger first among equal scores); ``k`` is 0 where no face passes.
    """
    dev = next(pnet.parameters()).device
    imgs = torch.as_tensor(images, device=dev)
    n, h, w, _ = imgs.shape
    integral = IntegralImage(imgs)

    # Stage 1: P-Net over the pyramid; candidates suppressed within each scale, then across scales
    found, found_image = [], []
    for scale in _scales(h, w, min_face, factor):
        level = _normalised(integral.resized(int(h * scale + 1), int(w * scale + 1)))
        reg, prob = pnet(level)
        hit = prob[:, 1] >= thresholds[0]
        image, yy, xx = hit.nonzero(as_tuple=True)
        cell = torch.stack([xx, yy], 1).to(reg.dtype)
        boxes = torch.cat([((_STRIDE * cell + 1) / scale).floor(), ((_STRIDE * cell + _CELL) / scale).floor(),
                           prob[:, 1][hit][:, None], reg.permute(0, 2, 3, 1)[hit]], 1)
        keep = batched_nms(boxes[:, :4], boxes[:, 4], image, 0.5)
        found.append(boxes[keep])
        found_image.append(image[keep])
    boxes, image = torch.cat(found), torch.cat(found_image)
    keep = batched_nms(boxes[:, :4], boxes[:, 4], image, 0.7)
    boxes, image = boxes[keep], image[keep]
    # P-Net's offsets are in units of the box's exclusive size, unlike R- and O-Net's
    w1, h1 = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = _square(torch.cat([boxes[:, :4] + boxes[:, 5:9] * torch.stack([w1, h1, w1, h1], 1),
                               boxes[:, 4:5]], 1))

    # Stage 2: R-Net on 24x24 crops
    if len(boxes):
        top, left, height, width, ok = _clamped(boxes, w, h)
        boxes, image = boxes[ok], image[ok]
        crops = integral.crops(image, top[ok], left[ok], height[ok], width[ok], 24, 24)
        reg, prob = rnet(_normalised(crops))
        passed = prob[:, 1] > thresholds[1]
        boxes = torch.cat([boxes[passed, :4], prob[passed, 1:2]], 1)
        image, reg = image[passed], reg[passed]
        keep = batched_nms(boxes[:, :4], boxes[:, 4], image, 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))
        image = image[keep]

    # Stage 3: O-Net on 48x48 crops gives the final score, box and the 5 landmarks
    points = torch.zeros((0, 5, 2), device=dev)
    if len(boxes):
        top, left, height, width, ok = _clamped(boxes, w, h)
        boxes, image = boxes[ok], image[ok]
        crops = integral.crops(image, top[ok], left[ok], height[ok], width[ok], 48, 48)
        reg, marks, prob = onet(_normalised(crops))
        passed = prob[:, 1] > thresholds[2]
        boxes = torch.cat([boxes[passed, :4], prob[passed, 1:2]], 1)
        image, reg, marks, doubt = image[passed], reg[passed], marks[passed], prob[passed, 0]
        bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = torch.stack([bw * marks[:, :5] + boxes[:, 0:1] - 1, bh * marks[:, 5:] + boxes[:, 1:2] - 1], 2)
        boxes = _regress(boxes, reg)
        keep = _min_nms(boxes[:, :4], boxes[:, 4], doubt, image, 0.7)
        boxes, image, points = boxes[keep], image[keep], points[keep]

    boxes, points, image = boxes.cpu().numpy(), points.cpu().numpy(), image.cpu().numpy()
    # most confident first; confident faces often tie at a score of 1.0 (float32), and then the
    # larger comes first, as facenet-pytorch's ``MTCNN.detect`` orders them
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.lexsort((-area, -boxes[:, 4], image))
    boxes, points, image = boxes[order], points[order], image[order]
    return [(boxes[image == i, :4], boxes[image == i, 4], points[image == i]) for i in range(n)]
