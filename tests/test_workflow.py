import time

import pandas as pd
import pytest

from workflow_helpers import TINY_DEMO, snakemake, workflow_copy, write_config


def test_a_bad_config_value_names_the_key_and_the_allowed_values(tmp_path):
    wd = workflow_copy(tmp_path)
    bad = write_config(wd, "bad.yaml", {"align": {"no_face": "skip"}})
    res = snakemake(wd, "-n", "--configfile", "config/demo.yaml", str(bad))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "['align']['no_face']" in out and "'skip' is not one of ['center', 'exclude']" in out, out[-2000:]


def test_an_unknown_model_is_named(tmp_path):
    wd = workflow_copy(tmp_path)
    bad = write_config(wd, "bad.yaml", {"benchmark": {"models": ["resnet18", "not_a_model"]}})
    res = snakemake(wd, "-n", "--configfile", "config/demo.yaml", str(bad))
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "model 'not_a_model' is not defined" in out and "Traceback" not in out


def test_the_full_benchmark_without_raw_data_stops_within_seconds_naming_the_files(tmp_path):
    wd = workflow_copy(tmp_path)
    t0 = time.time()
    res = snakemake(wd, "-n", "results/tables/accuracy.md")
    elapsed = time.time() - t0
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert elapsed < 30, elapsed
    assert "Traceback" not in out
    for dataset in ("rafdb", "fer2013", "ckplus"):
        assert f"dataset '{dataset}': original files not found" in out, out[-3000:]
    assert "resources/raw/rafdb" in out and "Where to get it" in out


@pytest.mark.slow
def test_the_demo_dag_end_to_end_then_nothing_to_do(tmp_path):
    wd = workflow_copy(tmp_path)
    cfg = write_config(wd, "tiny.yaml", TINY_DEMO)
    # the target goes first: --configfile takes every following word as another config file
    res = snakemake(wd, "results/tables/accuracy.md", "--configfile", "config/demo.yaml", str(cfg))
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    table = (wd / "results" / "tables" / "accuracy.md").read_text()
    assert "| demo |" in table and table.count("(n=2)") == 2, table
    summary = pd.read_csv(wd / "results" / "tables" / "summary.csv")
    assert set(summary["model"]) == {"resnet18", "dan"}
    for model in ("resnet18", "dan"):
        assert (wd / "results" / "best" / model / "demo" / "card.json").is_file()
    qc = pd.read_parquet(wd / "results" / "data" / "demo" / "labels.parquet")
    assert len(qc) == 50
    again = snakemake(wd, "-n", "results/tables/accuracy.md", "--configfile", "config/demo.yaml", str(cfg))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
