"""What `make demo` promises, on the real config/demo.yaml: 3 folds per model and both models at >= 0.6 test
accuracy on every fold. Whatever the demo's schedule is trimmed to for speed, this must keep holding."""

import json

import pytest
import yaml

from workflow_helpers import REPO, snakemake, workflow_copy

MODELS = ("resnet18", "dan")


def test_the_demo_config_asks_for_three_folds_of_both_models():
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    assert demo["benchmark"]["iterations"] == 3
    assert set(demo["benchmark"]["models"]) == set(MODELS) and demo["benchmark"]["datasets"] == ["demo"]


@pytest.mark.slow
def test_the_demo_trains_both_models_to_at_least_60_percent_on_every_fold(tmp_path):
    wd = workflow_copy(tmp_path)
    res = snakemake(wd, "results/tables/accuracy.md", "--configfile", "config/demo.yaml", timeout=1800)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    table = (wd / "results" / "tables" / "accuracy.md").read_text()
    assert table.count("(n=3)") == 2, table
    for model in MODELS:
        for i in range(3):
            m = json.loads((wd / "results" / "runs" / model / "demo" / str(i) / "metrics.json").read_text())
            assert m["test_accuracy"] >= 0.6, (model, i, m["test_accuracy"])
