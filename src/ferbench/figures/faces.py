"""A contact sheet of aligned faces per class: a bad alignment or a wrong label shows at a glance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from skimage.util import montage

from .style import new_figure, styled

PAD = 2
# Faces where MTCNN found nothing and the centre of the image was kept instead: the likeliest misalignments.
FLAG_METHOD = "center_fallback"
FLAG_COLOR = "#d62728"


def pick_faces(labels: pd.DataFrame, n_classes: int, k: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Per class, up to ``k`` label-table rows drawn at random (fixed ``seed``: the same sheet every time),
    in table order."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n_classes):
        rows = np.flatnonzero(labels["label"].to_numpy() == c)
        out.append(np.sort(rng.choice(rows, size=min(k, len(rows)), replace=False)))
    return out


def sheet(images: np.ndarray, per_class: Sequence[int], k: int) -> np.ndarray:
    """The faces (class by class, ``per_class[c]`` of them) on a grid of one row per class and ``k``
    columns, white where a class has fewer than ``k`` faces."""
    s = images.shape[1]
    cells = np.full((len(per_class) * k, s, s, 3), 255, dtype=np.uint8)
    start = 0
    for c, n in enumerate(per_class):
        cells[c * k : c * k + n] = images[start : start + n]
        start += n
    return montage(
        cells, grid_shape=(len(per_class), k), padding_width=PAD, fill=(255, 255, 255), channel_axis=-1
    )


@styled
def faces_figure(
    images: np.ndarray,
    per_class: Sequence[int],
    classes: Sequence[str],
    class_sizes: Sequence[int],
    dataset: str,
    k: int,
    flagged: Sequence[bool] | None = None,
) -> Figure:
    """``images``: uint8 [B,S,S,3], class by class (``per_class[c]`` faces of class c); ``flagged``: one bool
    per image, framed in red (centre-crop fallback)."""
    if len(images) != sum(per_class):
        raise ValueError(f"{len(images)} images for {sum(per_class)} slots")
    grid = sheet(images, per_class, k)
    size = images.shape[1]
    step = size + PAD  # montage pads between the cells and around the sheet
    fig = new_figure(1.2 + 0.85 * k, 0.6 + 0.85 * len(classes))
    ax = fig.add_subplot()
    ax.imshow(grid, interpolation="nearest")
    ax.set_yticks(
        [PAD + step * c + size / 2 for c in range(len(classes))],
        [f"{name}\n({n} images)" for name, n in zip(classes, class_sizes)],
    )
    ax.set_xticks([])
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    i = 0
    for c, n in enumerate(per_class):
        for j in range(n):
            if flagged is not None and flagged[i]:
                ax.add_patch(
                    Rectangle(
                        (PAD + j * step - 0.5, PAD + c * step - 0.5),
                        size,
                        size,
                        fill=False,
                        edgecolor=FLAG_COLOR,
                        linewidth=2,
                        label="_flag",
                    )
                )
            i += 1
    note = (
        f"; red frame: no face found, centre crop ({sum(flagged)} shown)"
        if flagged is not None and any(flagged)
        else ""
    )
    ax.set_title(f"{dataset}: aligned faces, up to {k} per class drawn at random{note}")
    return fig
