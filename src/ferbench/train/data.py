"""A fold's data: the label table's classes and labels, the split's parts, the image cache, and batches.

Training batches are read and augmented one step ahead in a background thread (:class:`Prefetch`)
while the model runs: reading the memory map, PIL's warps and torch's kernels release the GIL.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from ..schemas import PARTS, read_classes, read_label_table, read_split
from .cache import open_cache, read_batch


class FoldData:
    """Image ids, integer labels and row indices per part, and the memory-mapped image cache."""

    def __init__(self, labels_path: Path, split_path: Path, cache_path: Path):
        self.classes = read_classes(labels_path)
        labels = read_label_table(labels_path, columns=["image_id", "label"])
        split = read_split(split_path)
        if len(split) != len(labels) or not (split["image_id"].to_numpy() == labels["image_id"].to_numpy()).all():
            raise ValueError(f"{split_path} does not list the rows of {labels_path} in order; rebuild the split")
        self.ids = labels["image_id"].to_numpy()
        self.y = labels["label"].to_numpy().astype(np.int64)
        parts = split["part"].astype(str).to_numpy()
        self.idx = {p: np.flatnonzero(parts == p) for p in PARTS}
        for p, ix in self.idx.items():
            if len(ix) == 0:
                raise ValueError(f"{split_path}: the {p} part is empty")
        self.images = open_cache(cache_path)
        if len(self.images) != len(self.y):
            raise ValueError(f"{cache_path} has {len(self.images)} images but {labels_path} has {len(self.y)} rows")

    def class_counts(self, part: str) -> list[int]:
        return np.bincount(self.y[self.idx[part]], minlength=len(self.classes)).tolist()

    def batches(self, part: str, batch_size: int, gen: torch.Generator | None = None,
                pin_memory: bool = False) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        """``(rows, uint8 NHWC images, int64 labels)``; shuffled by ``gen`` for training, in table order
        without it. A last training batch of one sample is dropped (BatchNorm cannot train on it)."""
        ix = self.idx[part]
        if gen is not None:
            ix = ix[torch.randperm(len(ix), generator=gen).numpy()]
        for start in range(0, len(ix), batch_size):
            # Order inside a batch does not matter to the loss; sorted rows read the memory map sequentially
            rows = np.sort(ix[start : start + batch_size])
            if gen is not None and len(rows) < 2:
                continue
            yield rows, read_batch(self.images, rows, pin_memory), torch.from_numpy(self.y[rows])


class Prefetch:
    """Iterate ``make()`` in a background thread, ``depth`` items ahead of the consumer.

    Exceptions of the producer are raised in the consumer; closing (or leaving a ``for`` loop early)
    stops the producer at its next item.
    """

    _END = object()

    def __init__(self, make: Callable[[], Iterator], depth: int = 1):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(make,), daemon=True, name="ferbench-prefetch")
        self._thread.start()

    def _run(self, make: Callable[[], Iterator]) -> None:
        try:
            for item in make():
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as e:  # handed to the consumer
            self._put(e)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        try:
            while True:
                item = self._queue.get()
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
