"""The benchmark at a glance: datasets x models, the figure version of the markdown tables."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from .bars import bars_width, grouped_bars
from .style import model_colors, new_figure, styled

TITLES = {"accuracy": "test accuracy", "balanced_accuracy": "test balanced accuracy"}


@styled
def overview_figure(
    summary: pd.DataFrame, metric: str, datasets: Sequence[str], models: Sequence[str]
) -> Figure:
    """``summary``: rows (dataset, model, n, {metric}_mean, {metric}_std) as in results/tables/summary.csv;
    bars are the means, error bars the population std over folds; a missing cell has no bar."""
    if metric not in TITLES:
        raise ValueError(f"metric must be one of {sorted(TITLES)}, got {metric!r}")
    s = summary.set_index(["dataset", "model"])
    series, labels = {}, {}
    for m in models:
        if m not in s.index.get_level_values("model"):
            continue
        rows = s.xs(m, level="model").reindex(list(datasets))
        series[m] = (rows[f"{metric}_mean"].to_numpy(), rows[f"{metric}_std"].to_numpy())
        n = sorted({int(v) for v in rows["n"].dropna()})
        labels[m] = f"{m} (n={'/'.join(map(str, n))} folds)"
    fig = new_figure(bars_width(len(datasets), len(series)), 3.8)
    ax = fig.add_subplot()
    grouped_bars(ax, list(datasets), series, model_colors(models), labels)
    # the mean written inside each bar, while there is room for it
    for bars in ax.containers if len(datasets) * len(series) <= 40 else ():
        if hasattr(bars, "datavalues"):  # the bars, not their error bars
            ax.bar_label(
                bars,
                fmt="%.3f",
                label_type="center",
                rotation=90,
                fontsize=7,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7, "linewidth": 0},
            )
    ax.set(ylim=(0, 1.05), ylabel=TITLES[metric], title=f"{TITLES[metric]}: mean ± std over folds")
    ax.tick_params(axis="x", rotation=30 if len(datasets) > 6 else 0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
