"""Running the real workflow from a test: a copy of the workflow files in a temporary folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def workflow_copy(dest: Path) -> Path:
    """Snakefile, workflow/ and config/ copied to ``dest`` (results then land in ``dest/results``)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "Snakefile", dest / "Snakefile")
    for sub in ("workflow", "config", "profiles"):
        if (REPO / sub).is_dir():
            shutil.copytree(REPO / sub, dest / sub, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def write_config(dest: Path, name: str, cfg: dict) -> Path:
    path = dest / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
    )


TINY_DEMO = {
    "benchmark": {"datasets": ["demo"], "models": ["resnet18", "dan"], "iterations": 2, "protocol": "stratified",
                  "recipe": "crossval"},
    "datasets": {"demo": {"synthesize": {"n_per_class": 10, "seed": 1, "size": 128}}},
    "align": {"size": 64},
    "models": {"resnet18": {"pretrained": "none"}, "dan": {"pretrained": "none"}},
    "train": {"threads": 1, "input_size": 48, "overrides": {"epochs": 1, "patience": 1, "batch_size": 16}},
}
