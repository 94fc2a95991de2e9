import json

import numpy as np
import pandas as pd
import pytest
import torch

from ferbench.aggregate import (
    CheckpointMismatch, copy_best_checkpoint, markdown_table, write_best_card, write_summary, write_table,
)
from ferbench.download import sha256sum


def _fold(root, model, dataset, it, acc, bacc, val, record_sha=True):
    d = root / "runs" / model / dataset / str(it)
    d.mkdir(parents=True)
    torch.save({"w": torch.full((1,), float(it))}, d / "best.pt")
    metrics = {
        "model": model, "dataset": dataset, "iteration": it, "test_accuracy": acc,
        "test_balanced_accuracy": bacc, "test_macro_f1": bacc, "best_val_accuracy": val, "best_epoch": 3,
        "n_train": 60, "n_val": 20, "n_test": 20, "wall_time_s": 1.0, "classes": ["a", "b"], "input_size": 48}
    if record_sha:
        metrics["checkpoint_sha256"] = sha256sum(d / "best.pt")
    (d / "metrics.json").write_text(json.dumps(metrics))
    return d / "metrics.json"


def test_tables_are_mean_std_ddof0_with_the_row_best_in_bold(tmp_path):
    files = [_fold(tmp_path, "a", "d1", i, acc, acc - 0.1, v) for i, (acc, v) in enumerate([(0.8, 0.7), (0.6, 0.9)])]
    files += [_fold(tmp_path, "b", "d1", i, acc, acc - 0.1, 0.5) for i, acc in enumerate([0.75, 0.75])]
    summ = write_summary(files, tmp_path / "tables" / "summary.csv")
    write_table(tmp_path / "tables" / "summary.csv", "accuracy", ["d1"], ["a", "b"], tmp_path / "tables" / "accuracy.md")
    md = (tmp_path / "tables" / "accuracy.md").read_text().splitlines()
    assert md[0] == "| dataset \\ accuracy | a | b |"
    assert md[2] == "| d1 | 0.700 ± 0.100 (n=2) | **0.750 ± 0.000 (n=2)** |"
    row = summ.set_index("model").loc["a"]
    assert row["accuracy_std"] == pytest.approx(np.std([0.8, 0.6]))  # population std, as FER-crossval
    csv = pd.read_csv(tmp_path / "tables" / "summary.csv")
    assert set(csv["model"]) == {"a", "b"} and (csv["n"] == 2).all()
    assert "balanced accuracy" in markdown_table(csv, "balanced_accuracy", ["d1"], ["a", "b"])


def test_cells_that_print_the_same_mean_are_both_bold():
    summ = pd.DataFrame({"dataset": ["d", "d"], "model": ["a", "b"], "n": [3, 3],
                         "accuracy_mean": [0.80001, 0.79996], "accuracy_std": [0.01, 0.02]})
    row = markdown_table(summ, "accuracy", ["d"], ["a", "b"]).splitlines()[2]
    assert row.count("**") == 4, row


def test_best_checkpoint_is_chosen_on_validation_not_test(tmp_path):
    files = [_fold(tmp_path, "a", "d1", 0, 0.9, 0.9, 0.6), _fold(tmp_path, "a", "d1", 1, 0.5, 0.5, 0.8)]
    card = write_best_card(files, tmp_path, tmp_path / "best" / "a" / "d1" / "card.json",
                           extra={"model_kwargs": {}, "align": {"size": 64}})
    assert card["iteration"] == 1 and card["val_accuracy"] == 0.8 and card["test_accuracy"] == 0.5
    assert card["source"] == "runs/a/d1/1" and card["classes"] == ["a", "b"] and card["align"] == {"size": 64}
    copy_best_checkpoint(tmp_path / "best" / "a" / "d1" / "card.json", tmp_path, tmp_path / "best" / "a" / "d1" / "best.pt")
    assert torch.load(tmp_path / "best" / "a" / "d1" / "best.pt", weights_only=True)["w"].item() == 1.0


def test_a_swapped_checkpoint_is_refused_at_selection_and_at_copy(tmp_path):
    files = [_fold(tmp_path, "a", "d1", 0, 0.9, 0.9, 0.9), _fold(tmp_path, "a", "d1", 1, 0.5, 0.5, 0.1)]
    card_path = tmp_path / "best" / "a" / "d1" / "card.json"
    # the selected fold's best.pt replaced by another fold's: its training job recorded another hash
    (tmp_path / "runs/a/d1/0/best.pt").write_bytes((tmp_path / "runs/a/d1/1/best.pt").read_bytes())
    with pytest.raises(CheckpointMismatch, match="runs/a/d1/0/best.pt has sha256"):
        write_best_card(files, tmp_path, card_path)
    # a file changed after the card was written is refused by the copy
    (tmp_path / "runs/a/d1/0/metrics.json").unlink()
    files = [_fold(tmp_path / "x", "a", "d1", 0, 0.9, 0.9, 0.9)]
    write_best_card(files, tmp_path / "x", card_path)
    (tmp_path / "x/runs/a/d1/0/best.pt").write_bytes(b"not the checkpoint")
    with pytest.raises(CheckpointMismatch, match="rebuild the card"):
        copy_best_checkpoint(card_path, tmp_path / "x", tmp_path / "best.pt")
    assert not (tmp_path / "best.pt").exists()


def test_missing_cells_show_a_dash(tmp_path):
    files = [_fold(tmp_path, "a", "d1", 0, 0.9, 0.9, 0.6)]
    write_summary(files, tmp_path / "s.csv")
    assert "| d2 | – |" in write_table(tmp_path / "s.csv", "accuracy", ["d1", "d2"], ["a"], tmp_path / "t.md")


def test_a_fold_without_required_metrics_is_named(tmp_path):
    f = _fold(tmp_path, "a", "d1", 0, 0.9, 0.9, 0.6)
    m = json.loads(f.read_text())
    del m["best_val_accuracy"]
    f.write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"runs/a/d1/0/metrics.json: metrics lack best_val_accuracy"):
        write_summary([f], tmp_path / "s.csv")
