"""The benchmark grid of a config: which (model, dataset, iteration) folds exist, and their files.

Everything the DAG and the aggregation need to know about the grid is derived here from the merged
config, once, without reading any data file, so a dry run stays fast however large the grid is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import config as fc
from . import layout


@dataclass(frozen=True)
class Grid:
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    iterations: int
    protocols: tuple[tuple[str, str], ...]  # (dataset, protocol), in dataset order

    @classmethod
    def from_config(cls, cfg: Mapping) -> Grid:
        b = cfg["benchmark"]
        datasets = tuple(b["datasets"])
        return cls(datasets, tuple(b["models"]), int(b["iterations"]),
                   tuple((d, fc.protocol(cfg, d)) for d in datasets))

    def protocol(self, dataset: str) -> str:
        return dict(self.protocols)[dataset]

    def folds(self) -> Iterator[tuple[str, str, int]]:
        for model in self.models:
            for dataset in self.datasets:
                for iteration in range(self.iterations):
                    yield model, dataset, iteration

    def cells(self) -> Iterator[tuple[str, str]]:
        for model in self.models:
            for dataset in self.datasets:
                yield model, dataset

    def fold_files(self, pattern: str, root: str | Path = layout.RESULTS, model: str | None = None,
                   dataset: str | None = None) -> list[str]:
        """``pattern`` (e.g. ``layout.METRICS``) for every fold, or those of one model and/or dataset."""
        return [str(layout.path(root, pattern, model=m, dataset=d, iteration=i)) for m, d, i in self.folds()
                if model in (None, m) and dataset in (None, d)]

    def as_dict(self) -> dict:
        return {"datasets": list(self.datasets), "models": list(self.models), "iterations": self.iterations,
                "protocols": dict(self.protocols)}
