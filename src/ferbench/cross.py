"""Cross-dataset evaluation: a fold's best checkpoint, trained on one dataset, scored on another.

No retraining: each (model, train dataset, iteration) fold's ``best.pt`` is run on the test part of the
same iteration's split of every other listed dataset, or on the whole of a dataset that serves only as a
test set. Classes are matched through the shared canonical vocabulary (``ferbench.labels``):

* both sides name expressions: only the classes both know are scored. Test images of a class the model
  never learnt are dropped; the model's answer is its most probable class among the shared ones (an
  AffectNet-8 model's contempt output is ignored on RAF-DB). Every dropped class is recorded.
* one side names valence (LFW-FER's negative/neutral/positive), the other expressions: the expression
  side goes through the ``valence`` remap (its probabilities summed per valence class on the model side,
  its labels mapped on the test side).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import labels as vocab
from .aggregate import collect
from .inference import Classifier, input_spec_at, load_weights
from .io import write_json, write_text
from .schemas import read_classes, read_label_table, read_split, write_predictions
from .train.cache import open_cache
from .train.metrics import classification_metrics

SHARED, VALENCE = "shared_classes", "valence"


@dataclass(frozen=True)
class Matching:
    """How a model's classes meet a test set's: the scored vocabulary and the maps into it."""

    mode: str  # SHARED | VALENCE
    scored: tuple[str, ...]
    model_to_scored: tuple[int | None, ...]  # per model output: index in ``scored``, None if dropped
    test_to_scored: tuple[int | None, ...]  # per test class: index in ``scored``, None if dropped
    dropped_model_classes: tuple[str, ...] = field(default=())
    dropped_test_classes: tuple[str, ...] = field(default=())

    def scored_probs(self, probs: np.ndarray) -> np.ndarray:
        """[N, model classes] -> [N, scored]: summed into the scored class each output maps to."""
        out = np.zeros((len(probs), len(self.scored)), dtype=np.float64)
        for j, k in enumerate(self.model_to_scored):
            if k is not None:
                out[:, k] += probs[:, j]
        return out


def _is_valence(classes: Sequence[str]) -> bool:
    return set(classes) <= set(vocab.VALENCE)


def match_classes(model_classes: Sequence[str], test_classes: Sequence[str]) -> Matching:
    model_valence, test_valence = _is_valence(model_classes), _is_valence(test_classes)
    if model_valence != test_valence:
        to_valence = vocab.REMAPS["valence"]
        model_targets = [c if model_valence else to_valence.get(c) for c in model_classes]
        test_targets = [c if test_valence else to_valence.get(c) for c in test_classes]
        mode = VALENCE
    else:
        model_targets, test_targets, mode = list(model_classes), list(test_classes), SHARED
    both = set(model_targets) & set(test_targets) - {None}
    # the scored order follows the test set's own class order
    scored = tuple(dict.fromkeys(t for t in test_targets if t in both))
    if len(scored) < 2:
        raise ValueError(f"model classes {list(model_classes)} and test classes {list(test_classes)} share "
                         f"fewer than two classes ({sorted(both)}): nothing to score")
    index = {c: i for i, c in enumerate(scored)}
    return Matching(
        mode, scored,
        tuple(index.get(t) for t in model_targets), tuple(index.get(t) for t in test_targets),
        tuple(c for c, t in zip(model_classes, model_targets) if t not in index),
        tuple(c for c, t in zip(test_classes, test_targets) if t not in index),
    )


def evaluate(fold_metrics: str | Path, checkpoint: str | Path, model_kwargs: Mapping[str, Any] | None,
             labels_path: str | Path, cache_path: str | Path, split_path: str | Path | None,
             out_metrics: str | Path, out_predictions: str | Path, test_dataset: str, device: str = "cpu",
             batch_size: int = 128) -> dict:
    """Score a fold's checkpoint on ``test_dataset`` (its split's test part, or every row when
    ``split_path`` is None); write the metrics and the predictions."""
    trained = json.loads(Path(fold_metrics).read_text())
    model_classes = trained["classes"]
    net = load_weights(trained["model"], len(model_classes), checkpoint, dict(model_kwargs or {}), device)
    classifier = Classifier(net, input_spec_at(net, trained.get("input_size")), device, batch_size)

    test_classes = read_classes(labels_path)
    match = match_classes(model_classes, test_classes)
    table = read_label_table(labels_path, columns=["image_id", "label"])
    if split_path is not None:
        split = read_split(split_path)
        if not (split["image_id"].to_numpy() == table["image_id"].to_numpy()).all():
            raise ValueError(f"{split_path} does not list the rows of {labels_path} in order; rebuild the split")
        rows = np.flatnonzero(split["part"].to_numpy() == "test")
    else:
        rows = np.arange(len(table))
    true_scored = np.array([match.test_to_scored[c] for c in table["label"].to_numpy()[rows]], dtype=object)
    kept = np.array([t is not None for t in true_scored], dtype=bool)
    rows, y = rows[kept], true_scored[kept].astype(np.int64)

    probs = match.scored_probs(classifier.probs_of_cache(open_cache(cache_path), rows))
    pred = probs.argmax(1)
    m = classification_metrics(y, pred, len(match.scored))
    write_predictions(out_predictions, {
        "image_id": table["image_id"].to_numpy()[rows].tolist(), "part": ["test"] * len(rows),
        "true": y.tolist(), "predicted": pred.tolist(),
        **{f"prob_{c}": probs[:, k].astype(np.float32).tolist() for k, c in enumerate(match.scored)},
    }, match.scored)
    metrics = {
        "model": trained["model"], "train_dataset": trained["dataset"], "test_dataset": test_dataset,
        "iteration": trained["iteration"], "test_part": "split test part" if split_path else "whole dataset",
        "test_accuracy": m["accuracy"], "test_balanced_accuracy": m["balanced_accuracy"],
        "test_macro_f1": m["macro_f1"], "n_test": int(len(rows)), "n_dropped": int((~kept).sum()),
        "matching": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(match).items()
                     if k not in ("model_to_scored", "test_to_scored")},
        "classes": list(match.scored),
    }
    write_json(out_metrics, metrics)
    return metrics


# -- tables ------------------------------------------------------------------------------------------------
def cross_runs(cross_metric_files: Sequence[str | Path], fold_metric_files: Sequence[str | Path]) -> pd.DataFrame:
    """One row per (model, train, test, iteration); the in-dataset folds are the diagonal."""
    rows = []
    for f in cross_metric_files:
        m = json.loads(Path(f).read_text())
        rows.append({k: m[k] for k in ("model", "train_dataset", "test_dataset", "iteration", "test_accuracy",
                                       "test_balanced_accuracy")} | {"scored": ", ".join(m["classes"])})
    diagonal = collect(fold_metric_files)
    for r in diagonal.itertuples():
        rows.append({"model": r.model, "train_dataset": r.dataset, "test_dataset": r.dataset,
                     "iteration": r.iteration, "test_accuracy": r.test_accuracy,
                     "test_balanced_accuracy": r.test_balanced_accuracy, "scored": "all"})
    return pd.DataFrame(rows)


def cross_markdown(runs: pd.DataFrame, metric: str, models: Sequence[str], train: Sequence[str],
                   test: Sequence[str]) -> str:
    """Per model: a train × test matrix of ``mean ± std (n=K)`` (population std); the diagonal is the
    in-dataset result; the classes scored per off-diagonal cell are listed under the matrix."""
    col = {"accuracy": "test_accuracy", "balanced_accuracy": "test_balanced_accuracy"}[metric]
    title = metric.replace("_", " ")
    out = [f"# Cross-dataset {title}", "",
           "Rows: the dataset a model was trained on; columns: the dataset it is tested on (its test part, or "
           "the whole dataset when it is only a test set). The diagonal is the in-dataset result. "
           "Cells: mean ± population std over iterations (n folds).", ""]
    for model in models:
        mine = runs[runs["model"] == model]
        out += [f"## {model}", "", "| train \\ test | " + " | ".join(test) + " |", "|---|" + "---|" * len(test)]
        notes = []
        for tr in train:
            cells = []
            for te in test:
                cell = mine[(mine["train_dataset"] == tr) & (mine["test_dataset"] == te)]
                if cell.empty:
                    cells.append("–")
                    continue
                v = cell[col]
                cells.append(f"{v.mean():.3f} ± {v.std(ddof=0):.3f} (n={len(v)})")
                if tr != te:
                    notes.append(f"- {tr} → {te}: scored on {cell['scored'].iloc[0]}")
            out.append(f"| {tr} | " + " | ".join(cells) + " |")
        out += ["", *notes, ""]
    return "\n".join(out).rstrip() + "\n"


def write_cross_table(cross_metric_files: Sequence[str | Path], fold_metric_files: Sequence[str | Path],
                      metric: str, models: Sequence[str], train: Sequence[str], test: Sequence[str],
                      out: str | Path) -> str:
    text = cross_markdown(cross_runs(cross_metric_files, fold_metric_files), metric, models, train, test)
    write_text(out, text)
    return text
