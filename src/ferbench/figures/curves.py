"""Learning curves of a (model, dataset): train loss and validation accuracy of every fold."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from .style import new_figure, shades, styled


@styled
def curves_figure(
    histories: Mapping[int, pd.DataFrame],
    best_epochs: Mapping[int, int],
    model: str,
    dataset: str,
    color: str = "#1f77b4",
) -> Figure:
    """One line per fold (iteration -> history.csv rows), in shades of the model's ``color``.

    Epochs are drawn 1-based (history.csv counts from 0, metrics.json's ``best_epoch`` from 1); the
    selected epoch of each fold is a dotted vertical line on both panels and a star on its
    validation-accuracy curve.
    """
    fig = new_figure(10.0, 3.6)
    loss_ax, acc_ax = fig.subplots(1, 2)
    folds = sorted(histories)
    for iteration, c in zip(folds, shades(color, len(folds))):
        h = histories[iteration]
        epochs = h["epoch"].to_numpy() + 1
        best = best_epochs[iteration]
        marker = "." if len(h) <= 15 else None  # a dot per epoch while the dots do not merge into a line
        loss_ax.plot(epochs, h["train_loss"], color=c, marker=marker, label=f"fold {iteration}")
        acc_ax.plot(
            epochs, h["val_accuracy"], color=c, marker=marker, label=f"fold {iteration} (epoch {best})"
        )
        for ax in (loss_ax, acc_ax):
            ax.axvline(best, color=c, linestyle=":", linewidth=1, label=f"_selected {iteration}")
        acc_ax.plot(
            [best],
            [h["val_accuracy"].iloc[best - 1]],
            marker="*",
            markersize=11,
            color=c,
            markeredgecolor="black",
            markeredgewidth=0.5,
            linestyle="none",
            label=f"_best {iteration}",
        )
    loss_ax.set(xlabel="epoch", ylabel="train loss", title="training loss")
    acc_ax.set(
        xlabel="epoch",
        ylabel="validation accuracy",
        title="validation accuracy (★ selected epoch)",
        ylim=(0, 1.05),
    )
    for ax in (loss_ax, acc_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    acc_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="fold (selected epoch)")
    fig.suptitle(f"{model} on {dataset}: learning curves of {len(folds)} folds")
    return fig
