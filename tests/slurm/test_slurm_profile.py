"""profiles/slurm on its own: the site file it reads, and a 3-job workflow through the real local cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slurm_run import SNAKEMAKE, run_snakemake

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"

TRIVIAL = """\
localrules: all


rule all:
    input:
        "agg.txt",


rule train:
    output:
        "train/{i}.txt",
    resources:
        gpu=1,
        cpus_per_gpu=1,
        mem_mb=lambda wc, attempt: 300 * attempt,
        runtime=5,
    shell:
        "echo gpu=$CUDA_VISIBLE_DEVICES job=$SLURM_JOB_ID > {output}"


rule agg:
    input:
        expand("train/{i}.txt", i=[1, 2]),
    output:
        "agg.txt",
    shell:
        "cat {input} > {output}"
"""


def render(site: dict | None, tmp_path: Path) -> dict:
    """The profile as Snakemake reads it (its YTE template applied) for a given site file."""
    from snakemake.profiles import ProfileConfigFileParser

    env = {}
    if site is not None:
        (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
        env["FERBENCH_SLURM_SITE"] = str(tmp_path / "site.yaml")
    else:
        env["FERBENCH_SLURM_SITE"] = str(tmp_path / "does-not-exist.yaml")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        with open(PROFILE) as f:
            return dict(ProfileConfigFileParser().parse(f))


def test_the_profile_takes_site_values_from_the_site_file(tmp_path):
    args = render({"account": "lab42", "partition": "cpu", "gpu_partition": "gpu", "qos": "normal",
                   "gpu_model": "a100", "profile": {"retries": 3}}, tmp_path)
    assert args["executor"] == "slurm"
    assert {"slurm_account=lab42", "slurm_partition=cpu", "qos=normal"} <= set(args["default-resources"])
    assert set(args["set-resources"]) == {"train:slurm_partition=gpu", "train:gpu_model=a100"}
    assert args["retries"] == "3"  # site `profile:` keys win over the shipped profile
    for key in ("keep-going", "rerun-incomplete", "slurm-keep-successful-logs"):
        assert args[key] == "True", key
    assert args["slurm-logdir"] == "results/logs/slurm"
    # without optional values: no partition/qos flags, no GPU model, the cluster's defaults apply
    args = render({"account": "lab42"}, tmp_path)
    assert args["default-resources"] == ["slurm_account=lab42", "runtime=60"]
    assert "set-resources" not in args


@pytest.mark.parametrize("site, message", [
    (None, "site file"),
    ({"partition": "gpu"}, "set `account:`"),
    ({"account": "CHANGE_ME"}, "set `account:`"),
    ({"account": "x", "acount": "y"}, "unknown key(s) ['acount']"),
])
def test_the_profile_refuses_to_run_without_an_explicit_account(tmp_path, site, message):
    from configargparse import ConfigFileParserException

    with pytest.raises(ConfigFileParserException, match=re.escape(message)):
        render(site, tmp_path)


def test_a_missing_site_file_stops_snakemake_naming_the_file(tmp_path):
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    (tmp_path / "Snakefile").write_text(TRIVIAL)
    env = {k: v for k, v in __import__("os").environ.items() if k != "FERBENCH_SLURM_SITE"}
    res = subprocess.run([*SNAKEMAKE, "-n", "--profile", "profiles/slurm"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    assert "site file profiles/slurm/site.yaml not found" in res.stderr and "site.example.yaml" in res.stderr


def test_three_jobs_with_gpu_requests_run_through_the_profile(slurm_cluster, tmp_path):
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    (tmp_path / "Snakefile").write_text(TRIVIAL)
    run = run_snakemake(slurm_cluster, tmp_path, timeout=240)
    assert run.returncode == 0, run
    lines = (tmp_path / "agg.txt").read_text().split("\n")
    gpus = sorted(re.search(r"gpu=(\S*)", line).group(1) for line in lines if line)
    assert len(gpus) == 2 and all(g.isdigit() for g in gpus), f"each job sees one fake GPU: {lines}"
    job_ids = [re.search(r"job=(\d+)", line).group(1) for line in lines if line]
    # the account, partition and GPU request reached sbatch
    for job_id in job_ids:
        info = slurm_cluster.run("scontrol", "show", "job", "-o", job_id).stdout
        assert "Account=ferbench-test" in info and "Partition=debug" in info, info
        assert re.search(r"TresPerJob=gres:gpu:fake:1\b", info), info
        assert "JobState=COMPLETED" in info, info
    # `train` and `agg` went to SLURM, `all` ran on the submitting node
    assert "localrule all" in run.output
    # per-job logs at the documented place, kept although the jobs succeeded
    logs = sorted((tmp_path / "results" / "logs" / "slurm" / "rule_train").rglob("*.log"))
    assert {p.name for p in logs} == {f"{j}.log" for j in job_ids}, logs
