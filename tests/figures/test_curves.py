import numpy as np
import pandas as pd
import pytest

from ferbench.figures.render import render_curves
from ferbench.figures.style import model_colors, shades

from figure_helpers import write_fold

H0 = pd.DataFrame(
    {
        "epoch": [0, 1, 2, 3],
        "lr": 0.1,
        "train_loss": [2.0, 1.5, 1.0, 0.8],
        "val_accuracy": [0.2, 0.5, 0.7, 0.6],
    }
)
H1 = pd.DataFrame(
    {"epoch": [0, 1, 2], "lr": 0.1, "train_loss": [1.8, 1.1, 0.9], "val_accuracy": [0.3, 0.4, 0.9]}
)


def _lines(ax):
    return {ln.get_label(): ln for ln in ax.get_lines()}


def test_curves_read_back(tmp_path, drawn):
    files = [
        write_fold(tmp_path, "dan", "d", 0, [0], [0], history=H0, best_epoch=3),
        write_fold(tmp_path, "dan", "d", 1, [0], [0], history=H1, best_epoch=3),
    ]
    render_curves(files, tmp_path / "curves", models=["resnet18", "dan"])
    loss_ax, acc_ax = drawn[0].axes[:2]
    loss, acc = _lines(loss_ax), _lines(acc_ax)
    np.testing.assert_array_equal(loss["fold 0"].get_xdata(), [1, 2, 3, 4])  # 1-based epochs
    np.testing.assert_array_equal(loss["fold 0"].get_ydata(), H0["train_loss"])
    np.testing.assert_array_equal(acc["fold 1 (epoch 3)"].get_ydata(), H1["val_accuracy"])
    # the selected epoch: a star on the validation curve and a vertical line in both panels
    assert (acc["_best 0"].get_xdata()[0], acc["_best 0"].get_ydata()[0]) == (3, 0.7)
    assert (acc["_best 1"].get_xdata()[0], acc["_best 1"].get_ydata()[0]) == (3, 0.9)
    for ax in (loss_ax, acc_ax):
        assert _lines(ax)["_selected 0"].get_xdata()[0] == 3
    # folds in shades of the model's colour (dan is the second model of the benchmark)
    expected = shades(model_colors(["resnet18", "dan"])["dan"], 2)
    assert [tuple(loss[f"fold {i}"].get_color()) for i in (0, 1)] == expected
    assert "2 folds" in drawn[0].get_suptitle()


def test_best_epoch_outside_the_history_is_an_error(tmp_path):
    f = write_fold(tmp_path, "m", "d", 0, [0], [0], history=H1, best_epoch=4)
    with pytest.raises(ValueError, match=r"best_epoch 4 outside the 3 epochs of .*0/history.csv"):
        render_curves([f], tmp_path / "curves")
