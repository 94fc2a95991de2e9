"""Where a training job's time goes, per phase, summed over epochs into ``metrics.json["profile"]``.

Host phases are timed with ``perf_counter``. CUDA kernels run asynchronously, so on a GPU the compute
phases (forward, backward, optimizer) are timed with CUDA events on the stream instead, read once per
epoch: no synchronisation inside the step. ``data`` is the time the loop waits for its next batch
(reading, augmenting and copying run one batch ahead in a background thread); on a CPU, ``other``
is the rest of the epoch (objective hooks, bookkeeping).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# per-epoch overhead: work an epoch does besides training on its batches. The epoch's log line is
# printed by the thread that writes the resume state (see resume.py), so logging costs the loop nothing.
OVERHEAD = ("eval", "checkpoint")
GPU_PHASES = ("forward", "backward", "optimizer")


class Profile:
    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.totals: dict[str, float] = defaultdict(float)
        self.epoch: dict[str, float] = defaultdict(float)
        self._events: list[tuple[str, torch.cuda.Event, torch.cuda.Event]] = []
        self.overhead_fractions: list[float] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self.cuda and name in GPU_PHASES:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self._events.append((name, start, end))
            return
        t0 = time.perf_counter()
        yield
        self.epoch[name] += time.perf_counter() - t0

    def wrap(self, name: str, items: Iterator) -> Iterator:
        """Yield from ``items``, timing each wait for the next one as phase ``name``."""
        it = iter(items)
        try:
            while True:
                with self.phase(name):
                    item = next(it, _END)
                if item is _END:
                    return
                yield item
        finally:
            if hasattr(it, "close"):
                it.close()

    def end_epoch(self, seconds: float) -> dict[str, float]:
        """Close an epoch of ``seconds`` wall time; returns its phases (seconds) and adds them to the totals."""
        if self._events:
            torch.cuda.synchronize()
            for name, start, end in self._events:
                self.epoch[name] += start.elapsed_time(end) / 1000
            self._events.clear()
        phases = dict(self.epoch)
        self.epoch.clear()
        if not self.cuda:  # on a GPU the phases overlap (asynchronous kernels): no remainder to speak of
            phases["other"] = max(0.0, seconds - sum(phases.values()))
        for k, v in phases.items():
            self.totals[k] += v
        self.totals["epoch"] += seconds
        self.overhead_fractions.append(sum(phases.get(k, 0.0) for k in OVERHEAD) / seconds if seconds else 0.0)
        return phases

    def add(self, name: str, seconds: float) -> None:
        """A phase outside the epochs (set-up, the final evaluation, writing the outputs)."""
        self.totals[name] += seconds

    def summary(self) -> dict[str, float | list[float]]:
        out: dict = {f"{k}_s": round(v, 3) for k, v in sorted(self.totals.items())}
        fr = self.overhead_fractions
        out["overhead_fraction_per_epoch"] = [round(f, 4) for f in fr]
        out["overhead_fraction_mean"] = round(sum(fr) / len(fr), 4) if fr else None
        out["overhead_phases"] = list(OVERHEAD)
        return out


_END = object()
