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

# Protocols whose splits depend on the benchmark's iteration count (``ferbench.splits`` passes it to them
# as ``folds``). Here rather than in ferbench.splits so that the DAG reads it without importing sklearn.
COUNT_DEPENDENT = frozenset({"kfold"})


@dataclass(frozen=True)
class Grid:
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    iterations: int
    protocols: tuple[tuple[str, str], ...]  # (dataset, protocol), in dataset order
    # cross-dataset evaluation (benchmark.cross_dataset): datasets trained on, datasets tested on
    cross_train: tuple[str, ...] = ()
    cross_test: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: Mapping) -> Grid:
        b = cfg["benchmark"]
        datasets = tuple(b["datasets"])
        cross = b.get("cross_dataset") or {}
        train = datasets if cross.get("train", "all") == "all" else tuple(cross["train"])
        test = datasets if cross.get("test", "all") == "all" else tuple(cross["test"])
        if cross:
            outside = [d for d in train if d not in datasets]
            if outside:
                raise KeyError(f"benchmark.cross_dataset.train lists {outside}, which are not in "
                               f"benchmark.datasets {list(datasets)}: only trained datasets have checkpoints")
            for d in test:
                fc.dataset_entry(cfg, d)
        else:
            train, test = (), ()
        return cls(datasets, tuple(b["models"]), int(b["iterations"]),
                   tuple((d, fc.protocol(cfg, d)) for d in datasets), train, test)

    @classmethod
    def from_dict(cls, d: Mapping) -> Grid:
        """The inverse of :meth:`as_dict` (e.g. the ``grid`` of a results folder's provenance.json)."""
        datasets = tuple(d["datasets"])
        cross = d.get("cross_dataset") or {}
        return cls(datasets, tuple(d["models"]), int(d["iterations"]),
                   tuple((ds, d["protocols"][ds]) for ds in datasets),
                   tuple(cross.get("train") or ()), tuple(cross.get("test") or ()))

    def protocol(self, dataset: str) -> str:
        return dict(self.protocols)[dataset]

    @property
    def label_datasets(self) -> tuple[str, ...]:
        """Every dataset that needs a label table and an image cache: trained ones and test-only ones."""
        return tuple(dict.fromkeys(self.datasets + self.cross_test))

    def cross_jobs(self) -> Iterator[tuple[str, str, str, int]]:
        """(model, train dataset, test dataset, iteration) of every cross-dataset evaluation."""
        for model in self.models:
            for train in self.cross_train:
                for test in self.cross_test:
                    if test != train:
                        for iteration in range(self.iterations):
                            yield model, train, test, iteration

    def cross_files(self, pattern: str, root: str | Path = layout.RESULTS) -> list[str]:
        return [str(layout.path(root, pattern, model=m, train=tr, test=te, iteration=i))
                for m, tr, te, i in self.cross_jobs()]

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
        """``pattern`` (e.g. ``layout.METRICS``) for every fold, or those of one model and/or dataset.

        Called by input functions once per job: the selection costs the folds it returns, not the grid's."""
        models = [m for m in self.models if model in (None, m)]
        datasets = [d for d in self.datasets if dataset in (None, d)]
        root = Path(root)
        prefix = "" if root == Path(".") else f"{root}/"  # what layout.path gives, without a Path per fold
        return [prefix + pattern.format(model=m, dataset=d, iteration=i)
                for m in models for d in datasets for i in range(self.iterations)]

    def sealed_files(self, root: str | Path = layout.RESULTS) -> list[str]:
        """Every file the tables are built from: what ``MANIFEST.sha256`` lists."""
        data = [str(layout.path(root, p, dataset=d)) for d in self.label_datasets
                for p in (layout.LABELS, layout.QC, layout.DATA_SUMMARY)]
        splits = [str(layout.path(root, layout.SPLIT, dataset=d, protocol=self.protocol(d), iteration=i))
                  for d in self.datasets for i in range(self.iterations)]
        folds = [f for p in layout.FOLD_FILES for f in self.fold_files(p, root)]
        cross = [f for p in (layout.CROSS_METRICS, layout.CROSS_PREDICTIONS)
                 for f in self.cross_files(p, root)]
        aggregated = [str(Path(root) / p) for p in (layout.GRID, layout.SUMMARY, layout.PROVENANCE)]
        best = [str(layout.path(root, p, model=m, dataset=d)) for m, d in self.cells()
                for p in (layout.BEST_CARD, layout.BEST_CHECKPOINT)]
        return data + splits + folds + cross + aggregated + best

    def as_dict(self) -> dict:
        return {"datasets": list(self.datasets), "models": list(self.models), "iterations": self.iterations,
                "protocols": dict(self.protocols),
                "cross_dataset": {"train": list(self.cross_train), "test": list(self.cross_test)}}

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
        """Every fold's folder, created when missing (at parse time, like ``grid.json``).

        Deleting a file or a folder updates the modification time of the folder that held it. With
        the fold folders as inputs, the aggregation reruns (and retrains the fold) after a fold's
        outputs were deleted; Snakemake alone regenerates a missing intermediate file only when a job
        downstream has another reason to run. Creating the folders up front keeps this input list the
        same before and after the folds are trained, so it never changes by itself.
        """
        out = []
        for m, d, i in self.folds():
            fold = layout.path(root, layout.FOLD, model=m, dataset=d, iteration=i)
            fold.mkdir(parents=True, exist_ok=True)
            out.append(str(fold))
        return out
