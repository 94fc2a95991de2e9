"""Paired tests on per-fold scores of two models that share every (dataset, iteration) split.

The folds are repeated random train/test splits of one dataset: their training sets overlap heavily and
their test sets overlap too, so the J per-fold differences are correlated and the plain paired t-test,
which treats them as independent, is far too confident. The **corrected resampled t-test** of Nadeau &
Bengio (2003, "Inference for the generalization error", Machine Learning 52:239-281) inflates the
variance of the mean difference from s²/J to (1/J + n_test/n_train)·s²:

    t = mean(d) / sqrt((1/J + n_test/n_train) · s²),   s² = var(d, ddof=1),   J - 1 degrees of freedom.

The 95% interval of the mean difference uses the same standard error. The plain paired t-test and the
Wilcoxon signed-rank test (scipy) are reported beside it; Holm's step-down correction (statsmodels) adjusts
each test's p-values across the pairs of models of one dataset and metric.

Degenerate folds: with fewer than 2 folds nothing is tested (no variance estimate). When the difference
is zero on every fold the models are identical on this metric: t = 0, p = 1. When the difference is the
same non-zero value on every fold (zero variance) t is ±∞ and p = 0, the limit of the test as the
variance vanishes (scipy's ``ttest_rel`` answers the same); both cases carry a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

ALPHA = 0.05  # significance level of every decision in the report (best model, CD diagram)
CONFIDENCE = 0.95
IDENTICAL = "identical on every fold"
CONSTANT = "same difference on every fold (zero variance)"


@dataclass(frozen=True)
class PairedTest:
    n: int  # folds
    delta: float  # mean difference
    ci_low: float
    ci_high: float
    statistic: float
    p: float
    note: str = ""


def _zero_variance(d: np.ndarray) -> str:
    if np.all(np.abs(d) <= 1e-12):
        return IDENTICAL
    return CONSTANT if np.ptp(d) <= 1e-12 else ""


def _t_test(d: np.ndarray, variance_factor: float) -> PairedTest:
    """One-sample t-test of mean(d) = 0 with the variance of the mean = variance_factor · s²."""
    n, mean = len(d), float(np.mean(d))
    note = _zero_variance(d)
    if note == IDENTICAL:
        return PairedTest(n, 0.0, 0.0, 0.0, 0.0, 1.0, note)
    if note == CONSTANT:
        return PairedTest(n, mean, mean, mean, float(np.copysign(np.inf, mean)), 0.0, note)
    se = np.sqrt(variance_factor * np.var(d, ddof=1))
    t = mean / se
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * se
    return PairedTest(n, mean, mean - half, mean + half, float(t), float(2 * stats.t.sf(abs(t), n - 1)))


def corrected_ttest(d: np.ndarray, test_train_ratio: float) -> PairedTest:
    """Nadeau & Bengio's corrected resampled t-test of the per-fold differences ``d``."""
    d = np.asarray(d, dtype=float)
    return _t_test(d, 1 / len(d) + test_train_ratio)


def plain_ttest(d: np.ndarray) -> PairedTest:
    """The ordinary paired t-test (folds treated as independent), for contrast only."""
    d = np.asarray(d, dtype=float)
    return _t_test(d, 1 / len(d))


def wilcoxon_test(d: np.ndarray) -> PairedTest:
    """Wilcoxon signed-rank test (scipy; zero differences dropped, exact p for small samples)."""
    d = np.asarray(d, dtype=float)
    mean, note = float(np.mean(d)), _zero_variance(d)
    if note == IDENTICAL:
        return PairedTest(len(d), 0.0, np.nan, np.nan, 0.0, 1.0, note)
    res = stats.wilcoxon(d)
    return PairedTest(len(d), mean, np.nan, np.nan, float(res.statistic), float(res.pvalue), note)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels ``multipletests``); an undefined p counts as 1."""
    p = np.nan_to_num(np.asarray(p, dtype=float), nan=1.0)
    return multipletests(p, method="holm")[1] if len(p) else p


def compare_pairs(scores: pd.DataFrame, test_train_ratio: float) -> pd.DataFrame:
    """Every pair of columns of ``scores`` (rows = shared folds, columns = models, in order), each test.

    One row per (model_a, model_b, test) with model_a before model_b in column order and
    delta = a - b; ``p_holm`` adjusts each test across the pairs. Needs at least 2 folds.
    """
    if len(scores) < 2:
        raise ValueError(f"paired tests need at least 2 folds, got {len(scores)}")
    rows = []
    for a, b in combinations(scores.columns, 2):
        d = (scores[a] - scores[b]).to_numpy()
        tests = {"corrected_t": corrected_ttest(d, test_train_ratio), "paired_t": plain_ttest(d),
                 "wilcoxon": wilcoxon_test(d)}
        for name, r in tests.items():
            rows.append({"test": name, "model_a": a, "model_b": b, "mean_a": scores[a].mean(),
                         "mean_b": scores[b].mean(), **r.__dict__})
    out = pd.DataFrame(rows)
    out["p_holm"] = out.groupby("test")["p"].transform(lambda p: holm(p.to_numpy()))
    return out
