import json
import os
import signal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from ferbench.models import create_model
from ferbench.models.base import CrossEntropyObjective
from ferbench.schemas import LABELS
from ferbench.splits import make_split
from ferbench.train import InjectedFault, Preempted, TrainJob, train
from ferbench.train.loop import CLASSES_KEY

CLASSES = ["red", "green", "blue"]
RECIPE = {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4, "scheduler": "cosine", "epochs": 4,
          "patience": 10, "batch_size": 16, "augment": {"hflip": 0.5, "erasing": {"p": 0.3, "scale": [0.02, 0.1]}}}


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    """90 noisy 24-px images whose class is the colour of a square: learnable in a few epochs."""
    root = tmp_path_factory.mktemp("fold")
    rng = np.random.default_rng(0)
    n = 90
    y = np.arange(n) % 3
    imgs = rng.integers(0, 80, (n, 24, 24, 3), dtype=np.uint8)
    for i, c in enumerate(y):
        imgs[i, 6:18, 6:18, c] = 230
    np.save(root / "images.npy", imgs)
    ids = [f"im{i:03d}" for i in range(n)]
    cols = {k: [None] * n for k in LABELS.names}
    cols.update(image_id=ids, path=[f"x/{i}.jpg" for i in ids], label=y.tolist(), label_name=[CLASSES[c] for c in y])
    table = pa.table(cols, schema=LABELS).replace_schema_metadata({CLASSES_KEY: json.dumps(CLASSES)})
    pq.write_table(table, root / "labels.parquet")
    split = make_split(pd.DataFrame({"image_id": ids, "label": y}), "stratified", 0, 3)
    split["part"] = split["part"].astype(str)
    pq.write_table(pa.Table.from_pandas(split, preserve_index=False), root / "split.parquet")
    return root


def _job(fold, out, **kw):
    base = dict(model="resnet18", dataset="toy", iteration=0, labels=fold / "labels.parquet",
                split=fold / "split.parquet", cache=fold / "images.npy", out_dir=out / "run",
                resume_path=out / "resume" / "state.pt", recipe=RECIPE, threads=1, input_size=32)
    return TrainJob(**{**base, **kw})


def test_a_fold_writes_metrics_history_predictions_and_a_safe_checkpoint(fold, tmp_path):
    m = train(_job(fold, tmp_path))
    run = tmp_path / "run"
    assert json.loads((run / "metrics.json").read_text()) == json.loads(json.dumps(m))
    for key in ("test_accuracy", "test_balanced_accuracy", "test_macro_f1", "best_val_accuracy", "best_epoch",
                "n_train", "n_val", "n_test", "wall_time_s", "device"):
        assert key in m
    assert (m["n_train"], m["n_val"], m["n_test"]) == (54, 18, 18)
    assert m["test_accuracy"] > 0.6, m  # chance is 1/3
    assert m["pretrained"].startswith("none")
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3]
    assert m["best_val_accuracy"] == history["val_accuracy"].max()
    preds = pq.read_table(run / "predictions.parquet").to_pandas()
    assert sorted(preds["part"].unique()) == ["test", "val"] and len(preds) == 36
    np.testing.assert_allclose(preds[[f"prob_{c}" for c in CLASSES]].sum(axis=1), 1, atol=1e-5)
    test = preds[preds["part"] == "test"]
    assert (test["true"] == test["predicted"]).mean() == pytest.approx(m["test_accuracy"])
    state = torch.load(run / "best.pt", weights_only=True)
    create_model("resnet18", 3).load_state_dict(state)
    assert not (tmp_path / "resume" / "state.pt").exists()


def test_an_interrupted_fold_resumes_to_the_same_metrics(fold, tmp_path, monkeypatch):
    full = train(_job(fold, tmp_path / "full"))

    original = CrossEntropyObjective.on_epoch_start

    def preempt_at_epoch_2(self, ctx):
        if ctx.epoch == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # what SLURM sends before a kill
        original(self, ctx)

    monkeypatch.setattr(CrossEntropyObjective, "on_epoch_start", preempt_at_epoch_2)
    job = _job(fold, tmp_path / "cut")
    with pytest.raises(Preempted):
        train(job)
    assert not (job.out_dir / "metrics.json").exists()
    assert torch.load(job.resume_path, weights_only=True)["epoch_done"] == 2
    monkeypatch.setattr(CrossEntropyObjective, "on_epoch_start", original)
    resumed = train(job)
    for key in ("test_accuracy", "test_balanced_accuracy", "best_val_accuracy", "best_epoch", "test_loss"):
        assert resumed[key] == full[key], key
    a = pd.read_csv(tmp_path / "full" / "run" / "history.csv")
    b = pd.read_csv(job.out_dir / "history.csv")
    pd.testing.assert_series_equal(a["val_loss"], b["val_loss"])


def test_an_injected_fault_fails_the_fold_and_leaves_nothing_finished(fold, tmp_path):
    job = _job(fold, tmp_path, fail=True)
    with pytest.raises(InjectedFault, match="resnet18/toy/0"):
        train(job)
    assert not job.out_dir.exists() or not any(job.out_dir.iterdir())


def test_a_split_that_does_not_match_the_table_is_refused(fold, tmp_path):
    bad = tmp_path / "split.parquet"
    t = pq.read_table(fold / "split.parquet").to_pandas().iloc[::-1]
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), bad)
    with pytest.raises(ValueError, match="does not list the rows"):
        train(_job(fold, tmp_path, split=bad))
