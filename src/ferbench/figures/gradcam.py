"""Grad-CAM grids: which test images to show, and the heat maps over the aligned faces.

No model here: the maps come from ``ferbench.explain`` (pytorch-grad-cam); this module only picks the
examples and draws them, so both are testable from fixed arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image
from pytorch_grad_cam.utils.image import show_cam_on_image

from .style import HEATMAP_CMAP, new_figure, styled

CORRECT_COLOR, WRONG_COLOR = "#2ca02c", "#d62728"


def select_examples(predictions: pd.DataFrame, classes: Sequence[str], k: int = 3) -> pd.DataFrame:
    """Per true class, up to ``k`` correctly and ``k`` wrongly classified images of one fold's predictions.

    Deterministic: the most confident ones first (correct: highest probability of the true class; wrong:
    highest probability of the wrong prediction), ties by image_id. Returns rows in grid order (class by
    class, correct before wrong) with image_id, true, predicted, prob (of the prediction), correct.
    """
    probs = predictions[[f"prob_{c}" for c in classes]].to_numpy()
    df = predictions[["image_id", "true", "predicted"]].copy()
    df["prob"] = probs[np.arange(len(df)), df["predicted"].to_numpy()]
    df["correct"] = df["true"] == df["predicted"]
    picked = []
    for c in range(len(classes)):
        for correct in (True, False):
            grp = df[(df["true"] == c) & (df["correct"] == correct)]
            picked.append(
                grp.sort_values(["prob", "image_id"], ascending=[False, True], kind="stable").head(k)
            )
    return pd.concat(picked, ignore_index=True)


def overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's heat-map overlay of a [0,1] map on a uint8 RGB face (map resized if needed)."""
    if cam.shape != image.shape[:2]:
        cam = np.asarray(
            Image.fromarray(cam.astype(np.float32)).resize(image.shape[1::-1], Image.Resampling.BILINEAR)
        )
    return show_cam_on_image(image.astype(np.float32) / 255.0, np.clip(cam, 0.0, 1.0), use_rgb=True)


@styled
def gradcam_figure(
    images: np.ndarray,
    maps: np.ndarray,
    true: Sequence[int],
    predicted: Sequence[int],
    probs: Sequence[float],
    classes: Sequence[str],
    title: str = "",
) -> Figure:
    """One row per true class; left block its correctly classified images, right block its misclassified
    ones, each with the Grad-CAM map over the face and ``predicted class p=probability`` above it.

    ``images`` uint8 [B,H,W,3]; ``maps`` [B,h,w] in 0..1; ``probs`` the probability of the prediction.
    """
    images, maps = np.asarray(images), np.asarray(maps, dtype=np.float32)
    true, predicted, probs = np.asarray(true), np.asarray(predicted), np.asarray(probs)
    b = len(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [B,H,W,3], got {images.dtype} {images.shape}")
    if maps.shape[0] != b or maps.ndim != 3 or not (len(true) == len(predicted) == len(probs) == b):
        raise ValueError(
            f"{b} images but maps {maps.shape}, {len(true)} true, {len(predicted)} predicted, "
            f"{len(probs)} probabilities"
        )
    if b and (maps.min() < -1e-4 or maps.max() > 1 + 1e-4):
        raise ValueError(f"Grad-CAM maps must lie in 0..1, got {maps.min():.3g}..{maps.max():.3g}")
    correct = true == predicted
    k = max(
        [1]
        + [int(((true == c) & (correct == ok)).sum()) for c in range(len(classes)) for ok in (True, False)]
    )
    fig = new_figure(1.0 + 2 * k * 1.15 + 0.6, 0.9 + 1.3 * len(classes))
    blocks = fig.subfigures(1, 2, wspace=0.02)
    grids = {}
    for sub, ok, name in ((blocks[0], True, "correctly classified"), (blocks[1], False, "misclassified")):
        axes = sub.subplots(len(classes), k, squeeze=False)
        sub.suptitle(name, color=CORRECT_COLOR if ok else WRONG_COLOR, fontsize=10)
        for ax in axes.flat:
            ax.set_axis_off()
        grids[ok] = axes
    for c, name in enumerate(classes):
        # the class label sits on the first cell of the left block, shown even when that cell is empty
        first = grids[True][c, 0]
        first.set_axis_on()
        first.set_xticks([])
        first.set_yticks([])
        first.grid(False)
        for spine in first.spines.values():
            spine.set_visible(False)
        first.set_ylabel(name, fontsize=9, rotation=90)
        for ok in (True, False):
            idx = np.flatnonzero((true == c) & (correct == ok))
            for j, i in enumerate(idx):
                ax = grids[ok][c, j]
                ax.imshow(overlay(images[i], maps[i]), interpolation="bilinear")
                ax.set_title(
                    f"{classes[predicted[i]]} p={probs[i]:.2f}",
                    fontsize=7,
                    color=CORRECT_COLOR if ok else WRONG_COLOR,
                    pad=2,
                )
                ax.set_gid(f"cell {c} {'correct' if ok else 'wrong'} {j}")
            if not len(idx):
                grids[ok][c, 0].text(
                    0.5,
                    0.5,
                    "none",
                    ha="center",
                    va="center",
                    color="#999999",
                    fontsize=8,
                    transform=grids[ok][c, 0].transAxes,
                )
    cbar = blocks[1].colorbar(
        ScalarMappable(Normalize(0, 1), HEATMAP_CMAP), ax=list(grids[False][:, -1]), shrink=0.6, pad=0.02
    )
    cbar.set_label("Grad-CAM (relative)")
    fig.suptitle(title or "Grad-CAM on test images; titles: predicted class and its probability")
    return fig
