"""Where every file of a results folder lives, relative to the folder; one definition for the rules,
aggregation, ``ferbench verify``/``pack``/``merge`` and the tests.

Patterns keep Snakemake's ``{wildcard}`` names, so a rule writes ``f"{RESULTS}/{layout.LABELS}"`` and
Python code fills them with ``path(root, layout.LABELS, dataset="rafdb")``.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"
# the config's grid, rewritten when (and only when) it changes: an input of the aggregation
GRID = "grid.json"

# download -> align
RAW_MANIFEST = "data/{base}/raw.json"
ALIGNED_IMAGES = "aligned/{base}/images"
ALIGNMENT = "aligned/{base}/alignment.parquet"
# label table, QC, image cache
LABELS = "data/{dataset}/labels.parquet"
QC = "data/{dataset}/qc.parquet"
DATA_SUMMARY = "data/{dataset}/summary.json"
CACHE = "data/{dataset}/images.npy"
# split manifests
SPLIT = "splits/{dataset}/{protocol}/{iteration}.parquet"
# one training job per fold
FOLD = "runs/{model}/{dataset}/{iteration}"
METRICS = f"{FOLD}/metrics.json"
HISTORY = f"{FOLD}/history.csv"
PREDICTIONS = f"{FOLD}/predictions.parquet"
CHECKPOINT = f"{FOLD}/best.pt"
FOLD_PROVENANCE = f"{FOLD}/provenance.json"
FOLD_FILES = (METRICS, HISTORY, PREDICTIONS, CHECKPOINT, FOLD_PROVENANCE)
RESUME = "resume/{model}/{dataset}/{iteration}/state.pt"  # outside the fold: survives a failed job
# cross-dataset evaluation of a fold's best.pt on another dataset
CROSS = "cross/{model}/{train}/{test}/{iteration}"
CROSS_METRICS = f"{CROSS}/metrics.json"
CROSS_PREDICTIONS = f"{CROSS}/predictions.parquet"
CROSS_TABLE = "tables/cross_dataset_{metric}.md"
# aggregation
SUMMARY = "tables/summary.csv"
TABLE = "tables/{metric}.md"
TABLE_PAGE = "tables/{table}.html"  # a markdown table as an HTML page, for the report
TABLE_METRICS = {"accuracy": "test_accuracy", "balanced_accuracy": "test_balanced_accuracy"}
BEST = "best/{model}/{dataset}"
BEST_CARD = f"{BEST}/card.json"
BEST_CHECKPOINT = f"{BEST}/best.pt"
# figures: a PNG (report) and a PDF (papers) of the same stem
FIG_CONFUSION = "figures/confusion/{model}/{dataset}"
FIG_CURVES = "figures/curves/{model}/{dataset}"
FIG_PER_CLASS = "figures/per_class/{dataset}"
FIG_OVERVIEW = "figures/overview_{metric}"
FIG_DATA = "figures/data/{dataset}"
FIG_FACES = "figures/faces/{dataset}"
GRADCAM = f"{BEST}/gradcam"
SIGNIFICANCE = "tables/significance.md"
SIGNIFICANCE_CSV = "tables/significance.csv"
CD_FIGURE = "figures/critical_difference_{metric}.png"
PROVENANCE = "provenance.json"
MANIFEST = "MANIFEST.sha256"
PACKED = "PACKED.json"  # only in a folder unpacked from `ferbench pack`: what the archive left out
# per job, never depended upon
LOG = "logs/{stage}/{name}.log"
BENCHMARK = "benchmarks/{stage}/{name}.tsv"


def path(root: str | Path, pattern: str, **wildcards) -> Path:
    return Path(root) / pattern.format(**wildcards)


def root_of(file: str | Path, pattern: str, **wildcards) -> str:
    """The results folder holding ``file``, an instance of ``pattern`` (e.g. a rule's output)."""
    file, rel = Path(file).as_posix(), pattern.format(**wildcards)
    if not file.endswith("/" + rel):
        raise ValueError(f"{file} is not {rel} under a results folder")
    return file[: -len(rel) - 1]


def table_path(root: str | Path, metric: str) -> Path:
    return path(root, TABLE, metric=metric)


def tables(root: str | Path = RESULTS) -> list[str]:
    """The published tables (markdown per metric, then the summary csv)."""
    return [str(table_path(root, m)) for m in TABLE_METRICS] + [str(Path(root) / SUMMARY)]
