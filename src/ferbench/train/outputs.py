"""The files a finished fold leaves in ``results/runs/{model}/{dataset}/{iteration}/``.

best.pt, predictions.parquet, history.csv and provenance.json are written first and metrics.json
last, each atomically: a fold with a metrics.json has every other file. metrics.json records best.pt's
sha256, so the best card and ``ferbench verify`` can tell a swapped checkpoint.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import schemas
from ..download import sha256sum
from ..io import remove_stale_temps, write_json, write_text, write_with

FILES = ("best.pt", "predictions.parquet", "history.csv", "provenance.json", "metrics.json")


def remove_stale_outputs(out_dir: Path) -> list[Path]:
    """Temp files of a previous attempt killed while writing the outputs."""
    return [p for name in FILES for p in remove_stale_temps(Path(out_dir) / name)]


def history_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def predictions_columns(ids: np.ndarray, classes: Sequence[str], results: Mapping[str, Mapping]) -> dict[str, list]:
    """One row per evaluated image; ``results[part]`` holds ``rows``, ``true``, ``pred``, ``probs``."""
    cols: dict[str, list] = {n: [] for n in schemas.predictions(list(classes)).names}
    for part, res in results.items():
        cols["image_id"] += ids[res["rows"]].tolist()
        cols["part"] += [part] * len(res["rows"])
        cols["true"] += res["true"].tolist()
        cols["predicted"] += res["pred"].tolist()
        for c, name in enumerate(classes):
            cols[f"prob_{name}"] += res["probs"][:, c].tolist()
    return cols


def write_fold(out_dir: Path, *, best_weights: Mapping[str, torch.Tensor], classes: Sequence[str],
               predictions: dict[str, list],
               history: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any],
               provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Writes the fold; returns ``metrics`` as written (with the checkpoint's sha256)."""
    out = Path(out_dir)
    write_with(out / "best.pt", lambda p: torch.save(dict(best_weights), p))
    metrics = {**metrics, "checkpoint_sha256": sha256sum(out / "best.pt")}
    schemas.write_predictions(out / "predictions.parquet", predictions, classes)
    write_text(out / "history.csv", history_csv(history))
    if provenance is not None:
        write_json(out / "provenance.json", provenance)
    write_json(out / "metrics.json", metrics)
    return metrics
