"""The confusion matrix of a (model, dataset), pooled over the test predictions of all its folds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

from .style import CONFUSION_CMAP, new_figure, styled


def pooled_counts(predictions: pd.DataFrame, n_classes: int) -> np.ndarray:
    """K x K counts (rows: true class, columns: predicted) over every row of ``predictions``."""
    return confusion_matrix(predictions["true"], predictions["predicted"], labels=np.arange(n_classes))


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (the recall of the row's class on the diagonal); empty rows stay 0."""
    sums = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, sums, out=np.zeros(counts.shape, dtype=float), where=sums > 0)


@styled
def confusion_figure(
    counts: np.ndarray, classes: Sequence[str], model: str, dataset: str, n_folds: int
) -> Figure:
    """Colour = row-normalised share, text = share and count; the title states the pooled sample."""
    counts = np.asarray(counts)
    k = len(classes)
    if counts.shape != (k, k):
        raise ValueError(f"counts of shape {counts.shape} for {k} classes")
    side = 1.6 + 0.62 * k
    fig = new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    disp = ConfusionMatrixDisplay(row_normalised(counts), display_labels=list(classes))
    disp.plot(
        ax=ax, cmap=CONFUSION_CMAP, values_format=".2f", xticks_rotation=45, im_kw={"vmin": 0, "vmax": 1}
    )
    for (i, j), text in np.ndenumerate(disp.text_):
        text.set_text(f"{disp.confusion_matrix[i, j]:.2f}\n{counts[i, j]}")
        text.set_fontsize(8 if k <= 8 else 6)
    ax.grid(False)
    disp.im_.colorbar.set_label("share of the true class (row)")
    n = int(counts.sum())
    acc = np.trace(counts) / n if n else float("nan")
    ax.set_title(f"{model} on {dataset}\n{n_folds} folds pooled, {n} test images, accuracy {acc:.3f}")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return fig
