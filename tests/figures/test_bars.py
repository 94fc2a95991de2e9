"""Per-class recall and the overview: bar heights and error-bar lengths read back from the axes."""

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from ferbench.figures.overview import overview_figure
from ferbench.figures.render import render_overview, render_per_class
from ferbench.figures.style import model_colors

from figure_helpers import CLASSES, write_fold


def bars(ax):
    """label -> (x centres, heights, error half-lengths, colour) of every bar series."""
    out = {}
    for c in ax.containers:
        if not hasattr(c, "datavalues"):
            continue
        x = np.array([p.get_x() + p.get_width() / 2 for p in c.patches])
        segs = c.errorbar.lines[2][0].get_segments()
        err = np.array([(s[1][1] - s[0][1]) / 2 for s in segs])
        out[c.get_label()] = (x, np.asarray(c.datavalues), err, to_hex(c.patches[0].get_facecolor()))
    return out


def test_per_class_recall_mean_and_std_over_folds(tmp_path, drawn):
    # model a: fold 0 recalls (1, 0.5, 0), fold 1 recalls (0.5, 1, 1); model b: fold 0 only, sad absent
    files = [
        write_fold(tmp_path, "a", "d", 0, [0, 0, 1, 1, 2], [0, 0, 1, 0, 1], val=([1], [2])),
        write_fold(tmp_path, "a", "d", 1, [0, 0, 1, 2], [0, 1, 1, 2]),
        write_fold(tmp_path, "b", "d", 0, [0, 1, 1], [0, 1, 1]),
    ]
    render_per_class(files, tmp_path / "pc", models=["b", "a"])
    got = bars(drawn[0].axes[0])
    x, h, e, color = got["a (n=2 folds)"]
    np.testing.assert_allclose(h, [0.75, 0.75, 0.5])
    np.testing.assert_allclose(e, [0.25, 0.25, 0.5])  # population std, as in the tables
    assert color == model_colors(["b", "a"])["a"]
    xb, hb, eb, _ = got["b (n=1 folds)"]
    np.testing.assert_allclose(hb, [1.0, 1.0])  # no bar for sad: b never saw a sad test image
    np.testing.assert_allclose(eb, [0.0, 0.0])
    assert np.all(xb < x[:2])  # b first, as in the benchmark's model list
    assert [t.get_text() for t in drawn[0].axes[0].get_xticklabels()] == CLASSES


SUMMARY = pd.DataFrame(
    {
        "dataset": ["d1", "d1", "d2"],
        "model": ["a", "b", "a"],
        "n": [3, 3, 2],
        "accuracy_mean": [0.8, 0.6, 0.9],
        "accuracy_std": [0.05, 0.1, 0.0],
        "balanced_accuracy_mean": [0.7, 0.5, 0.85],
        "balanced_accuracy_std": [0.02, 0.04, 0.01],
    }
)


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy"])
def test_overview_bars(metric):
    fig = overview_figure(SUMMARY, metric, ["d1", "d2"], ["a", "b"])
    got = bars(fig.axes[0])
    xa, ha, ea, ca = got["a (n=2/3 folds)"]
    np.testing.assert_allclose(ha, SUMMARY[f"{metric}_mean"][[0, 2]])
    np.testing.assert_allclose(ea, SUMMARY[f"{metric}_std"][[0, 2]])
    xb, hb, eb, cb = got["b (n=3 folds)"]
    np.testing.assert_allclose(hb, [SUMMARY[f"{metric}_mean"][1]])  # b has no d2 result: no bar there
    assert len(xb) == 1 and xb[0] < 0.5 < xa[1]
    assert (ca, cb) == tuple(model_colors(["a", "b"]).values())
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert f"{SUMMARY[f'{metric}_mean'][0]:.3f}" in labels


def test_overview_from_metrics_equals_overview_from_summary_csv(tmp_path, drawn):
    files = [
        write_fold(tmp_path, "a", "d", i, [0, 1, 2, 2], p) for i, p in enumerate([[0, 1, 2, 2], [0, 1, 1, 1]])
    ]
    accs = [json.loads(f.read_text())["test_accuracy"] for f in files]
    render_overview(files, tmp_path / "o1", "accuracy")
    from ferbench.aggregate import collect, summary

    summary(collect(files)).to_csv(tmp_path / "summary.csv", index=False)
    render_overview(tmp_path / "summary.csv", tmp_path / "o2", "accuracy")
    b1, b2 = bars(drawn[0].axes[0]), bars(drawn[1].axes[0])
    np.testing.assert_allclose(b1["a (n=2 folds)"][1], [np.mean(accs)])
    np.testing.assert_allclose(b1["a (n=2 folds)"][2], [np.std(accs)])
    np.testing.assert_allclose(b2["a (n=2 folds)"][1:3], b1["a (n=2 folds)"][1:3])


def test_overview_rejects_an_unknown_metric():
    with pytest.raises(ValueError, match="metric must be one of"):
        overview_figure(SUMMARY, "f1", ["d1"], ["a"])
