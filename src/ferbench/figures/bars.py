"""Grouped bars with error bars: one group per category on the x axis, one bar per series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes


def bars_width(n_groups: int, n_series: int) -> float:
    """Figure width (inches) for grouped bars: about 0.15 in per bar, legend outside, within 5..16 in."""
    return float(np.clip(2.5 + 0.15 * n_groups * max(n_series, 2) + 0.25 * n_groups, 5.0, 16.0))


def grouped_bars(
    ax: Axes,
    groups: Sequence[str],
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    colors: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> None:
    """``series``: name -> (heights, error half-lengths), one value per group (NaN: no bar there).

    Each series becomes one ``BarContainer`` labelled with its name (``labels`` may add e.g. n folds),
    which is how a reader (or a test) finds its bars again.
    """
    n = max(len(series), 1)
    width = 0.8 / n
    x = np.arange(len(groups))
    for i, (name, (height, err)) in enumerate(series.items()):
        height, err = np.asarray(height, float), np.asarray(err, float)
        keep = np.isfinite(height)
        ax.bar(
            (x - 0.4 + width * (i + 0.5))[keep],
            height[keep],
            width,
            yerr=np.nan_to_num(err[keep]),
            color=colors[name],
            label=(labels or {}).get(name, name),
            capsize=min(3.0, 12 / n),
            error_kw={"elinewidth": 1, "ecolor": "#333333"},
        )
    ax.set_xticks(x, groups)
    ax.grid(axis="x", visible=False)
    ax.set_xlim(-0.6, len(groups) - 0.4)
