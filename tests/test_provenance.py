"""Provenance pieces: streamed hashes, the git state of a checkout, scheduler ids, package versions."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from ferbench.provenance import InputHashes, git_state, packages, scheduler_ids, sha256_file


def test_a_file_larger_than_a_read_buffer_hashes_like_sha256sum(tmp_path):
    data = bytes(range(256)) * (3 * 4096 + 17)  # several buffers and a partial one
    (tmp_path / "big.bin").write_bytes(data)
    assert sha256_file(tmp_path / "big.bin") == hashlib.sha256(data).hexdigest()


def test_input_hashes_name_each_file_and_report_a_missing_one(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    got = InputHashes({"labels": tmp_path / "a"}).result()
    assert got == {"labels": {"path": str(tmp_path / "a"), "bytes": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}}
    with pytest.raises(FileNotFoundError, match="nope"):
        InputHashes({"cache": tmp_path / "nope"}).result()


def _git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_git_state_gives_the_commit_and_whether_tracked_files_changed(tmp_path):
    assert git_state(tmp_path)["note"].startswith("not a git checkout")
    _git(tmp_path, "init", "-q")
    (tmp_path / "f.py").write_text("x = 1\n")
    _git(tmp_path, "add", "f.py")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    clean = git_state(tmp_path)
    assert clean == {"commit": head.strip(), "dirty": False, "checkout": str(tmp_path.resolve())}
    (tmp_path / "untracked.txt").write_text("results are not code")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "f.py").write_text("x = 2\n")
    assert git_state(tmp_path)["dirty"] is True


def test_only_the_scheduler_ids_that_are_set_are_recorded():
    env = {"SLURM_JOB_ID": "17", "SLURM_ARRAY_JOB_ID": "", "SLURM_ARRAY_TASK_ID": "3", "HOME": "/root"}
    assert scheduler_ids(env) == {"SLURM_JOB_ID": "17", "SLURM_ARRAY_TASK_ID": "3"}


def test_package_versions_cover_the_stack():
    got = packages()
    assert {"python", "torch", "torchvision", "timm", "facenet-pytorch", "numpy", "cuda", "cudnn"} <= set(got)
    assert got["torch"] and got["numpy"]
