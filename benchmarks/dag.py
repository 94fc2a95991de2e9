"""The DAG at scale: `snakemake -n` on synthetic grids of about 100, the default config's and 10,000 jobs.

Each grid is a copy of the workflow in a temporary folder whose datasets look downloaded: their
``results/data/{base}/raw.json`` and raw folders (with every label file the entry names) exist, so no
licensed data is needed and the dry run plans everything from alignment to the report's pages. The
default grid is config/config.yaml as shipped (11 models × 10 datasets × 10 iterations); the others
add ``folder`` datasets and change the iteration count. Every grid is planned twice, the first time
on a fresh folder (which also creates the folds' folders and grid.json at parse time), and the
second time is reported: the wall time of the whole command and the CPU time it used (machine load
inflates the first, not the second). The per-job time must not grow with the grid.

Beside each grid, the floor: Snakemake alone planning the same number of jobs of a one-rule Snakefile
(no inputs, no functions, no config), i.e. what any workflow of that size pays for start-up and
scheduling before its own rules cost anything.

    python benchmarks/dag.py [--profile FILE]   # FILE: cProfile of the default grid's dry run

Prints one line per grid, ``N jobs: S s``, and last ``seconds X.X``, the default grid's wall time.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ferbench import layout
from ferbench.config import load_config, pretrained_files
from ferbench.download import label_files, placed_by_user

ROOT = Path(__file__).resolve().parents[1]
# (extra folder datasets, iterations, models): None keeps the default config's value
GRIDS = {
    "small": (["syn0", "syn1"], 10, ["resnet18", "dan"]),
    "default": (None, None, None),
    "large": ([f"syn{i}" for i in range(26)], 30, None),
}


def workflow_copy(dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "Snakefile").write_bytes((ROOT / "Snakefile").read_bytes())
    for sub in ("workflow", "config", "profiles"):
        for f in (ROOT / sub).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                target = dest / f.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(f.read_bytes())


def make_grid(dest: Path, extra: list[str] | None, iterations: int | None,
              models: list[str] | None) -> list[str]:
    """A workflow copy whose grid's datasets and pretrained files all look placed; returns the extra
    config files."""
    workflow_copy(dest)
    overrides: dict = {"benchmark": {}}
    if extra is not None:
        overrides["benchmark"]["datasets"] = extra
        overrides["datasets"] = {d: {"format": "folder", "obtain": "synthetic grid"} for d in extra}
    if iterations is not None:
        overrides["benchmark"]["iterations"] = iterations
    if models is not None:
        overrides["benchmark"]["models"] = models
    (dest / "grid.yaml").write_text(yaml.safe_dump(overrides))
    cfg = load_config(dest, [dest / "grid.yaml"])
    for d in {d.split("@")[0] for d in cfg["benchmark"]["datasets"]}:
        entry = cfg["datasets"][d]
        raw = dest / "resources" / "raw" / entry.get("raw", d)
        raw.mkdir(parents=True, exist_ok=True)
        for f in label_files(entry, raw) if placed_by_user(entry) else []:
            Path(f).parent.mkdir(parents=True, exist_ok=True)
            Path(f).touch()
        manifest = layout.path(dest / layout.RESULTS, layout.RAW_MANIFEST, base=d)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text("{}\n")
    # the grid's pretrained weight files are inputs of its training jobs: present (empty), as placed
    for model in cfg["benchmark"]["models"]:
        for weights in pretrained_files(cfg, model).values():
            (dest / weights.file).parent.mkdir(parents=True, exist_ok=True)
            (dest / weights.file).touch()
    return ["--configfile", "config/config.yaml", "grid.yaml"]


def bare_grid(dest: Path, jobs: int) -> None:
    """A Snakefile of ``jobs`` jobs of one rule that touches one file: Snakemake's own floor."""
    dest.mkdir(parents=True)
    (dest / "Snakefile").write_text(
        f"rule all:\n    input: expand('out/{{i}}.txt', i=range({jobs - 1}))\n\n"
        "rule touch:\n    output: 'out/{i}.txt'\n    shell: 'touch {output}'\n"
    )


def dry_run(folder: Path, args: list[str]) -> tuple[int, float, float]:
    """Jobs planned, wall seconds and CPU seconds of one `snakemake -n`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", *args],
                         cwd=folder, capture_output=True, text=True, env=os.environ)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"snakemake -n failed in {folder}:\n{(res.stdout + res.stderr)[-3000:]}")
    total = re.search(r"^total\s+(\d+)", res.stdout + res.stderr, re.MULTILINE)
    if not total:
        raise SystemExit(f"no job count in the dry run's output:\n{res.stdout[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return int(total.group(1)), wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", nargs="+", choices=list(GRIDS), default=list(GRIDS))
    ap.add_argument("--profile", type=Path, help="write a cProfile of the default grid's dry run here")
    args = ap.parse_args()
    default_wall = None
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.grids:
            folder = Path(tmp) / name
            cli = make_grid(folder, *GRIDS[name])
            dry_run(folder, cli)  # first run: creates the folds' folders and grid.json
            jobs, wall, cpu = dry_run(folder, cli)
            bare = Path(tmp) / f"{name}-bare"
            bare_grid(bare, jobs)
            dry_run(bare, [])  # as above: the second run is reported
            bare_jobs, bare_wall, _ = dry_run(bare, [])
            assert bare_jobs == jobs, (bare_jobs, jobs)
            print(f"{jobs} jobs: {wall:.1f} s  (CPU {cpu:.1f} s, {1000 * cpu / jobs:.2f} ms per job; "
                  f"{name} grid; Snakemake alone, {jobs} jobs of one rule: {bare_wall:.1f} s)", flush=True)
            if name == "default":
                default_wall = wall
                if args.profile:
                    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()), "-m",
                                    "snakemake", "-n", "--cores", "2", *cli], cwd=folder, capture_output=True,
                                   check=True)
    if default_wall is not None:
        print(f"seconds {default_wall:.1f}")


if __name__ == "__main__":
    main()
