"""Shared fixtures: repository paths, the real data excerpts beside the checkout, a small demo set, a fold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ferbench.schemas import LABELS
from ferbench.splits import make_split
from ferbench.schemas import CLASSES_KEY

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real FER excerpts (read-only, never copied into the repo). CI clones with shared/ beside."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data excerpts not found at {SHARED_DATA}; clone the repository next to shared/")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """A 5-class demo set, 8 images per class, in the generic folder layout."""
    from ferbench.datasets.demo import synthesize

    out = tmp_path_factory.mktemp("demo_raw")
    synthesize(out, n_per_class=8, seed=3, size=160)
    return out


def write_fold(root: Path, images, labels, classes, protocol: str = "stratified", iteration: int = 0) -> Path:
    """The three inputs of a training job, as the workflow writes them, in ``root``: images.npy (uint8
    N×S×S×3), labels.parquet (LABELS schema, class list in its metadata), split.parquet."""
    root.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    n = len(labels)
    np.save(root / "images.npy", np.asarray(images, dtype=np.uint8))
    ids = [f"im{i:03d}" for i in range(n)]
    cols = {k: [None] * n for k in LABELS.names}
    cols.update(image_id=ids, path=[f"x/{i}.jpg" for i in ids], label=labels.tolist(),
                label_name=[classes[c] for c in labels])
    table = pa.table(cols, schema=LABELS).replace_schema_metadata({CLASSES_KEY: json.dumps(list(classes))})
    pq.write_table(table, root / "labels.parquet")
    split = make_split(pd.DataFrame({"image_id": ids, "label": labels}), protocol, iteration, 3)
    split["part"] = split["part"].astype(str)
    pq.write_table(pa.Table.from_pandas(split, preserve_index=False), root / "split.parquet")
    return root


@pytest.fixture(scope="session")
def fold_builder(tmp_path_factory):
    """``fold_builder(name, images, labels, classes)``: a folder holding a training job's inputs."""
    return lambda name, *args, **kw: write_fold(tmp_path_factory.mktemp(name), *args, **kw)
