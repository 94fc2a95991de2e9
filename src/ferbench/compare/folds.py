"""Fold results as tables: one row per fold (scores) and one row per test image and fold (correctness).

A fold is ``results/runs/{model}/{dataset}/{iteration}/``; its ``metrics.json`` and ``predictions.parquet``
follow the contracts in docs/design.md. Anything that breaks the pairing the comparison relies on (two
models with different train/test sizes or different test images for the same split) is an error naming
the files, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..aggregate import collect
from ..layout import TABLE_METRICS as METRICS

FOLD_KEYS = ("model", "dataset", "iteration", "n_train", "n_test", *METRICS.values())


def load_folds(metric_files: Sequence[str | Path]) -> pd.DataFrame:
    """One row per fold: model, dataset, iteration, n_train, n_test, accuracy, balanced_accuracy, path."""
    if not metric_files:
        raise ValueError("no folds to compare: the list of metrics.json files is empty")
    folds = collect(metric_files, FOLD_KEYS).rename(columns={v: k for k, v in METRICS.items()})
    folds[list(METRICS)] = folds[list(METRICS)].astype(float)
    dup = folds[folds.duplicated(["model", "dataset", "iteration"], keep=False)]
    if len(dup):
        raise ValueError(f"the same (model, dataset, iteration) appears twice: {', '.join(dup['path'])}")
    _check_same_split_sizes(folds)
    return folds


def _check_same_split_sizes(folds: pd.DataFrame) -> None:
    """Models that share a (dataset, iteration) split must report the same train and test sizes."""
    sizes = folds.groupby(["dataset", "iteration"])[["n_train", "n_test"]].nunique()
    bad = sizes[(sizes > 1).any(axis=1)]
    if len(bad):
        d, it = bad.index[0]
        sel = folds[(folds["dataset"] == d) & (folds["iteration"] == it)]
        detail = "; ".join(f"{r.path}: n_train={r.n_train}, n_test={r.n_test}" for r in sel.itertuples())
        raise ValueError(f"models disagree on the split of {d} iteration {it}, so they are not paired: "
                         f"{detail}")


def load_test_correctness(prediction_files: Sequence[str | Path], folds: pd.DataFrame) -> pd.DataFrame:
    """One row per (fold, test image): model, dataset, iteration, image_id, true, correct.

    Each predictions.parquet is matched to the fold whose metrics.json sits in the same folder, and its
    number of test rows must equal that fold's ``n_test``.
    """
    by_dir = folds.set_index("path")
    parts = []
    for f in prediction_files:
        folder = str(Path(f).parent)
        if folder not in by_dir.index:
            raise ValueError(f"{f}: no metrics.json of the same fold among the inputs")
        fold = by_dir.loc[folder]
        t = pq.read_table(f, columns=["image_id", "part", "true", "predicted"]).to_pandas()
        t = t[t["part"] == "test"]
        if len(t) != fold["n_test"]:
            raise ValueError(f"{f}: {len(t)} test rows, but metrics.json says n_test={fold['n_test']}")
        if t["image_id"].duplicated().any():
            repeated = t["image_id"][t["image_id"].duplicated()].iloc[0]
            raise ValueError(f"{f}: test image ids repeat, e.g. {repeated!r}")
        parts.append(pd.DataFrame({
            "model": fold["model"], "dataset": fold["dataset"], "iteration": fold["iteration"],
            "image_id": t["image_id"].to_numpy(), "true": t["true"].to_numpy(),
            "correct": (t["true"] == t["predicted"]).to_numpy(),
        }))
    if not parts:
        return pd.DataFrame(columns=["model", "dataset", "iteration", "image_id", "true", "correct"])
    return pd.concat(parts, ignore_index=True)
