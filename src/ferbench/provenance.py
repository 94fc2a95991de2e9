"""Provenance of a fold: which code, inputs, packages, machine and scheduler job produced it.

Written by the training job as ``provenance.json`` beside ``metrics.json``. Input files are hashed
while the fold trains (:class:`InputHashes`, a background thread: ``hashlib`` releases the GIL) and
streamed (``hashlib.file_digest``), so an image cache of several GB costs one read and no memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import socket
import subprocess
import threading
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("ferbench", "torch", "torchvision", "timm", "facenet-pytorch", "numpy", "snakemake")
SLURM_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT", "SLURM_CLUSTER_NAME")


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class InputHashes:
    """sha256 of ``files`` ({role: path}), computed in a background thread from construction on.

    A daemon thread: a job stopped by a signal exits without waiting for a half-hashed image cache.
    """

    def __init__(self, files: Mapping[str, str | Path]):
        self.files = {role: Path(p) for role, p in files.items()}
        self._digests: dict[str, str] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="ferbench-sha256")
        self._thread.start()

    def _run(self) -> None:
        try:
            for role, path in self.files.items():
                self._digests[role] = sha256_file(path)
        except BaseException as e:  # raised by result()
            self._error = e

    def result(self) -> dict[str, dict[str, Any]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return {role: {"path": str(path), "bytes": path.stat().st_size, "sha256": self._digests[role]}
                for role, path in self.files.items()}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _git(folder: Path, *args: str) -> str:
    res = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
    if res.returncode:
        raise RuntimeError(res.stderr.strip() or f"git {args[0]} failed")
    return res.stdout.strip()


def git_state(folder: str | Path) -> dict[str, Any]:
    """Commit and dirty flag of the git checkout holding ``folder``, or why there is none."""
    folder = Path(folder)
    try:
        top = _git(folder, "rev-parse", "--show-toplevel")
        commit = _git(folder, "rev-parse", "HEAD")
        dirty = bool(_git(folder, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        return {"commit": None, "dirty": None, "checkout": None, "note": f"not a git checkout ({e})"}
    return {"commit": commit, "dirty": dirty, "checkout": top}


def code_version() -> dict[str, Any]:
    """The ferbench code that ran: its version and the checkout its modules were imported from
    (the workflow folder too, when the package came from elsewhere, e.g. an installed copy)."""
    package_dir = Path(__file__).resolve().parent
    code = {"ferbench": _version("ferbench"), "package_dir": str(package_dir), "git": git_state(package_dir)}
    workflow = git_state(Path.cwd())
    if workflow.get("checkout") != code["git"].get("checkout"):
        code["workflow_git"] = workflow
    return code


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def packages() -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {"python": platform.python_version()}
    out.update({name: _version(name) for name in PACKAGES if name != "ferbench"})
    cuda = torch.cuda.is_available()
    out["cuda"] = torch.version.cuda if cuda else None
    out["cudnn"] = torch.backends.cudnn.version() if cuda and torch.backends.cudnn.is_available() else None
    return out


def scheduler_ids(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """SLURM job, array and restart ids of the current job (only those that are set)."""
    return {k: environ[k] for k in SLURM_VARS if environ.get(k)}


def fold_provenance(*, started: str, ended: str, inputs: InputHashes, settings: Mapping[str, Any],
                    device: str, device_name: str) -> dict[str, Any]:
    return {
        "code": code_version(),
        "inputs": inputs.result(),
        "settings": dict(settings),
        "packages": packages(),
        "device": device,
        "device_name": device_name,
        "host": socket.gethostname(),
        "started": started,
        "ended": ended,
        "slurm": scheduler_ids(),
    }
