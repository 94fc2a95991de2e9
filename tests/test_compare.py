"""Paired comparison of models (ferbench.compare) on constructed cases whose answer is known."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from scipy import stats
from sklearn.metrics import balanced_accuracy_score

from ferbench import schemas
from ferbench.compare import write_significance
from ferbench.compare.across import cd_diagram, friedman
from ferbench.compare.paired import IDENTICAL, compare_pairs, corrected_ttest, holm, plain_ttest
from ferbench.compare.per_image import mcnemar_pairs, paired_correctness
from ferbench.compare.folds import load_folds, load_test_correctness
from ferbench.compare.report import analyse_dataset, dataset_markdown

matplotlib.use("Agg")

FIGURES = ("accuracy", "balanced_accuracy")


def _scores(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns).rename_axis("iteration")


def _pair(out: pd.DataFrame, a: str, b: str, test: str = "corrected_t") -> pd.Series:
    return out[(out["model_a"] == a) & (out["model_b"] == b) & (out["test"] == test)].iloc[0]


# -- fold-level tests ----------------------------------------------------------------------------------

def test_identical_models_show_no_difference():
    base = np.random.default_rng(0).uniform(0.6, 0.8, 10)
    out = compare_pairs(_scores(a=base, a_copy=base.copy(), other=base - 0.1), test_train_ratio=0.25)
    for test in ("corrected_t", "paired_t", "wilcoxon"):
        row = _pair(out, "a", "a_copy", test)
        assert row["delta"] == 0.0 and row["p"] == 1.0 and row["p_holm"] == 1.0 and row["note"] == IDENTICAL


def test_a_model_made_worse_by_construction_is_detected():
    rng = np.random.default_rng(1)
    good = rng.uniform(0.6, 0.8, 10)
    worse = good - 0.05 + rng.normal(0, 0.005, 10)
    out = compare_pairs(_scores(good=good, worse=worse), test_train_ratio=0.25)
    t = _pair(out, "good", "worse")
    assert t["delta"] == pytest.approx(0.05, abs=0.005)
    assert t["ci_low"] > 0 and t["p_holm"] < 0.05
    assert _pair(out, "good", "worse", "wilcoxon")["p"] == pytest.approx(2 / 2**10)  # all 10 folds agree


def test_corrected_t_equals_the_hand_computation():
    d = np.array([0.02, 0.01, 0.03, 0.00, 0.04])  # mean 0.02, squared deviations sum to 1e-3
    s2 = 1e-3 / 4
    se = math.sqrt((1 / 5 + 0.25) * s2)  # n_test/n_train = 0.25
    t = 0.02 / se
    res = corrected_ttest(d, 0.25)
    assert res.statistic == pytest.approx(t) and t == pytest.approx(1.885618, rel=1e-6)
    assert res.p == pytest.approx(2 * stats.t.sf(t, df=4))
    half = stats.t.ppf(0.975, df=4) * se
    assert (res.ci_low, res.ci_high) == (pytest.approx(0.02 - half), pytest.approx(0.02 + half))


def test_corrected_test_is_less_confident_than_the_plain_paired_t_test():
    rng = np.random.default_rng(2)
    a = rng.uniform(0.6, 0.8, 10)
    b = a - 0.01 + rng.normal(0, 0.01, 10)
    plain, corrected = plain_ttest(a - b), corrected_ttest(a - b, 0.25)
    assert plain.p == pytest.approx(stats.ttest_rel(a, b).pvalue)  # the plain test is scipy's
    assert corrected.p > plain.p and abs(corrected.statistic) < abs(plain.statistic)
    assert corrected.ci_high - corrected.ci_low > plain.ci_high - plain.ci_low
    assert corrected.delta == plain.delta


def test_holm_on_a_known_vector():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> kept monotone: 0.06
    assert holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.01, np.nan])) == pytest.approx([0.02, 1.0])  # an undefined p counts as 1


def test_constant_difference_has_zero_variance_and_is_reported():
    out = compare_pairs(_scores(a=[0.8, 0.7, 0.9], b=[0.75, 0.65, 0.85]), test_train_ratio=0.25)
    row = _pair(out, "a", "b")
    assert row["statistic"] == np.inf and row["p"] == 0.0 and "zero variance" in row["note"]


# -- per image -----------------------------------------------------------------------------------------

def _correct(model, iteration, right, dataset="d", ids=None):
    ids = ids if ids is not None else [f"i{k}" for k in range(len(right))]
    return pd.DataFrame({"model": model, "dataset": dataset, "iteration": iteration, "image_id": ids,
                         "true": 0, "correct": right})


def test_mcnemar_exact_and_chi_square_on_constructed_tables():
    # 2x2: both right 5, a only 8, b only 1, neither 2 -> exact: 2·P(X ≤ 1 | 9, 1/2) = 2·10/512
    a = np.array([1] * 5 + [1] * 8 + [0] * 1 + [0] * 2, bool)
    b = np.array([1] * 5 + [0] * 8 + [1] * 1 + [0] * 2, bool)
    out = mcnemar_pairs(pd.DataFrame({"a": a, "b": b}))
    row = out.iloc[0]
    assert (row["a_only"], row["b_only"]) == (8, 1) and row["note"] == "exact binomial"
    assert row["p"] == pytest.approx(20 / 512)
    assert row["delta"] == pytest.approx((8 - 1) / 16)
    # 30 vs 10 discordant: chi-square with continuity correction (|30 - 10| - 1)² / 40
    a = np.array([1] * 30 + [0] * 10, bool)
    row = mcnemar_pairs(pd.DataFrame({"a": a, "b": ~a})).iloc[0]
    assert row["statistic"] == pytest.approx(19**2 / 40) and row["note"] == "chi-square"
    assert row["p"] == pytest.approx(stats.chi2.sf(19**2 / 40, 1))
    same = mcnemar_pairs(pd.DataFrame({"a": a, "b": a})).iloc[0]
    assert same["p"] == 1.0 and same["a_only"] == same["b_only"] == 0


def test_mcnemar_pools_discordant_counts_over_folds_and_refuses_unpaired_images():
    correct = pd.concat([
        _correct("a", 0, [True, True, False]), _correct("b", 0, [False, True, False]),
        _correct("a", 1, [True, False, False]), _correct("b", 1, [False, True, True]),
    ])
    wide = paired_correctness(correct, ["a", "b"], [0, 1])
    assert len(wide) == 6
    row = mcnemar_pairs(wide).iloc[0]
    assert (row["a_only"], row["b_only"]) == (1 + 1, 0 + 2)
    shifted = pd.concat([correct, _correct("a", 2, [True]), _correct("b", 2, [True], ids=["other"])])
    with pytest.raises(ValueError, match="not paired"):
        paired_correctness(shifted, ["a", "b"], [0, 1, 2])


# -- across datasets -----------------------------------------------------------------------------------

def test_friedman_on_a_known_ranking():
    # 4 datasets where the ranks are always 1, 2, 3: rank sums 4, 8, 12,
    # χ² = 12 / (n k (k + 1)) · ΣR² - 3 n (k + 1) = 12/48 · 224 - 48 = 8, p = exp(-8/2) (2 df)
    means = pd.DataFrame({"a": [0.9, 0.8, 0.7, 0.95], "b": [0.8, 0.7, 0.6, 0.9], "c": [0.7, 0.6, 0.5, 0.8]},
                         index=["d1", "d2", "d3", "d4"])
    means.loc["d5"] = [0.9, np.nan, 0.8]  # a model without folds there: the dataset is left out
    f = friedman(means)
    assert f.statistic == pytest.approx(8.0) and f.p == pytest.approx(math.exp(-4))
    assert f.dropped == ["d5"] and list(f.mean_ranks) == [1.0, 2.0, 3.0]
    assert "at least 3 models" in friedman(means[["a", "b"]]).note


def test_cd_diagram_needs_five_datasets_and_three_models(tmp_path):
    rng = np.random.default_rng(3)
    means = pd.DataFrame(rng.uniform(0.5, 0.9, (6, 3)) + [0.1, 0, -0.1], columns=["a", "b", "c"],
                         index=[f"d{i}" for i in range(6)])
    assert cd_diagram(means, "accuracy", tmp_path / "cd.png") == ""
    drawn = Image.open(tmp_path / "cd.png")
    few = cd_diagram(means.iloc[:2], "accuracy", tmp_path / "few.png")
    assert "at least 5 datasets" in few and "got 2" in few
    two = cd_diagram(means[["a", "b"]], "accuracy", tmp_path / "two.png")
    assert "at least 3 models" in two
    for name in ("few.png", "two.png"):  # placeholders are real images too
        assert Image.open(tmp_path / name).size[0] > 300
    assert drawn.size[0] > 300 and drawn.size[1] > 100


# -- degenerate datasets -------------------------------------------------------------------------------

def _fold_rows(dataset, model, accs, n_train=60, n_test=20):
    return [{"model": model, "dataset": dataset, "iteration": i, "n_train": n_train, "n_test": n_test,
             "accuracy": a, "balanced_accuracy": a, "path": f"{model}/{dataset}/{i}"}
            for i, a in enumerate(accs)]


def test_degenerate_datasets_give_a_statement_not_a_crash():
    empty = pd.DataFrame(columns=["model", "dataset", "iteration", "image_id", "true", "correct"])
    one_model = pd.DataFrame(_fold_rows("d", "a", [0.8, 0.7]))
    res = analyse_dataset("d", one_model, empty, ["a", "b"], [])
    assert "Only a has folds on d" in res.statement and res.tests.empty
    one_fold = pd.DataFrame(_fold_rows("d", "a", [0.8]) + _fold_rows("d", "b", [0.7, 0.6]))
    excluded = []
    res = analyse_dataset("d", one_fold, empty, ["a", "b"], excluded)
    assert res.iterations == [0] and "no test can be run" in res.statement
    assert excluded == ["b/d/1: iteration not finished by every model of d"]
    row = res.tests[res.tests["metric"] == "accuracy"].iloc[0]
    assert row["delta"] == pytest.approx(0.1) and np.isnan(row["p"]) and res.best("accuracy") is None
    assert "| a (0.800) | · | +0.100 |" in dataset_markdown(res)
    disjoint = pd.DataFrame(_fold_rows("d", "a", [0.8]) + _fold_rows("d", "b", [0.7, 0.6])[1:])
    res = analyse_dataset("d", disjoint, empty, ["a", "b"], [])
    assert res.statement == "No iteration of d was finished by every model." and res.tests.empty
    assert dataset_markdown(res) == ["## d", "", res.statement, ""]


def test_a_fixed_test_split_is_said_so():
    folds = pd.DataFrame(_fold_rows("d", "a", [0.8, 0.7]) + _fold_rows("d", "b", [0.6, 0.65]))
    correct = pd.concat([_correct(m, it, [True, m == "a", False]) for m in "ab" for it in (0, 1)])
    res = analyse_dataset("d", folds, correct, ["a", "b"], [])
    assert res.fixed_test and "fixed test split" in "\n".join(dataset_markdown(res))
    assert res.mcnemar.iloc[0][["a_only", "b_only", "n"]].tolist() == [2, 0, 6]


# -- through the files ---------------------------------------------------------------------------------

CLASSES = ["happy", "sad", "neutral"]


def _write_fold(root, model, dataset, iteration, ids, true, pred):
    d = root / "runs" / model / dataset / str(iteration)
    d.mkdir(parents=True)
    cols = {"image_id": ids, "part": ["test"] * len(ids), "true": true, "predicted": pred}
    cols |= {f"prob_{c}": np.zeros(len(ids), np.float32) for c in CLASSES}
    table = pa.table(cols, schema=schemas.predictions(CLASSES))
    pq.write_table(pa.concat_tables([table, table.slice(0, 2).set_column(1, "part", pa.array(["val"] * 2))]),
                   d / "predictions.parquet")
    (d / "metrics.json").write_text(json.dumps({
        "model": model, "dataset": dataset, "iteration": iteration,
        "n_train": 3 * len(ids), "n_test": len(ids),
        "test_accuracy": float(np.mean(true == pred)),
        "test_balanced_accuracy": float(balanced_accuracy_score(true, pred))}))
    return d / "metrics.json", d / "predictions.parquet"


def test_fold_files_that_break_the_pairing_are_refused_naming_the_file(tmp_path):
    ids, true = ["x", "y", "z"], np.array([0, 1, 2], np.int16)
    m_a, p_a = _write_fold(tmp_path, "a", "d", 0, ids, true, true)
    m_b, p_b = _write_fold(tmp_path, "b", "d", 0, ids, true, true)
    meta = json.loads(m_b.read_text())
    m_b.write_text(json.dumps(meta | {"n_train": 99}))  # b says it trained on another split
    with pytest.raises(ValueError, match="not paired") as err:
        load_folds([m_a, m_b])
    assert str(m_b.parent) in str(err.value)
    m_b.write_text(json.dumps(meta | {"n_test": 4}))
    with pytest.raises(ValueError, match="3 test rows, but metrics.json says n_test=4"):
        load_test_correctness([p_b], load_folds([m_b]))
    m_b.write_text(json.dumps({k: v for k, v in meta.items() if k != "n_train"}))
    with pytest.raises(ValueError, match="lack n_train"):
        load_folds([m_b])
    with pytest.raises(ValueError, match="no metrics.json of the same fold"):
        load_test_correctness([p_b], load_folds([m_a]))


def _cells(md: str, section: str, title: str) -> dict[tuple[str, str], str]:
    """The matrix under '## section' / '### title' as {(row model, column model): cell}."""
    part = md.split(f"## {section}\n", 1)[1].split(f"### {title}\n", 1)[1]
    lines = part.lstrip("\n").splitlines()
    rows = lines[: next(i for i, ln in enumerate(lines + [""]) if not ln.startswith("|"))]
    header = [c.strip() for c in rows[0].strip("|").split("|")][1:]
    out = {}
    for ln in rows[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        row = re.sub(r"[*★]", "", cells[0]).split("(")[0].strip()
        out |= {(row, col): cell for col, cell in zip(header, cells[1:]) if col != row}
    return out


def _fold_folders(root):
    """3 models on 'demo' (a, its copy, and a worse one), 2 on 'mini' (a beats bad), 5 folds each."""
    rng = np.random.default_rng(4)
    metrics, preds = [], []
    for dataset, models in (("demo", ["a", "a_copy", "bad"]), ("mini", ["a", "bad"])):
        for it in range(5):
            ids = [f"{dataset}_{k}" for k in rng.choice(100, 40, replace=False)]
            true = rng.integers(0, 3, 40).astype(np.int16)
            right = rng.random(40) < 0.85
            wrong = (true + 1) % 3
            a_pred = np.where(right, true, wrong).astype(np.int16)
            # bad: a's predictions with 6, 7 or 8 of its right answers turned wrong
            flip = np.flatnonzero(right)[: 6 + it % 3]
            bad_pred = a_pred.copy()
            bad_pred[flip] = wrong[flip]
            for m in models:
                files = _write_fold(root, m, dataset, it, ids, true, bad_pred if m == "bad" else a_pred)
                metrics.append(files[0])
                preds.append(files[1])
    return metrics, preds


def test_significance_files_from_fold_folders(tmp_path):
    metrics, preds = _fold_folders(tmp_path)
    table, csv = tmp_path / "tables" / "significance.md", tmp_path / "tables" / "significance.csv"
    figures = {m: tmp_path / "figures" / f"critical_difference_{m}.png" for m in FIGURES}
    write_significance(metrics, preds, ["demo", "mini"], ["a", "a_copy", "bad"], table, csv, figures)

    md = table.read_text()
    demo = _cells(md, "demo", "accuracy")
    assert demo[("a", "a_copy")] == demo[("a_copy", "a")] == "0.000 (identical)"
    delta, p = re.fullmatch(r"([+-]\d\.\d{3}) \(\*\*p(?:=|<)(\d\.\d{3})\*\*\)", demo[("a", "bad")]).groups()
    assert float(delta) == pytest.approx(np.mean([6, 7, 8, 6, 7]) / 40, abs=5e-4) and float(p) < 0.05
    assert demo[("bad", "a")].startswith(f"-{delta[1:]}")
    assert "No model is better than every other at α = 0.05." in md.split("## mini")[0]  # a ties a_copy
    mini = _cells(md, "mini", "accuracy")
    assert set(mini) == {("a", "bad"), ("bad", "a")}
    assert "| **a** ★ (" in md.split("## mini")[1] and "Best: **a**" in md.split("## mini")[1]
    per_image = _cells(md, "demo", "per image (McNemar)")
    assert per_image[("a", "bad")].startswith("34 / 0 ") and per_image[("a", "a_copy")].startswith("0 / 0 ")
    assert "5 fold(s) shared by 3 models" in md and "n_test/n_train = 0.333" in md
    assert "25 folds read, 25 compared, 0 excluded." in md
    assert "needs at least 5 datasets" in md and "Left out across datasets" in md and "mini" in md

    rows = pd.read_csv(csv)
    t = rows[(rows["dataset"] == "demo") & (rows["metric"] == "accuracy") & (rows["test"] == "corrected_t")]
    assert len(t) == 3 and set(rows["test"]) == {"corrected_t", "paired_t", "wilcoxon", "mcnemar", "friedman"}
    ab = t[(t["model_a"] == "a") & (t["model_b"] == "bad")].iloc[0]
    assert ab["ci_low"] > 0 and ab["delta"] == pytest.approx(float(delta), abs=5e-4)
    mc = rows[(rows["test"] == "mcnemar") & (rows["dataset"] == "demo") & (rows["model_b"] == "bad")]
    assert (mc["n"] == 200).all() and (mc["a_only"] == 34).all()
    for f in figures.values():
        assert Image.open(f).size[0] > 300


SNAKEFILE = """
rule significance:
    input:
        metrics={metrics!r},
        predictions={preds!r},
    output:
        table="tables/significance.md",
        csv="tables/significance.csv",
        figures=expand("figures/critical_difference_{{metric}}.png", metric={figures!r}),
    log:
        "logs/significance.log",
    params:
        datasets=["demo", "mini"],
        models=["a", "a_copy", "bad"],
    script:
        {script!r}
"""


def test_workflow_script_writes_the_declared_outputs(tmp_path, repo):
    metrics, preds = _fold_folders(tmp_path / "results")
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(
        metrics=[str(p) for p in metrics], preds=[str(p) for p in preds], figures=list(FIGURES),
        script=str(repo / "workflow" / "scripts" / "significance.py")))
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "tables/significance.md"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    md = (tmp_path / "tables" / "significance.md").read_text()
    assert re.search(r"\| a \(0\.\d{3}\) \| · \| 0\.000 \(identical\) \|", md) and "Best: **a**" in md
    assert "Paired comparison of models" in (tmp_path / "logs" / "significance.log").read_text()
    for m in FIGURES:
        assert Image.open(tmp_path / "figures" / f"critical_difference_{m}.png").size[0] > 300
