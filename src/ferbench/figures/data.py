"""What a dataset is made of: class balance per split part and the QC exclusions per reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .bars import grouped_bars
from .style import PART_COLORS, new_figure, styled

PARTS = ("train", "val", "test")


def split_balance(
    labels: pd.DataFrame, manifests: Mapping[str, pd.DataFrame], n_classes: int
) -> pd.DataFrame:
    """Images per (class, part): mean and std over the split manifests (one per iteration); without
    manifests, the whole table as part ``all``. Returns rows part, label, mean, std."""
    if not manifests:
        counts = np.bincount(labels["label"], minlength=n_classes)
        return pd.DataFrame({"part": "all", "label": np.arange(n_classes), "mean": counts, "std": 0.0})
    label_of = labels.set_index("image_id")["label"]
    per = []
    for name, m in manifests.items():
        lab = label_of.loc[m["image_id"]].to_numpy()
        for part in PARTS:
            per.append(
                pd.DataFrame(
                    {
                        "manifest": name,
                        "part": part,
                        "label": np.arange(n_classes),
                        "count": np.bincount(lab[m["part"].to_numpy() == part], minlength=n_classes),
                    }
                )
            )
    g = pd.concat(per).groupby(["part", "label"], sort=False)["count"]
    return g.agg(mean="mean", std=lambda s: s.std(ddof=0)).reset_index()


def exclusions(qc: pd.DataFrame) -> pd.Series:
    """Excluded images per ``reason (stage)``, most frequent first."""
    if qc.empty:
        return pd.Series(dtype=int)
    key = qc["reason"].astype(str) + " (" + qc["stage"].astype(str) + ")"
    return key.value_counts().sort_values(ascending=False, kind="stable")


@styled
def data_figure(
    balance: pd.DataFrame,
    excluded: pd.Series,
    classes: Sequence[str],
    dataset: str,
    n_kept: int,
    n_manifests: int,
    protocol: str | None = None,
) -> Figure:
    """Left: images per class and part (mean ± std over manifests); right: exclusions per reason."""
    n_excl = int(excluded.sum())
    fig = new_figure(max(9.0, 4.5 + 0.55 * len(classes)), 3.8)
    bal_ax, qc_ax = fig.subplots(1, 2, width_ratios=[max(len(classes), 3), 3 if len(excluded) else 1.5])
    parts = [p for p in (*PARTS, "all") if p in set(balance["part"])]
    b = balance.set_index(["part", "label"])
    series = {
        p: (
            b.loc[p].reindex(range(len(classes)))["mean"].to_numpy(),
            b.loc[p].reindex(range(len(classes)))["std"].to_numpy(),
        )
        for p in parts
    }
    totals = {p: f"{p} ({np.nansum(series[p][0]):g} images)" for p in parts}
    grouped_bars(bal_ax, list(classes), series, PART_COLORS, totals)
    where = f"mean ± std over {n_manifests} split manifests" + (f" ({protocol})" if protocol else "")
    bal_ax.set(
        ylabel="images", title=f"class balance per split part\n{where if n_manifests else 'no split yet'}"
    )
    bal_ax.tick_params(axis="x", rotation=30 if len(classes) > 5 else 0)
    bal_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if excluded.empty:
        qc_ax.text(0.5, 0.5, "no exclusions", ha="center", va="center", transform=qc_ax.transAxes)
        qc_ax.set_axis_off()
    else:
        y = np.arange(len(excluded))
        qc_ax.barh(y, excluded.to_numpy(), color="#c44e52", label="excluded")
        qc_ax.set_yticks(y, excluded.index)
        qc_ax.invert_yaxis()
        qc_ax.grid(axis="y", visible=False)
        qc_ax.bar_label(qc_ax.containers[0], padding=2, fontsize=8)
        qc_ax.set(xlabel="images excluded")
        qc_ax.margins(x=0.12)  # room for the count written after the longest bar
    qc_ax.set_title("QC exclusions\nper reason (stage)")
    fig.suptitle(f"{dataset}: {n_kept + n_excl} source images = {n_kept} kept + {n_excl} excluded")
    return fig
