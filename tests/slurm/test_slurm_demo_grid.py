"""The demo grid through profiles/slurm on the local cluster: one fold made to fail, rerun alone; one killed.

One workflow copy per module (fixture ``grid``): its first run has a fault injected into exactly one
fold (the training script's test hook, the environment variable ``FERBENCH_FAIL_FOLDS``, which the
SLURM jobs inherit through ``sbatch --export=ALL``), so it ends non-zero and writes no tables. The
tests then rerun that fold alone by its output path, build the tables, grow the grid by one
iteration, and kill a training job mid-way to see it resume.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from slurm_run import finish, run_snakemake, start_snakemake
from workflow_helpers import TINY_DEMO, workflow_copy, write_config

pytestmark = pytest.mark.slurm

MODELS, ITERATIONS = TINY_DEMO["benchmark"]["models"], range(TINY_DEMO["benchmark"]["iterations"])
FAILED = {"model": "dan", "dataset": "demo", "iteration": 1}
FAULT_ENV = "FERBENCH_FAIL_FOLDS"  # read by workflow/scripts/train.py only
FOLDS = [f"results/runs/{m}/demo/{i}" for m in MODELS for i in ITERATIONS]
FAILED_FOLD = "results/runs/{model}/{dataset}/{iteration}".format(**FAILED)
TABLES = ["results/tables/accuracy.md", "results/tables/balanced_accuracy.md", "results/tables/summary.csv"]
UPSTREAM = ["results/data/demo/labels.parquet", "results/data/demo/images.npy",
            "results/aligned/demo/alignment.parquet",
            *[f"results/splits/demo/stratified/{i}.parquet" for i in ITERATIONS]]
# training jobs small enough for the test node (the real values are per model in config/models.yaml)
SMALL_JOBS = {"models": {m: {"resources": {"mem_mb": 1000, "runtime": 10, "cpus_per_gpu": 1}}
                         for m in MODELS}}
CONFIG = ["--configfile", "config/demo.yaml", "tiny.yaml", "slurm.yaml"]


def mtimes(wd: Path, paths) -> dict[str, int]:
    out = {}
    for p in paths:
        for f in sorted((wd / p).rglob("*")) if (wd / p).is_dir() else [wd / p]:
            out[str(f.relative_to(wd))] = f.stat().st_mtime_ns
    return out


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table Snakemake prints before it starts: rule -> number of jobs."""
    block = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M) if m[1] != "total"}


@pytest.fixture(scope="module")
def grid(slurm_cluster, tmp_path_factory):
    wd = workflow_copy(tmp_path_factory.mktemp("slurm_grid"))
    write_config(wd, "tiny.yaml", TINY_DEMO)
    write_config(wd, "slurm.yaml", SMALL_JOBS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(FAULT_ENV, "{model}/{dataset}/{iteration}".format(**FAILED))
        run = run_snakemake(slurm_cluster, wd, *CONFIG, "--", *TABLES, timeout=480)
    print(f"\ndemo grid with one failing fold through SLURM: {run.seconds:.0f} s")
    return wd, run


def test_a_failed_fold_is_reported_and_no_table_is_written(grid):
    wd, run = grid
    assert run.returncode != 0, run
    # the failing job is named, with its fold, and SLURM saw it fail
    named = r"Error in rule train:.*?wildcards: model=dan, dataset=demo, iteration=1"
    assert re.search(named, run.output, re.S), run
    assert re.search(r"SLURM-job '\d+' failed, SLURM status is: 'FAILED'", run.output), run
    assert "At least one job did not complete successfully" in run.output
    # profile `retries: 1`: submitted twice, both attempts hit the injected fault; SLURM logs kept
    slurm_logs = sorted((wd / "results/logs/slurm/rule_train/dan_demo_1").glob("*.log"))
    assert len(slurm_logs) == 2, slurm_logs
    for slurm_log in slurm_logs:
        assert "fault injected for dan/demo/1" in slurm_log.read_text(), slurm_log
    assert "fault injected for dan/demo/1" in (wd / "results/logs/train/dan/demo/1.log").read_text()
    # the other folds finished (keep-going); the failed one left nothing that looks finished
    for fold in FOLDS:
        done = (wd / fold / "metrics.json").is_file()
        assert done == (fold != FAILED_FOLD), fold
    assert not any((wd / FAILED_FOLD).glob("*")) if (wd / FAILED_FOLD).exists() else True
    for table in TABLES:
        assert not (wd / table).exists(), f"{table} written although a fold failed"


def test_the_failed_fold_reruns_alone_by_its_path_then_the_tables_appear(grid, slurm_cluster):
    wd, _ = grid
    target = f"{FAILED_FOLD}/metrics.json"
    others = [f for f in FOLDS if f != FAILED_FOLD]
    before = mtimes(wd, [*others, *UPSTREAM])
    assert len(before) >= 4 * len(others) + len(UPSTREAM)

    preview = run_snakemake(slurm_cluster, wd, "-n", *CONFIG, "--", target, timeout=120)
    assert preview.returncode == 0, preview
    assert job_counts(preview.output) == {"train": 1}, preview

    rerun = run_snakemake(slurm_cluster, wd, *CONFIG, "--", target, timeout=300)
    assert rerun.returncode == 0, rerun
    assert job_counts(rerun.output) == {"train": 1}, rerun
    assert "1 of 1 steps (100%) done" in rerun.output, rerun
    assert (wd / target).is_file()
    assert mtimes(wd, [*others, *UPSTREAM]) == before, "a fold or an upstream file was rewritten"

    tables = run_snakemake(slurm_cluster, wd, *CONFIG, "--", *TABLES, timeout=300)
    assert tables.returncode == 0, tables
    assert "train" not in job_counts(tables.output), tables  # only aggregation: no training job ran again
    assert mtimes(wd, [*others, *UPSTREAM]) == before
    accuracy = (wd / "results/tables/accuracy.md").read_text()
    assert "| demo |" in accuracy and accuracy.count(f"(n={len(ITERATIONS)})") == len(MODELS), accuracy
    summary = pd.read_csv(wd / "results/tables/summary.csv")
    assert set(summary["model"]) == set(MODELS), summary

    again = run_snakemake(slurm_cluster, wd, "-n", *CONFIG, "--", *TABLES, timeout=120)
    assert again.returncode == 0 and "Nothing to be done" in again.output, again


def test_one_more_iteration_trains_only_its_folds_through_the_profile(grid, slurm_cluster):
    """Growing a finished grid through SLURM: the new iteration's folds, nothing else, then new tables."""
    wd, _ = grid
    grown = len(ITERATIONS) + 1
    write_config(wd, "grow.yaml", {"benchmark": {"iterations": grown}})
    before = mtimes(wd, [*FOLDS, *UPSTREAM])
    run = run_snakemake(slurm_cluster, wd, *CONFIG, "grow.yaml", "--", *TABLES, timeout=400)
    assert run.returncode == 0, run
    counts = job_counts(run.output)
    assert counts.get("train") == len(MODELS) and counts.get("split") == 1, run
    assert mtimes(wd, [*FOLDS, *UPSTREAM]) == before, "a finished fold or its split was rewritten"
    for m in MODELS:
        assert (wd / f"results/runs/{m}/demo/{grown - 1}/metrics.json").is_file()
    accuracy = (wd / "results/tables/accuracy.md").read_text()
    assert accuracy.count(f"(n={grown})") == len(MODELS), accuracy
    again = run_snakemake(slurm_cluster, wd, "-n", *CONFIG, "grow.yaml", "--", *TABLES, timeout=120)
    assert again.returncode == 0 and "Nothing to be done" in again.output, again


def test_a_training_job_killed_mid_way_resumes_from_its_last_epoch(grid, slurm_cluster):
    """scancel sends SIGTERM (then SIGKILL after KillWait), as at preemption or the time limit. The
    training saves its resume state after every epoch here (`resume_every_s: 0`: the tiny epochs would
    otherwise finish the fold before the default 60 s); the resubmitted job (profile `retries`)
    continues from there and the fold ends with every epoch in its history."""
    wd, _ = grid
    epochs = 16
    fold = "results/runs/resnet18/demo/0"
    write_config(wd, "long.yaml", {"train": {"resume_every_s": 0,
                                             "overrides": {"epochs": epochs, "patience": epochs}}})
    state = wd / "results/resume/resnet18/demo/0/state.pt"
    assert not state.exists()

    t0 = time.time()
    proc = start_snakemake(slurm_cluster, wd, *CONFIG, "long.yaml", "--forcerun", f"{fold}/metrics.json",
                           "--", f"{fold}/metrics.json")
    try:
        while not state.exists() and time.time() < t0 + 240 and proc.poll() is None:
            time.sleep(0.2)
        running = [j for j in slurm_cluster.jobs() if j["state"] == "RUNNING"]
        assert state.exists() and len(running) == 1, f"no resume state appeared while running {running}"
        killed = running[0]["id"]
        slurm_cluster.run("scancel", killed)
    except BaseException:
        finish(proc, timeout=0)  # SIGINT: the plugin cancels its jobs
        raise
    run = finish(proc, timeout=300, t0=t0)
    print(f"\nkilled fold resumed and finished through SLURM: {run.seconds:.0f} s")
    assert run.returncode == 0, run
    assert f"SLURM-job '{killed}' failed, SLURM status is: 'CANCELLED'" in run.output, run

    # the killed attempt's SLURM log (kept): the training got SIGTERM and stopped
    killed_log = (wd / f"results/logs/slurm/rule_train/resnet18_demo_0/{killed}.log").read_text()
    assert f"JOB {killed} ON localhost CANCELLED" in killed_log, killed_log[-3000:]
    assert "received SIGTERM: stopping" in killed_log, killed_log[-3000:]
    # the resubmitted attempt (Snakemake starts the rule's log afresh) resumed after a completed epoch
    log = (wd / "results/logs/train/resnet18/demo/0.log").read_text()
    resumed = re.search(r"resuming resnet18/demo/0 after epoch (\d+)", log)
    assert resumed, log[-3000:]
    assert 1 <= int(resumed[1]) < epochs, resumed[0]
    metrics = yaml.safe_load((wd / fold / "metrics.json").read_text())
    assert metrics["epochs_run"] == epochs, metrics
    history = pd.read_csv(wd / fold / "history.csv")
    assert history["epoch"].tolist() == list(range(epochs)), history
    assert not state.exists(), "resume state left behind after the fold finished"
