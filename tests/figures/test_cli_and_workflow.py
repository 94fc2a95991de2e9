"""``python -m ferbench.figures RESULTS`` and the workflow scripts + captions run by a real Snakemake."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from docutils.core import publish_parts
from matplotlib.colors import to_hex
from jinja2 import Environment
from snakemake.iocontainers import Namedlist

from ferbench.figures.__main__ import main
from ferbench.figures.style import model_colors

from figure_helpers import write_dataset, write_fold

REPO = Path(__file__).resolve().parents[2]
LABELS = [0, 0, 1, 1, 2, 2]
PARTS = ["train", "val", "test", "train", "val", "test"]


def small_results(root: Path) -> Path:
    results = root / "results"
    for model in ("a", "b"):
        for it in (0, 1):
            write_fold(results, model, "d", it, [0, 1, 2], [0, 1, it])
    write_dataset(results, "d", LABELS, qc_reasons=[("align", "no_face")], manifests=[PARTS, PARTS[::-1]])
    return results


EXPECTED = [
    "confusion/a/d",
    "confusion/b/d",
    "curves/a/d",
    "curves/b/d",
    "per_class/d",
    "overview_accuracy",
    "overview_balanced_accuracy",
    "data/d",
    "faces/d",
]


def test_cli_renders_every_figure_it_can(tmp_path, capsys):
    results = small_results(tmp_path)
    assert main([str(results)]) == 0
    written = {p.relative_to(results / "figures").as_posix() for p in (results / "figures").rglob("*.*")}
    assert written == {f"{e}.{ext}" for e in EXPECTED for ext in ("png", "pdf")}
    assert "9 of 9 figures written" in capsys.readouterr().err


def test_cli_model_order_sets_the_colours(tmp_path, drawn):
    assert main([str(small_results(tmp_path)), "--models", "b,a"]) == 0
    fig = next(f for f in drawn if f.axes[0].get_title().startswith("test accuracy"))
    colours = [
        to_hex(c.patches[0].get_facecolor()) for c in fig.axes[0].containers if hasattr(c, "datavalues")
    ]
    assert colours == [model_colors(["b", "a"])[m] for m in ("b", "a")]


def test_cli_reports_a_broken_fold_and_draws_the_rest(tmp_path, capsys):
    results = small_results(tmp_path)
    (results / "runs" / "b" / "d" / "1" / "history.csv").write_text("epoch,lr\n0,0.1\n")
    assert main([str(results), "--out", str(tmp_path / "figs")]) == 1
    err = capsys.readouterr().err
    assert "curves b/d: FAILED" in err and "missing columns ['train_loss', 'val_accuracy']" in err
    assert "8 of 9 figures written" in err
    assert (tmp_path / "figs" / "confusion" / "b" / "d.png").exists()


def test_cli_on_an_empty_folder_says_so(tmp_path, capsys):
    assert main([str(tmp_path)]) == 1
    assert "nothing to draw" in capsys.readouterr().err


CAPTIONS = sorted((REPO / "workflow" / "report").glob("*.rst"))


@pytest.mark.parametrize("with_params", [True, False])
@pytest.mark.parametrize("caption", CAPTIONS, ids=lambda p: p.stem)
def test_captions_render_as_snakemake_renders_them(caption, with_params):
    """Jinja with Snakemake's settings, then docutils with warnings as errors."""
    params = (
        {"protocol": "stratified", "code_version": "abc123", "recipe": "crossval", "k": 6}
        if with_params
        else {}
    )
    snakemake = Namedlist(
        fromdict={
            "wildcards": Namedlist(
                fromdict={"model": "dan", "dataset": "rafdb", "metric": "balanced_accuracy",
                          "table": "cross_dataset_accuracy"}
            ),
            "input": Namedlist(fromdict={"metrics": ["m0", "m1", "m2"], "splits": ["s0", "s1"]}),
            "params": Namedlist(fromdict=params),
            "config": {"benchmark": {"iterations": 3, "protocol": "stratified", "recipe": "official",
                                     "models": ["dan", "poster"], "datasets": ["rafdb", "sfew"]}},
        }
    )
    text = (
        Environment(trim_blocks=True, lstrip_blocks=True)
        .from_string(caption.read_text())
        .render(snakemake=snakemake)
    )
    html = publish_parts(text, writer="html", settings_overrides={"halt_level": 2})["body"]
    assert "{{" not in html and "{%" not in html
    wildcards = {
        "confusion": "dan",
        "curves": "rafdb",
        "per_class": "rafdb",
        "overview": "balanced accuracy",
        "data": "rafdb",
        "faces": "rafdb",
        "gradcam": "dan",
        "table_page": "Cross-dataset accuracy",
        "critical_difference": "Friedman",
        "workflow": "Models dan, poster on datasets",
    }
    assert wildcards[caption.stem] in html
    if caption.stem in ("confusion", "curves"):
        assert "3 folds" in html
    if with_params and caption.stem in ("confusion", "data"):
        assert "stratified protocol" in html


SNAKEFILE = """
SCRIPTS = "{repo}/workflow/scripts"
CAPTIONS = "{repo}/workflow/report"
FOLDS = expand("results/runs/{{{{model}}}}/d/{{i}}/metrics.json", i=[0, 1])
FIG = "results/figures"

rule all:
    input:
        expand(FIG + "/{{kind}}/{{model}}/d.png", kind=["confusion", "curves"], model=["a", "b"]),
        expand(FIG + "/overview_{{metric}}.png", metric=["accuracy", "balanced_accuracy"]),
        FIG + "/per_class/d.png", FIG + "/data/d.png", FIG + "/faces/d.png",

def figure(stem, caption, category):
    return {{"png": report(FIG + stem + ".png", caption=CAPTIONS + "/" + caption, category=category),
             "pdf": FIG + stem + ".pdf"}}

rule confusion:
    input: metrics=FOLDS
    output: **figure("/confusion/{{model}}/{{dataset}}", "confusion.rst", "per model")
    log: "results/logs/confusion/{{model}}/{{dataset}}.log"
    params: protocol="stratified"
    script: SCRIPTS + "/figure_confusion.py"

rule curves:
    input: metrics=FOLDS
    output: **figure("/curves/{{model}}/{{dataset}}", "curves.rst", "per model")
    log: "results/logs/curves/{{model}}/{{dataset}}.log"
    params: models=["a", "b"]
    script: SCRIPTS + "/figure_curves.py"

rule per_class:
    input: metrics=expand("results/runs/{{model}}/d/{{i}}/metrics.json", model=["a", "b"], i=[0, 1])
    output: **figure("/per_class/{{dataset}}", "per_class.rst", "per dataset")
    log: "results/logs/per_class/{{dataset}}.log"
    params: models=["a", "b"]
    script: SCRIPTS + "/figure_per_class.py"

rule overview:
    input: summary="results/tables/summary.csv"
    output: **figure("/overview_{{metric}}", "overview.rst", "tables")
    log: "results/logs/overview_{{metric}}.log"
    params: datasets=["d"], models=["a", "b"]
    script: SCRIPTS + "/figure_overview.py"

rule data:
    input: labels="results/data/{{dataset}}/labels.parquet", qc="results/data/{{dataset}}/qc.parquet",
           splits=expand("results/splits/{{{{dataset}}}}/stratified/{{i}}.parquet", i=[0, 1])
    output: **figure("/data/{{dataset}}", "data.rst", "data quality")
    log: "results/logs/data/{{dataset}}.log"
    script: SCRIPTS + "/figure_data.py"

rule faces:
    input: labels="results/data/{{dataset}}/labels.parquet", images="results/data/{{dataset}}/images.npy"
    output: **figure("/faces/{{dataset}}", "faces.rst", "data quality")
    log: "results/logs/faces/{{dataset}}.log"
    params: k=4
    script: SCRIPTS + "/figure_faces.py"
"""


@pytest.mark.slow
def test_workflow_scripts_and_report(tmp_path):
    """The thin scripts under a real Snakemake with rules like the lead's, then ``--report`` with captions."""
    results = small_results(tmp_path)
    from ferbench.aggregate import collect, summary

    (results / "tables").mkdir()
    summary(collect(sorted(results.glob("runs/*/*/*/metrics.json")))).to_csv(
        results / "tables" / "summary.csv"
    )
    (tmp_path / "Snakefile").write_text(textwrap.dedent(SNAKEFILE.format(repo=REPO)))

    def smk(*args):
        r = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "2", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    smk()
    for stem in EXPECTED:
        assert (results / "figures" / f"{stem}.png").stat().st_size > 0
        assert (results / "figures" / f"{stem}.pdf").stat().st_size > 0
    smk("--report", "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "Confusion matrix of" in html and "Aligned faces of" in html
