"""Fixtures for the tests that run against a real local SLURM controller (marker ``slurm``).

The cluster (tests/slurm/slurm_cluster.py) starts once per session and is stopped, daemon by daemon
and by PID, when the session ends. Without root (so no apt-get) the tests are skipped with the
reason; under CI=true they are required and fail instead.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from slurm_cluster import LocalSlurm, SlurmUnavailable  # noqa: E402


@pytest.fixture(scope="session")
def slurm_cluster():
    cluster = LocalSlurm(gpus=4)
    atexit.register(cluster.stop)  # also on an interrupted session
    try:
        cluster.start()
    except SlurmUnavailable as e:
        cluster.cleanup()
        reason = f"local SLURM cluster unavailable: {e}"
        print(reason, file=sys.stderr)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}\n(CI=true: the SLURM tests are required)", pytrace=False)
        pytest.skip(reason)
    print(f"\nlocal SLURM up in {cluster.timings['total_s']:.1f} s "
          f"(install {cluster.timings['install_s']:.1f} s), config in {cluster.root}", file=sys.stderr)
    yield cluster
    left = cluster.stop()
    cluster.cleanup()
    assert not left, f"processes still running after stopping the cluster: {left}"

