"""Alignment throughput: batched MTCNN (ferbench) vs one MTCNN call per image, on the same demo faces.

    python benchmarks/align.py [--images 200] [--batch 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _images import raw_demo
from ferbench.align import AlignConfig, FaceAligner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        imgs = [r.load() for r in raw_demo(Path(tmp), max(1, args.images // 5))]
    aligner = FaceAligner(AlignConfig(batch_size=args.batch))
    aligner.detect(imgs[:4])  # warm-up

    t0 = time.perf_counter()
    batched = aligner.detect(imgs)
    t_batched = time.perf_counter() - t0

    t0 = time.perf_counter()
    single = [aligner.detect([im])[0] for im in imgs]
    t_single = time.perf_counter() - t0

    same = sum((a is None) == (b is None) and (a is None or np.allclose(a[2], b[2], atol=1.0)) for a, b in zip(batched, single))
    print(f"{len(imgs)} images of {imgs[0].shape[1]}x{imgs[0].shape[0]} px, batch {args.batch}, torch threads 2")
    print(f"one call per image: {len(imgs) / t_single:7.1f} images/s")
    print(f"batched MTCNN:      {len(imgs) / t_batched:7.1f} images/s")
    print(f"ratio: {t_single / t_batched:.1f}x   (same detections within 1 px: {same}/{len(imgs)})")


if __name__ == "__main__":
    main()
