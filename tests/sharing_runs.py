"""Real runs of the tiny demo for the sharing tests (verify, pack, merge), made once per test session.

The upstream stages (download, alignment, label table, image cache, splits) run once; each run is a
copy of that workflow folder (timestamps kept) that trains its own models and builds the tables, as two
people starting from the same prepared data would. Tests that change a run work on a copy.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ferbench import layout
from ferbench.manifest import write_manifest
from ferbench.verify import Folder
from workflow_helpers import TINY_DEMO, snakemake, workflow_copy, write_config

TABLE = "results/tables/accuracy.md"
CONFIGS = ["--configfile", "config/demo.yaml", "tiny.yaml"]
# every fold's best.pt is also scored on a small test-only dataset in three valence classes
CROSS = {"train": ["demo"], "test": ["demo_valence"]}
VALENCE = {"format": "folder", "synthesize": {"n_per_class": 6, "seed": 9, "size": 96}, "remap": "valence"}
ITERATIONS = TINY_DEMO["benchmark"]["iterations"]
UPSTREAM = ["results/data/demo/images.npy", "results/data/demo_valence/images.npy",
            *(f"results/splits/demo/stratified/{i}.parquet" for i in range(ITERATIONS))]

_made: dict[str, Path] = {}


def tiny_config(models: list[str]) -> dict:
    cfg = copy.deepcopy(TINY_DEMO)
    cfg["benchmark"]["models"] = models
    cfg["benchmark"]["cross_dataset"] = CROSS
    cfg["datasets"]["demo_valence"] = VALENCE
    cfg["models"] = {m: {"pretrained": "none"} for m in models}
    return cfg


def run_ok(wd: Path, *args: str) -> str:
    res = snakemake(wd, *args)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    return out


def _prepared(factory) -> Path:
    if "prepared" not in _made:
        wd = workflow_copy(factory.mktemp("prepared"))
        write_config(wd, "tiny.yaml", tiny_config(["resnet18"]))
        run_ok(wd, *UPSTREAM, *CONFIGS)
        _made["prepared"] = wd
    return _made["prepared"]


def trained(factory, name: str, models: list[str]) -> Path:
    """A workflow folder whose results/ holds the tiny demo trained for ``models`` (made once)."""
    if name not in _made:
        wd = factory.mktemp(name) / "wf"
        shutil.copytree(_prepared(factory), wd, symlinks=True)  # copy2: timestamps kept
        write_config(wd, "tiny.yaml", tiny_config(models))
        run_ok(wd, TABLE, *CONFIGS)
        _made[name] = wd
    return _made[name]


def copy_results(wd: Path, dest: Path) -> Path:
    """A copy of a run's results folder (timestamps kept), to change without touching the run."""
    return Path(shutil.copytree(wd / "results", dest, symlinks=True))


def fresh_clone(dest: Path, config: dict) -> Path:
    """The workflow as a fresh clone makes it: every file newer than any result."""
    wd = workflow_copy(dest)
    write_config(wd, "tiny.yaml", config)
    now = time.time()
    for f in wd.rglob("*"):
        os.utime(f, (now, now))
    return wd


def ferbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The ``ferbench`` command (``python -m ferbench``: this checkout's code)."""
    return subprocess.run([sys.executable, "-m", "ferbench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def reseal(root: Path) -> None:
    """Rewrite MANIFEST.sha256 over the files as they are now, as a forger (or a careless hand) would."""
    write_manifest(Folder.open(root).grid.sealed_files(root), root, root / layout.MANIFEST)
