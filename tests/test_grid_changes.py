"""Growing, shrinking and editing a finished grid, with real runs (not only dry runs): each change must
rerun exactly the jobs it invalidates and leave the tables right. One workflow copy, steps in order."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from workflow_helpers import snakemake, workflow_copy, write_config

pytestmark = pytest.mark.slow

BASE = {
    "benchmark": {"datasets": ["demo"], "models": ["resnet18"], "iterations": 2, "protocol": "stratified",
                  "recipe": "crossval"},
    "datasets": {"demo": {"synthesize": {"n_per_class": 8, "seed": 1, "size": 96}},
                 # the demo's images with their labels in a csv: a placed dataset with a label file
                 "mine": {"format": "csv", "options": {"file": "labels.csv"}, "obtain": "the test"}},
    "align": {"size": 48},
    "models": {"resnet18": {"pretrained": "none"}, "dan": {"pretrained": "none"}},
    "train": {"threads": 1, "input_size": 32, "overrides": {"epochs": 1, "patience": 1, "batch_size": 16}},
}
TABLE = "results/tables/accuracy.md"


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs; {} for 'Nothing to be done'."""
    if "Job stats:" not in output:
        return {}
    block = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M) if m[1] != "total"}


def cells(wd: Path) -> dict[tuple[str, str], int]:
    summary = pd.read_csv(wd / "results/tables/summary.csv")
    return {(r.dataset, r.model): int(r.n) for r in summary.itertuples()}


def header(wd: Path) -> list[str]:
    first = (wd / TABLE).read_text().splitlines()[0]
    return [c.strip() for c in first.strip("|").split("|")][1:]


def mtime(wd: Path, rel: str) -> int:
    return (wd / rel).stat().st_mtime_ns


class Grid:
    def __init__(self, wd: Path):
        self.wd = wd
        self.configs: list[str] = []

    def set(self, **changes) -> None:
        """A new --configfile on top of the previous ones (lists replace, mappings merge)."""
        name = f"step{len(self.configs)}.yaml"
        write_config(self.wd, name, changes)
        self.configs.append(name)

    def run(self, *targets: str, dry: bool = False) -> tuple[dict[str, int], str]:
        args = [*targets, "--configfile", "config/demo.yaml", "base.yaml", *self.configs]
        res = snakemake(self.wd, *(["-n"] if dry else []), *args)
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-4000:]
        return job_counts(out), out


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Grid:
    wd = workflow_copy(tmp_path_factory.mktemp("grid"))
    write_config(wd, "base.yaml", BASE)
    g = Grid(wd)
    counts, _ = g.run(TABLE)
    assert counts["train"] == 2
    assert cells(wd) == {("demo", "resnet18"): 2}
    return g


def test_adding_a_model_and_an_iteration_trains_exactly_the_new_folds(grid):
    wd = grid.wd
    old_splits = {i: mtime(wd, f"results/splits/demo/stratified/{i}.parquet") for i in (0, 1)}
    old_folds = {i: mtime(wd, f"results/runs/resnet18/demo/{i}/metrics.json") for i in (0, 1)}
    grid.set(benchmark={"models": ["resnet18", "dan"], "iterations": 3})
    planned, _ = grid.run(TABLE, dry=True)
    # dan × 3 + resnet18's new iteration; one new split; no upstream stage
    assert planned["train"] == 4 and planned["split"] == 1, planned
    assert not {"download", "align", "label_table", "image_cache"} & set(planned), planned
    assert grid.run(dry=True)[0]["train"] == 4  # the default target plans the same folds
    done, _ = grid.run(TABLE)
    assert done["train"] == 4
    assert header(wd) == ["resnet18", "dan"]
    assert cells(wd) == {("demo", "resnet18"): 3, ("demo", "dan"): 3}
    # the finished folds and their splits were not touched: split i does not depend on the count
    assert {i: mtime(wd, f"results/splits/demo/stratified/{i}.parquet") for i in (0, 1)} == old_splits
    assert {i: mtime(wd, f"results/runs/resnet18/demo/{i}/metrics.json") for i in (0, 1)} == old_folds
    card = json.loads((wd / "results/best/dan/demo/card.json").read_text())
    assert card["iteration"] in (0, 1, 2) and (wd / "results/best/dan/demo/best.pt").is_file()
    # the default target builds the other table from what is there, and trains nothing
    counts, _ = grid.run()
    assert "train" not in counts and counts.get("table") == 1, counts
    assert grid.run(TABLE, dry=True)[0] == {} and grid.run(dry=True)[0] == {}


def test_removing_a_model_rebuilds_the_tables_without_it_and_keeps_its_folds(grid):
    wd = grid.wd
    grid.set(benchmark={"models": ["dan"]})
    done, _ = grid.run(TABLE)
    assert "train" not in done and done.get("table") == 1, done
    assert header(wd) == ["dan"] and cells(wd) == {("demo", "dan"): 3}
    assert (wd / "results/runs/resnet18/demo/0/metrics.json").is_file()
    manifest = (wd / "results/MANIFEST.sha256").read_text()
    assert "runs/dan/demo/2/best.pt" in manifest and "runs/resnet18" not in manifest


@pytest.mark.parametrize("deleted", ["runs/dan/demo/1/metrics.json", "runs/dan/demo/2/history.csv", "runs/dan/demo/0"])
def test_deleted_fold_outputs_retrain_that_fold_and_the_tables_follow(grid, deleted):
    wd = grid.wd
    target = wd / "results" / deleted
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    planned, _ = grid.run(TABLE, dry=True)
    assert planned.get("train") == 1 and "split" not in planned and planned.get("table") == 1, planned
    grid.run(TABLE)
    assert cells(wd) == {("demo", "dan"): 3}
    assert grid.run(TABLE, dry=True)[0] == {}


def test_a_results_folder_without_snakemake_metadata_still_grows(grid, tmp_path):
    """A folder handed over (no .snakemake/) next to a fresh copy of the workflow: nothing to do, then
    one more iteration trains exactly the new folds."""
    other = workflow_copy(tmp_path / "fresh")
    shutil.copytree(grid.wd / "results", other / "results", copy_function=shutil.copy2)
    for name in ["base.yaml", *grid.configs]:
        shutil.copy2(grid.wd / name, other / name)
    moved = Grid(other)
    moved.configs = list(grid.configs)
    assert moved.run(TABLE, dry=True)[0] == {}
    moved.set(benchmark={"iterations": 4})
    planned, _ = moved.run(TABLE, dry=True)
    assert planned.get("train") == 1 and planned.get("split") == 1, planned


def test_editing_a_placed_label_file_reruns_that_dataset(grid):
    wd = grid.wd
    raw = wd / "resources/raw/mine"
    rows = []
    for f in sorted((wd / "resources/raw/demo").glob("*/*.png")):
        dest = raw / "img" / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.read_bytes())
        rows.append(f"img/{f.name},{f.parent.name}")
    (raw / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    grid.set(benchmark={"datasets": ["demo", "mine"], "iterations": 2})
    done, _ = grid.run(TABLE)
    assert done["train"] == 2 and done["align"] == 1, done  # dan on the new dataset only
    assert cells(wd) == {("demo", "dan"): 2, ("mine", "dan"): 2}
    before = pd.read_parquet(wd / "results/data/mine/labels.parquet")
    # relabel one image: the dataset's stages and folds rerun, the other dataset's do not
    first, label = rows[0].split(",")
    new_label = "happy" if label != "happy" else "sad"
    (raw / "labels.csv").write_text("path,label\n" + "\n".join([f"{first},{new_label}", *rows[1:]]) + "\n")
    planned, _ = grid.run(TABLE, dry=True)
    assert planned.get("download") == 1 and planned.get("label_table") == 1 and planned.get("train") == 2, planned
    grid.run(TABLE)
    after = pd.read_parquet(wd / "results/data/mine/labels.parquet")
    changed = after.set_index("image_id")["label_name"] != before.set_index("image_id")["label_name"]
    assert int(changed.sum()) == 1


def test_switching_to_another_dataset_rebuilds_the_tables_for_it(grid):
    wd = grid.wd
    grid.set(benchmark={"datasets": ["mine"]})
    done, _ = grid.run(TABLE)
    assert "train" not in done and done.get("table") == 1, done
    assert cells(wd) == {("mine", "dan"): 2}
    assert "| mine |" in (wd / TABLE).read_text() and "| demo |" not in (wd / TABLE).read_text()
