"""Training: cached images -> batched augmentation -> one loop for every model.

The names below are loaded on first use: jobs that only build the image cache (``ferbench.train.cache``)
do not pay for importing torch, timm and the model zoo (seconds per job).
"""

from __future__ import annotations

import importlib

_EXPORTS = {"TrainJob": ".job", "train": ".loop", "Preempted": ".resume"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
