import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from ferbench.models import create_model
from ferbench.models.base import CrossEntropyObjective
from ferbench.train import Preempted, TrainJob, train
from ferbench.train.data import Prefetch
from ferbench.train.resume import ResumeFile

CLASSES = ["red", "green", "blue"]
RECIPE = {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4, "scheduler": "cosine", "epochs": 4,
          "patience": 10, "batch_size": 16, "augment": {"hflip": 0.5, "erasing": {"p": 0.3, "scale": [0.02, 0.1]}}}


@pytest.fixture(scope="module")
def fold(fold_builder):
    """90 noisy 24-px images whose class is the colour of a square: learnable in a few epochs."""
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    imgs = rng.integers(0, 80, (90, 24, 24, 3), dtype=np.uint8)
    for i, c in enumerate(y):
        imgs[i, 6:18, 6:18, c] = 230
    return fold_builder("fold", imgs, y, CLASSES)


def _job(fold, out, **kw):
    base = dict(model="resnet18", dataset="toy", iteration=0, labels=fold / "labels.parquet",
                split=fold / "split.parquet", cache=fold / "images.npy", out_dir=out / "run",
                resume_path=out / "resume" / "state.pt", recipe=RECIPE, threads=1, input_size=32)
    return TrainJob(**{**base, **kw})


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _preempt_at(monkeypatch, epoch):
    original = CrossEntropyObjective.on_epoch_start

    def preempt(self, ctx):
        if ctx.epoch == epoch:
            os.kill(os.getpid(), signal.SIGTERM)
        original(self, ctx)

    monkeypatch.setattr(CrossEntropyObjective, "on_epoch_start", preempt)
    return lambda: monkeypatch.setattr(CrossEntropyObjective, "on_epoch_start", original)


def test_a_fold_writes_metrics_history_predictions_provenance_and_a_safe_checkpoint(fold, tmp_path, capsys,
                                                                                     monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    m = train(_job(fold, tmp_path))
    run = tmp_path / "run"
    assert json.loads((run / "metrics.json").read_text()) == json.loads(json.dumps(m))
    for key in ("test_accuracy", "test_balanced_accuracy", "test_macro_f1", "best_val_accuracy", "best_epoch",
                "n_train", "n_val", "n_test", "wall_time_s", "device", "device_name", "input_size", "recipe"):
        assert key in m
    assert (m["n_train"], m["n_val"], m["n_test"]) == (54, 18, 18)
    assert m["test_accuracy"] > 0.6, m  # chance is 1/3
    assert m["pretrained"].startswith("none")
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3]
    assert list(history.columns[:7]) == ["epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                         "val_balanced_accuracy"]
    assert history.columns[-1] == "seconds" and "loss_ce" in history.columns
    assert m["best_val_accuracy"] == history["val_accuracy"].max()
    preds = pq.read_table(run / "predictions.parquet").to_pandas()
    assert sorted(preds["part"].unique()) == ["test", "val"] and len(preds) == 36
    np.testing.assert_allclose(preds[[f"prob_{c}" for c in CLASSES]].sum(axis=1), 1, atol=1e-5)
    test = preds[preds["part"] == "test"]
    assert (test["true"] == test["predicted"]).mean() == pytest.approx(m["test_accuracy"])
    state = torch.load(run / "best.pt", weights_only=True)
    create_model("resnet18", 3).load_state_dict(state)
    assert not (tmp_path / "resume" / "state.pt").exists()

    # where the time went: every phase, summed over the epochs, and each epoch's overhead share
    prof = m["profile"]
    phases = ["data_s", "forward_s", "backward_s", "optimizer_s", "eval_s", "checkpoint_s", "hooks_s", "other_s"]
    assert all(prof[k] >= 0 for k in phases) and prof["forward_s"] > 0 and prof["checkpoint_s"] > 0
    assert sum(prof[k] for k in phases) == pytest.approx(prof["epoch_s"], rel=0.02)
    assert len(prof["overhead_fraction_per_epoch"]) == 4
    assert all(0 < f < 1 for f in prof["overhead_fraction_per_epoch"])
    assert prof["final_eval_s"] > 0 and prof["setup_s"] > 0

    # one log line per epoch, with its time and throughput
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "] epoch " in ln]
    assert len(lines) == 4 and lines[0].startswith("[resnet18/toy/0] epoch 1/4 loss ")
    assert all(ln.endswith("images/s") and " s, " in ln for ln in lines), lines

    prov = json.loads((run / "provenance.json").read_text())
    for role, name in {"labels": "labels.parquet", "split": "split.parquet", "cache": "images.npy"}.items():
        assert prov["inputs"][role]["sha256"] == _sha256(fold / name), role
    assert prov["settings"]["recipe"] == RECIPE and prov["settings"]["seed"] == m["seed"]
    assert prov["settings"]["input_size"] == 32 and prov["settings"]["resumed_after_epoch"] is None
    assert torch.__version__.startswith(prov["packages"]["torch"]) and prov["packages"]["python"]
    assert prov["device_name"] == m["device_name"] and prov["host"]
    assert prov["slurm"] == {"SLURM_JOB_ID": "4242", "SLURM_RESTART_COUNT": "1"}
    assert prov["started"] <= prov["ended"]
    git = prov["code"]["git"]
    assert (len(git["commit"]) == 40 and isinstance(git["dirty"], bool)) or git["note"].startswith("not a git")


def test_an_interrupted_fold_resumes_to_the_same_metrics(fold, tmp_path, monkeypatch):
    full = train(_job(fold, tmp_path / "full"))

    undo = _preempt_at(monkeypatch, 2)  # SIGTERM, what SLURM sends before a kill
    job = _job(fold, tmp_path / "cut")
    with pytest.raises(Preempted):
        train(job)
    assert not (job.out_dir / "metrics.json").exists()
    assert torch.load(job.resume_path, weights_only=True)["epoch_done"] == 2
    # the prefetch and save threads stopped
    left = [t for t in threading.enumerate() if t.name.startswith("ferbench-")]
    assert not left, left
    undo()
    resumed = train(job)
    for key in ("test_accuracy", "test_balanced_accuracy", "best_val_accuracy", "best_epoch", "test_loss"):
        assert resumed[key] == full[key], key
    a = pd.read_csv(tmp_path / "full" / "run" / "history.csv")
    b = pd.read_csv(job.out_dir / "history.csv")
    pd.testing.assert_series_equal(a["val_loss"], b["val_loss"])
    prov = json.loads((job.out_dir / "provenance.json").read_text())
    assert prov["settings"]["resumed_after_epoch"] == 2


def test_an_epoch_is_logged_only_once_its_resume_state_is_on_disk(fold, tmp_path, monkeypatch, capsys):
    saved = []
    original = ResumeFile.save

    def full_disk_at_epoch_2(self, state):
        if state["epoch_done"] == 2:
            raise OSError(28, "No space left on device")
        original(self, state)
        saved.append(state["epoch_done"])

    monkeypatch.setattr(ResumeFile, "save", full_disk_at_epoch_2)
    with pytest.raises(OSError, match="No space left"):
        train(_job(fold, tmp_path))
    out = capsys.readouterr().out
    assert saved == [1] and "epoch 1/4" in out and "epoch 2/4" not in out


def test_the_resume_state_is_written_once_resume_every_s_has_passed(fold, tmp_path, monkeypatch, capsys):
    """Short epochs save their resume state at most every ``resume_every_s`` (copying and writing it each
    epoch cost as much as evaluating); 0 saves after every epoch. Saving or not changes no result."""
    import ferbench.train.loop as loop

    clock = iter(range(0, 10_000, 25))  # every reading of the loop's clock 25 s after the last
    monkeypatch.setattr(loop, "time", type("Clock", (), {"perf_counter": staticmethod(time.perf_counter),
                                                         "monotonic": staticmethod(lambda: next(clock))}))
    saved = []
    original = ResumeFile.save

    def record(self, state):
        saved.append(state["epoch_done"])
        original(self, state)

    monkeypatch.setattr(ResumeFile, "save", record)
    every = train(_job(fold, tmp_path / "every", resume_every_s=0))
    assert saved == [1, 2, 3, 4]
    saved.clear()
    capsys.readouterr()
    sparse = train(_job(fold, tmp_path / "sparse", resume_every_s=60))
    # fold start at 0 s; epochs end at 25, 50, 75 (75 s since the start: saved), 100 s
    assert saved == [3]
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "] epoch " in ln]
    assert [ln.split("] epoch ")[1].split()[0] for ln in lines] == ["1/4", "2/4", "3/4", "4/4"], lines
    for key in ("test_accuracy", "test_loss", "best_val_accuracy", "best_epoch"):
        assert sparse[key] == every[key], key
    assert not (tmp_path / "sparse" / "resume" / "state.pt").exists()


KILLED_SAVE = """
import sys, time, torch
from ferbench.train.resume import ResumeFile

class Stall:  # pickled after the tensors: this save never finishes
    def __reduce__(self):
        print("saving", flush=True)
        time.sleep(600)

ResumeFile(sys.argv[1]).save({"model": {"w": torch.zeros(1_000_000)}, "stall": Stall()})
"""


def test_a_save_killed_mid_way_is_cleaned_up_and_the_fold_resumes_from_the_last_saved_epoch(
        fold, tmp_path, monkeypatch, capsys):
    job = _job(fold, tmp_path)
    undo = _preempt_at(monkeypatch, 1)
    with pytest.raises(Preempted):
        train(job)  # epoch 1 saved
    undo()
    # the next attempt is killed (SIGKILL: nothing runs after it) while saving epoch 2's state
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(job.resume_path)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "saving"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    stale = list(job.resume_path.parent.glob(".state.pt.*.tmp"))
    assert len(stale) == 1
    assert torch.load(job.resume_path, weights_only=True)["epoch_done"] == 1  # untouched by the killed save
    (job.out_dir).mkdir(parents=True)
    (job.out_dir / ".metrics.json.abc123.tmp").write_text("{")  # killed while writing the outputs
    capsys.readouterr()

    m = train(job)
    out = capsys.readouterr().out
    assert "removed 2 temp file(s)" in out and "resuming resnet18/toy/0 after epoch 1" in out, out
    assert not stale[0].exists() and not (job.out_dir / ".metrics.json.abc123.tmp").exists()
    assert m["epochs_run"] == 4 and not job.resume_path.exists()


def test_an_unreadable_resume_state_is_named_with_what_to_do(fold, tmp_path):
    job = _job(fold, tmp_path)
    job.resume_path.parent.mkdir(parents=True)
    torch.save({"model": {"w": torch.zeros(10_000)}}, job.resume_path)
    data = job.resume_path.read_bytes()
    job.resume_path.write_bytes(data[: len(data) // 2])  # e.g. a full disk
    with pytest.raises(ValueError, match=rf"{job.resume_path}: cannot read this resume state .*delete the file"):
        train(job)


def test_a_split_that_does_not_match_the_table_is_refused(fold, tmp_path):
    bad = tmp_path / "split.parquet"
    t = pq.read_table(fold / "split.parquet").to_pandas().iloc[::-1]
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), bad)
    with pytest.raises(ValueError, match="does not list the rows"):
        train(_job(fold, tmp_path, split=bad))


def test_prefetch_yields_in_order_and_hands_over_the_producers_error():
    assert list(Prefetch(lambda: iter(range(5)))) == list(range(5))

    def failing():
        yield 1
        raise KeyError("bad row")

    it = iter(Prefetch(failing))
    assert next(it) == 1
    with pytest.raises(KeyError, match="bad row"):
        next(it)


def test_leaving_a_prefetched_loop_early_stops_its_thread():
    made = []

    def endless():
        while True:
            made.append(len(made))
            yield made[-1]

    p = Prefetch(endless, depth=1)
    for item in p:
        if item == 2:
            break
    p.close()
    n = len(made)
    time.sleep(0.3)
    assert not p._thread.is_alive() and len(made) == n <= 5
