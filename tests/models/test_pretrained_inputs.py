"""Pretrained weight files are inputs of the training jobs: named in the DAG, checked before anything runs,
loaded by the job, and a changed file reruns the jobs that start from it."""

from __future__ import annotations

import copy
import json
import os

import pytest
import timm
import torch
from workflow_helpers import TINY_DEMO, snakemake, workflow_copy, write_config

FOLD = "results/runs/dan/demo/0/metrics.json"


def _config(wd, models: dict, table: dict):
    cfg = copy.deepcopy(TINY_DEMO)
    cfg["benchmark"].update(models=list(models), iterations=1)
    cfg["models"] = models
    cfg["pretrained"] = {
        k: {"file": f, "source": f"the {k} page", "sha256": None, "converter": None} for k, f in table.items()
    }
    return write_config(wd, "weights.yaml", cfg).name


def _dry_run(wd, target, cfg):
    res = snakemake(wd, target, "-n", "--configfile", "config/demo.yaml", cfg)
    return res.returncode, res.stdout + res.stderr


def test_a_missing_weight_file_stops_the_dag_naming_file_model_and_source(tmp_path):
    wd = workflow_copy(tmp_path)
    cfg = _config(
        wd,
        {"poster": {"pretrained": {"backbone": "ir50", "landmarks": "mfn"}}},
        {"ir50": "w/ir50.pth", "mfn": "w/mobilefacenet.tar"},
    )
    (wd / "w").mkdir()
    (wd / "w" / "ir50.pth").write_bytes(b"present")
    code, out = _dry_run(wd, "results/tables/accuracy.md", cfg)
    assert code != 0
    assert "WorkflowError" in out and "MissingInputException" not in out
    assert (
        "model 'poster' starts from pretrained weights w/mobilefacenet.tar (its landmarks), which is "
        "missing. "
        "Get it from the mfn page"
    ) in out
    assert "w/ir50.pth" not in out.split("WorkflowError")[1], "only the missing file is named"


def test_every_weight_file_of_a_model_is_an_input_of_its_training_jobs(tmp_path):
    wd = workflow_copy(tmp_path)
    cfg = _config(
        wd,
        {"poster": {"pretrained": {"backbone": "ir50", "landmarks": "mfn"}}},
        {"ir50": "w/ir50.pth", "mfn": "w/mobilefacenet.tar"},
    )
    (wd / "w").mkdir()
    for f in ("ir50.pth", "mobilefacenet.tar"):
        (wd / "w" / f).write_bytes(b"present")
    code, out = _dry_run(wd, "results/runs/poster/demo/0/metrics.json", cfg)
    assert code == 0, out[-2000:]
    train_inputs = [line for line in out.splitlines() if line.strip().startswith("input: w/")]
    assert len(train_inputs) == 1 and "w/ir50.pth, w/mobilefacenet.tar" in train_inputs[0], out[-2000:]


@pytest.mark.slow
def test_training_starts_from_the_weight_file_and_reruns_when_it_changes(tmp_path):
    wd = workflow_copy(tmp_path)
    cfg = _config(wd, {"dan": {"pretrained": "r18"}}, {"r18": "w/resnet18_msceleb.pth"})
    state = timm.create_model("resnet18", num_classes=1000).state_dict()
    (wd / "w").mkdir()
    torch.save({"state_dict": state}, wd / "w" / "resnet18_msceleb.pth")
    res = snakemake(wd, FOLD, "--configfile", "config/demo.yaml", cfg)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    metrics = json.loads((wd / FOLD).read_text())
    assert metrics["pretrained"] == {"backbone": "w/resnet18_msceleb.pth"}
    assert "matched 120, missing 0, unexpected 2" in (wd / "results/logs/train/dan/demo/0.log").read_text()

    code, out = _dry_run(wd, FOLD, cfg)
    assert code == 0 and "Nothing to be done" in out, out[-2000:]
    later = (wd / FOLD).stat().st_mtime + 10
    os.utime(wd / "w" / "resnet18_msceleb.pth", (later, later))
    code, out = _dry_run(wd, FOLD, cfg)
    assert code == 0 and "Updated input files: w/resnet18_msceleb.pth" in out, out[-2000:]
    assert "rule align" not in out, "only the training job reruns"
