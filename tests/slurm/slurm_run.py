"""Running the workflow through profiles/slurm against the local test cluster."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from slurm_cluster import LocalSlurm

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def site_for(cluster: LocalSlurm, **extra) -> dict:
    """The site file a user would write, for the local test cluster (no slurmdbd, so squeue)."""
    site = {
        "account": "ferbench-test",
        "partition": cluster.partition,
        "gpu_model": "fake",
        "profile": {
            "slurm-status-command": "squeue",               # no slurmdbd here: sacct cannot answer
            "slurm-init-seconds-before-status-checks": 2,   # default 40 s; MinJobAge=300 keeps squeue valid
            "latency-wait": 5,
        },
    }
    site.update(extra)
    return site


@dataclass(repr=False)
class Run:
    returncode: int
    output: str
    seconds: float

    def __repr__(self) -> str:
        return f"exit {self.returncode} after {self.seconds:.0f} s; output tail:\n{self.output[-6000:]}"


def start_snakemake(cluster: LocalSlurm, workdir: Path, *args: str,
                    site: dict | None = None) -> subprocess.Popen:
    """Start ``snakemake --profile profiles/slurm ARGS`` in ``workdir`` against the test cluster.

    The site file (what a user writes once) is ``site_for(cluster)`` unless given."""
    site_file = workdir / "test-site.yaml"
    site_file.write_text(yaml.safe_dump(site if site is not None else site_for(cluster), sort_keys=False))
    env = {**cluster.env, "FERBENCH_SLURM_SITE": str(site_file)}
    return subprocess.Popen([*SNAKEMAKE, "--profile", "profiles/slurm", *args], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float, t0: float | None = None) -> Run:
    """Wait for a started run; past ``timeout``: SIGINT (the plugin scancels its jobs), then SIGKILL."""
    t0 = time.time() if t0 is None else t0
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        out += f"\n[test] snakemake stopped after {timeout} s"
    return Run(proc.returncode, out, time.time() - t0)


def run_snakemake(cluster: LocalSlurm, workdir: Path, *args: str, site: dict | None = None,
                  timeout: float = 420) -> Run:
    """``snakemake --profile profiles/slurm ARGS`` in ``workdir``, to the end."""
    t0 = time.time()
    return finish(start_snakemake(cluster, workdir, *args, site=site), timeout, t0)
