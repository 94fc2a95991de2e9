"""The files of the DAG: each Parquet file's explicit pyarrow schema next to its one reader and writer.

Stages never call ``pq.write_table``/``pq.read_table`` on a DAG file themselves: they go through the
pair below, so a file's layout (columns, types, metadata such as the class list) is defined once.
Writes are atomic (``ferbench.io``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .io import write_with

_BOX = pa.list_(pa.float32(), 4)
_POINTS = pa.list_(pa.float32(), 10)  # 5 (x, y) landmarks: eyes, nose, mouth corners

ALIGNMENT = pa.schema(
    [
        ("image_id", pa.string()),
        ("path", pa.string()),  # aligned image, relative to the results folder; null if excluded
        ("method", pa.string()),  # mtcnn | dataset_landmarks | center_fallback | prealigned
        ("detected", pa.bool_()),
        ("score", pa.float32()),
        ("box", _BOX),
        ("landmarks", _POINTS),
        ("aligned_landmarks", _POINTS),
        ("reason", pa.string()),  # exclusion reason; null if kept
        ("detail", pa.string()),
    ]
)

LABELS = pa.schema(
    [
        ("image_id", pa.string()),
        ("path", pa.string()),
        ("label", pa.int16()),
        ("label_name", pa.string()),
        ("split", pa.string()),  # official split when the dataset has one
        ("subject", pa.string()),
        ("source", pa.string()),
        ("soft_label", pa.list_(pa.float32())),
        ("method", pa.string()),
        ("detected", pa.bool_()),
        ("score", pa.float32()),
        ("box", _BOX),
        ("landmarks", _POINTS),
        ("aligned_landmarks", _POINTS),
    ]
)
# The label table's class list (index = integer label), as JSON in the schema metadata.
CLASSES_KEY = b"ferbench.classes"

QC = pa.schema(
    [
        ("image_id", pa.string()),
        ("source", pa.string()),
        ("stage", pa.string()),  # adapter | load | align | labels
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)

PARTS = ("train", "val", "test")
SPLIT = pa.schema([("image_id", pa.string()), ("part", pa.string())])
# Split metadata: the protocol and, for kfold, the number of folds the manifest was cut for.
SPLIT_KEY = b"ferbench.split"

PREDICTIONS_BASE = [
    ("image_id", pa.string()),
    ("part", pa.string()),  # val | test
    ("true", pa.int16()),
    ("predicted", pa.int16()),
]


def predictions(class_names: Sequence[str]) -> pa.Schema:
    return pa.schema(PREDICTIONS_BASE + [(f"prob_{c}", pa.float32()) for c in class_names])


def _write(path: str | Path, table: pa.Table) -> Path:
    return write_with(path, lambda p: pq.write_table(table, p))


# -- alignment -----------------------------------------------------------------------------------------
def write_alignment(path: str | Path, table: pa.Table) -> Path:
    return _write(path, table.cast(ALIGNMENT))


def read_alignment(path: str | Path) -> pa.Table:
    return pq.read_table(path, schema=ALIGNMENT)


# -- label table and QC table --------------------------------------------------------------------------
def write_label_table(path: str | Path, table: pa.Table, classes: Sequence[str]) -> Path:
    table = table.cast(LABELS).replace_schema_metadata({CLASSES_KEY: json.dumps(list(classes))})
    return _write(path, table)


def read_classes(path: str | Path) -> list[str]:
    meta = pq.read_schema(path).metadata or {}
    if CLASSES_KEY not in meta:
        raise ValueError(f"{path}: no class list in the schema metadata; rebuild the label table")
    return json.loads(meta[CLASSES_KEY])


def read_label_table(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    return pq.read_table(path, columns=list(columns) if columns else None).to_pandas()


def write_qc(path: str | Path, table: pa.Table) -> Path:
    return _write(path, table.cast(QC))


def read_qc(path: str | Path) -> pd.DataFrame:
    return pq.read_table(path, schema=QC).to_pandas()


# -- split manifests -----------------------------------------------------------------------------------
def write_split(path: str | Path, manifest: pd.DataFrame, protocol: str, folds: int | None = None) -> Path:
    """``manifest``: image_id and part (train/val/test) for every label-table row, in its order."""
    bad = set(manifest["part"].astype(str)) - set(PARTS)
    if bad:
        raise ValueError(f"{path}: split parts {sorted(bad)} are not {PARTS}")
    table = pa.table({"image_id": manifest["image_id"].astype(str).tolist(),
                      "part": manifest["part"].astype(str).tolist()}, schema=SPLIT)
    meta = {"protocol": protocol} | ({"folds": folds} if folds is not None else {})
    return _write(path, table.replace_schema_metadata({SPLIT_KEY: json.dumps(meta)}))


def read_split(path: str | Path) -> pd.DataFrame:
    return pq.read_table(path, schema=SPLIT).to_pandas()


def read_split_meta(path: str | Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[SPLIT_KEY]) if SPLIT_KEY in meta else {}


# -- predictions of a fold -----------------------------------------------------------------------------
def write_predictions(path: str | Path, columns: dict[str, list], classes: Sequence[str]) -> Path:
    return _write(path, pa.table(columns, schema=predictions(classes)))



def read_predictions(path: str | Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()
