"""The benchmark grid of a config: which (model, dataset, iteration) folds exist, and their files.

Everything the DAG and the aggregation need to know about the grid is derived here from the merged
config, once, without reading any data file, so a dry run stays fast however large the grid is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import config as fc
from . import layout
from .io import write_text


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

    def sync_file(self, path: str | Path) -> bool:
        """Write the grid to ``path`` unless it already holds it; True if written.

        Snakemake reruns a job when an input is newer than its outputs. The aggregation takes this file
        as an input, so a grown, shrunk or switched grid reruns it (and, through it, trains exactly the
        missing folds) even without Snakemake's metadata, e.g. in a results folder handed over; an
        unchanged grid keeps the file's old modification time.
        """
        text = json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n"
        path = Path(path)
        if path.is_file() and path.read_text() == text:
            return False
        write_text(path, text)
        return True

    def fold_dirs(self, root: str | Path = layout.RESULTS) -> list[str]:
        """For every fold, the deepest of its folder and that folder's parents that exists now.

        Deleting a file or folder updates the modification time of the folder holding it, so with
        these as inputs, the aggregation reruns (and retrains the fold) after a fold's outputs were
        deleted; Snakemake alone regenerates a missing intermediate file only when a job downstream
        has another reason to run.
        """
        out = set()
        runs = Path(root) / layout.FOLD.split("/")[0]
        for m, d, i in self.folds():
            fold = layout.path(root, layout.FOLD, model=m, dataset=d, iteration=i)
            existing = next((p for p in (fold, fold.parent, fold.parent.parent, runs) if p.is_dir()), None)
            if existing is not None:
                out.add(str(existing))
        return sorted(out)
