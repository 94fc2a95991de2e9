"""Small results folders written in the DAG's file formats, with contents whose figures are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ferbench import schemas

CLASSES = ["angry", "happy", "sad"]


def one_hot_probs(pred, k: int, p: float = 0.7) -> np.ndarray:
    """Probabilities whose arg-max is ``pred``: ``p`` on the prediction, the rest spread evenly."""
    probs = np.full((len(pred), k), (1 - p) / (k - 1), dtype=np.float32)
    probs[np.arange(len(pred)), pred] = p
    return probs


def write_fold(
    root: Path,
    model: str,
    dataset: str,
    iteration: int,
    true,
    pred,
    classes=CLASSES,
    probs=None,
    history: pd.DataFrame | None = None,
    best_epoch: int = 2,
    val=None,
) -> Path:
    """results/runs/{model}/{dataset}/{iteration}/ with metrics.json, predictions.parquet, history.csv.

    ``val`` (true, pred) adds validation rows, which the test-set figures must ignore."""
    d = root / "runs" / model / dataset / str(iteration)
    d.mkdir(parents=True)
    true, pred = np.asarray(true), np.asarray(pred)
    acc = float((true == pred).mean())
    (d / "metrics.json").write_text(
        json.dumps(
            {
                "model": model,
                "dataset": dataset,
                "iteration": iteration,
                "classes": list(classes),
                "best_epoch": best_epoch,
                "test_accuracy": acc,
                "test_balanced_accuracy": acc,
                "test_macro_f1": acc,
                "best_val_accuracy": 0.5,
                "wall_time_s": 1.0,
            }
        )
    )
    parts = [("test", true, pred, probs if probs is not None else one_hot_probs(pred, len(classes)))]
    if val is not None:
        parts.append(("val", np.asarray(val[0]), np.asarray(val[1]), one_hot_probs(val[1], len(classes))))
    cols: dict[str, list] = {n: [] for n in schemas.predictions(list(classes)).names}
    for part, t, p, pr in parts:
        cols["image_id"] += [f"{part}{i:03d}" for i in range(len(t))]
        cols["part"] += [part] * len(t)
        cols["true"] += t.tolist()
        cols["predicted"] += p.tolist()
        for c, name in enumerate(classes):
            cols[f"prob_{name}"] += np.asarray(pr)[:, c].tolist()
    pq.write_table(pa.table(cols, schema=schemas.predictions(list(classes))), d / "predictions.parquet")
    if history is None:
        history = pd.DataFrame(
            {"epoch": [0, 1, 2], "train_loss": [1.0, 0.5, 0.4], "val_accuracy": [0.3, 0.6, 0.5]}
        )
    history.to_csv(d / "history.csv", index=False)
    return d / "metrics.json"


def write_dataset(
    root: Path,
    dataset: str,
    labels: list[int],
    classes=CLASSES,
    qc_reasons=(),
    manifests=(),
    size: int = 8,
    methods=None,
) -> Path:
    """results/data/{dataset}/ (labels.parquet, qc.parquet, images.npy) and the split manifests.

    Image ``i`` is filled with the value ``i`` (so a contact sheet shows which rows it picked);
    ``manifests``: one list of parts per iteration; ``qc_reasons``: (stage, reason) per excluded image."""
    d = root / "data" / dataset
    d.mkdir(parents=True)
    n = len(labels)
    ids = [f"img{i:03d}" for i in range(n)]
    cols = {name: [None] * n for name in schemas.LABELS.names}
    cols |= {
        "image_id": ids,
        "path": [f"aligned/{dataset}/{i}.png" for i in ids],
        "label": labels,
        "label_name": [classes[c] for c in labels],
        "method": methods or ["mtcnn"] * n,
    }
    table = pa.table(cols, schema=schemas.LABELS).replace_schema_metadata(
        {"ferbench.classes": json.dumps(classes)}
    )
    pq.write_table(table, d / "labels.parquet")
    qc = {
        "image_id": [f"bad{i}" for i in range(len(qc_reasons))],
        "source": ["x"] * len(qc_reasons),
        "stage": [s for s, _ in qc_reasons],
        "reason": [r for _, r in qc_reasons],
        "detail": [None] * len(qc_reasons),
    }
    pq.write_table(pa.table(qc, schema=schemas.QC), d / "qc.parquet")
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, size, size, 3))
    np.save(d / "images.npy", np.ascontiguousarray(images))
    for it, parts in enumerate(manifests):
        m = root / "splits" / dataset / "stratified" / f"{it}.parquet"
        m.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"image_id": ids, "part": list(parts)}, schema=schemas.SPLIT), m)
    return d / "labels.parquet"
