"""Reading the files the DAG writes (see the file contracts) into the plain tables the figures take.

Every reader checks what a figure relies on and names the file when something is off.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image

from ..aggregate import collect, summary


@dataclass(frozen=True)
class Fold:
    """One finished fold: ``results/runs/{model}/{dataset}/{iteration}/`` with its metrics.json."""

    model: str
    dataset: str
    iteration: int
    classes: tuple[str, ...]
    best_epoch: int  # 1-based, as in metrics.json
    dir: Path


def read_folds(metric_files: Iterable[str | Path]) -> list[Fold]:
    """Folds from their metrics.json files (written last by a training job: the fold is complete)."""
    folds = []
    for f in metric_files:
        f = Path(f)
        m = json.loads(f.read_text())
        try:
            folds.append(
                Fold(
                    m["model"],
                    m["dataset"],
                    int(m["iteration"]),
                    tuple(m["classes"]),
                    int(m["best_epoch"]),
                    f.parent,
                )
            )
        except KeyError as e:
            raise KeyError(f"{f}: metrics.json has no {e.args[0]!r}") from None
    if not folds:
        raise ValueError("no finished folds given")
    return sorted(folds, key=lambda x: (x.model, x.dataset, x.iteration))


def common_classes(folds: Sequence[Fold]) -> tuple[str, ...]:
    """The class list shared by ``folds``; folds of one dataset must agree on it."""
    first = folds[0]
    for f in folds[1:]:
        if f.classes != first.classes:
            raise ValueError(
                f"{f.dir / 'metrics.json'}: classes {list(f.classes)} differ from "
                f"{list(first.classes)} in {first.dir / 'metrics.json'}"
            )
    return first.classes


def fold_predictions(fold: Fold, part: str = "test") -> pd.DataFrame:
    """The fold's predictions of ``part`` (image_id, true, predicted, prob_<class>...)."""
    path = fold.dir / "predictions.parquet"
    df = pq.read_table(path).to_pandas()
    missing = {"image_id", "part", "true", "predicted"} - set(df.columns)
    missing |= {f"prob_{c}" for c in fold.classes} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    df = df[df["part"] == part].reset_index(drop=True)
    k = len(fold.classes)
    for col in ("true", "predicted"):
        bad = df[(df[col] < 0) | (df[col] >= k)]
        if len(bad):
            raise ValueError(
                f"{path}: {col} label {int(bad[col].iloc[0])} of image {bad['image_id'].iloc[0]!r} "
                f"is outside 0..{k - 1} ({k} classes in metrics.json)"
            )
    if df.empty:
        raise ValueError(f"{path}: no rows with part == {part!r}")
    return df


def fold_history(fold: Fold) -> pd.DataFrame:
    """history.csv: one row per epoch; ``epoch`` is 0-based there, ``best_epoch`` 1-based."""
    path = fold.dir / "history.csv"
    df = pd.read_csv(path)
    missing = {"epoch", "train_loss", "val_accuracy"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    if not 1 <= fold.best_epoch <= len(df):
        raise ValueError(
            f"{fold.dir / 'metrics.json'}: best_epoch {fold.best_epoch} outside the "
            f"{len(df)} epochs of {path}"
        )
    return df


def read_labels(path: str | Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """labels.parquet and its class list (schema metadata ``ferbench.classes``)."""
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    if b"ferbench.classes" not in meta:
        raise ValueError(f"{path}: no class list in the schema metadata (key ferbench.classes)")
    return table.to_pandas(), tuple(json.loads(meta[b"ferbench.classes"]))


def read_manifests(paths: Iterable[str | Path], labels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split manifests by name (``{protocol}/{iteration}``); each must cover the label table exactly."""
    out = {}
    ids = set(labels["image_id"])
    for p in sorted(map(Path, paths)):
        df = pq.read_table(p, columns=["image_id", "part"]).to_pandas()
        if len(df) != len(ids) or set(df["image_id"]) != ids:
            raise ValueError(
                f"{p}: split manifest has {len(df)} rows that do not match the "
                f"{len(ids)} images of the label table"
            )
        out[f"{p.parent.name}/{p.stem}"] = df
    return out


def read_qc(path: str | Path) -> pd.DataFrame:
    return pq.read_table(path, columns=["image_id", "stage", "reason"]).to_pandas()


def read_summary(source: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """The per (dataset, model) summary: results/tables/summary.csv, or computed from metrics.json files
    exactly as the aggregation computes it."""
    if isinstance(source, (str, Path)):
        return pd.read_csv(source)
    return summary(collect(source))


def read_images(
    labels: pd.DataFrame,
    rows: Sequence[int],
    images_npy: str | Path | None = None,
    results_dir: str | Path | None = None,
) -> np.ndarray:
    """uint8 [B,S,S,3] of the label-table ``rows``: from the decoded cache images.npy (what the models saw)
    or, without it, from the aligned files (``labels.path`` is relative to the results folder)."""
    rows = np.asarray(rows, dtype=int)
    if images_npy is not None:
        arr = np.load(images_npy, mmap_mode="r")
        if len(arr) != len(labels):
            raise ValueError(f"{images_npy}: {len(arr)} images for {len(labels)} rows of the label table")
        return np.ascontiguousarray(arr[rows])
    if results_dir is None:
        raise ValueError("read_images needs images.npy or the results folder of the aligned files")
    out = []
    for r in rows:
        with Image.open(Path(results_dir) / labels["path"].iloc[r]) as im:
            out.append(np.asarray(im.convert("RGB")))
    return np.stack(out) if out else np.zeros((0, 1, 1, 3), np.uint8)
