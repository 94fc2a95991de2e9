"""Per-class recall of every model on a dataset: mean ± std over folds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import recall_score

from .bars import bars_width, grouped_bars
from .style import model_colors, new_figure, styled


def fold_recall(predictions: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Recall of each class on one fold's test predictions (NaN for a class absent from its test set)."""
    return recall_score(
        predictions["true"],
        predictions["predicted"],
        labels=np.arange(n_classes),
        average=None,
        zero_division=np.nan,
    )


def recall_summary(recalls: pd.DataFrame) -> pd.DataFrame:
    """``recalls`` rows (model, iteration, class, recall) -> (model, class) mean, std (population, as the
    tables) and n folds that had the class in their test set."""
    g = recalls.dropna(subset=["recall"]).groupby(["model", "class"], sort=False)["recall"]
    return g.agg(mean="mean", std=lambda s: s.std(ddof=0), n="count").reset_index()


@styled
def per_class_figure(
    recalls: pd.DataFrame, classes: Sequence[str], models: Sequence[str], dataset: str
) -> Figure:
    """Bars: x = class, one bar per model in the model's colour, error bar = std over folds."""
    summ = recall_summary(recalls).set_index(["model", "class"])
    colors = model_colors(models)
    present = [m for m in models if m in summ.index.get_level_values("model")]
    series, labels = {}, {}
    for m in present:
        rows = summ.loc[m].reindex(list(classes))
        series[m] = (rows["mean"].to_numpy(), rows["std"].to_numpy())
        labels[m] = f"{m} (n={recalls.loc[recalls['model'] == m, 'iteration'].nunique()} folds)"
    fig = new_figure(bars_width(len(classes), len(present)), 3.8)
    ax = fig.add_subplot()
    grouped_bars(ax, list(classes), series, colors, labels)
    ax.set(ylim=(0, 1.05), ylabel="test recall", title=f"{dataset}: per-class recall, mean ± std over folds")
    ax.tick_params(axis="x", rotation=30 if len(classes) > 6 else 0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
