"""The model zoo through the real DAG: config/zoo.yaml trains every registered model for one epoch."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from workflow_helpers import snakemake, workflow_copy

from ferbench.config import load_config, recipe
from ferbench.models import create_model, list_models

TARGET = "results/tables/accuracy.md"


@pytest.fixture(scope="module")
def zoo(repo):
    return yaml.safe_load((repo / "config" / "zoo.yaml").read_text())


def test_the_zoo_config_lists_every_registered_model(zoo):
    assert sorted(zoo["benchmark"]["models"]) == list_models()
    assert all(zoo["models"][m]["pretrained"] == "none" for m in list_models())


def test_the_zoo_dag_has_one_training_job_per_model(tmp_path):
    wd = workflow_copy(tmp_path)
    res = snakemake(wd, TARGET, "-n", "--configfile", "config/zoo.yaml")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    counts = {line.split()[0]: int(line.split()[-1]) for line in out.splitlines() if line.split()[:1] and
              line.split()[-1].isdigit()}
    assert counts.get("train") == len(list_models()), out


@pytest.mark.slow
def test_every_model_trains_one_epoch_through_the_dag(tmp_path, repo):
    wd = workflow_copy(tmp_path)
    res = snakemake(wd, TARGET, "--configfile", "config/zoo.yaml", timeout=1800)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]

    models = list_models()
    header, _, row = (wd / TARGET).read_text().splitlines()
    assert [c.strip() for c in header.strip("|").split("|")][1:] == models
    assert row.startswith("| demo_mini |") and row.count("(n=1)") == len(models), row
    summary = pd.read_csv(wd / "results" / "tables" / "summary.csv")
    assert sorted(summary["model"]) == models

    cfg = load_config(repo, [repo / "config" / "zoo.yaml"])
    for m in models:
        metrics = json.loads((wd / "results" / "runs" / m / "demo_mini" / "0" / "metrics.json").read_text())
        assert metrics["epochs_run"] == 1
        assert metrics["pretrained"].startswith("none")
        # each model ran at its own input size and with its own official recipe
        assert metrics["input_size"] == create_model(m, 5).input_spec.size
        assert metrics["recipe"] == recipe(cfg, m)
        assert (wd / "results" / "best" / m / "demo_mini" / "card.json").is_file()
