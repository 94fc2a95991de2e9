"""Across datasets: Friedman test on the models' ranks and autorank's critical-difference diagram.

Following Demšar (2006, "Statistical comparisons of classifiers over multiple data sets", JMLR 7:1-30),
the blocks are the datasets: one score per (dataset, model), the mean over that dataset's shared folds.
Folds of one dataset are not independent blocks (their splits overlap), so they are not used as such.
Only datasets on which every model has folds enter; the others are named in the result.

- Friedman (scipy) needs at least 3 models and 2 datasets; its chi-square approximation is rough below
  about 10 datasets, so with few datasets it rarely rejects.
- The critical-difference diagram (Friedman + Nemenyi post-hoc test, drawn by ``autorank.plot_stats``)
  needs what autorank needs: at least 5 datasets (autorank refuses fewer rows), and at least 3 models
  (with 2, autorank runs a Wilcoxon test and draws nothing). ``force_mode="nonparametric"`` keeps autorank
  on Friedman + Nemenyi even when its normality checks would pick ANOVA + Tukey. The diagram is drawn also
  when Friedman does not reject (all models then sit under one bar); the title gives its p-value.
- When the diagram cannot be drawn, the PNG is a placeholder stating why, with the mean ranks, so the
  workflow's output always exists and says what happened.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from ..io import write_with
from .paired import ALPHA

MIN_DATASETS_CD = 5  # autorank: "requires at least five performance estimations (i.e., rows)"
MIN_MODELS_CD = 3  # autorank draws a CD diagram only after Friedman + Nemenyi (3 or more populations)


@dataclass(frozen=True)
class Friedman:
    datasets: list[str]  # the blocks used
    dropped: list[str]  # datasets left out because a model has no folds there
    mean_ranks: pd.Series  # 1 = best, ties averaged; empty when no dataset has every model
    statistic: float = np.nan
    p: float = np.nan
    note: str = ""  # why the test was not run, when it was not


def complete_blocks(means: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Datasets (rows) with a score for every model (columns), and the names of the others."""
    keep = means.notna().all(axis=1)
    return means[keep], list(means.index[~keep])


def friedman(means: pd.DataFrame) -> Friedman:
    """Friedman's test of ``means`` (rows = datasets, columns = models, NaN = no folds)."""
    blocks, dropped = complete_blocks(means)
    ranks = blocks.rank(axis=1, ascending=False).mean() if len(blocks) else pd.Series(dtype=float)
    base = dict(datasets=list(blocks.index), dropped=dropped, mean_ranks=ranks)
    if blocks.shape[1] < 3:
        return Friedman(**base, note=f"Friedman's test needs at least 3 models, got {blocks.shape[1]}")
    if len(blocks) < 2:
        return Friedman(**base, note="Friedman's test needs at least 2 datasets with every model, "
                                     f"got {len(blocks)}")
    if (blocks.nunique(axis=1) == 1).all():
        return Friedman(**base, statistic=0.0, p=1.0, note="all models tie on every dataset")
    res = stats.friedmanchisquare(*blocks.to_numpy().T)
    return Friedman(**base, statistic=float(res.statistic), p=float(res.pvalue))


def cd_diagram(means: pd.DataFrame, metric: str, dest: str | Path) -> str:
    """Write the critical-difference diagram of ``means`` to ``dest`` (PNG).

    Returns "" when the diagram was drawn, otherwise the reason, which the placeholder image shows too.
    """
    blocks, dropped = complete_blocks(means)
    title = metric.replace("_", " ")
    reason = ""
    if blocks.shape[1] < MIN_MODELS_CD:
        reason = f"it needs at least {MIN_MODELS_CD} models, got {blocks.shape[1]}"
    elif len(blocks) < MIN_DATASETS_CD:
        reason = (f"it needs at least {MIN_DATASETS_CD} datasets with every model (autorank's minimum), "
                  f"got {len(blocks)}")
    if reason:
        _placeholder(blocks, title, reason + (f"; left out: {', '.join(dropped)}" if dropped else ""), dest)
        return reason
    _autorank_diagram(blocks, title, dest)
    return ""


def _autorank_diagram(blocks: pd.DataFrame, title: str, dest: str | Path) -> None:
    # autorank draws on a pyplot figure of its own size; the workflow script selects the Agg backend.
    import matplotlib.pyplot as plt
    from autorank import autorank, plot_stats

    # Its normality and variance checks (skipped by force_mode, still run) warn on constant columns and
    # it prints its ranking table: neither belongs in the job's log.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        res = autorank(blocks.reset_index(drop=True), alpha=ALPHA, order="descending",
                       force_mode="nonparametric")
        ax = plot_stats(res, allow_insignificant=True)
    fig = ax.figure
    ax.set_title(f"{title}: mean rank over {len(blocks)} datasets (1 = best); Friedman p = "
                 f"{friedman(blocks).p:.3g}, Nemenyi CD = {res.cd:.2f} (α = {ALPHA})", fontsize=9, pad=14)
    try:
        write_with(dest, lambda p: fig.savefig(p, format="png", dpi=150, bbox_inches="tight"))
    finally:
        plt.close(fig)


def _placeholder(blocks: pd.DataFrame, title: str, reason: str, dest: str | Path) -> None:
    lines = [f"Critical-difference diagram ({title}) not drawn:", reason + "."]
    if len(blocks):
        ranks = blocks.rank(axis=1, ascending=False).mean().sort_values()
        lines += ["", f"Mean rank over {len(blocks)} dataset(s) (1 = best):"]
        lines += [f"  {m}: {r:.2f}" for m, r in ranks.items()]
    fig = Figure(figsize=(7.5, 0.3 + 0.2 * len(lines)))
    fig.text(0.02, 0.95, "\n".join(lines), va="top", ha="left", fontsize=9, family="monospace", wrap=True)
    write_with(dest, lambda p: fig.savefig(p, format="png", dpi=150, bbox_inches="tight", pad_inches=0.2))
