"""``significance.md``, ``significance.csv`` and the critical-difference figures from the fold results.

Per dataset, only the iterations that every model of that dataset has finished are compared (paired);
any other fold is listed in the table as excluded, with its reason. The markdown shows, per dataset and
metric, a matrix of Δ = row - column (mean over folds) with the Holm-adjusted p of the corrected
resampled t-test, and the per-image McNemar counts; the CSV holds every test (corrected t with its 95%
interval, plain paired t, Wilcoxon, McNemar, Friedman) in long form.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from ..layout import TABLE_METRICS as METRICS
from ..io import atomic_path, write_text
from .across import Friedman, cd_diagram, friedman
from .folds import load_folds, load_test_correctness
from .paired import ALPHA, CONSTANT, IDENTICAL, compare_pairs
from .per_image import mcnemar_pairs, paired_correctness

CSV_COLUMNS = ["dataset", "metric", "test", "model_a", "model_b", "n", "mean_a", "mean_b", "delta", "ci_low",
               "ci_high", "statistic", "p", "p_holm", "a_only", "b_only", "note"]


@dataclass
class DatasetResult:
    name: str
    models: list[str]  # models with folds on this dataset, in the configured order
    iterations: list[int]  # iterations every one of them finished
    statement: str = ""  # why nothing (or only Δ) could be tested
    test_train_ratio: float = np.nan
    fixed_test: bool = False  # the same test images in every fold
    means: dict[str, pd.Series] = field(default_factory=dict)  # metric -> mean per model over the folds
    tests: pd.DataFrame = field(default_factory=pd.DataFrame)  # fold-level tests, column "metric"
    mcnemar: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_image_statement: str = ""

    def best(self, metric: str) -> str | None:
        """The top model on ``metric`` if its corrected, Holm-adjusted p < α against every other model."""
        if self.tests.empty:
            return None
        top = self.means[metric].idxmax()
        t = self.tests[(self.tests["metric"] == metric) & (self.tests["test"] == "corrected_t")]
        mine = t[(t["model_a"] == top) | (t["model_b"] == top)]
        if len(mine) != len(self.models) - 1:  # not tested (fewer than 2 folds)
            return None
        wins = np.where(mine["model_a"] == top, mine["delta"], -mine["delta"]) > 0
        return top if bool(np.all(wins & (mine["p_holm"] < ALPHA))) else None


def analyse_dataset(name: str, folds: pd.DataFrame, correct: pd.DataFrame, models: Sequence[str],
                    excluded: list[str]) -> DatasetResult:
    """Paired tests for one dataset; folds not shared by every model are appended to ``excluded``."""
    present = [m for m in models if m in set(folds["model"])]
    shared = sorted(set.intersection(*(set(folds.loc[folds["model"] == m, "iteration"]) for m in present))
                    if present else set())
    for r in folds[~folds["iteration"].isin(shared)].itertuples():
        excluded.append(f"{r.model}/{name}/{r.iteration}: iteration not finished by every model of {name}")
    res = DatasetResult(name, present, shared)
    if not shared:
        res.statement = (f"No iteration of {name} was finished by every model." if present
                         else f"No folds on {name}.")
        return res
    use = folds[folds["iteration"].isin(shared)]
    scores = {m: use.pivot(index="iteration", columns="model", values=m)[present] for m in METRICS}
    res.means = {m: s.mean() for m, s in scores.items()}
    if len(present) < 2:
        res.statement = f"Only {present[0]} has folds on {name}: nothing to compare."
        return res
    res.test_train_ratio = float((use["n_test"] / use["n_train"]).mean())
    if len(shared) < 2:
        res.statement = (f"Only {len(shared)} fold shared by every model: Δ is shown, but no test can be run "
                         "(a paired test needs the variation over at least 2 folds).")
        res.tests = pd.concat([_delta_only(s).assign(metric=m) for m, s in scores.items()], ignore_index=True)
    else:
        res.tests = pd.concat([compare_pairs(s, res.test_train_ratio).assign(metric=m)
                               for m, s in scores.items()], ignore_index=True)
    mine = correct[correct["dataset"] == name]
    if mine.empty:
        res.per_image_statement = "No predictions were given for this dataset."
    else:
        wide = paired_correctness(mine, present, shared)
        res.mcnemar = mcnemar_pairs(wide)
        test_sets = wide.reset_index().groupby("iteration")["image_id"].agg(frozenset)
        res.fixed_test = len(shared) > 1 and test_sets.nunique() == 1
    return res


def _delta_only(scores: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([{"test": "delta_only", "model_a": a, "model_b": b, "n": len(scores),
                          "mean_a": scores[a].mean(), "mean_b": scores[b].mean(),
                          "delta": scores[a].mean() - scores[b].mean(), "p": np.nan, "p_holm": np.nan,
                          "note": ""}
                         for a, b in combinations(scores.columns, 2)])


# -- markdown ------------------------------------------------------------------------------------------

def _p(p: float) -> str:
    text = "p<0.001" if p < 0.001 else f"p={p:.3f}"
    return f"**{text}**" if p < ALPHA else text


def _lookup(t: pd.DataFrame, r: str, c: str) -> tuple[pd.Series, int]:
    """The row of pair (r, c) in either orientation and the sign turning its delta into r - c."""
    hit = t[(t["model_a"] == r) & (t["model_b"] == c)]
    if len(hit):
        return hit.iloc[0], 1
    return t[(t["model_a"] == c) & (t["model_b"] == r)].iloc[0], -1


def _delta_cell(t: pd.DataFrame, r: str, c: str) -> str:
    row, sign = _lookup(t, r, c)
    if row["note"] == IDENTICAL:
        return "0.000 (identical)"
    text = f"{sign * row['delta']:+.3f}"
    if row["test"] == "delta_only":
        return text
    return f"{text} ({_p(row['p_holm'])}{' ‡' if row['note'] == CONSTANT else ''})"


def _mcnemar_cell(t: pd.DataFrame, r: str, c: str) -> str:
    row, sign = _lookup(t, r, c)
    r_only, c_only = (row["a_only"], row["b_only"]) if sign == 1 else (row["b_only"], row["a_only"])
    return f"{r_only} / {c_only} ({_p(row['p_holm'])})"


def _matrix(res: DatasetResult, header: str, cell, t: pd.DataFrame, means: pd.Series | None,
            best: str | None) -> list[str]:
    lines = [f"| {header} | " + " | ".join(res.models) + " |", "|---|" + "---|" * len(res.models)]
    for r in res.models:
        label = f"**{r}** ★" if r == best else r
        if means is not None:
            label += f" ({means[r]:.3f})"
        cells = ("·" if r == c else cell(t, r, c) for c in res.models)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def dataset_markdown(res: DatasetResult) -> list[str]:
    out = [f"## {res.name}", ""]
    if len(res.models) < 2 or not res.iterations:
        return out + [res.statement, ""]
    its = ", ".join(map(str, res.iterations))
    out += [f"{len(res.iterations)} fold(s) shared by {len(res.models)} models (iterations {its}); "
            f"n_test/n_train = {res.test_train_ratio:.3f}."]
    if res.fixed_test:
        out += ["The test part is the same in every fold (fixed test split): the fold-to-fold variation "
                "reflects training randomness only."]
    if res.statement:
        out += [res.statement]
    out.append("")
    for metric in METRICS:
        best = res.best(metric)
        title = metric.replace("_", " ")
        out += [f"### {title}", ""]
        t = res.tests[res.tests["metric"] == metric]
        t = t[t["test"].isin(["corrected_t", "delta_only"])]
        out += _matrix(res, f"Δ {title} (row − column)", _delta_cell, t, res.means[metric], best)
        if len(res.iterations) >= 2:
            out += ["", f"Best: **{best}**, better than every other model at α = {ALPHA}." if best else
                    f"No model is better than every other at α = {ALPHA}."]
        out.append("")
    out += ["### per image (McNemar)", ""]
    if res.mcnemar.empty:
        return out + [res.per_image_statement, ""]
    n = int(res.mcnemar["n"].iloc[0])
    out += _matrix(res, "images row right & column wrong / row wrong & column right", _mcnemar_cell,
                   res.mcnemar, None, None)
    return out + ["", f"Pooled over {len(res.iterations)} fold(s): {n} (fold, test image) pairs per model.",
                  ""]


def _friedman_markdown(results: Mapping[str, Friedman], figures: Mapping[str, str],
                       figure_notes: Mapping[str, str]) -> list[str]:
    out = ["## Across datasets", "",
           "| metric | datasets | Friedman χ² | p | mean rank (1 = best) | diagram |",
           "|---|---|---|---|---|---|"]
    for metric, f in results.items():
        ranks = ", ".join(f"{m} {r:.2f}" for m, r in f.mean_ranks.sort_values().items()) or "–"
        stat = "–" if np.isnan(f.statistic) else f"{f.statistic:.2f}"
        p = f.note if np.isnan(f.p) else _p(f.p) + (f" ({f.note})" if f.note else "")
        fig = f"[{Path(figures[metric]).name}]({figures[metric]})"
        fig += " (placeholder)" if figure_notes[metric] else ""
        out.append(f"| {metric.replace('_', ' ')} | {len(f.datasets)} | {stat} | {p} | {ranks} | {fig} |")
    notes = [f"Critical-difference diagram ({metric.replace('_', ' ')}) not drawn: {note}."
             for metric, note in figure_notes.items() if note]
    dropped = sorted({d for f in results.values() for d in f.dropped})
    if dropped:
        notes.append(f"Left out across datasets (not every model has folds there): {', '.join(dropped)}.")
    return out + ([""] + notes if notes else []) + [""]


def _legend(results: Sequence[DatasetResult]) -> list[str]:
    notes = {n for r in results if not r.tests.empty for n in r.tests["note"]}
    lines = [
        "## Legend", "",
        "- Δ: mean over the shared folds of (row model − column model), as a fraction (0.010 = 1 point); "
        "in brackets after the row name, the row model's mean.",
        "- p: corrected resampled t-test (Nadeau & Bengio 2003), "
        "t = mean(Δ) / sqrt((1/J + n_test/n_train)·s²) with J folds and J − 1 degrees of freedom, "
        f"two-sided, Holm-adjusted across the pairs of the dataset and metric; bold when < {ALPHA}. The "
        "plain paired t-test treats overlapping random splits as independent and is far too confident; it "
        "is in significance.csv only, with the corrected 95% intervals, the Wilcoxon signed-rank test and "
        "the unadjusted p-values.",
        f"- ★: the best mean, marked only when its corrected, Holm-adjusted p < {ALPHA} against every "
        "other model.",
        "- McNemar: on the test images of every shared fold pooled (discordant counts summed over folds); "
        "exact binomial below 25 discordant images, else chi-square with continuity correction; Holm across "
        "pairs. Images recur across folds, so this per-image view is approximate (too confident), not a "
        "replacement for the fold-level test.",
        "- Friedman (scipy) and the critical-difference diagram (autorank: Friedman + Nemenyi) use one score "
        "per dataset (mean over folds) as the block, following Demšar (2006).",
    ]
    if IDENTICAL in notes:
        lines.append("- identical: the two models score the same on every fold (t = 0, p = 1).")
    if CONSTANT in notes:
        lines.append("- ‡: the difference is the same on every fold (zero variance): t = ±∞, p = 0.")
    return lines + [""]


def markdown(results: Sequence[DatasetResult], across: Mapping[str, Friedman], figures: Mapping[str, str],
             figure_notes: Mapping[str, str], excluded: Sequence[str], n_folds: int) -> str:
    out = ["# Paired comparison of models", "",
           f"{n_folds} folds read, {n_folds - len(excluded)} compared, {len(excluded)} excluded.", ""]
    if excluded:
        out += ["Excluded folds:", *[f"- {e}" for e in excluded], ""]
    for r in results:
        out += dataset_markdown(r)
    return "\n".join(out + _friedman_markdown(across, figures, figure_notes) + _legend(results))


# -- csv -----------------------------------------------------------------------------------------------

def csv_table(results: Sequence[DatasetResult], across: Mapping[str, Friedman]) -> pd.DataFrame:
    parts = [r.tests.assign(dataset=r.name) for r in results if not r.tests.empty]
    parts += [r.mcnemar.assign(dataset=r.name, metric="per_image") for r in results if not r.mcnemar.empty]
    parts.append(pd.DataFrame([{"dataset": "all", "metric": m, "test": "friedman", "n": len(f.datasets),
                                "statistic": f.statistic, "p": f.p, "note": f.note}
                               for m, f in across.items()]))
    return pd.concat(parts, ignore_index=True).reindex(columns=CSV_COLUMNS)


# -- entry point ---------------------------------------------------------------------------------------

def write_significance(metric_files: Sequence[str | Path], prediction_files: Sequence[str | Path],
                       datasets: Sequence[str], models: Sequence[str], table: str | Path, csv: str | Path,
                       figures: Mapping[str, str | Path]) -> list[DatasetResult]:
    """Compare ``models`` on each of ``datasets``; ``figures`` maps each metric of METRICS to its PNG."""
    if set(figures) != set(METRICS):
        raise ValueError(f"one figure per metric is needed: {sorted(METRICS)}, got {sorted(figures)}")
    folds = load_folds(metric_files)
    n_read = len(folds)
    correct = load_test_correctness(prediction_files, folds)
    excluded = [f"{r.model}/{r.dataset}/{r.iteration}: not among the configured models and datasets"
                for r in folds.itertuples() if r.model not in models or r.dataset not in datasets]
    folds = folds[folds["model"].isin(models) & folds["dataset"].isin(datasets)]
    results = [analyse_dataset(d, folds[folds["dataset"] == d], correct, models, excluded) for d in datasets]

    across, notes = {}, {}
    for metric in METRICS:
        means = pd.DataFrame({r.name: r.means[metric] for r in results if r.means}).T.reindex(columns=models)
        across[metric] = friedman(means)
        notes[metric] = cd_diagram(means, metric, figures[metric])
    rel = {m: os.path.relpath(p, Path(table).parent) for m, p in figures.items()}
    write_text(table, markdown(results, across, rel, notes, excluded, n_read))
    with atomic_path(csv) as tmp:
        csv_table(results, across).to_csv(tmp, index=False, float_format="%.6g")
    return results
