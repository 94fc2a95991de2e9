"""The decoded-image cache: every aligned image of a dataset decoded once into one uint8 array.

``images.npy`` holds ``N×size×size×3`` uint8 in label-table order; training jobs memory-map it,
so no job decodes a JPEG or runs PIL per sample per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq
from PIL import Image
from tqdm import tqdm

from ..io import atomic_path

if TYPE_CHECKING:
    import torch

Transform = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


def build_cache(labels_path: str | Path, results_dir: str | Path, out_path: str | Path, size: int,
                transform: Transform | None = None) -> Path:
    """Decode, optionally transform (face-region variants) and resize every image of the label table."""
    table = pq.read_table(labels_path, columns=["path", "aligned_landmarks"])
    paths = table.column("path").to_pylist()
    landmarks = table.column("aligned_landmarks").to_pylist()
    results_dir = Path(results_dir)
    with atomic_path(out_path) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
        for i, (rel, lm) in enumerate(tqdm(list(zip(paths, landmarks)), desc=f"cache {size}px", unit="img",
                                            mininterval=2.0)):
            with Image.open(results_dir / rel) as im:
                img = np.asarray(im.convert("RGB"))
            if transform is not None:
                pts = np.asarray(lm, dtype=np.float64).reshape(5, 2) if lm is not None else None
                img = transform(img, pts)
            if img.shape[:2] != (size, size):
                img = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))
            arr[i] = img
        arr.flush()
        del arr
    return Path(out_path)


def open_cache(path: str | Path) -> np.ndarray:
    return np.load(path, mmap_mode="r")


def read_batch(images: np.ndarray, rows: np.ndarray, pin_memory: bool = False) -> torch.Tensor:
    """The cached images of ``rows`` (sorted: the memory map is read sequentially) as uint8 NHWC, in a
    fresh tensor the caller owns; in page-locked memory when ``pin_memory`` (for asynchronous copies to
    a GPU)."""
    if len(rows) > 1 and (np.diff(rows) < 0).any():
        raise ValueError("read_batch takes rows in increasing order")
    import torch  # here: the cache builder needs no torch

    batch = torch.from_numpy(np.ascontiguousarray(images[rows]))  # numpy's gather: faster than np.take(out=)
    return batch.pin_memory() if pin_memory else batch
