"""One look for every ferbench figure: fonts, sizes, colour maps and a fixed colour per model.

Figures are built on ``matplotlib.figure.Figure`` directly, never through pyplot, so no GUI backend
is ever selected and no global figure registry grows (PNG is drawn by Agg, PDF by matplotlib's PDF
backend). The style is applied with ``rc_context`` around building and saving, so importing ferbench
never changes a caller's matplotlib settings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TypeVar

import matplotlib as mpl
import numpy as np
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
    "image.cmap": "viridis",
    "pdf.fonttype": 42,  # TrueType: text in the PDF stays text, editable in a paper's figure
}

CONFUSION_CMAP = "Blues"
# Grad-CAM maps use pytorch-grad-cam's own overlay (OpenCV's jet); the matching colour bar uses this name.
HEATMAP_CMAP = "jet"
PART_COLORS = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868", "all": "#8c8c8c"}
# 10 strong colours first, then 20 more: a benchmark of up to 30 models has no repeated colour.
MODEL_PALETTE = [to_hex(c) for c in (*mpl.colormaps["tab10"].colors, *mpl.colormaps["tab20b"].colors)]

F = TypeVar("F", bound=Callable)


def styled(fn: F) -> F:
    """Run a figure-building function under the ferbench style."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float) -> Figure:
    """A figure outside pyplot (call inside a ``@styled`` function so it gets the style)."""
    return Figure(figsize=(width, height))


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """A model's colour is its position in the benchmark's model list (``benchmark.models``), so every
    figure of one results folder that is drawn from that list shows a model in the same colour."""
    return {m: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, m in enumerate(models)}


def shades(color: str, n: int) -> list[tuple[float, float, float]]:
    """``n`` shades of one colour, light to dark: the folds of one model drawn in that model's hue."""
    base = np.array(to_rgb(color))
    if n == 1:
        return [tuple(base)]
    # negative t mixes toward white (a tint), positive toward black (a shade)
    return [tuple(base + ((1.0 if t < 0 else 0.0) - base) * abs(t)) for t in np.linspace(-0.5, 0.45, n)]
