"""Explicit pyarrow schemas of every Parquet file the pipeline writes."""

from __future__ import annotations

import pyarrow as pa

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

QC = pa.schema(
    [
        ("image_id", pa.string()),
        ("source", pa.string()),
        ("stage", pa.string()),  # adapter | load | align | labels
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)

SPLIT = pa.schema([("image_id", pa.string()), ("part", pa.string())])

PREDICTIONS_BASE = [
    ("image_id", pa.string()),
    ("part", pa.string()),  # val | test
    ("true", pa.int16()),
    ("predicted", pa.int16()),
]


def predictions(class_names: list[str]) -> pa.Schema:
    return pa.schema(PREDICTIONS_BASE + [(f"prob_{c}", pa.float32()) for c in class_names])
