import json

import numpy as np
import pandas as pd
import pytest
import torch

from ferbench.aggregate import aggregate


def _fold(root, model, dataset, it, acc, bacc, val):
    d = root / "runs" / model / dataset / str(it)
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({
        "model": model, "dataset": dataset, "iteration": it, "test_accuracy": acc,
        "test_balanced_accuracy": bacc, "test_macro_f1": bacc, "best_val_accuracy": val, "best_epoch": 3,
        "wall_time_s": 1.0}))
    torch.save({"w": torch.full((1,), float(it))}, d / "best.pt")
    return d / "metrics.json"


def test_tables_are_mean_std_ddof0_with_the_row_best_in_bold(tmp_path):
    files = [_fold(tmp_path, "a", "d1", i, acc, acc - 0.1, v) for i, (acc, v) in enumerate([(0.8, 0.7), (0.6, 0.9)])]
    files += [_fold(tmp_path, "b", "d1", i, acc, acc - 0.1, 0.5) for i, acc in enumerate([0.75, 0.75])]
    summ = aggregate(files, ["d1"], ["a", "b"], tmp_path / "tables", tmp_path / "best")
    md = (tmp_path / "tables" / "accuracy.md").read_text().splitlines()
    assert md[0] == "| dataset \\ accuracy | a | b |"
    assert md[2] == "| d1 | 0.700 ± 0.100 (n=2) | **0.750 ± 0.000 (n=2)** |"
    row = summ.set_index("model").loc["a"]
    assert row["accuracy_std"] == pytest.approx(np.std([0.8, 0.6]))  # population std, as FER-crossval
    csv = pd.read_csv(tmp_path / "tables" / "summary.csv")
    assert set(csv["model"]) == {"a", "b"} and (csv["n"] == 2).all()
    assert "balanced accuracy" in (tmp_path / "tables" / "balanced_accuracy.md").read_text()


def test_best_checkpoint_is_chosen_on_validation_not_test(tmp_path):
    files = [_fold(tmp_path, "a", "d1", 0, 0.9, 0.9, 0.6), _fold(tmp_path, "a", "d1", 1, 0.5, 0.5, 0.8)]
    aggregate(files, ["d1"], ["a"], tmp_path / "tables", tmp_path / "best")
    card = json.loads((tmp_path / "best" / "a" / "d1" / "card.json").read_text())
    assert card["iteration"] == 1 and card["val_accuracy"] == 0.8 and card["test_accuracy"] == 0.5
    assert torch.load(tmp_path / "best" / "a" / "d1" / "best.pt", weights_only=True)["w"].item() == 1.0


def test_missing_cells_show_a_dash(tmp_path):
    files = [_fold(tmp_path, "a", "d1", 0, 0.9, 0.9, 0.6)]
    aggregate(files, ["d1", "d2"], ["a"], tmp_path / "tables", tmp_path / "best")
    assert "| d2 | – |" in (tmp_path / "tables" / "accuracy.md").read_text()
