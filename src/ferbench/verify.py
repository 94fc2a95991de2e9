"""``ferbench verify RESULTS_DIR``: does a results folder prove what its tables say?

Each check prints one line, ``PASS``/``FAIL``/``WARN``/``SKIP`` + what was checked:

* the manifest: every file ``MANIFEST.sha256`` lists is present with its sha256, and it lists every file
  the grid of ``provenance.json`` needs (a fold deleted with its manifest lines is caught too);
  ``grid.json`` holds that grid;
* every fold: ``metrics.json`` recomputed from ``predictions.parquet`` (test part, the training's
  :func:`~ferbench.train.metrics.classification_metrics`), the predictions against the label table and
  the split, the checkpoint and input files against the sha256 its training job recorded; every
  cross-dataset evaluation's metrics recomputed from its predictions;
* the tables: ``summary.csv``, ``tables/{metric}.md`` and the cross-dataset tables rebuilt from the folds
  with the aggregation's own writers, compared byte for byte;
* every best card: the selected fold is the one with the best validation accuracy, the checkpoint is
  that fold's; and, when the image cache is present, the best checkpoint re-evaluated on its fold's test
  part (on CPU: the same predicted labels, probabilities within :data:`PROB_TOL`);
* consistency: one code version and one training configuration per model across the folds (WARN).

A folder unpacked from ``ferbench pack --no-checkpoints`` (``PACKED.json``) passes without its ``.pt``
files; what could not be checked is said with SKIP.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import layout
from .aggregate import collect, select_best, write_summary, write_table
from .download import sha256sum
from .grid import Grid
from .manifest import fold_code_versions, read_manifest
from .pack import is_checkpoint, read_packed
from .schemas import read_classes, read_label_table, read_predictions, read_split
from .train.metrics import classification_metrics

PROB_TOL = 1e-4  # CPU re-evaluation vs the stored probabilities (float32, other batch composition)
GPU_AGREEMENT = 0.98  # a GPU-trained fold re-evaluated on CPU: bf16 autocast flips a few near-ties
METRIC_TOL = 1e-9
# metrics.json key -> the metric recomputed from the test predictions
TEST_METRICS = {"test_accuracy": "accuracy", "test_balanced_accuracy": "balanced_accuracy",
                "test_macro_f1": "macro_f1"}
# a fold's provenance.json "inputs" role -> the file it must be in this folder (when recorded)
FOLD_INPUTS = {"labels": layout.LABELS, "split": layout.SPLIT, "cache": layout.CACHE}


@dataclass(frozen=True)
class Check:
    status: str  # PASS | FAIL | WARN | SKIP
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status} {self.subject}: {self.detail}"


class NotAResultsFolder(ValueError):
    """The folder lacks what every check starts from (provenance.json, MANIFEST.sha256)."""


@dataclass
class Folder:
    """A sealed results folder: its grid (from ``provenance.json``), manifest and pack record."""

    root: Path
    provenance: dict
    grid: Grid
    manifest: dict[str, str]
    packed: dict
    _sha: dict[str, str] = field(default_factory=dict, repr=False)
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, root: str | Path) -> Folder:
        root = Path(root)
        if not root.is_dir():
            raise NotAResultsFolder(f"{root} is not a folder")
        prov_path, manifest_path = root / layout.PROVENANCE, root / layout.MANIFEST
        for p in (prov_path, manifest_path):
            if not p.is_file():
                raise NotAResultsFolder(
                    f"{p} not found: {root} is not a sealed results folder (the workflow writes it with the "
                    f"tables: snakemake results/tables/accuracy.md --configfile ...)")
        try:
            provenance = json.loads(prov_path.read_text(encoding="utf-8"))
            grid = Grid.from_dict(provenance["grid"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise NotAResultsFolder(f"{prov_path}: no readable grid ({type(e).__name__}: {e})") from None
        return cls(root, provenance, grid, read_manifest(manifest_path), read_packed(root))

    def path(self, rel: str) -> Path:
        return self.root / rel

    def sha256(self, rel: str) -> str:
        if rel not in self._sha:
            self._sha[rel] = sha256sum(self.root / rel)
        return self._sha[rel]

    def hash_all(self, rels: Iterable[str], workers: int = 4) -> None:
        """Hash files in parallel threads (hashlib releases the GIL); later :meth:`sha256` calls are free."""
        todo = [r for r in rels if r not in self._sha]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            self._sha.update(zip(todo, pool.map(lambda r: sha256sum(self.root / r), todo)))

    def not_packed(self, rel: str) -> bool:
        """A checkpoint this folder's archive left out (``ferbench pack --no-checkpoints``)."""
        return self.packed.get("checkpoints") is False and is_checkpoint(rel) and not self.path(rel).exists()

    def memo(self, key: tuple, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def split_rel(self, dataset: str, iteration: int) -> str:
        return layout.SPLIT.format(dataset=dataset, protocol=self.grid.protocol(dataset), iteration=iteration)

    def labels(self, dataset: str) -> tuple[list[str], pd.DataFrame]:
        """(classes, image_id/label rows) of a dataset's label table."""
        def read():
            path = self.path(layout.LABELS.format(dataset=dataset))
            return read_classes(path), read_label_table(path, ["image_id", "label"])
        return self.memo(("labels", dataset), read)

    def parts(self, dataset: str, iteration: int) -> pd.Series:
        """image_id -> train/val/test of a fold's split."""
        def read():
            split = read_split(self.path(self.split_rel(dataset, iteration)))
            return split.set_index("image_id")["part"].astype(str)
        return self.memo(("split", dataset, iteration), read)

    def json(self, rel: str) -> dict:
        return self.memo(("json", rel), lambda: json.loads(self.path(rel).read_text(encoding="utf-8")))


def verify(root: str | Path, evaluate: bool = True) -> Iterator[Check]:
    """Every check of a results folder, in order; see the module docstring."""
    try:
        folder = Folder.open(root)
    except (NotAResultsFolder, ValueError) as e:
        yield Check("FAIL", str(root), str(e))
        return
    if folder.packed:
        what = "with" if folder.packed.get("checkpoints", True) else "without"
        yield Check("PASS", layout.PACKED, f"unpacked from an archive made {what} checkpoints "
                    f"({folder.packed.get('packed_by', {}).get('time', 'time unknown')})")
    yield from check_manifest(folder)
    yield from check_grid_file(folder)
    yield from check_folds(folder)
    yield from check_cross(folder)
    yield from check_tables(folder)
    yield from check_best(folder)
    yield from check_reevaluation(folder, evaluate)
    yield from check_consistency(folder)


# -- the manifest ---------------------------------------------------------------------------------------
def manifest_problems(folder: Folder) -> tuple[list[str], list[str], list[str]]:
    """(missing, changed, not packed) among the files ``MANIFEST.sha256`` lists."""
    present = [r for r in folder.manifest if folder.path(r).is_file()]
    folder.hash_all(present)
    missing = [r for r in folder.manifest if r not in present and not folder.not_packed(r)]
    changed = [r for r in present if folder.sha256(r) != folder.manifest[r]]
    not_packed = [r for r in folder.manifest if folder.not_packed(r)]
    return missing, changed, not_packed


def check_manifest(folder: Folder) -> Iterator[Check]:
    missing, changed, not_packed = manifest_problems(folder)
    for r in missing:
        yield Check("FAIL", layout.MANIFEST, f"{r} is listed but missing")
    for r in changed:
        yield Check("FAIL", layout.MANIFEST,
                    f"{r} changed: sha256 {folder.sha256(r)[:12]}…, listed {folder.manifest[r][:12]}…")
    needed = [Path(f).relative_to(folder.root).as_posix() for f in folder.grid.sealed_files(folder.root)]
    unlisted = [r for r in needed if r not in folder.manifest]
    for r in unlisted:
        yield Check("FAIL", layout.MANIFEST,
                    f"does not list {r}, which the grid of {layout.PROVENANCE} needs")
    if not_packed:
        yield Check("SKIP", layout.MANIFEST, f"{len(not_packed)} checkpoints (.pt) were not packed "
                    f"({layout.PACKED}): their sha256 and the re-evaluation cannot be checked")
    if not (missing or changed or unlisted):
        n = len(folder.manifest) - len(not_packed)
        yield Check("PASS", layout.MANIFEST, f"{n} files present with their sha256; every file of the grid "
                    f"({_grid_words(folder.grid)}) is listed")


def check_grid_file(folder: Folder) -> Iterator[Check]:
    """grid.json (the aggregation's input that follows the config) holds the grid of provenance.json."""
    path = folder.path(layout.GRID)
    if not path.is_file():
        yield Check("FAIL", layout.GRID, "missing")
    elif (have := json.loads(path.read_text(encoding="utf-8"))) != folder.provenance["grid"]:
        yield Check("FAIL", layout.GRID, f"holds another grid than {layout.PROVENANCE}: {have}")
    else:
        yield Check("PASS", layout.GRID, f"the grid of {layout.PROVENANCE}")


def _grid_words(grid: Grid) -> str:
    return f"{', '.join(grid.models)} × {', '.join(grid.datasets)} × {grid.iterations} iterations"


# -- the folds ------------------------------------------------------------------------------------------
def check_folds(folder: Folder) -> Iterator[Check]:
    for model, dataset, iteration in folder.grid.folds():
        fold = layout.FOLD.format(model=model, dataset=dataset, iteration=iteration)
        try:
            problems, summary = fold_problems(folder, model, dataset, iteration)
        except Exception as e:  # noqa: BLE001 - a damaged file fails its check; the others go on
            problems, summary = [f"cannot be read: {type(e).__name__}: {e}"], ""
        for p in problems:
            yield Check("FAIL", fold, p)
        if not problems:
            yield Check("PASS", fold, summary)


def fold_problems(folder: Folder, model: str, dataset: str, iteration: int) -> tuple[list[str], str]:
    """What is wrong with one fold (empty when nothing), and a one-line account of what was checked."""
    wc = {"model": model, "dataset": dataset, "iteration": iteration}
    metrics_rel, preds_rel = layout.METRICS.format(**wc), layout.PREDICTIONS.format(**wc)
    absent = [r for r in (metrics_rel, preds_rel) if not folder.path(r).is_file()]
    if absent:
        return [f"the fold is missing ({', '.join(Path(r).name for r in absent)} absent); "
                f"the grid of {layout.PROVENANCE} has it"], ""
    m = folder.json(metrics_rel)
    problems = [f"metrics.json says {k}={m.get(k)!r}" for k, v in wc.items() if m.get(k) != v]
    classes, labels = folder.labels(dataset)
    if m.get("classes") != classes:
        problems.append(f"metrics.json classes {m.get('classes')} differ from the label table's {classes}")
        return problems, ""
    preds = read_predictions(folder.path(preds_rel))
    prob_cols = [f"prob_{c}" for c in classes]
    if absent_cols := [c for c in ["image_id", "part", "true", "predicted", *prob_cols] if c not in preds]:
        return problems + [f"predictions.parquet lacks columns {absent_cols}"], ""
    probs = preds[prob_cols].to_numpy(np.float64)
    rows = np.arange(len(preds))
    not_top = probs[rows, preds["predicted"].to_numpy()] < probs.max(1)
    if not_top.any():
        problems.append(f"predictions.parquet: {int(not_top.sum())} rows whose predicted class is not their "
                        "most probable one")
    problems += _against_split(folder, preds, labels, dataset, iteration)
    test, val = preds[preds["part"] == "test"], preds[preds["part"] == "val"]
    for key, n in (("n_test", len(test)), ("n_val", len(val))):
        if m.get(key) != n:
            problems.append(f"metrics.json {key}={m.get(key)}, predictions.parquet has {n} rows")
    if len(test):
        problems += _test_metric_problems(m, test, len(classes))
        p_true = test[prob_cols].to_numpy(np.float64)[np.arange(len(test)), test["true"].to_numpy()]
        loss = float(-np.log(np.clip(p_true, 1e-12, None)).mean())
        if not _close(m.get("test_loss"), loss, rel=1e-4):
            problems.append(f"metrics.json test_loss={m.get('test_loss')}, recomputed {loss:.6f}")
    if len(val):
        got = classification_metrics(val["true"].to_numpy(), val["predicted"].to_numpy(), len(classes))
        if not _close(m.get("val_balanced_accuracy"), got["balanced_accuracy"]):
            problems.append(f"metrics.json val_balanced_accuracy={m.get('val_balanced_accuracy')}, "
                            f"recomputed {got['balanced_accuracy']:.6f}")
        # best_val_accuracy was measured during training; the final pass over val reloads those weights
        if not _close(m.get("best_val_accuracy"), got["accuracy"], abs_=1.0 / len(val) + METRIC_TOL):
            problems.append(f"metrics.json best_val_accuracy={m.get('best_val_accuracy')}, the validation "
                            f"predictions give {got['accuracy']:.6f}")
    problems += _recorded_hashes(folder, m, wc)
    summary = (f"metrics.json = predictions.parquet (test accuracy {m['test_accuracy']:.4f} on {len(test)} "
               f"images), predictions match the label table and split")
    return problems, summary


def _test_metric_problems(metrics: dict, test: pd.DataFrame, n_classes: int) -> list[str]:
    got = classification_metrics(test["true"].to_numpy(), test["predicted"].to_numpy(), n_classes)
    return [f"metrics.json {key}={metrics.get(key)}, recomputed from predictions.parquet {got[name]:.6f}"
            for key, name in TEST_METRICS.items() if not _close(metrics.get(key), got[name])]


def _close(recorded: Any, value: float, rel: float = 0.0, abs_: float = METRIC_TOL) -> bool:
    return isinstance(recorded, (int, float)) and abs(recorded - value) <= max(abs_, rel * abs(value))


def _against_split(folder: Folder, preds: pd.DataFrame, labels: pd.DataFrame, dataset: str,
                   iteration: int) -> list[str]:
    """The predictions cover exactly the split's val and test images, with the label table's labels."""
    parts = folder.parts(dataset, iteration)
    problems = []
    for part in ("val", "test"):
        want = set(parts.index[parts == part])
        have = set(preds.loc[preds["part"] == part, "image_id"])
        if want != have:
            problems.append(f"predictions.parquet {part} images differ from the split's {part} part "
                            f"({len(have - want)} extra, {len(want - have)} missing)")
    truth = labels.set_index("image_id")["label"]
    known = preds["image_id"].isin(truth.index)
    expected = truth.loc[preds.loc[known, "image_id"]].to_numpy()
    wrong = int((preds.loc[known, "true"].to_numpy() != expected).sum())
    if wrong:
        problems.append(f"predictions.parquet: {wrong} rows whose true label differs from the label table")
    return problems


def _recorded_hashes(folder: Folder, metrics: dict, wc: dict) -> list[str]:
    """The checkpoint and input files against the sha256 the training job recorded (when it did)."""
    problems = []
    ckpt = layout.CHECKPOINT.format(**wc)
    recorded = metrics.get("checkpoint_sha256")
    if recorded and folder.path(ckpt).is_file() and folder.sha256(ckpt) != recorded:
        problems.append(f"best.pt has sha256 {folder.sha256(ckpt)[:12]}…, its training job wrote "
                        f"{recorded[:12]}…: the checkpoint was replaced")
    prov_rel = layout.FOLD_PROVENANCE.format(**wc)
    inputs = (folder.json(prov_rel).get("inputs") or {}) if folder.path(prov_rel).is_file() else {}
    for role, pattern in FOLD_INPUTS.items():
        entry = inputs.get(role) if isinstance(inputs, dict) else None
        rel = pattern.format(protocol=folder.grid.protocol(wc["dataset"]), **wc)
        if isinstance(entry, dict) and entry.get("sha256") and folder.path(rel).is_file():
            if folder.sha256(rel) != entry["sha256"]:
                problems.append(f"trained on a {role} file with sha256 {entry['sha256'][:12]}…, but {rel} "
                                f"has {folder.sha256(rel)[:12]}…")
    return problems


# -- cross-dataset evaluations -------------------------------------------------------------------------
def check_cross(folder: Folder) -> Iterator[Check]:
    """Each cross-dataset evaluation's metrics.json recomputed from its predictions."""
    for m, train, test, i in folder.grid.cross_jobs():
        wc = {"model": m, "train": train, "test": test, "iteration": i}
        subject = layout.CROSS.format(**wc)
        try:
            metrics = folder.json(layout.CROSS_METRICS.format(**wc))
            preds = read_predictions(folder.path(layout.CROSS_PREDICTIONS.format(**wc)))
            problems = _test_metric_problems(metrics, preds[preds["part"] == "test"], len(metrics["classes"]))
            if metrics.get("n_test") != len(preds):
                problems.append(f"metrics.json n_test={metrics.get('n_test')}, predictions.parquet has "
                                f"{len(preds)} rows")
        except Exception as e:  # noqa: BLE001 - a damaged file fails its check; the others go on
            problems = [f"cannot be read: {type(e).__name__}: {e}"]
        for p in problems:
            yield Check("FAIL", subject, p)
        if not problems:
            yield Check("PASS", subject, f"metrics.json = predictions.parquet (test accuracy "
                        f"{metrics['test_accuracy']:.4f} on {len(preds)} images of {test})")


# -- the tables -----------------------------------------------------------------------------------------
def check_tables(folder: Folder) -> Iterator[Check]:
    """Rebuild summary.csv and tables/*.md with the aggregation's writers; compare byte for byte."""
    grid = folder.grid
    with tempfile.TemporaryDirectory(prefix="ferbench-verify-") as tmp:
        summary_tmp = Path(tmp) / layout.SUMMARY
        try:
            write_summary(grid.fold_files(layout.METRICS, folder.root), summary_tmp)
        except (OSError, ValueError, KeyError) as e:
            yield Check("FAIL", "tables", f"cannot be rebuilt from the folds: {type(e).__name__}: {e}")
            return
        rebuilt = {layout.SUMMARY: summary_tmp.read_text(encoding="utf-8")}
        for metric in layout.TABLE_METRICS:
            rel = layout.TABLE.format(metric=metric)
            rebuilt[rel] = write_table(summary_tmp, metric, grid.datasets, grid.models, Path(tmp) / rel)
        if grid.cross_train:
            from .cross import write_cross_table  # loads torch: only for folders that have these tables

            cross = grid.cross_files(layout.CROSS_METRICS, folder.root)
            folds = [f for d in grid.cross_train
                     for f in grid.fold_files(layout.METRICS, folder.root, dataset=d)]
            for metric in layout.TABLE_METRICS:
                rel = layout.CROSS_TABLE.format(metric=metric)
                try:
                    rebuilt[rel] = write_cross_table(cross, folds, metric, grid.models, grid.cross_train,
                                                     grid.cross_test, Path(tmp) / rel)
                except Exception as e:  # noqa: BLE001 - missing or damaged evaluations
                    yield Check("FAIL", rel, f"cannot be rebuilt: {type(e).__name__}: {e}")
    for rel, text in rebuilt.items():
        path = folder.path(rel)
        if not path.is_file() and rel != layout.SUMMARY:  # a table target not built yet proves nothing
            yield Check("SKIP", rel, f"not built (snakemake {layout.RESULTS}/{rel} --configfile ... "
                        "builds it from these folds, training nothing)")
        elif not path.is_file():
            yield Check("FAIL", rel, "missing")
        elif (have := path.read_text(encoding="utf-8")) != text:
            yield Check("FAIL", rel,
                        f"differs from the table rebuilt from the folds: {_first_difference(have, text)}")
        else:
            yield Check("PASS", rel, "identical to the one rebuilt from the folds")


def _first_difference(have: str, want: str) -> str:
    for i, (a, b) in enumerate(zip(have.splitlines(), want.splitlines()), start=1):
        if a != b:
            return f"line {i} is {a.strip()!r}, rebuilt {b.strip()!r}"
    return f"{len(have.splitlines())} lines, rebuilt {len(want.splitlines())}"


# -- best cards and checkpoints -------------------------------------------------------------------------
def check_best(folder: Folder) -> Iterator[Check]:
    for model, dataset in folder.grid.cells():
        subject = layout.BEST.format(model=model, dataset=dataset)
        try:
            problems, summary = best_problems(folder, model, dataset)
        except Exception as e:  # noqa: BLE001
            problems, summary = [f"cannot be checked: {type(e).__name__}: {e}"], ""
        for p in problems:
            yield Check("FAIL", subject, p)
        if not problems:
            yield Check("PASS", subject, summary)


def best_problems(folder: Folder, model: str, dataset: str) -> tuple[list[str], str]:
    card_rel = layout.BEST_CARD.format(model=model, dataset=dataset)
    if not folder.path(card_rel).is_file():
        return ["card.json is missing"], ""
    card = folder.json(card_rel)
    runs = collect(folder.grid.fold_files(layout.METRICS, folder.root, model, dataset))
    row = select_best(runs)
    source = Path(row["path"]).relative_to(folder.root).as_posix()
    problems = []
    if card.get("source") != source:
        problems.append(f"card.json selects {card.get('source')}, but {source} has the best validation "
                        f"accuracy ({row['best_val_accuracy']:.4f})")
        return problems, ""
    metrics = folder.json(f"{source}/metrics.json")
    expected = {"model": model, "dataset": dataset, "iteration": int(row["iteration"]),
                "classes": metrics["classes"], "val_accuracy": metrics["best_val_accuracy"],
                "test_accuracy": metrics["test_accuracy"],
                "test_balanced_accuracy": metrics["test_balanced_accuracy"]}
    problems += [f"card.json {k}={card.get(k)!r}, the fold has {v!r}"
                 for k, v in expected.items() if card.get(k) != v]
    digest = card.get("checkpoint_sha256")
    checked = []
    for what, rel in (("best.pt", layout.BEST_CHECKPOINT.format(model=model, dataset=dataset)),
                      (f"{source}/best.pt", f"{source}/best.pt")):
        if folder.not_packed(rel):
            continue
        if not folder.path(rel).is_file():
            problems.append(f"{what} is missing")
        elif folder.sha256(rel) != digest:
            problems.append(f"{what} has sha256 {folder.sha256(rel)[:12]}…, "
                            f"card.json selected {str(digest)[:12]}…")
        else:
            checked.append(what)
    if metrics.get("checkpoint_sha256") and metrics["checkpoint_sha256"] != digest:
        problems.append(f"card.json checkpoint_sha256 differs from the one {source}'s training job wrote")
    ckpt = f"best.pt = {source}/best.pt (sha256)" if len(checked) == 2 else "checkpoints not packed"
    return problems, (f"card selects {source} (best validation accuracy {row['best_val_accuracy']:.4f} of "
                      f"{len(runs)} folds), {ckpt}")


def check_reevaluation(folder: Folder, evaluate: bool) -> Iterator[Check]:
    if not evaluate:
        yield Check("SKIP", "re-evaluation", "not requested (--no-evaluate)")
        return
    for model, dataset in folder.grid.cells():
        subject = layout.BEST.format(model=model, dataset=dataset) + " re-evaluation"
        try:
            yield _reevaluation_check(folder, model, dataset, subject)
        except Exception as e:  # noqa: BLE001 (a damaged checkpoint cannot be unpickled, say so)
            yield Check("FAIL", subject, f"{type(e).__name__}: {e}")


def _reevaluation_check(folder: Folder, model: str, dataset: str, subject: str) -> Check:
    best = layout.BEST.format(model=model, dataset=dataset)
    card_rel, ckpt_rel = layout.BEST_CARD.format(model=model, dataset=dataset), f"{best}/best.pt"
    if not folder.path(card_rel).is_file():
        return Check("SKIP", subject, "no card.json")
    if folder.not_packed(ckpt_rel):
        return Check("SKIP", subject, f"{ckpt_rel} was not packed")
    card = folder.json(card_rel)
    iteration = int(card["iteration"])
    needed = [layout.CACHE.format(dataset=dataset), layout.LABELS.format(dataset=dataset),
              folder.split_rel(dataset, iteration), ckpt_rel, f"{card['source']}/predictions.parquet"]
    if absent := [r for r in needed if not folder.path(r).is_file()]:
        return Check("SKIP", subject, f"cannot re-evaluate: {', '.join(absent)} absent (the image cache is "
                     "not in the manifest; copy the whole folder, or use ferbench pack, to keep it)")
    metrics = folder.json(f"{card['source']}/metrics.json")
    mine, stored = reevaluate(folder, card, metrics)
    return compare_predictions(mine, stored, metrics.get("device", "cpu"), subject)


def reevaluate(folder: Folder, card: dict, metrics: dict) -> tuple[np.ndarray, pd.DataFrame]:
    """The best checkpoint's test probabilities on CPU (:mod:`ferbench.inference`: the training's eval
    path) and the stored test predictions of its fold, the same rows in label-table order."""
    from .inference import Classifier, input_spec_at, load_weights
    from .train.cache import open_cache

    dataset, iteration = card["dataset"], int(card["iteration"])
    best = layout.BEST.format(model=card["model"], dataset=dataset)
    net = load_weights(card["model"], len(card["classes"]), folder.path(f"{best}/{card['checkpoint']}"),
                       card.get("model_kwargs"))
    _, labels = folder.labels(dataset)
    parts = folder.parts(dataset, iteration)
    rows = np.flatnonzero(parts.loc[labels["image_id"]].to_numpy() == "test")
    stored = read_predictions(folder.path(f"{card['source']}/predictions.parquet"))
    stored = stored[stored["part"] == "test"].set_index("image_id").loc[labels["image_id"].to_numpy()[rows]]
    images = open_cache(folder.path(layout.CACHE.format(dataset=dataset)))
    if len(images) != len(labels):
        raise ValueError(f"the image cache has {len(images)} images, the label table {len(labels)} rows")
    # the training loop's evaluation batches (twice the training batch): the same float sums
    batch = min(2 * int((metrics.get("recipe") or {}).get("batch_size", 32)), 512)
    classifier = Classifier(net, input_spec_at(net, card.get("input_size")), "cpu", batch)
    return classifier.probs_of_cache(images, rows), stored


def compare_predictions(probs: np.ndarray, stored: pd.DataFrame, device: str, subject: str) -> Check:
    """On CPU the labels must be equal (a tie within PROB_TOL may go either way); a GPU-trained fold
    (bf16 autocast) must agree on GPU_AGREEMENT of the images."""
    cols = [c for c in stored.columns if c.startswith("prob_")]
    have = stored[cols].to_numpy(np.float64)
    pred, want = probs.argmax(1), stored["predicted"].to_numpy()
    rows = np.arange(len(pred))
    ties = np.abs(have[rows, want] - have[rows, pred]) <= PROB_TOL
    differ = int(((pred != want) & ~ties).sum())
    dp = float(np.abs(probs - have).max()) if len(pred) else 0.0
    n = len(pred)
    account = f"{n} test images on CPU: {n - differ} predicted labels equal, max |Δprobability| {dp:.1e}"
    if device.startswith("cpu"):
        ok = differ == 0 and dp <= PROB_TOL
        return Check("PASS" if ok else "FAIL", subject,
                     account + ("" if ok else f" (allowed: 0, {PROB_TOL:.0e})"))
    agreement = (n - differ) / max(n, 1)
    if agreement < GPU_AGREEMENT:
        return Check("FAIL", subject,
                     account + f"; trained on {device}: {agreement:.1%} agree (< {GPU_AGREEMENT:.0%})")
    return Check("PASS" if differ == 0 else "WARN", subject,
                 account + f"; trained on {device} (mixed precision flips near-ties: {agreement:.1%} agree)")


# -- consistency across folds ---------------------------------------------------------------------------
def check_consistency(folder: Folder) -> Iterator[Check]:
    grid = folder.grid
    versions = fold_code_versions(grid.fold_files(layout.FOLD_PROVENANCE, folder.root))
    if len(versions) > 1:
        yield Check("WARN", "code versions", "folds were made by different code: " +
                    "; ".join(f"{v} ({n} folds)" for v, n in versions.items()))
    else:
        yield Check("PASS", "code versions", f"every fold made by {next(iter(versions), 'no fold')}")
    for model in grid.models:
        settings = {}
        for m, d, i in grid.folds():
            fold = layout.FOLD.format(model=m, dataset=d, iteration=i)
            if m == model and folder.path(f"{fold}/metrics.json").is_file():
                settings[fold] = fold_settings(folder, fold)
        if differing := differing_keys(settings.values()):
            values = ["{}: {}".format(k, ", ".join(f"{f} {flatten(s).get(k)!r}" for f, s in settings.items()))
                      for k in differing[:3]]
            yield Check("WARN", f"{model} settings",
                        "folds were trained with different settings: " + "; ".join(values))
        else:
            yield Check("PASS", f"{model} settings",
                        f"one recipe, input size and pretrained file across its {len(settings)} folds")


def fold_settings(folder: Folder, fold: str) -> dict:
    """What must be equal across the folds of one model: the recipe, input size and pretrained file
    (metrics.json), and the model kwargs when the fold's provenance.json records them."""
    m = folder.json(f"{fold}/metrics.json")
    out = {"recipe": m.get("recipe"), "input_size": m.get("input_size"), "pretrained": m.get("pretrained")}
    prov_rel = f"{fold}/provenance.json"
    if folder.path(prov_rel).is_file():
        prov = folder.json(prov_rel)
        kwargs = prov.get("model_kwargs", (prov.get("settings") or {}).get("model_kwargs"))
        if kwargs is not None:
            out["model_kwargs"] = kwargs
    return out


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def differing_keys(dicts: Iterable[dict]) -> list[str]:
    flats = [flatten(d) for d in dicts]
    keys = sorted({k for f in flats for k in f})
    return [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]
