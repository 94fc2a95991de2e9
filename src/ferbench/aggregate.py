"""Aggregation of finished folds into the benchmark tables and the best checkpoint per cell.

Tables follow the FER-crossval README: rows are datasets, columns models, cells ``mean ± std (n=K)``
with the population std (``ddof=0``, as ``np.std``), the best mean of each row in bold.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from .io import atomic_path, write_json, write_text

METRICS = {"accuracy": "test_accuracy", "balanced_accuracy": "test_balanced_accuracy"}


def collect(metric_files: Iterable[str | Path]) -> pd.DataFrame:
    rows = []
    for f in metric_files:
        m = json.loads(Path(f).read_text())
        rows.append({k: m[k] for k in ("model", "dataset", "iteration", "test_accuracy", "test_balanced_accuracy",
                                       "test_macro_f1", "best_val_accuracy", "best_epoch", "wall_time_s")}
                    | {"path": str(Path(f).parent)})
    if not rows:
        raise ValueError("no finished folds to aggregate")
    return pd.DataFrame(rows)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    g = runs.groupby(["dataset", "model"], sort=False)
    out = g.agg(
        n=("iteration", "count"),
        accuracy_mean=("test_accuracy", "mean"),
        accuracy_std=("test_accuracy", lambda s: s.std(ddof=0)),
        balanced_accuracy_mean=("test_balanced_accuracy", "mean"),
        balanced_accuracy_std=("test_balanced_accuracy", lambda s: s.std(ddof=0)),
        macro_f1_mean=("test_macro_f1", "mean"),
        best_val_accuracy=("best_val_accuracy", "max"),
    )
    return out.reset_index()


def markdown_table(summ: pd.DataFrame, metric: str, datasets: Sequence[str], models: Sequence[str]) -> str:
    mean, std = summ.set_index(["dataset", "model"])[f"{metric}_mean"], summ.set_index(["dataset", "model"])[f"{metric}_std"]
    n = summ.set_index(["dataset", "model"])["n"]
    title = metric.replace("_", " ")
    lines = [f"| dataset \\ {title} | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for d in datasets:
        present = [mean[(d, m)] for m in models if (d, m) in mean.index]
        top = max(present) if present else None
        cells = []
        for m in models:
            if (d, m) not in mean.index:
                cells.append("–")
                continue
            cell = f"{mean[(d, m)]:.3f} ± {std[(d, m)]:.3f} (n={n[(d, m)]})"
            cells.append(f"**{cell}**" if mean[(d, m)] == top and len(present) > 1 else cell)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def best_checkpoints(runs: pd.DataFrame, best_root: str | Path) -> list[Path]:
    """Per (model, dataset): the iteration with the highest validation accuracy (ties: lowest iteration)."""
    written = []
    for (model, dataset), grp in runs.groupby(["model", "dataset"]):
        row = grp.sort_values(["best_val_accuracy", "iteration"], ascending=[False, True]).iloc[0]
        dest = Path(best_root) / model / dataset
        with atomic_path(dest / "best.pt") as tmp:
            shutil.copyfile(Path(row["path"]) / "best.pt", tmp)
        write_json(dest / "card.json", {
            "model": model, "dataset": dataset, "iteration": int(row["iteration"]),
            "selected_on": "best validation accuracy",
            "val_accuracy": float(row["best_val_accuracy"]), "test_accuracy": float(row["test_accuracy"]),
            "test_balanced_accuracy": float(row["test_balanced_accuracy"]), "source": row["path"],
        })
        written.append(dest)
    return written


def aggregate(metric_files: Sequence[str | Path], datasets: Sequence[str], models: Sequence[str],
              tables_dir: str | Path, best_root: str | Path) -> pd.DataFrame:
    """Write the markdown tables, ``summary.csv`` and the best checkpoint of every (model, dataset)."""
    runs = collect(metric_files)
    summ = summary(runs)
    tables_dir = Path(tables_dir)
    for name in METRICS:
        write_text(tables_dir / f"{name}.md", markdown_table(summ, name, datasets, models))
    with atomic_path(tables_dir / "summary.csv") as tmp:
        summ.to_csv(tmp, index=False, float_format="%.6f")
    best_checkpoints(runs, best_root)
    return summ
