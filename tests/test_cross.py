"""Cross-dataset evaluation: class matching through the shared vocabulary, and a real run whose
cross tables have the in-dataset results on their diagonal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ferbench import labels
from ferbench.cross import SHARED, VALENCE, cross_markdown, match_classes
from workflow_helpers import snakemake, workflow_copy, write_config


def test_affectnet8_on_rafdb_drops_contempt_and_scores_the_seven_shared_classes():
    m = match_classes(labels.DATASET_CLASSES["affectnet8"], labels.DATASET_CLASSES["rafdb"])
    assert m.mode == SHARED and set(m.scored) == set(labels.DATASET_CLASSES["rafdb"])
    assert m.scored == labels.DATASET_CLASSES["rafdb"]  # the test set's own order
    assert m.dropped_model_classes == ("contempt",) and m.dropped_test_classes == ()
    probs = np.eye(8)[[7, 1]] * 0.9 + 0.1 / 8  # a "contempt" answer and a "happy" answer
    scored = m.scored_probs(probs)
    assert scored.shape == (2, 7)
    assert m.scored[scored[1].argmax()] == "happy"
    assert scored[0].sum() == pytest.approx(0.1 * 7 / 8)  # contempt's mass is not given to any class


def test_a_seven_class_model_on_ferplus_drops_the_test_contempt_images():
    m = match_classes(labels.DATASET_CLASSES["fer2013"], labels.DATASET_CLASSES["ferplus"])
    assert m.dropped_test_classes == ("contempt",) and m.dropped_model_classes == ()
    assert m.test_to_scored[labels.DATASET_CLASSES["ferplus"].index("contempt")] is None


def test_lfw_fer_valence_is_reached_through_the_valence_remap_both_ways():
    expr, val = labels.DATASET_CLASSES["rafdb"], labels.DATASET_CLASSES["lfw_fer"]
    m = match_classes(expr, val)
    assert m.mode == VALENCE and m.scored == val
    probs = np.zeros((1, 7))
    probs[0, expr.index("happy")], probs[0, expr.index("surprise")], probs[0, expr.index("sad")] = 0.3, 0.3, 0.4
    scored = m.scored_probs(probs)[0]
    assert scored[val.index("positive")] == pytest.approx(0.6) and scored[val.index("negative")] == pytest.approx(0.4)
    back = match_classes(val, expr)  # a valence model on an expression test set: labels remapped
    assert back.mode == VALENCE
    assert back.scored[back.test_to_scored[expr.index("angry")]] == "negative"


def test_too_few_shared_classes_is_an_error():
    with pytest.raises(ValueError, match="share fewer than two classes"):
        match_classes(["happy", "sad"], ["angry", "fear", "happy"])


def test_cross_markdown_puts_the_in_dataset_result_on_the_diagonal():
    runs = pd.DataFrame([
        {"model": "m", "train_dataset": "a", "test_dataset": "a", "iteration": i, "test_accuracy": acc,
         "test_balanced_accuracy": acc, "scored": "all"} for i, acc in enumerate([0.8, 0.6])
    ] + [{"model": "m", "train_dataset": "a", "test_dataset": "b", "iteration": 0, "test_accuracy": 0.5,
          "test_balanced_accuracy": 0.4, "scored": "happy, sad"}])
    md = cross_markdown(runs, "accuracy", ["m"], ["a"], ["a", "b"])
    assert "| a | 0.700 ± 0.100 (n=2) | 0.500 ± 0.000 (n=1) |" in md
    assert "- a → b: scored on happy, sad" in md


CROSS = {
    "benchmark": {"datasets": ["demo", "demo_b"], "models": ["resnet18", "dan"], "iterations": 2,
                  "protocol": "stratified", "recipe": "crossval",
                  "cross_dataset": {"train": "all", "test": ["demo", "demo_b", "demo_valence"]}},
    "datasets": {
        "demo": {"synthesize": {"n_per_class": 8, "seed": 1, "size": 96}},
        "demo_b": {"format": "folder", "synthesize": {"n_per_class": 8, "seed": 7, "size": 96}},
        # a test-only dataset in LFW-FER's three valence classes
        "demo_valence": {"format": "folder", "synthesize": {"n_per_class": 6, "seed": 9, "size": 96},
                         "remap": "valence"},
    },
    "align": {"size": 48},
    "models": {"resnet18": {"pretrained": "none"}, "dan": {"pretrained": "none"}},
    "train": {"threads": 1, "input_size": 32, "overrides": {"epochs": 1, "patience": 1, "batch_size": 16}},
}


@pytest.mark.slow
def test_cross_dataset_tables_from_a_real_run(tmp_path):
    wd = workflow_copy(tmp_path)
    write_config(wd, "cross.yaml", CROSS)
    targets = ["results/tables/cross_dataset_accuracy.md", "results/tables/summary.csv"]
    res = snakemake(wd, *targets, "--configfile", "config/demo.yaml", "cross.yaml")
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    md = (wd / "results/tables/cross_dataset_accuracy.md").read_text()
    summary = pd.read_csv(wd / "results/tables/summary.csv").set_index(["dataset", "model"])
    for model in ("resnet18", "dan"):
        block = md.split(f"## {model}\n", 1)[1].split("\n## ", 1)[0]
        row = next(l for l in block.splitlines() if l.startswith("| demo |"))
        diagonal = row.split("|")[2].strip()
        assert diagonal.startswith(f"{summary.loc[('demo', model), 'accuracy_mean']:.3f} ± "), (diagonal, md)
        assert row.count("(n=2)") == 3, row  # demo, demo_b and the whole valence set, 2 iterations each
        scored = next(l for l in block.splitlines() if l.startswith("- demo → demo_valence: scored on "))
        assert set(scored.split(" on ", 1)[1].split(", ")) == {"negative", "neutral", "positive"}, scored
    m = json.loads((wd / "results/cross/dan/demo/demo_valence/1/metrics.json").read_text())
    assert m["matching"]["mode"] == VALENCE and m["test_part"] == "whole dataset"
    assert m["n_test"] == len(pd.read_parquet(wd / "results/data/demo_valence/labels.parquet"))
    m = json.loads((wd / "results/cross/resnet18/demo_b/demo/0/metrics.json").read_text())
    test_rows = pd.read_parquet(wd / "results/splits/demo/stratified/0.parquet").query("part == 'test'")
    assert m["test_part"] == "split test part" and m["n_test"] == len(test_rows)
    preds = pd.read_parquet(wd / "results/cross/resnet18/demo_b/demo/0/predictions.parquet")
    assert sorted(preds["image_id"]) == sorted(test_rows["image_id"])
    assert m["test_accuracy"] == pytest.approx((preds["true"] == preds["predicted"]).mean())
