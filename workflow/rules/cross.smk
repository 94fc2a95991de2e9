rule evaluate:
    """A fold's best.pt, trained on {train}, scored on {test} without retraining (ferbench.cross)."""
    input:
        unpack(cross_inputs),
    output:
        metrics=res(layout.CROSS_METRICS),
        predictions=res(layout.CROSS_PREDICTIONS),
    log:
        log("cross", "{model}/{train}/{test}/{iteration}"),
    benchmark:
        bench("cross", "{model}/{train}/{test}/{iteration}")
    conda:
        FERBENCH_ENV
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    params:
        model_kwargs=lambda wc: fc.model_entry(config, wc.model).get("kwargs") or {},
        device=config["train"]["device"],
    script:
        "../scripts/evaluate.py"


rule cross_table:
    """Per model: train × test matrix of mean ± std (n=K); the diagonal is the in-dataset result."""
    input:
        unpack(cross_table_inputs),
    output:
        table=res(layout.CROSS_TABLE),
    log:
        log("cross", "table_{metric}"),
    benchmark:
        bench("cross", "table_{metric}")
    localrule: True
    conda:
        FERBENCH_ENV
    params:
        models=list(GRID.models),
        train=list(GRID.cross_train),
        test=list(GRID.cross_test),
    script:
        "../scripts/cross_table.py"
