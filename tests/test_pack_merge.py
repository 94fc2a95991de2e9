"""``ferbench pack`` and ``ferbench merge`` with real runs of the tiny demo (tests/sharing_runs.py).

pack -> a fresh clone -> ``tar -xzf`` -> Snakemake has nothing to do -> verify passes; the same without
checkpoints; merge of two runs with different models -> verify passes, both columns, nothing to do;
merges that cannot share one benchmark are refused naming the files and folds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ferbench import layout
from ferbench.grid import Grid
from ferbench.merge import MergeRefused, merge, union_grid
from ferbench.pack import is_checkpoint, members, pack
from ferbench.schemas import read_split, read_split_meta, write_split
from ferbench.verify import Folder, verify
from sharing_runs import (CONFIGS, TABLE, copy_results, ferbench, fresh_clone, reseal, run_ok, tiny_config,
                          trained)
from test_grid_changes import job_counts
from workflow_helpers import snakemake

MODEL_A, MODEL_B = "efficientnet_b0", "resnet18"
NOTHING = "Nothing to be done"


def failures(root: Path, evaluate: bool = False) -> list[str]:
    return [str(c) for c in verify(root, evaluate) if c.status == "FAIL"]


def header(table: Path) -> list[str]:
    return [c.strip() for c in table.read_text().splitlines()[0].strip("|").split("|")][1:]


# -- fast ---------------------------------------------------------------------------------------------------
def test_pack_leaves_out_resume_state_logs_and_temporary_files(tmp_path):
    for rel in ("MANIFEST.sha256", "provenance.json", "runs/m/d/0/metrics.json", "runs/m/d/0/best.pt",
                "best/m/d/best.pt", "best/m/d/card.json", "runs/m/d/0/.metrics.json.x1.tmp",
                "resume/m/d/0/state.pt", "logs/train/m/d/0.log", "benchmarks/train/m/d/0.tsv",
                "aligned/d/images/.snakemake_timestamp", "PACKED.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    keep, dropped = members(tmp_path)
    files = [k for k in keep if (tmp_path / k).is_file()]
    assert files == ["MANIFEST.sha256", "aligned/d/images/.snakemake_timestamp", "benchmarks/train/m/d/0.tsv",
                     "best/m/d/best.pt", "best/m/d/card.json", "provenance.json", "runs/m/d/0/best.pt",
                     "runs/m/d/0/metrics.json"]
    assert dropped == [] and "runs/m/d" in keep and not any(k.startswith(("logs", "resume")) for k in keep)
    keep, dropped = members(tmp_path, checkpoints=False)
    assert dropped == ["best/m/d/best.pt", "runs/m/d/0/best.pt"] and not any(k.endswith(".pt") for k in keep)
    assert is_checkpoint("runs/dan/rafdb/3/best.pt") and not is_checkpoint("runs/dan/rafdb/best.pt")


def test_pack_refuses_an_unsealed_folder_and_an_archive_inside_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="only a sealed results folder can be packed"):
        pack(tmp_path, tmp_path.parent / "x.tar.gz")
    (tmp_path / "MANIFEST.sha256").write_text("")
    (tmp_path / "provenance.json").write_text("{}")
    with pytest.raises(ValueError, match="inside"):
        pack(tmp_path, tmp_path / "x.tar.gz")


def _folder(root: str, models, datasets, iterations, protocol="stratified") -> Folder:
    grid = Grid(tuple(datasets), tuple(models), iterations, tuple((d, protocol) for d in datasets))
    return Folder(Path(root), {"grid": grid.as_dict()}, grid, {}, {})


def test_merged_grid_is_the_union_and_refuses_folds_no_folder_has():
    grid = union_grid([_folder("A", ["dan"], ["rafdb"], 3), _folder("B", ["poster"], ["rafdb"], 3)])
    assert grid.models == ("dan", "poster") and grid.datasets == ("rafdb",) and grid.iterations == 3
    lacking = (r"\(dan, poster × rafdb, fer × 4 iterations\) needs 6 folds that no folder has: "
               r"runs/dan/fer/0, .*, runs/poster/rafdb/3, runs/poster/fer/3\. Train them in one")
    with pytest.raises(MergeRefused, match=lacking):
        union_grid([_folder("A", ["dan"], ["rafdb"], 4), _folder("B", ["poster"], ["rafdb", "fer"], 3)])
    two = r"dataset 'rafdb' is split with different protocols: stratified in A; crossval in B"
    with pytest.raises(MergeRefused, match=two):
        union_grid([_folder("A", ["dan"], ["rafdb"], 3), _folder("B", ["poster"], ["rafdb"], 3, "crossval")])


# -- slow: real runs ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_a(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "effnet", [MODEL_A])


@pytest.fixture(scope="module")
def run_b(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "resnet", [MODEL_B])


@pytest.mark.slow
def test_pack_into_a_fresh_clone_has_nothing_to_do_and_verifies(run_a, tmp_path):
    src = copy_results(run_a, tmp_path / "src" / "results")
    # what must not travel: a resume state, a temporary file of a write in progress
    (src / "resume/x/demo/0").mkdir(parents=True)
    (src / "resume/x/demo/0/state.pt").write_bytes(b"x")
    (src / "tables/.summary.csv.abc.tmp").write_text("{")
    archive = tmp_path / "a.tar.gz"
    res = ferbench("pack", str(src), "-o", str(archive), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "left out: resume/" in res.stdout
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert all(n == "results" or n.startswith("results/") for n in names)
    assert "results/PACKED.json" in names and f"results/best/{MODEL_A}/demo/best.pt" in names
    assert not [n for n in names if n.startswith(("results/logs", "results/resume")) or n.endswith(".tmp")]
    assert "results/aligned/demo/images/.snakemake_timestamp" in names

    clone = fresh_clone(tmp_path / "clone", tiny_config([MODEL_A]))
    subprocess.run(["tar", "-xzf", str(archive)], cwd=clone, check=True)
    rel = f"runs/{MODEL_A}/demo/1/metrics.json"
    assert abs((clone / "results" / rel).stat().st_mtime - (src / rel).stat().st_mtime) < 1e-6
    out = run_ok(clone, "-n", TABLE, *CONFIGS)  # the README's command, no extra flag
    assert NOTHING in out, out[-3000:]
    res = ferbench("verify", "results", cwd=clone)
    assert res.returncode == 0 and "FAIL" not in res.stdout, res.stdout
    assert "PASS PACKED.json: unpacked from an archive made with checkpoints" in res.stdout
    assert f"PASS best/{MODEL_A}/demo re-evaluation" in res.stdout


@pytest.mark.slow
def test_pack_without_checkpoints_verifies_and_says_so(run_a, tmp_path):
    archive = tmp_path / "small.tar.gz"
    record = pack(run_a / "results", archive, checkpoints=False)
    assert record["checkpoints_left_out"] == [f"best/{MODEL_A}/demo/best.pt",
                                              *(f"runs/{MODEL_A}/demo/{i}/best.pt" for i in (0, 1))]
    with tarfile.open(archive) as tar:
        assert not [n for n in tar.getnames() if n.endswith(".pt")]
        packed = json.load(tar.extractfile("results/PACKED.json"))
    assert packed["checkpoints"] is False
    clone = fresh_clone(tmp_path / "clone", tiny_config([MODEL_A]))
    subprocess.run(["tar", "-xzf", str(archive)], cwd=clone, check=True)
    found = list(verify(clone / "results"))
    assert not [c for c in found if c.status == "FAIL"], [str(c) for c in found if c.status == "FAIL"]
    lines = [str(c) for c in found]
    assert "SKIP MANIFEST.sha256: 3 checkpoints (.pt) were not packed (PACKED.json): their sha256 and the " \
           "re-evaluation cannot be checked" in lines
    assert f"SKIP best/{MODEL_A}/demo re-evaluation: best/{MODEL_A}/demo/best.pt was not packed" in lines
    # as documented: the table target has nothing to do; a job that needs a missing best.pt retrains its fold
    assert NOTHING in run_ok(clone, "-n", TABLE, *CONFIGS)
    planned = job_counts(run_ok(clone, "-n", f"results/best/{MODEL_A}/demo/best.pt", *CONFIGS))
    assert planned == {"train": 2, "best_card": 1, "best_checkpoint": 1}, planned


@pytest.mark.slow
def test_merge_of_two_runs_with_different_models(run_a, run_b, tmp_path):
    merged_cfg = {"benchmark": {"models": [MODEL_A, MODEL_B]}}
    clone = fresh_clone(tmp_path / "clone", merged_cfg)
    res = ferbench("merge", str(run_a / "results"), str(run_b / "results"), "-o", str(clone / "results"),
                   "--config-out", str(clone / "merged.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = clone / "results"
    assert "2 folds from" in res.stdout and res.stdout.count("2 folds from") == 2, res.stdout
    assert failures(out, evaluate=True) == []
    for metric in layout.TABLE_METRICS:
        assert header(out / f"tables/{metric}.md") == [MODEL_A, MODEL_B]
    summary = pd.read_csv(out / "tables/summary.csv")
    assert dict(zip(summary["model"], summary["n"])) == {MODEL_A: 2, MODEL_B: 2}
    provenance = json.loads((out / "provenance.json").read_text())
    assert [Path(m["folder"]).parent for m in provenance["merge"]["merged_from"]] == [run_a, run_b]
    assert provenance["grid"]["models"] == [MODEL_A, MODEL_B]
    assert provenance["grid"]["cross_dataset"] == {"train": ["demo"], "test": ["demo_valence"]}
    assert {p.parts[-5] for p in out.glob("cross/*/demo/demo_valence/*/metrics.json")} == {MODEL_A, MODEL_B}
    # the merged folder in a fresh clone, with the merged config: up to date
    res = snakemake(clone, "-n", TABLE, "--configfile", "merged.yaml")
    assert res.returncode == 0 and NOTHING in res.stdout + res.stderr, (res.stdout + res.stderr)[-3000:]


@pytest.mark.slow
def test_merge_deduplicates_identical_folds(run_a, tmp_path):
    copy = copy_results(run_a, tmp_path / "copy" / "results")
    report = merge([run_a / "results", copy], tmp_path / "merged")
    assert report.deduplicated == [*(f"runs/{MODEL_A}/demo/{i}" for i in (0, 1)),
                                   *(f"cross/{MODEL_A}/demo/demo_valence/{i}" for i in (0, 1))]
    assert failures(tmp_path / "merged") == []
    table = "tables/accuracy.md"
    assert (tmp_path / "merged" / table).read_text() == (run_a / "results" / table).read_text()


@pytest.fixture(scope="module")
def run_b_other_split(run_b, tmp_path_factory) -> Path:
    """Run B's folder after its split of iteration 1 was cut differently: Snakemake retrains that fold."""
    wd = tmp_path_factory.mktemp("other_split") / "wf"
    shutil.copytree(run_b, wd, symlinks=True)
    path = wd / "results/splits/demo/stratified/1.parquet"
    split = read_split(path)
    train, test = split.index[split["part"] == "train"][0], split.index[split["part"] == "test"][0]
    split.loc[[train, test], "part"] = ["test", "train"]
    write_split(path, split, **read_split_meta(path))
    assert job_counts(run_ok(wd, TABLE, *CONFIGS))["train"] == 1
    return wd


@pytest.mark.slow
def test_merge_refuses_a_fold_trained_on_another_split(run_b, run_b_other_split, tmp_path):
    res = ferbench("merge", str(run_b / "results"), str(run_b_other_split / "results"), "-o",
                   str(tmp_path / "c"), cwd=tmp_path)
    assert res.returncode == 1 and not (tmp_path / "c").exists()
    msg = res.stderr
    assert "splits/demo/stratified/1.parquet differs between" in msg, msg
    assert "these folds were trained on different splits" in msg
    assert msg.count(f"runs/{MODEL_B}/demo/1 in ") == 2, msg
    assert not list(tmp_path.glob(".c.*.tmp")), "a refused merge leaves nothing behind"


@pytest.mark.slow
def test_merge_refuses_a_fold_trained_twice(run_b, tmp_path):
    """Same split, different fold files (e.g. the fold trained on both clusters: wall times differ)."""
    other = copy_results(run_b, tmp_path / "other" / "results")
    metrics = other / f"runs/{MODEL_B}/demo/1/metrics.json"
    metrics.write_text(json.dumps(json.loads(metrics.read_text()) | {"wall_time_s": 1.0}))
    reseal(other)
    with pytest.raises(MergeRefused, match=rf"runs/{MODEL_B}/demo/1 is in .* with different files "
                                           r"\(metrics.json\): it was trained twice"):
        merge([run_b / "results", other], tmp_path / "c")


@pytest.mark.slow
def test_merge_refuses_another_label_table_and_an_unsealed_folder(run_a, run_b, tmp_path):
    other = copy_results(run_b, tmp_path / "other" / "results")
    labels = other / "data/demo/labels.parquet"
    table = pd.read_parquet(labels)
    schema = pq.read_schema(labels)
    table.loc[0, "label_name"] = "relabelled"
    pq.write_table(pa.Table.from_pandas(table, schema=schema, preserve_index=False), labels)
    unsealed = r"does not match its MANIFEST.sha256 \(0 files missing, 1 changed, e.g. data/demo/labels"
    with pytest.raises(MergeRefused, match=unsealed):
        merge([run_a / "results", other], tmp_path / "c")
    reseal(other)
    with pytest.raises(MergeRefused) as err:
        merge([run_a / "results", other], tmp_path / "c")
    msg = str(err.value)
    assert msg.startswith("data/demo/labels.parquet differs between"), msg
    assert f"runs/{MODEL_A}/demo/0, runs/{MODEL_A}/demo/1 in {run_a / 'results'}" in msg
    assert f"runs/{MODEL_B}/demo/0, runs/{MODEL_B}/demo/1 in {other}" in msg
