"""Every model trains one epoch through the real training loop (hooks, extra views, input spec, metrics)."""

from __future__ import annotations

import numpy as np
import pytest
from zoo_helpers import HEAVY

from ferbench.models import list_models
from ferbench.train import TrainJob, train

CLASSES = ["a", "b", "c"]
RECIPE = {"optimizer": "adam", "lr": 1e-4, "scheduler": "none", "epochs": 1, "patience": 1, "batch_size": 6,
          "augment": {"hflip": 0.5}}


@pytest.fixture(scope="module")
def fold(fold_builder):
    """30 random 32-px images, 3 classes, stratified 60/20/20: the loop resizes them to each model's input."""
    images = np.random.default_rng(0).integers(0, 255, (30, 32, 32, 3), dtype=np.uint8)
    return fold_builder("fold", images, np.arange(30) % 3, CLASSES)


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
