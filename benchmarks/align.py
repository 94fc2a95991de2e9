"""Alignment throughput: the align stage's path (batched MTCNN in a process per core) vs one call per image.

Both run ``ferbench.align.align_dataset`` on the same records (decode, detect, warp, write the JPEG):
the baseline with batches of one image in one process (1 or 2 torch threads, the faster counts) and
facenet-pytorch's nets as shipped, ours with batches of 32 in ``--workers`` processes of one
torch thread each and the nets tuned for the CPU (``ferbench.mtcnn_cpu``: channels-last, PReLU read as
image rows), which is what the align rule runs. Two more lines separate the
gains: the per-image path with tuned nets, and the batched path in one process with 2 torch
threads. Detections must agree: the same images found, landmarks within 1 px. Every line is timed
after one untimed pass over the same images in the parent, so that all start with oneDNN's kernels
for these shapes built (forked workers inherit them).

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


@contextlib.contextmanager
def shipped_nets():
    """facenet-pytorch's MTCNN as a user gets it: NCHW nets with PyTorch's PReLU (no ``tune_for_cpu``)."""
    tune = FaceAligner._tune_nets
    FaceAligner._tune_nets = lambda self: None
    try:
        yield
    finally:
        FaceAligner._tune_nets = tune


def timed(records, folder: Path, batch: int, workers: int, threads: int, shipped: bool):
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    with shipped_nets() if shipped else contextlib.nullcontext():
        table = align_dataset(records, folder, "images", AlignConfig(size=112, batch_size=batch), workers=workers,
                              desc=f"batch {batch}, {workers} process(es)")
    return time.perf_counter() - t0, table


def agreement(a, b) -> tuple[int, float]:
    """Images found by both or neither, and the largest landmark difference (px) where both found one."""
    same, worst = 0, 0.0
    for x, y in zip(a.column("landmarks").to_pylist(), b.column("landmarks").to_pylist()):
        same += (x is None) == (y is None)
        if x is not None and y is not None:
            worst = max(worst, float(np.abs(np.subtract(x, y)).max()))
    return same, worst


def case(name: str, records, tmp: Path, workers: int) -> float:
    """Every configuration on ``records``; returns ours over the faster per-image baseline."""
    n = len(records)
    print(f"{name}: {n} images", flush=True)
    # oneDNN builds a kernel per new tensor shape, and forked workers inherit the parent's: one untimed
    # pass first, so no line pays (or, forked after it, escapes) the build-up that the others do not
    timed(records, tmp / f"{name[:4]}_warm", 32, 1, 1, False)
    configs = {"one call per image, shipped nets (1 process, torch threads 1)": (1, 1, 1, True),
               "one call per image, shipped nets (1 process, torch threads 2)": (1, 1, 2, True),
               "one call per image, tuned nets (1 process, torch threads 1)": (1, 1, 1, False),
               "batched 32, tuned nets (1 process, torch threads 2)": (32, 1, 2, False),
               f"batched 32, tuned nets ({workers} processes, torch threads 1): ours": (32, workers, 1, False)}
    runs = {label: timed(records, tmp / f"{name[:4]}_{b}_{w}_{t}_{s}", b, w, t, s)
            for label, (b, w, t, s) in configs.items()}
    ours = runs[list(configs)[-1]]
    base = min(list(runs.values())[:2], key=lambda run: run[0])
    for label, (t, _) in runs.items():
        print(f"  {label:<70}{n / t:7.1f} images/s   ratio {base[0] / t:.1f}x")
    same, worst = agreement(base[1], ours[1])
    print(f"  ratios over the faster per-image line; same detections: {same}/{n}; largest landmark "
          f"difference {worst:.2f} px", flush=True)
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
