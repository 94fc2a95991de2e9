import os
import re
import subprocess
import sys
import time

import numpy as np
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


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The tiny demo through the default target (tables, figures, significance), then its report."""
    wd = workflow_copy(tmp_path_factory.mktemp("demo_run"))
    cfg = write_config(wd, "tiny.yaml", TINY_DEMO)
    res = snakemake(wd, "--configfile", "config/demo.yaml", str(cfg))
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    rep = snakemake(wd, "--report", "results/report.html", "--configfile", "config/demo.yaml", str(cfg))
    assert rep.returncode == 0, (rep.stdout + rep.stderr)[-4000:]
    return wd, cfg


@pytest.mark.slow
def test_the_demo_dag_end_to_end_then_nothing_to_do(demo_run):
    wd, cfg = demo_run
    table = (wd / "results" / "tables" / "accuracy.md").read_text()
    assert "| demo |" in table and table.count("(n=2)") == 2, table
    summary = pd.read_csv(wd / "results" / "tables" / "summary.csv")
    assert set(summary["model"]) == {"resnet18", "dan"}
    for model in ("resnet18", "dan"):
        assert (wd / "results" / "best" / model / "demo" / "card.json").is_file()
        assert (wd / "results" / "best" / model / "demo" / "gradcam.png").is_file()
        for kind in ("confusion", "curves"):
            for ext in ("png", "pdf"):
                assert (wd / "results" / "figures" / kind / model / f"demo.{ext}").is_file(), (kind, model, ext)
    for name in ("per_class/demo", "data/demo", "faces/demo", "overview_accuracy",
                 "overview_balanced_accuracy", "critical_difference_accuracy"):
        assert (wd / "results" / "figures" / f"{name}.png").is_file(), name
    assert (wd / "results" / "tables" / "significance.md").is_file()
    qc = pd.read_parquet(wd / "results" / "data" / "demo" / "labels.parquet")
    assert len(qc) == 50
    again = snakemake(wd, "-n", "--configfile", "config/demo.yaml", str(cfg))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_splits_are_scheduled_before_training(tmp_path):
    """A split gates its folds: the split rule outranks training, so all splits are made before training
    fills the cores. Without it a split could wait behind a whole training job, its folds with it (in one
    demo run a split started 25 s late that way and training ended 10 s later). Read from the dry run: Snakemake prints a job's
    priority when it is not 0."""
    wd = workflow_copy(tmp_path)
    res = snakemake(wd, "-n", "--configfile", "config/demo.yaml")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    priority = {}
    for block in re.split(r"^\[.*\]$", res.stdout, flags=re.MULTILINE):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.MULTILINE)
        if rule:
            found = re.search(r"^\s+priority: (\d+)", block, re.MULTILINE)
            priority.setdefault(rule.group(1), set()).add(int(found.group(1)) if found else 0)
    assert priority["split"] and priority["train"], priority
    assert min(priority["split"]) > max(priority["train"]), priority


@pytest.mark.slow
def test_the_report_holds_tables_and_figures_with_captions(demo_run):
    wd, _ = demo_run
    html = (wd / "results" / "report.html").read_text()
    for caption in ("population standard deviation over the folds, with the number of folds", "Confusion matrix of",
                    "Learning curves of", "Per-class test recall", "What the dataset", "Aligned faces of"):
        assert caption in html, caption
    for category in ("Tables", "Per dataset", "Per model", "Data quality"):
        assert category in html, category


@pytest.mark.slow
def test_the_report_opens_in_chromium_and_shows_the_table_and_a_figure(demo_run, tmp_path):
    from PIL import Image

    from report_view import CHROMIUM, screenshot

    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no chromium on PATH: `make test` installs Debian's chromium as root (CI=true requires it)")
        pytest.skip("no chromium on PATH; `make test` installs Debian's chromium when run as root, as CI does")
    wd, _ = demo_run
    report = wd / "results" / "report.html"
    shots = {
        "table": screenshot(report, tmp_path / "table.png", [("click", "Tables"), ("show", "table: accuracy")]),
        "figure": screenshot(report, tmp_path / "figure.png", [("click", "Per model"), ("click", "dan"),
                                                               ("show", "demo")]),
    }
    table_dom, figure_dom = shots["table"][1], shots["figure"][1]
    assert "<title>done</title>" in table_dom and "<title>done</title>" in figure_dom
    # the table's page and the confusion matrix's PNG are what the main view shows
    assert '<iframe src="data:text/html;charset=utf8;filename=accuracy.html' in table_dom
    assert '<img src="data:image/png;charset=utf8;filename=demo.png' in figure_dom
    for name, (shot, _) in shots.items():
        img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
        content = img[:, img.shape[1] // 4 :]  # right of the menu
        # not a blank page: the content area has dark text/plot pixels and several colours
        assert (content.sum(axis=2) < 200).mean() > 0.001, name
        assert len(np.unique(content.reshape(-1, 3), axis=0)) > 50, name


def test_end_job_flushes_and_skips_the_teardown():
    """A workflow script's last line: what it printed reaches the pipe, exit handlers do not run."""
    code = ("import atexit, sys\n"
            "from ferbench.logs import end_job\n"
            "atexit.register(lambda: print('teardown ran'))\n"
            "print('outputs written'); print('to stderr', file=sys.stderr)\n"
            "end_job()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "outputs written\n"
    assert done.stderr == "to stderr\n"
