"""Device choice: ``auto``, and one GPU per training job on a workstation (simulated device count)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from ferbench.device import gpu_slot, resolve_device

HOLD = """
import os, sys
from ferbench.device import gpu_slot

with gpu_slot(sys.argv[1].split(","), sys.argv[2], poll_s=0.05) as dev:
    print("SLOT", dev, os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
    sys.stdin.readline()  # hold the slot until told to go
"""


def _start(devices: str, slots_dir) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLD, devices, str(slots_dir)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def _slot(proc: subprocess.Popen) -> str:
    """The GPU a holder got (its CUDA_VISIBLE_DEVICES is that one alone)."""
    before = []
    for line in proc.stdout:
        if line.startswith("SLOT "):
            _, dev, visible = line.split()
            assert dev == visible, line
            return dev
        before.append(line.strip())
    raise AssertionError(f"no slot; output: {before}")


def test_auto_is_the_cpu_without_cuda_and_names_are_kept():
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_running_jobs_get_distinct_gpus_and_a_released_one_is_reused(tmp_path):
    holders = [_start("0,1,2", tmp_path) for _ in range(3)]
    waiting = None
    try:
        slots = [_slot(p) for p in holders]
        assert sorted(slots) == ["0", "1", "2"]
        waiting = _start("0,1,2", tmp_path)  # a fourth job: every GPU is held
        said = waiting.stdout.readline()
        assert "GPU slot: all of 0,1,2 are held" in said and "waiting" in said, said
        crashed = holders.pop(1)
        os.kill(crashed.pid, signal.SIGKILL)  # the kernel releases its lock, however the job ended
        crashed.wait()
        assert _slot(waiting)[0] == slots[1]
    finally:
        for p in [*holders, *([waiting] if waiting else [])]:
            p.kill()
            p.wait()


def test_a_released_slot_is_free_again_in_the_same_process(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with gpu_slot(["3", "5"], tmp_path) as first:
        assert first == "3" and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
        with gpu_slot(["3", "5"], tmp_path) as second:
            assert second == "5"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    with gpu_slot(["3", "5"], tmp_path) as again:
        assert again == "3"


@pytest.mark.parametrize("visible", ["", "2"])
def test_with_at_most_one_visible_gpu_nothing_is_picked(tmp_path, monkeypatch, visible):
    # e.g. a SLURM job, whose CUDA_VISIBLE_DEVICES the scheduler restricted to its GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    with gpu_slot(slots_dir=tmp_path) as dev:
        assert dev is None and os.environ["CUDA_VISIBLE_DEVICES"] == visible
    assert not any(tmp_path.iterdir())


def test_the_visible_gpus_are_the_ones_shared_out(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")  # a user who keeps GPUs 0-3 for something else
    with gpu_slot(slots_dir=tmp_path) as dev:
        assert dev == "4" and os.environ["CUDA_VISIBLE_DEVICES"] == "4"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "4,6"
