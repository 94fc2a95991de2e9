"""Training input throughput: ferbench's cached, batched tensor path vs the seeds' per-sample PIL path.

Both apply DAN's RAF-DB augmentations (flip, RandomApply(p=0.2)[rotation 20, crop with 32 px padding],
normalise, RandomErasing 0.02-0.25) to the same aligned JPEGs and produce the same batches
(64 × 3 × 224 × 224). The baseline decodes each JPEG and runs torchvision's PIL transforms per sample
per epoch, as the official scripts do; ours decodes once into the uint8 cache (its one-time cost is
printed separately) and augments whole batches. Prints images/s of both and the ratio (medians over interleaved epochs).

    python benchmarks/input_pipeline.py [--images 600] [--epochs 3] [--workers 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from _images import aligned_jpegs
from ferbench.models.base import InputSpec
from ferbench.train.augment import BatchAugment
from ferbench.train.cache import build_cache, open_cache

SIZE, BATCH = 224, 64
AUG = {"hflip": 0.5, "affine": {"p": 0.2, "degrees": 20, "translate": 32 / 224}, "erasing": {"p": 1.0, "scale": [0.02, 0.25]}}


class SeedStyle(Dataset):
    """What the official repositories do: PIL decode + torchvision transforms per sample."""

    def __init__(self, files):
        self.files = files
        self.tf = T.Compose([
            T.Resize((SIZE, SIZE)),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.RandomRotation(20), T.RandomCrop(SIZE, padding=32)], p=0.2),
            T.ToTensor(),
            T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
            T.RandomErasing(scale=(0.02, 0.25)),
        ])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.tf(Image.open(self.files[i]).convert("RGB")), 0


def rate(run_epoch) -> float:
    t0 = time.perf_counter()
    n = run_epoch()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers of the baseline")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = aligned_jpegs(tmp, max(1, args.images // 5), SIZE)
        print(f"{len(files)} aligned JPEGs at {SIZE}px, batch {BATCH}, {args.epochs} epochs, torch threads 2")

        loader = DataLoader(SeedStyle(files), batch_size=BATCH, shuffle=True, num_workers=args.workers)

        def seed_epoch():
            n = 0
            for x, _ in loader:
                n += len(x)
            return n

        labels = tmp / "labels.parquet"
        pq.write_table(pa.table({"path": [str(f.relative_to(tmp)) for f in files],
                                 "aligned_landmarks": pa.nulls(len(files), pa.list_(pa.float32(), 10))}), labels)
        t0 = time.perf_counter()
        build_cache(labels, tmp, tmp / "images.npy", SIZE)
        cache_s = time.perf_counter() - t0
        images = open_cache(tmp / "images.npy")
        aug = BatchAugment(AUG, InputSpec(size=SIZE))
        gen = torch.Generator().manual_seed(0)

        def our_epoch():
            order = torch.randperm(len(images), generator=gen).numpy()
            n = 0
            for s in range(0, len(order), BATCH):
                b = np.sort(order[s : s + BATCH])
                x = aug(torch.from_numpy(np.ascontiguousarray(images[b])), gen)
                n += len(x)
            return n

        # interleaved epochs, so both paths see the same machine load
        pairs = [(rate(seed_epoch), rate(our_epoch)) for _ in range(args.epochs)]
        base = statistics.median(p[0] for p in pairs)
        ours = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(p[1] / p[0] for p in pairs)
        print(f"one-time cache build: {cache_s:.1f} s ({len(files) / cache_s:.0f} images/s)")
        print(f"seed-style PIL per sample (workers={args.workers}): {base:8.1f} images/s")
        print(f"ferbench cache + batched tensors:          {ours:8.1f} images/s")
        print(f"ratio (median of per-epoch ratios): {ratio:.1f}x")


if __name__ == "__main__":
    main()
