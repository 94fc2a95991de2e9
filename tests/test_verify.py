"""``ferbench verify``: a fresh run passes; each kind of tampering is caught, also with a re-sealed manifest.

The slow tests share one real run of the tiny demo (tests/sharing_runs.py) and tamper with copies of it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ferbench import layout
from ferbench.verify import Check, compare_predictions, verify
from sharing_runs import copy_results, ferbench, reseal, trained
from workflow_helpers import REPO

MODEL = "efficientnet_b0"  # small checkpoints (16 MB): quick copies


def checks(root: Path, evaluate: bool = True) -> list[Check]:
    return list(verify(root, evaluate))


def failed(found: list[Check]) -> list[str]:
    return [str(c) for c in found if c.status == "FAIL"]


# -- fast: the parts that need no run --------------------------------------------------------------------
def test_a_folder_that_is_not_sealed_fails_with_what_is_missing(tmp_path):
    (tmp_path / "tables").mkdir()
    (found,) = checks(tmp_path)
    assert found.status == "FAIL" and "provenance.json not found" in found.detail
    assert "not a sealed results folder" in found.detail


def _stored(probs: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({f"prob_{c}": probs[:, c].astype(np.float32) for c in range(probs.shape[1])})
    df["predicted"] = probs.argmax(1)
    return df


def test_compare_predictions_cpu_exact_gpu_tolerant():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=100)
    stored = _stored(probs)
    assert compare_predictions(probs, stored, "cpu", "x").status == "PASS"
    other = probs.copy()
    other[0] = np.roll(other[0], 1)  # a clear change of one image's prediction
    assert compare_predictions(other, stored, "cpu", "x").status == "FAIL"
    assert compare_predictions(other, stored, "cuda", "x").status == "WARN"  # 99% agree
    many = probs.copy()
    many[:5] = np.roll(many[:5], 1, axis=1)
    assert compare_predictions(many, stored, "cuda:0", "x").status == "FAIL"  # 95% agree
    tie = np.full((1, 5), 0.1)
    tie[0, 1], tie[0, 2] = 0.3, 0.3 + 1e-6
    flipped = tie.copy()
    flipped[0, 1], flipped[0, 2] = 0.3 + 1e-6, 0.3
    assert compare_predictions(flipped, _stored(tie), "cpu", "x").status == "PASS"  # a tie may go either way


# -- slow: a real run -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "effnet", [MODEL])


@pytest.fixture
def results(run, tmp_path) -> Path:
    return copy_results(run, tmp_path / "results")


def card(results: Path) -> dict:
    return json.loads((results / f"best/{MODEL}/demo/card.json").read_text())


@pytest.mark.slow
def test_a_fresh_run_passes_every_check(run):
    res = ferbench("verify", "results", cwd=run)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert "FAIL" not in out and out.splitlines()[-1].startswith("OK: results: ")
    for line in ("PASS MANIFEST.sha256", "PASS grid.json",
                 f"PASS runs/{MODEL}/demo/0: metrics.json = predictions.parquet",
                 f"PASS runs/{MODEL}/demo/1:", "PASS tables/summary.csv", "PASS tables/accuracy.md",
                 f"PASS cross/{MODEL}/demo/demo_valence/0: metrics.json = predictions.parquet",
                 f"PASS cross/{MODEL}/demo/demo_valence/1:",
                 f"PASS best/{MODEL}/demo: card selects runs/{MODEL}/demo/",
                 f"PASS best/{MODEL}/demo re-evaluation: 10 test images on CPU: 10 predicted labels equal",
                 "PASS code versions", f"PASS {MODEL} settings"):
        assert line in out, (line, out)
    # the README's table target builds one table: the other is not a failure, and verify says how to build it
    assert "SKIP tables/balanced_accuracy.md: not built" in out


@pytest.mark.slow
@pytest.mark.parametrize("resealed", [False, True])
def test_a_tampered_metrics_json_is_caught(results, resealed):
    path = results / f"runs/{MODEL}/demo/0/metrics.json"
    m = json.loads(path.read_text())
    m["test_accuracy"] = 0.99
    path.write_text(json.dumps(m))
    if resealed:
        reseal(results)
    bad = failed(checks(results, evaluate=False))
    assert any(f"runs/{MODEL}/demo/0: metrics.json test_accuracy=0.99, recomputed from predictions.parquet"
               in b for b in bad), bad
    assert any(f"runs/{MODEL}/demo/0/metrics.json changed" in b for b in bad) != resealed, bad
    # the summary was built from the true value: it no longer matches the folds
    assert any(b.startswith("FAIL tables/summary.csv: differs") for b in bad), bad


@pytest.mark.slow
def test_a_tampered_cross_dataset_evaluation_is_caught(results):
    path = results / f"cross/{MODEL}/demo/demo_valence/1/metrics.json"
    m = json.loads(path.read_text())
    m["test_balanced_accuracy"] = 0.75
    path.write_text(json.dumps(m))
    reseal(results)
    bad = failed(checks(results, evaluate=False))
    assert any(f"FAIL cross/{MODEL}/demo/demo_valence/1: metrics.json test_balanced_accuracy=0.75, recomputed"
               in b for b in bad), bad


@pytest.mark.slow
@pytest.mark.parametrize("manifest_too", [False, True])
def test_a_missing_fold_is_caught(results, manifest_too):
    shutil.rmtree(results / f"runs/{MODEL}/demo/1")
    if manifest_too:  # its lines removed from the manifest as well
        manifest = results / layout.MANIFEST
        manifest.write_text("".join(l for l in manifest.read_text().splitlines(True) if "/demo/1/" not in l))
    bad = failed(checks(results, evaluate=False))
    assert any(f"FAIL runs/{MODEL}/demo/1: the fold is missing" in b for b in bad), bad
    assert any("FAIL tables: cannot be rebuilt from the folds" in b for b in bad), bad
    if manifest_too:
        assert any(f"does not list runs/{MODEL}/demo/1/metrics.json, which the grid" in b for b in bad), bad
    else:
        assert any(f"runs/{MODEL}/demo/1/metrics.json is listed but missing" in b for b in bad), bad


@pytest.mark.slow
def test_a_swapped_checkpoint_is_caught(results):
    c = card(results)
    other = 1 - c["iteration"]
    for dest in (results / f"best/{MODEL}/demo/best.pt", results / c["source"] / "best.pt"):
        shutil.copy2(results / f"runs/{MODEL}/demo/{other}/best.pt", dest)
    reseal(results)  # even with a manifest made over the swapped files
    found = checks(results)
    bad = failed(found)
    assert any(f"best/{MODEL}/demo: best.pt has sha256" in b and "card.json selected" in b for b in bad), bad
    reeval = next(c for c in found if c.subject == f"best/{MODEL}/demo re-evaluation")
    assert reeval.status == "FAIL", reeval


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["other_model", "not_a_checkpoint"])
def test_a_best_checkpoint_that_does_not_load_is_caught(results, damage):
    import torch

    from ferbench.models import create_model

    dest = results / f"best/{MODEL}/demo/best.pt"
    if damage == "other_model":
        torch.save(create_model("resnet18", 5).state_dict(), dest)
    else:
        dest.write_bytes(b"not a checkpoint")
    reseal(results)
    found = checks(results)
    reeval = next(c for c in found if c.subject == f"best/{MODEL}/demo re-evaluation")
    assert reeval.status == "FAIL", reeval
    if damage == "other_model":
        assert f"does not fit {MODEL!r} with 5 classes" in reeval.detail, reeval
    assert any(f"best/{MODEL}/demo: best.pt has sha256" in b for b in failed(found))


@pytest.mark.slow
def test_an_edited_table_is_caught(results):
    table = results / "tables/accuracy.md"
    text = table.read_text()
    cell = text.splitlines()[2].split("|")[2].strip()
    table.write_text(text.replace(cell, "0.999 ± 0.000 (n=2)"))
    bad = failed(checks(results, evaluate=False))
    assert bad == ["FAIL tables/accuracy.md: differs from the table rebuilt from the folds: line 3 is "
                   f"'| demo | 0.999 ± 0.000 (n=2) |', rebuilt '| demo | {cell} |'"], bad


@pytest.mark.slow
def test_predictions_inconsistent_with_metrics_are_caught(results):
    """One test image's prediction changed to another class, probabilities swapped to agree: the file is
    self-consistent, only the recomputation of the metrics (and the re-evaluation) can tell."""
    fold = results / card(results)["source"]
    table = pq.read_table(fold / "predictions.parquet")
    df = table.to_pandas()
    row = df.index[df["part"] == "test"][0]
    classes = [c for c in df.columns if c.startswith("prob_")]
    old = int(df.at[row, "predicted"])
    new = (old + 1) % len(classes) if int(df.at[row, "true"]) == old else int(df.at[row, "true"])
    a, b = classes[old], classes[new]
    df.at[row, a], df.at[row, b] = df.at[row, b], df.at[row, a]
    df.at[row, "predicted"] = new
    pq.write_table(pa.Table.from_pandas(df, schema=table.schema, preserve_index=False),
                   fold / "predictions.parquet")
    reseal(results)
    found = checks(results)
    bad = failed(found)
    source = card(results)["source"]
    assert any(f"FAIL {source}: metrics.json test_accuracy=" in b and "recomputed from predictions.parquet"
               in b for b in bad), bad
    reeval = next(c for c in found if c.subject == f"best/{MODEL}/demo re-evaluation")
    assert reeval.status == "FAIL" and "9 predicted labels equal" in reeval.detail, reeval


@pytest.mark.slow
def test_without_the_image_cache_the_re_evaluation_is_skipped_and_says_why(results):
    (results / "data/demo/images.npy").unlink()  # not in the manifest: the folder still passes
    found = checks(results)
    assert not failed(found), failed(found)
    reeval = next(c for c in found if c.subject == f"best/{MODEL}/demo re-evaluation")
    assert reeval.status == "SKIP" and "cannot re-evaluate: data/demo/images.npy absent" in reeval.detail


@pytest.mark.slow
def test_folds_of_different_code_or_settings_are_warned_about(results):
    prov = results / f"runs/{MODEL}/demo/1/provenance.json"
    doc = json.loads(prov.read_text())
    doc["code"] = {"ferbench": "0.0.9", "git": {"commit": "abc123", "dirty": True}}
    prov.write_text(json.dumps(doc))
    metrics = results / f"runs/{MODEL}/demo/1/metrics.json"
    m = json.loads(metrics.read_text())
    m["recipe"]["lr"] = 0.5
    metrics.write_text(json.dumps(m))
    reseal(results)
    found = {c.subject: c for c in checks(results, evaluate=False)}
    assert not failed(list(found.values())), failed(list(found.values()))
    versions = found["code versions"]
    assert versions.status == "WARN" and "ferbench 0.0.9 @ abc123+dirty (1 folds)" in versions.detail
    settings = found[f"{MODEL} settings"]
    assert settings.status == "WARN" and f"recipe.lr: runs/{MODEL}/demo/0 " in settings.detail
    assert f"runs/{MODEL}/demo/1 0.5" in settings.detail


@pytest.mark.slow
def test_a_fold_trained_on_another_split_than_the_folder_holds_is_caught(results):
    """When the fold's provenance.json records the sha256 of its inputs, they must be the folder's files."""
    prov = results / f"runs/{MODEL}/demo/0/provenance.json"
    doc = json.loads(prov.read_text())
    doc["inputs"] = {"split": {"path": "results/splits/demo/stratified/0.parquet", "sha256": "0" * 64}}
    prov.write_text(json.dumps(doc))
    reseal(results)
    bad = failed(checks(results, evaluate=False))
    assert any(f"runs/{MODEL}/demo/0: trained on a split file with sha256 000000000000…, but "
               "splits/demo/stratified/0.parquet has" in b for b in bad), bad


@pytest.mark.slow
def test_the_cli_exits_non_zero_on_a_failure(results):
    (results / "tables/summary.csv").write_text("dataset,model\n")
    res = ferbench("verify", str(results), "--no-evaluate", cwd=REPO)
    assert res.returncode == 1 and "FAIL tables/summary.csv" in res.stdout
    assert res.stdout.splitlines()[-1].startswith(f"FAILED: {results}: ")
