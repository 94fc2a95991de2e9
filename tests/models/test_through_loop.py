"""Every model trains one epoch through the real training loop (hooks, extra views, input spec, metrics)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from zoo_helpers import HEAVY

from ferbench.models import list_models
from ferbench.schemas import LABELS
from ferbench.splits import make_split
from ferbench.train import TrainJob, train
from ferbench.train.loop import CLASSES_KEY

CLASSES = ["a", "b", "c"]
RECIPE = {"optimizer": "adam", "lr": 1e-4, "scheduler": "none", "epochs": 1, "patience": 1, "batch_size": 6,
          "augment": {"hflip": 0.5}}


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    """30 random 32-px images, 3 classes, stratified 60/20/20: the loop resizes them to each model's input."""
    root = tmp_path_factory.mktemp("fold")
    n = 30
    y = np.arange(n) % 3
    np.save(root / "images.npy", np.random.default_rng(0).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8))
    ids = [f"im{i:03d}" for i in range(n)]
    cols = {k: [None] * n for k in LABELS.names}
    cols.update(image_id=ids, path=[f"x/{i}.jpg" for i in ids], label=y.tolist(),
                label_name=[CLASSES[c] for c in y])
    table = pa.table(cols, schema=LABELS).replace_schema_metadata({CLASSES_KEY: json.dumps(CLASSES)})
    pq.write_table(table, root / "labels.parquet")
    split = make_split(pd.DataFrame({"image_id": ids, "label": y}), "stratified", 0, 3)
    split["part"] = split["part"].astype(str)
    pq.write_table(pa.Table.from_pandas(split, preserve_index=False), root / "split.parquet")
    return root


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n
                                  for n in list_models()])
def test_one_epoch_through_the_loop(fold, tmp_path, name):
    job = TrainJob(model=name, dataset="toy", iteration=0, labels=fold / "labels.parquet",
                   split=fold / "split.parquet", cache=fold / "images.npy", out_dir=tmp_path / "run",
                   resume_path=tmp_path / "resume" / "state.pt", recipe=RECIPE, threads=1, device="cpu")
    metrics = train(job)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    history = (tmp_path / "run" / "history.csv").read_text()
    assert "train_loss" in history
