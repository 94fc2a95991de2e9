import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# The logic lives in the ferbench package; make it importable from a plain checkout too.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

import ferbench.config as fc
from ferbench.datasets import MissingRawData, check_raw_files, get_adapter

validate(config, schema="../schemas/config.schema.yaml")

RESULTS = "results"
DATASETS = config["benchmark"]["datasets"]
MODELS = config["benchmark"]["models"]
ITERATIONS = list(range(config["benchmark"]["iterations"]))
TABLES = [
    f"{RESULTS}/tables/accuracy.md",
    f"{RESULTS}/tables/balanced_accuracy.md",
    f"{RESULTS}/tables/summary.csv",
]


wildcard_constraints:
    dataset=r"[A-Za-z0-9_-]+(@(lower_face|masked))?",
    base=r"[A-Za-z0-9_-]+",
    model=r"[a-z0-9_]+",
    iteration=r"\d+",
    protocol=r"[a-z]+",


def _check_selection():
    """Fail at parse time, in plain words, on anything the DAG cannot be built from."""
    try:
        for d in DATASETS:
            fc.dataset_entry(config, d)
            get_adapter(fc.dataset_entry(config, d)["format"])
        for m in MODELS:
            fc.recipe(config, m)
            fc.pretrained_files(config, m)
    except KeyError as e:
        raise WorkflowError(e.args[0]) from None


def _check_raw_data():
    """Licensed datasets must be placed by the user; say which files are missing before anything runs.

    Skipped once a dataset's raw manifest exists (e.g. a results folder handed to a colleague).
    """
    problems = []
    for d in sorted({fc.split_variant(d)[0] for d in DATASETS}):
        entry = fc.dataset_entry(config, d)
        if "synthesize" in entry or entry.get("url") or Path(raw_manifest(d)).exists():
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


def raw_dir(base):
    """Entries may share one distribution (AffectNet-7/-8): ``raw: affectnet`` names the folder."""
    return f"resources/raw/{fc.dataset_entry(config, base).get('raw', base)}"


def raw_manifest(base):
    return f"{RESULTS}/data/{base}/raw.json"


def results_root(path):
    """The results folder, from a stage output two levels below it (results/{stage}/{name}/file)."""
    return str(Path(path).parents[2])


def base_of(wildcards):
    return fc.split_variant(wildcards.dataset)[0]


def alignment_of(wildcards):
    return f"{RESULTS}/aligned/{base_of(wildcards)}/alignment.parquet"


def split_of(wildcards):
    proto = fc.protocol(config, wildcards.dataset)
    return f"{RESULTS}/splits/{wildcards.dataset}/{proto}/{wildcards.iteration}.parquet"


def fold_metrics(wildcards=None):
    return expand(
        f"{RESULTS}/runs/{{model}}/{{dataset}}/{{iteration}}/metrics.json",
        model=MODELS,
        dataset=DATASETS,
        iteration=ITERATIONS,
    )


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


_check_selection()
_check_raw_data()
