"""Helpers shared by the dataset tests: label tables as the tables stage builds them, tiny images."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ferbench.datasets import AdapterResult


def label_frame(result: AdapterResult) -> pd.DataFrame:
    """The columns of ``labels.parquet`` that split protocols read, from an adapter's records."""
    recs = result.records
    return pd.DataFrame({
        "image_id": [r.image_id for r in recs],
        "label": [result.classes.index(r.label) for r in recs],
        "label_name": [r.label for r in recs],
        "split": [r.split for r in recs],
        "subject": [r.subject for r in recs],
    })


def reasons(result: AdapterResult) -> Counter:
    return Counter(e.reason for e in result.excluded)


def face(seed: int = 0, size: tuple[int, int] = (48, 48)) -> np.ndarray:
    """A textured RGB stand-in image (not blank, so it passes validation)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def write_image(path: Path, seed: int = 0, size: tuple[int, int] = (48, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(face(seed, size)).save(path)
    return path
