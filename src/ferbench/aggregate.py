"""Aggregation of finished folds: the summary, the benchmark tables and the best checkpoint per cell.

Tables follow the FER-crossval README: rows are datasets, columns models, cells ``mean ± std (n=K)``
with the population std (``ddof=0``, as ``np.std``), the best mean of each row in bold.

Each output has its own function (and its own rule), so that a grown or shrunk grid rebuilds exactly
the outputs whose inputs changed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .download import sha256sum
from .io import atomic_path, write_json, write_text

_RUN_COLUMNS = ("model", "dataset", "iteration", "test_accuracy", "test_balanced_accuracy", "test_macro_f1",
                "best_val_accuracy", "best_epoch", "wall_time_s")


class CheckpointMismatch(ValueError):
    """A fold's best.pt is not the file its training job wrote."""


def collect(metric_files: Iterable[str | Path], columns: Sequence[str] = _RUN_COLUMNS) -> pd.DataFrame:
    """One row per fold with ``columns`` of its metrics.json; ``path`` is the fold's folder."""
    rows = []
    for f in metric_files:
        m = json.loads(Path(f).read_text())
        missing = [k for k in columns if k not in m]
        if missing:
            raise ValueError(f"{f}: metrics lack {', '.join(missing)}; rerun this fold")
        rows.append({k: m[k] for k in columns} | {"path": str(Path(f).parent)})
    if not rows:
        raise ValueError("no finished folds")
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


def write_summary(metric_files: Sequence[str | Path], out: str | Path) -> pd.DataFrame:
    summ = summary(collect(metric_files))
    with atomic_path(out) as tmp:
        summ.to_csv(tmp, index=False, float_format="%.6f")
    return summ


def read_summary(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path)


def markdown_table(summ: pd.DataFrame, metric: str, datasets: Sequence[str], models: Sequence[str]) -> str:
    cells_of = summ.set_index(["dataset", "model"])
    mean, std, n = cells_of[f"{metric}_mean"], cells_of[f"{metric}_std"], cells_of["n"]
    title = metric.replace("_", " ")
    lines = [f"| dataset \\ {title} | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for d in datasets:
        # compare the rounded means: two cells that print the same are both best
        present = [round(mean[(d, m)], 3) for m in models if (d, m) in mean.index]
        top = max(present) if present else None
        cells = []
        for m in models:
            if (d, m) not in mean.index:
                cells.append("–")
                continue
            cell = f"{mean[(d, m)]:.3f} ± {std[(d, m)]:.3f} (n={n[(d, m)]})"
            cells.append(f"**{cell}**" if round(mean[(d, m)], 3) == top and len(present) > 1 else cell)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(summary_csv: str | Path, metric: str, datasets: Sequence[str], models: Sequence[str],
                out: str | Path) -> str:
    text = markdown_table(read_summary(summary_csv), metric, datasets, models)
    write_text(out, text)
    return text


# -- best checkpoint per (model, dataset) ------------------------------------------------------------
def select_best(runs: pd.DataFrame) -> pd.Series:
    """The fold with the highest validation accuracy (ties: lowest iteration); never the test set."""
    return runs.sort_values(["best_val_accuracy", "iteration"], ascending=[False, True]).iloc[0]


def best_card(metric_files: Sequence[str | Path], results_root: str | Path,
              extra: Mapping[str, Any] | None = None) -> dict:
    """The card of one (model, dataset) cell: the selected fold, its scores and what inference needs.

    The fold's ``best.pt`` is hashed here; when the fold recorded the hash its training job wrote, a
    different file (swapped, truncated, edited) stops the selection instead of being published.
    """
    runs = collect(metric_files)
    if runs[["model", "dataset"]].drop_duplicates().shape[0] != 1:
        raise ValueError("best_card takes the folds of one (model, dataset)")
    row = select_best(runs)
    fold = Path(row["path"])
    metrics = json.loads((fold / "metrics.json").read_text())
    checkpoint = fold / "best.pt"
    digest = sha256sum(checkpoint)
    recorded = metrics.get("checkpoint_sha256")
    if recorded and recorded != digest:
        raise CheckpointMismatch(
            f"{checkpoint} has sha256 {digest}, but its training job wrote {recorded}: the checkpoint was "
            "replaced or damaged; rerun the fold (delete its folder) or restore the file")
    provenance_file = fold / "provenance.json"
    provenance = json.loads(provenance_file.read_text()) if provenance_file.is_file() else {}
    return {
        "model": row["model"], "dataset": row["dataset"], "iteration": int(row["iteration"]),
        "classes": metrics["classes"],
        "input_size": metrics.get("input_size"),
        "input_spec": metrics.get("input_spec"),
        **dict(extra or {}),
        "checkpoint": "best.pt", "checkpoint_sha256": digest,
        "selected_on": "best validation accuracy",
        "val_accuracy": float(row["best_val_accuracy"]), "test_accuracy": float(row["test_accuracy"]),
        "test_balanced_accuracy": float(row["test_balanced_accuracy"]),
        "source": fold.relative_to(results_root).as_posix(),
        "provenance": {k: provenance[k] for k in ("ferbench", "code") if k in provenance},
    }


def write_best_card(metric_files: Sequence[str | Path], results_root: str | Path, out: str | Path,
                    extra: Mapping[str, Any] | None = None) -> dict:
    card = best_card(metric_files, results_root, extra)
    write_json(out, card)
    return card


def copy_best_checkpoint(card_path: str | Path, results_root: str | Path, out: str | Path) -> Path:
    """Copy the checkpoint the card selected, checking it is the file the card hashed."""
    card = json.loads(Path(card_path).read_text())
    src = Path(results_root) / card["source"] / card["checkpoint"]
    with atomic_path(out) as tmp:
        shutil.copyfile(src, tmp)
        if (digest := sha256sum(tmp)) != card["checkpoint_sha256"]:
            raise CheckpointMismatch(f"{src} has sha256 {digest}, but {card_path} selected "
                                     f"{card['checkpoint_sha256']}; rebuild the card")
    return Path(out)
