"""Per-image paired view: McNemar's test on the test images, pooled over the folds of one dataset.

In one fold both models predict the same test images, so each image is a matched pair (a right or
wrong, b right or wrong) and only the discordant images count: ``a_only`` (a right, b wrong) and
``b_only`` (a wrong, b right). **Pooling**: the discordant counts are summed over the folds that every
model shares. Under the null hypothesis that, in every fold, a discordant image is equally likely to
favour either model, each fold's ``a_only`` is Binomial(a_only + b_only, 1/2) given its discordant total,
and a sum of independent such binomials is again Binomial(total, 1/2): the pooled exact McNemar test is
the stratified (Mantel-Haenszel) test for matched pairs, and it is exact *if the pairs are independent*.

They are not quite: repeated random splits put the same image in the test part of several folds (with a
fixed test split, every image is counted once per fold) and the models of different folds share most of
their training images, so pooled pairs are positively correlated and the p-value is too small, as with
the plain paired t-test. Read this view as a per-image description (how many images each model gets
right that the other misses); the fold-level corrected t-test is the inference to rely on.

The test is exact (binomial, statsmodels) when there are fewer than 25 discordant pairs, otherwise the
chi-square statistic with continuity correction; Holm adjusts across the pairs of a dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar

from .paired import holm

EXACT_BELOW = 25


def paired_correctness(correct: pd.DataFrame, models: Sequence[str],
                       iterations: Sequence[int]) -> pd.DataFrame:
    """Rows (iteration, image_id), columns models, values right/wrong, for the given folds of one dataset.

    Raises when the models were not tested on the same images with the same labels in a fold.
    """
    sel = correct[correct["model"].isin(models) & correct["iteration"].isin(iterations)]
    truth = sel.groupby(["iteration", "image_id"])["true"].nunique()
    if (truth > 1).any():
        it, image = truth[truth > 1].index[0]
        raise ValueError(f"iteration {it}: models disagree on the true label of test image {image!r}")
    wide = sel.pivot(index=["iteration", "image_id"], columns="model", values="correct")
    wide = wide.reindex(columns=models)
    gaps = wide.isna()
    if gaps.to_numpy().any():
        m = gaps.any().idxmax()
        it, image = wide.index[gaps[m]][0]
        raise ValueError(f"{m} has no test prediction for image {image!r} of iteration {it}, which another "
                         "model was tested on: the models are not paired")
    return wide.astype(bool)


def mcnemar_pairs(wide: pd.DataFrame) -> pd.DataFrame:
    """McNemar's test for every pair of columns of ``paired_correctness``'s table, Holm across pairs."""
    rows = []
    for a, b in combinations(wide.columns, 2):
        ra, rb = wide[a].to_numpy(), wide[b].to_numpy()
        a_only, b_only = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
        both, neither = int(np.sum(ra & rb)), int(np.sum(~ra & ~rb))
        if a_only + b_only == 0:
            stat, p, note = 0.0, 1.0, "no discordant images"
        else:
            exact = a_only + b_only < EXACT_BELOW
            res = mcnemar([[both, a_only], [b_only, neither]], exact=exact, correction=True)
            stat, p = float(res.statistic), float(res.pvalue)
            note = "exact binomial" if exact else "chi-square"
        rows.append({"test": "mcnemar", "model_a": a, "model_b": b, "n": len(wide),
                     "mean_a": ra.mean(), "mean_b": rb.mean(), "delta": (a_only - b_only) / len(wide),
                     "a_only": a_only, "b_only": b_only, "statistic": stat, "p": p, "note": note})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = holm(out["p"].to_numpy())
    return out
