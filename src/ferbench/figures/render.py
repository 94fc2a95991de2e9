"""From DAG files to figure files: read, draw, save. The workflow scripts and ``python -m
ferbench.figures`` call these; each returns the written paths (PNG first, then PDF)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import load
from .curves import curves_figure
from .data import data_figure, exclusions, split_balance
from .overview import overview_figure
from .save import save
from .style import model_colors

Paths = Sequence[str | Path]

# Each figure is its own job (a Python start-up): the modules that need sklearn (confusion, per-class
# recall), skimage (faces) or torch (Grad-CAM) are imported by their render function only.


def _one_cell(folds: Sequence[load.Fold]) -> tuple[str, str]:
    cells = {(f.model, f.dataset) for f in folds}
    if len(cells) != 1:
        raise ValueError(f"expected the folds of one (model, dataset), got {sorted(cells)}")
    return cells.pop()


def render_confusion(metric_files: Paths, out: str | Path) -> list[Path]:
    """Pooled test confusion matrix of the folds' (model, dataset); ``metric_files``: their metrics.json."""
    from .confusion import confusion_figure, pooled_counts

    folds = load.read_folds(metric_files)
    model, dataset = _one_cell(folds)
    classes = load.common_classes(folds)
    preds = pd.concat([load.fold_predictions(f) for f in folds], ignore_index=True)
    return save(
        confusion_figure(pooled_counts(preds, len(classes)), classes, model, dataset, len(folds)), out
    )


def render_curves(metric_files: Paths, out: str | Path, models: Sequence[str] = ()) -> list[Path]:
    """Learning curves of the folds' (model, dataset); ``models`` (the benchmark's list) fixes its colour."""
    folds = load.read_folds(metric_files)
    model, dataset = _one_cell(folds)
    color = model_colors(list(models) if model in models else [model])[model]
    fig = curves_figure(
        {f.iteration: load.fold_history(f) for f in folds},
        {f.iteration: f.best_epoch for f in folds},
        model,
        dataset,
        color,
    )
    return save(fig, out)


def render_per_class(metric_files: Paths, out: str | Path, models: Sequence[str] = ()) -> list[Path]:
    """Per-class test recall of every model with folds on one dataset."""
    from .per_class import fold_recall, per_class_figure

    folds = load.read_folds(metric_files)
    datasets = {f.dataset for f in folds}
    if len(datasets) != 1:
        raise ValueError(f"expected the folds of one dataset, got {sorted(datasets)}")
    classes = load.common_classes(folds)
    rows = [
        pd.DataFrame(
            {
                "model": f.model,
                "iteration": f.iteration,
                "class": list(classes),
                "recall": fold_recall(load.fold_predictions(f), len(classes)),
            }
        )
        for f in folds
    ]
    order = list(models) or sorted({f.model for f in folds})
    return save(per_class_figure(pd.concat(rows, ignore_index=True), classes, order, datasets.pop()), out)


def render_overview(
    source: str | Path | Paths,
    out: str | Path,
    metric: str,
    datasets: Sequence[str] = (),
    models: Sequence[str] = (),
) -> list[Path]:
    """``source``: results/tables/summary.csv or the metrics.json files of every fold."""
    summ = load.read_summary(source)
    datasets = list(datasets) or list(dict.fromkeys(summ["dataset"]))
    models = list(models) or list(dict.fromkeys(summ["model"]))
    return save(overview_figure(summ, metric, datasets, models), out)


def render_data(
    labels_path: str | Path,
    qc_path: str | Path,
    manifest_paths: Paths,
    out: str | Path,
    dataset: str | None = None,
) -> list[Path]:
    """Class balance per split part (over the manifests of one protocol) and QC exclusions per reason."""
    labels, classes = load.read_labels(labels_path)
    manifests = load.read_manifests(manifest_paths, labels)
    protocols = sorted({name.split("/")[0] for name in manifests})
    fig = data_figure(
        split_balance(labels, manifests, len(classes)),
        exclusions(load.read_qc(qc_path)),
        classes,
        dataset or Path(labels_path).parent.name,
        len(labels),
        len(manifests),
        ", ".join(protocols),
    )
    return save(fig, out)


def render_faces(
    labels_path: str | Path,
    out: str | Path,
    images_npy: str | Path | None = None,
    k: int = 8,
    dataset: str | None = None,
) -> list[Path]:
    """Contact sheet from images.npy (what the models saw) or, without it, the aligned files."""
    from .faces import FLAG_METHOD, faces_figure, pick_faces

    labels_path = Path(labels_path)
    labels, classes = load.read_labels(labels_path)
    picked = pick_faces(labels, len(classes), k)
    rows = np.concatenate(picked)
    images = load.read_images(labels, rows, images_npy, results_dir=labels_path.parents[2])
    flagged = (labels["method"].to_numpy()[rows] == FLAG_METHOD) if "method" in labels else None
    sizes = np.bincount(labels["label"], minlength=len(classes))
    fig = faces_figure(
        images, [len(p) for p in picked], classes, sizes, dataset or labels_path.parent.name, k, flagged
    )
    return save(fig, out)


def render_gradcam(
    run_dir: str | Path,
    labels_path: str | Path,
    images_npy: str | Path,
    out: str | Path,
    explain: Callable[[np.ndarray, np.ndarray], np.ndarray],
    k: int = 3,
) -> list[Path]:
    """Grad-CAM grid of one fold's test images. ``explain(images uint8 [B,H,W,3], targets [B]) -> maps
    [B,H,W] in 0..1`` is the caller's (e.g. ``lambda x, t: ferbench.explain.gradcam(model, x, t)``); the
    maps explain the predicted class."""
    from .gradcam import gradcam_figure, select_examples

    run_dir = Path(run_dir)
    (fold,) = load.read_folds([run_dir / "metrics.json"])
    labels, classes = load.read_labels(labels_path)
    if tuple(classes) != fold.classes:
        raise ValueError(
            f"{labels_path}: classes {list(classes)} differ from {list(fold.classes)} of "
            f"{run_dir / 'metrics.json'}"
        )
    sel = select_examples(load.fold_predictions(fold), classes, k)
    row_of = pd.Series(np.arange(len(labels)), index=labels["image_id"])
    images = load.read_images(labels, row_of.loc[sel["image_id"]].to_numpy(), images_npy)
    targets = sel["predicted"].to_numpy()
    maps = np.asarray(explain(images, targets)) if len(sel) else np.zeros((0, *images.shape[1:3]), np.float32)
    title = (
        f"Grad-CAM: {fold.model} on {fold.dataset}, fold {fold.iteration}, test images "
        f"(up to {k} correct and {k} wrong per class); titles: prediction and its probability"
    )
    return save(gradcam_figure(images, maps, sel["true"], sel["predicted"], sel["prob"], classes, title), out)
