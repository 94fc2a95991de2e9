# One rule per output family: a grown or shrunk grid rebuilds exactly what changed. (Snakemake does
# not rerun a multi-output job whose requested output exists when only a sibling output is missing.)
# results/grid.json (rewritten at parse time only when the grid changes) and the folds' folders (whose
# modification time changes when a fold's file is deleted) make the aggregation rerun, and through it
# the missing folds train, without relying on Snakemake's metadata: see ferbench.grid.


rule summary:
    """Per (dataset, model): n folds, mean and population std of every test metric."""
    input:
        grid=res(layout.GRID),
        metrics=fold_metrics,
        folds=fold_dirs,
    output:
        summary=res(layout.SUMMARY),
    log:
        log("aggregate", "summary"),
    benchmark:
        bench("aggregate", "summary")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        grid=GRID.as_dict(),
    script:
        "../scripts/summary.py"


rule best_card:
    """The fold with the best validation accuracy of one (model, dataset), and what inference needs."""
    input:
        grid=res(layout.GRID),
        metrics=cell_metrics,
        checkpoints=cell_checkpoints,
    output:
        card=res(layout.BEST_CARD),
    log:
        log("best", "{model}/{dataset}/card"),
    benchmark:
        bench("best", "{model}/{dataset}/card")
    # on the way to the Grad-CAM job, the longest after training
    priority: 1
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        results=lambda wc, output: layout.root_of(output.card, layout.BEST_CARD, **wc),
        extra=lambda wc: {
            "model_kwargs": fc.model_entry(config, wc.model).get("kwargs") or {},
            "align": config["align"],
            "protocol": GRID.protocol(wc.dataset),
        },
    script:
        "../scripts/best_card.py"


rule best_checkpoint:
    """The selected fold's best.pt, checked against the sha256 its card recorded."""
    input:
        card=res(layout.BEST_CARD),
        checkpoints=cell_checkpoints,
    output:
        checkpoint=res(layout.BEST_CHECKPOINT),
    log:
        log("best", "{model}/{dataset}/checkpoint"),
    benchmark:
        bench("best", "{model}/{dataset}/checkpoint")
    # on the way to the Grad-CAM job, the longest after training
    priority: 1
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        results=lambda wc, output: layout.root_of(
            output.checkpoint, layout.BEST_CHECKPOINT, **wc
        ),
    script:
        "../scripts/best_checkpoint.py"


rule results_provenance:
    """The grid, the merged config and the code versions that made the folds."""
    input:
        provenance=lambda wc: GRID.fold_files(layout.FOLD_PROVENANCE, RESULTS),
    output:
        provenance=res(layout.PROVENANCE),
    log:
        log("aggregate", "provenance"),
    benchmark:
        bench("aggregate", "provenance")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        grid=GRID.as_dict(),
        config=config,
    script:
        "../scripts/results_provenance.py"


rule manifest:
    """sha256 of every file the tables are built from (sha256sum format)."""
    input:
        sealed_files,
    output:
        manifest=res(layout.MANIFEST),
    log:
        log("aggregate", "manifest"),
    benchmark:
        bench("aggregate", "manifest")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        results=lambda wc, output: layout.root_of(output.manifest, layout.MANIFEST),
    script:
        "../scripts/manifest.py"


rule table:
    """results/tables/{metric}.md: datasets x models, mean ± std (n=K), the row best in bold.

    Published only once the folds behind it are sealed (the manifest is an input), so the table target
    alone builds the best checkpoints, the provenance and the manifest too."""
    input:
        summary=res(layout.SUMMARY),
        manifest=res(layout.MANIFEST),
    output:
        table=res(layout.TABLE),
    log:
        log("aggregate", "table_{metric}"),
    benchmark:
        bench("aggregate", "table_{metric}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        datasets=list(GRID.datasets),
        models=list(GRID.models),
    script:
        "../scripts/table.py"


rule table_page:
    """A markdown table as an HTML page: the Snakemake report shows HTML inline."""
    input:
        table=res("tables/{table}.md"),
    output:
        page=report(
            res(layout.TABLE_PAGE),
            caption="../report/table_page.rst",
            category="Tables",
            labels={"result": "table: {table}"},
        ),
    log:
        log("aggregate", "page_{table}"),
    benchmark:
        bench("aggregate", "page_{table}")
    localrule: True
    conda:
        FERBENCH_ENV
    script:
        "../scripts/table_page.py"
