from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

import ferbench.config as fc
from ferbench import layout
from ferbench.config_check import ConfigError, check_config
from ferbench.datasets import (
    MissingRawData,
    check_raw_files,
    get_adapter,
    with_defaults,
)
from ferbench.download import label_files, placed_by_user
from ferbench.face_regions import VARIANTS
from ferbench.grid import COUNT_DEPENDENT, Grid
from ferbench.manifest import code_versions_of_folds

try:  # every problem at once; an unknown key with the keys allowed in its place
    check_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
except ConfigError as e:
    raise WorkflowError(str(e)) from None
# Snakemake's own validation, for the schema's defaults
validate(config, schema="../schemas/config.schema.yaml")

RESULTS = layout.RESULTS
# The software of every rule for `--sdm conda`, declared once (the default run uses the .venv).
FERBENCH_ENV = "../envs/ferbench.yaml"
try:
    GRID = Grid.from_config(config)
except KeyError as e:
    raise WorkflowError(e.args[0]) from None


def res(pattern):
    """A results path pattern (``ferbench.layout``) under the results folder, wildcards kept."""
    return f"{RESULTS}/{pattern}"


def log(stage, name):
    return res(layout.LOG.format(stage=stage, name=name))


def bench(stage, name):
    return res(layout.BENCHMARK.format(stage=stage, name=name))


wildcard_constraints:
    dataset=rf"[A-Za-z0-9_-]+(@({'|'.join(VARIANTS)}))?",
    train=rf"[A-Za-z0-9_-]+(@({'|'.join(VARIANTS)}))?",
    test=rf"[A-Za-z0-9_-]+(@({'|'.join(VARIANTS)}))?",
    base=r"[A-Za-z0-9_-]+",
    model=r"[a-z0-9_]+",
    iteration=r"\d+",
    protocol=r"[a-z]+",
    metric="|".join(layout.TABLE_METRICS),
    table=r"[a-z_]+",


def _check_selection():
    """Fail at parse time, in plain words, on anything the DAG cannot be built from."""
    try:
        for d in GRID.label_datasets:
            entry = fc.dataset_entry(config, d)
            get_adapter(entry["format"])
            with_defaults(entry["format"], entry.get("options") or {}, dataset=d)
        for m in GRID.models:
            fc.recipe(config, m)
            fc.pretrained_files(config, m)
    except (KeyError, ValueError) as e:
        raise WorkflowError(e.args[0]) from None


def _check_raw_data():
    """Licensed datasets must be placed by the user; say which files are missing before anything runs.

    Skipped once a dataset's raw manifest exists (e.g. a results folder handed to a colleague).
    """
    problems = []
    for d in sorted({fc.split_variant(d)[0] for d in GRID.label_datasets}):
        entry = fc.dataset_entry(config, d)
        if not placed_by_user(entry) or Path(raw_manifest(d)).exists():
            continue
        opts = {
            **(entry.get("options") or {}),
            "obtain": entry.get("obtain") or get_adapter(entry["format"]).obtain,
        }
        try:
            check_raw_files(d, entry["format"], Path(raw_dir(d)), opts)
        except MissingRawData as e:
            problems.append(str(e))
    if problems:
        raise WorkflowError("\n\n".join(problems))


# -- input functions ----------------------------------------------------------------------------------
def raw_dir(base):
    """Entries may share one distribution (AffectNet-7/-8): ``raw: affectnet`` names the folder."""
    return f"resources/raw/{fc.dataset_entry(config, base).get('raw', base)}"


def raw_manifest(base):
    return res(layout.RAW_MANIFEST.format(base=base))


def raw_label_files(wildcards):
    """A placed dataset's label files: editing one reruns the dataset from its download check."""
    entry = fc.dataset_entry(config, wildcards.base)
    return label_files(entry, raw_dir(wildcards.base)) if placed_by_user(entry) else []


def base_of(wildcards):
    return fc.split_variant(wildcards.dataset)[0]


def raw_manifest_of(wildcards):
    return raw_manifest(base_of(wildcards))


def alignment_of(wildcards):
    return res(layout.ALIGNMENT.format(base=base_of(wildcards)))


def split_of(wildcards):
    return res(
        layout.SPLIT.format(
            dataset=wildcards.dataset,
            protocol=GRID.protocol(wildcards.dataset),
            iteration=wildcards.iteration,
        )
    )


def split_folds(wildcards):
    """The iteration count, for the protocols whose splits depend on it (kfold) only: raising
    ``iterations`` must not rewrite the finished splits of the others."""
    return GRID.iterations if wildcards.protocol in COUNT_DEPENDENT else None


def fold_metrics(wildcards=None):
    return GRID.fold_files(layout.METRICS, RESULTS)


def fold_predictions(wildcards=None):
    return GRID.fold_files(layout.PREDICTIONS, RESULTS)


def fold_dirs(wildcards):
    return FOLD_DIRS


def cell_metrics(wildcards):
    return GRID.fold_files(layout.METRICS, RESULTS, wildcards.model, wildcards.dataset)


def cell_files(pattern):
    """Input function: ``pattern`` for every fold of the (model, dataset) of the wildcards."""
    return lambda wc: GRID.fold_files(pattern, RESULTS, wc.model, wc.dataset)


def dataset_files(pattern):
    """Input function: ``pattern`` for every model's folds on the dataset of the wildcards."""
    return lambda wc: GRID.fold_files(pattern, RESULTS, dataset=wc.dataset)


def dataset_splits(wildcards):
    return [
        res(
            layout.SPLIT.format(
                dataset=wildcards.dataset,
                protocol=GRID.protocol(wildcards.dataset),
                iteration=i,
            )
        )
        for i in range(GRID.iterations)
    ]


def figure(pattern, caption, category, subcategory=None, **labels):
    """A figure's PNG for the Snakemake report (with its caption) and its PDF for papers."""
    png = report(
        res(pattern) + ".png",
        caption=f"../report/{caption}.rst",
        category=category,
        subcategory=subcategory,
        labels=labels or None,
    )
    return {"png": png, "pdf": res(pattern) + ".pdf"}


def code_versions(wildcards, input):
    """For captions: the code versions of the folds (derived from the inputs, so never a rerun trigger)."""
    return code_versions_of_folds(input.metrics)


def figures():
    """Every figure of the grid."""
    out = []
    for m, d in GRID.cells():
        out += [
            res(p.format(model=m, dataset=d))
            for p in (layout.FIG_CONFUSION, layout.FIG_CURVES, layout.GRADCAM)
        ]
    for d in GRID.datasets:
        out += [
            res(p.format(dataset=d))
            for p in (layout.FIG_PER_CLASS, layout.FIG_DATA, layout.FIG_FACES)
        ]
    out += [res(layout.FIG_OVERVIEW.format(metric=m)) for m in layout.TABLE_METRICS]
    return [f"{stem}.{ext}" for stem in out for ext in ("png", "pdf")]


def cell_checkpoints(wildcards):
    return GRID.fold_files(
        layout.CHECKPOINT, RESULTS, wildcards.model, wildcards.dataset
    )


def sealed_files(wildcards=None):
    """Every file the tables are built from: what MANIFEST.sha256 lists."""
    return GRID.sealed_files(RESULTS)


def cross_inputs(wildcards):
    """The fold's checkpoint and the test dataset: its split's test part when it is a trained dataset
    too (same iteration), otherwise every row."""
    fold = dict(
        model=wildcards.model, dataset=wildcards.train, iteration=wildcards.iteration
    )
    test = wildcards.test
    inputs = {
        "fold_metrics": res(layout.METRICS.format(**fold)),
        "checkpoint": res(layout.CHECKPOINT.format(**fold)),
        "labels": res(layout.LABELS.format(dataset=test)),
        "cache": res(layout.CACHE.format(dataset=test)),
    }
    if test in GRID.datasets:
        inputs["split"] = res(
            layout.SPLIT.format(
                dataset=test,
                protocol=GRID.protocol(test),
                iteration=wildcards.iteration,
            )
        )
    return inputs


def cross_table_inputs(wildcards):
    return {
        "grid": res(layout.GRID),
        "cross": GRID.cross_files(layout.CROSS_METRICS, RESULTS),
        "predictions": GRID.cross_files(layout.CROSS_PREDICTIONS, RESULTS),
        "folds": [
            f
            for d in GRID.cross_train
            for f in GRID.fold_files(layout.METRICS, RESULTS, dataset=d)
        ],
    }


def cross_tables():
    if not GRID.cross_train:
        return []
    return [res(layout.CROSS_TABLE.format(metric=m)) for m in layout.TABLE_METRICS]


def table_pages():
    """The HTML page of every markdown table the grid has, for the report."""
    names = [*layout.TABLE_METRICS, "significance"]
    names += [Path(t).stem for t in cross_tables()]
    return [res(layout.TABLE_PAGE.format(table=n)) for n in names]


def pretrained_inputs(wildcards):
    """The weight files a model starts from, as inputs of its training jobs (``pretrained_<part>``): checked
    before a job is submitted, and a changed file reruns the job. A missing one stops the DAG saying where
    to get it (clearer than Snakemake's MissingInputException)."""
    files = fc.pretrained_files(config, wildcards.model)
    missing = [
        w.missing_message(wildcards.model, p)
        for p, w in files.items()
        if not w.file.is_file()
    ]
    if missing:
        raise WorkflowError("\n".join(missing))
    return {f"pretrained_{part}": str(w.file) for part, w in files.items()}


def train_resources(key, default, scale=True):
    """Per-model cluster resources from config; memory and runtime grow with the attempt number."""

    def get(wildcards, attempt):
        res = fc.model_entry(config, wildcards.model).get("resources") or {}
        return int(res.get(key, default)) * (attempt if scale else 1)

    return get


def _warn_kfold_restart():
    """k folds partition the data: a new k makes new splits, so every fold of that dataset starts over."""
    for d in GRID.datasets:
        proto = GRID.protocol(d)
        first = Path(res(layout.SPLIT.format(dataset=d, protocol=proto, iteration=0)))
        if proto in COUNT_DEPENDENT and first.is_file():
            # pandas, pyarrow: only when a kfold split exists
            from ferbench.schemas import read_split_meta

            made_for = read_split_meta(first).get("folds")
            if made_for not in (None, GRID.iterations):
                logger.warning(
                    f"ferbench: dataset {d!r} uses protocol {proto!r} with {made_for} folds so far; "
                    f"benchmark.iterations is now {GRID.iterations}, so its splits change and every "
                    f"fold of {d!r} (all models) is trained again."
                )


_check_selection()
_check_raw_data()
_warn_kfold_restart()
GRID.sync_file(res(layout.GRID))
FOLD_DIRS = GRID.fold_dirs(RESULTS)
