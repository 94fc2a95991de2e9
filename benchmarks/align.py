"""Alignment throughput: the align stage's path (batched MTCNN in a process per core) vs one call per image.

Both run ``ferbench.align.align_dataset`` on the same records (decode, detect, warp, write the JPEG).
The baseline is facenet-pytorch's MTCNN as shipped (its ``detect``, its NCHW nets) called once per
image in one process (1 or 2 torch threads, the faster counts). Ours is what the align rule runs:
``ferbench.cascade`` (the same cascade with every crop taken at once, nets tuned for the CPU) on
batches of 32 in ``--workers`` processes of one torch thread each. Three more lines separate the
gains: facenet-pytorch batched, ours per image, ours batched in one process. Detections must agree
with both per-image lines: the same images found, landmarks within 1 px, except that facenet-pytorch
keeps an arbitrary one of two candidates that tie at a face probability of 1.0 (see
``cascade._min_nms``), so a few photos with such a tie differ from it by a pixel or two. Every line is timed after one untimed pass over the
same images in the parent, so that all start with oneDNN's kernels for these shapes built (forked
workers inherit them).

Two cases: the demo's synthesised faces (160 px, one face each) and real web photos with several
faces: ExpW's original images (``../shared/data/expw/Images``) reduced to 640 px on their longer side,
aligned on their most confident face (skipped when the folder is absent).

    python benchmarks/align.py [--images 200] [--photos 40] [--workers 2]

The last line is the demo case's ratio: ``speedup X.X×``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from _images import raw_demo
from ferbench.align import AlignConfig, FaceAligner, align_dataset
from ferbench.datasets import SourceRecord
from ferbench.images import load_rgb

ROOT = Path(__file__).resolve().parents[1]
EXPW = ROOT.parent / "shared" / "data" / "expw" / "Images"


def web_photos(folder: Path, n: int, side: int = 640) -> list[SourceRecord]:
    """ExpW photos at least ``side`` px long, reduced to ``side`` px on their longer side, as JPEG files."""
    folder.mkdir(parents=True)
    records = []
    for f in sorted(EXPW.glob("*.jpg")):
        img = Image.open(f).convert("RGB")
        if max(img.size) < side:
            continue
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
        img.save(folder / f.name, quality=95)
        records.append(SourceRecord(f.stem, "x", lambda p=folder / f.name: load_rgb(p), f.name))
        if len(records) == n:
            break
    return records


def _facenet_detect(self, batch):
    """facenet-pytorch's own cascade (``MTCNN.detect``), most confident face first."""
    with torch.inference_mode():
        boxes, probs, points = self.mtcnn.detect(batch, landmarks=True)
    out = []
    for b, p, pts in zip(boxes, probs, points):
        if b is None:
            out.append((np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))))
            continue
        order = np.argsort(-np.asarray(p, dtype=np.float64), kind="stable")
        out.append((b[order], np.asarray(p)[order], pts[order]))
    return out


@contextlib.contextmanager
def shipped():
    """MTCNN as a user gets it from facenet-pytorch: its cascade, its nets as they load (NCHW)."""
    tune, detect = FaceAligner._channels_last_nets, FaceAligner._detect_batch
    FaceAligner._channels_last_nets = lambda self: None
    FaceAligner._detect_batch = _facenet_detect
    try:
        yield
    finally:
        FaceAligner._channels_last_nets, FaceAligner._detect_batch = tune, detect


def timed(records, folder: Path, batch: int, workers: int, threads: int, facenet: bool):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    with shipped() if facenet else contextlib.nullcontext():
        table = align_dataset(records, folder, "images", AlignConfig(size=112, batch_size=batch), workers=workers,
                              desc=f"batch {batch}, {workers} process(es)")
    return time.perf_counter() - t0, table


def agreement(a, b) -> tuple[int, float, int]:
    """Images found by both or neither, the largest landmark difference (px) where both found one, and
    how many images differ by more than 1 px."""
    same, worst, over = 0, 0.0, 0
    for x, y in zip(a.column("landmarks").to_pylist(), b.column("landmarks").to_pylist()):
        same += (x is None) == (y is None)
        if x is not None and y is not None:
            d = float(np.abs(np.subtract(x, y)).max())
            worst, over = max(worst, d), over + (d > 1)
    return same, worst, over


def case(name: str, records, tmp: Path, workers: int) -> float:
    """Every configuration on ``records``; returns ours over the faster per-image baseline."""
    n = len(records)
    print(f"{name}: {n} images", flush=True)
    # oneDNN builds a kernel per new tensor shape, and forked workers inherit the parent's: one untimed
    # pass first, so no line pays (or, forked after it, escapes) the build-up that the others do not
    timed(records, tmp / f"{name[:4]}_warm", 32, 1, 1, False)
    configs = {"one call per image, facenet-pytorch (1 process, torch threads 1)": (1, 1, 1, True),
               "one call per image, facenet-pytorch (1 process, torch threads 2)": (1, 1, 2, True),
               "batched 32, facenet-pytorch (1 process, torch threads 2)": (32, 1, 2, True),
               "one call per image, ours (1 process, torch threads 1)": (1, 1, 1, False),
               "batched 32, ours (1 process, torch threads 2)": (32, 1, 2, False),
               f"batched 32, ours ({workers} processes, torch threads 1)": (32, workers, 1, False)}
    runs = {label: timed(records, tmp / f"{name[:4]}_{b}_{w}_{t}_{s}", b, w, t, s)
            for label, (b, w, t, s) in configs.items()}
    ours = runs[list(configs)[-1]]
    base = min(list(runs.values())[:2], key=lambda run: run[0])
    for label, (t, _) in runs.items():
        print(f"  {label:<70}{n / t:7.1f} images/s   ratio {base[0] / t:.1f}x")
    print("  ratios over the faster per-image line")
    for other, label in ((base, "facenet-pytorch per image"), (runs[list(configs)[3]], "ours per image")):
        same, worst, over = agreement(other[1], ours[1])
        print(f"  ours vs {label}: same detections {same}/{n}, largest landmark difference {worst:.2f} px, "
              f"{over} images over 1 px", flush=True)
    return base[0] / ours[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if EXPW.is_dir() and args.photos:
            photos = web_photos(tmp / "expw", args.photos)
            case("ExpW web photos, 640 px, several faces", photos, tmp, args.workers)
        demo = raw_demo(tmp / "demo", max(1, args.images // 5))
        speedup = case("demo faces, 160 px", demo, tmp, args.workers)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"speedup {speedup:.1f}×")


if __name__ == "__main__":
    main()
